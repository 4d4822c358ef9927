import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { Stringifier } from 'csv-stringify';
import { createCsvWriter } from '../csv/writer.js';
import { resultFiles, runPaths } from './paths.js';
import { loadChunk, loadManifest } from './write-chunk.js';
import { getJson, putJson, type ObjectStore } from '../storage/object-store.js';
import {
  addCounters,
  isSuccess,
  type ChunkResult,
  type InputRef,
  type RequestCounters,
  type RowOutcome,
  type RunManifest,
  type RunStatus,
  type RunSummary,
} from './types.js';

export interface FinalizeDeps {
  readonly runs: ObjectStore;
  readonly results: ObjectStore;
  /** Marks the input (blob metadata) with the run id and status; best effort. */
  readonly markInput?: (input: InputRef, summary: RunSummary) => Promise<void>;
  readonly clock?: () => Date;
}

/** Writes of the result files per finalizer before its message goes back to the queue. */
const FINALIZE_ATTEMPTS = 4;

/**
 * Fan-in: when every chunk has a result, writes errors.csv and records.csv, then summary.json
 * with a create-only write. Any number of workers may call this concurrently or again after a
 * crash: the result files are rewritten identically and exactly one summary is ever created.
 */
export async function tryFinalize(deps: FinalizeDeps, runId: string): Promise<RunSummary | undefined> {
  const manifest = await loadManifest(deps.runs, runId);
  const summaryPath = manifest.resultsPrefix + resultFiles.summary;
  const existing = await getJson<RunSummary>(deps.results, summaryPath);
  if (existing) return existing;
  if (!(await allChunksDone(deps.runs, manifest))) return undefined;

  const clock = deps.clock ?? (() => new Date());
  let tally: Tally | undefined;
  for (let attempt = 1; !tally; attempt += 1) {
    try {
      tally = await writeResultFiles(deps, manifest);
    } catch (error) {
      // Finalizers racing on the same files: storage refuses the block list of whoever commits
      // second. The content is identical, so find the winner's summary or write again.
      const winner = await getJson<RunSummary>(deps.results, summaryPath);
      if (winner) return winner;
      if (attempt >= FINALIZE_ATTEMPTS) throw error;
    }
  }
  const finishedAt = clock();
  const summary: RunSummary = {
    runId,
    job: manifest.jobName,
    status: statusOf(tally.succeeded, tally.failed),
    input: { name: manifest.input.name, url: manifest.input.url, etag: manifest.input.etag },
    dryRun: manifest.dryRun,
    rows: {
      total: tally.succeeded + tally.failed,
      succeeded: tally.succeeded,
      failed: tally.failed,
      created: tally.byStatus.created,
      updated: tally.byStatus.updated,
      upserted: tally.byStatus.upserted,
      deleted: tally.byStatus.deleted,
      unchanged: tally.byStatus.unchanged,
    },
    chunks: manifest.chunkCount,
    durationMs: finishedAt.getTime() - Date.parse(manifest.startedAt),
    ...tally.counters,
    startedAt: manifest.startedAt,
    finishedAt: finishedAt.toISOString(),
    errorsFile: manifest.resultsPrefix + resultFiles.errors,
    recordsFile: manifest.resultsPrefix + resultFiles.records,
  };
  const created = await putJson(deps.results, summaryPath, summary, { ifNoneMatch: true });
  const final = created ? summary : ((await getJson<RunSummary>(deps.results, summaryPath)) ?? summary);
  if (created) await putJson(deps.runs, runPaths.finalized(runId), { finishedAt: final.finishedAt });
  await deps.markInput?.(manifest.input, final).catch(() => undefined);
  return final;
}

export async function allChunksDone(runs: ObjectStore, manifest: RunManifest): Promise<boolean> {
  // Chunks are queued in order, so the last one's result is usually the last to appear: one probe
  // answers most calls, where listing every result after every chunk grew with the square of the chunks.
  const last = manifest.chunkCount - 1;
  if (last >= 0 && !(await runs.exists(runPaths.chunkResult(manifest.runId, last)))) return false;
  let done = 0;
  for await (const _ of runs.list(runPaths.resultsPrefix(manifest.runId))) done += 1;
  // One result per chunk plus the planner's.
  return done >= manifest.chunkCount + 1;
}

interface Tally {
  succeeded: number;
  failed: number;
  byStatus: Record<'created' | 'updated' | 'upserted' | 'deleted' | 'unchanged', number>;
  counters: RequestCounters;
}

/** Writes errors.csv and records.csv from every chunk's rows and result, in row order. */
async function writeResultFiles(
  deps: Pick<FinalizeDeps, 'runs' | 'results'>,
  manifest: RunManifest,
): Promise<Tally> {
  const { runs, results } = deps;
  const echoed = echoedColumns(manifest);
  const header = echoed.map((i) => manifest.header[i] ?? '');
  const errors = openCsv(results, manifest.resultsPrefix + resultFiles.errors, [
    ...header,
    ...RESULT_COLUMNS,
  ]);
  const records = openCsv(results, manifest.resultsPrefix + resultFiles.records, [
    'row',
    'status',
    'id',
    ...header,
  ]);
  try {
    const tally: Tally = {
      succeeded: 0,
      failed: 0,
      byStatus: { created: 0, updated: 0, upserted: 0, deleted: 0, unchanged: 0 },
      counters: manifest.planCounters,
    };
    const planResult = await getJson<ChunkResult>(runs, runPaths.planResult(manifest.runId));
    // Planner failures can be rows no chunk holds (unreadable rows): merge them in row order.
    const planFailures = [...(planResult?.outcomes ?? [])].sort((a, b) => a.row - b.row);
    const planCells = planResult?.cells ?? {};
    let nextPlan = 0;

    const emit = async (outcome: RowOutcome, cells: readonly string[] | undefined): Promise<void> => {
      const padded = echoed.map((i) => cells?.[i] ?? '');
      if (isSuccess(outcome)) {
        tally.succeeded += 1;
        if (outcome.status !== 'failed') tally.byStatus[outcome.status] += 1;
        await write(records.csv, [String(outcome.row), outcome.status, outcome.id ?? '', ...padded]);
      } else {
        tally.failed += 1;
        await write(errors.csv, [
          ...padded,
          String(outcome.row),
          outcome.code ?? 'Failed',
          outcome.message ?? '',
          outcome.column ?? '',
        ]);
        await write(records.csv, [String(outcome.row), 'failed', '', ...padded]);
      }
    };

    for (let chunk = 0; chunk < manifest.chunkCount; chunk += 1) {
      const rows = await loadChunk(runs, manifest.runId, chunk);
      const cellsByRow = new Map(rows.map((row) => [row.row, row.cells]));
      const result = await getJson<ChunkResult>(runs, runPaths.chunkResult(manifest.runId, chunk));
      if (!result) throw new Error(`Run ${manifest.runId} chunk ${chunk} has no result`);
      tally.counters = addCounters(tally.counters, result.counters);
      const lastRow = rows.at(-1)?.row ?? 0;
      const merged = mergeByRow(result.outcomes, planFailures, nextPlan, lastRow);
      nextPlan = merged.nextPlan;
      for (const outcome of merged.outcomes) {
        await emit(outcome, cellsByRow.get(outcome.row) ?? planCells[outcome.row]);
      }
    }
    for (; nextPlan < planFailures.length; nextPlan += 1) {
      const outcome = planFailures[nextPlan];
      if (outcome) await emit(outcome, planCells[outcome.row]);
    }
    await Promise.all([errors.close(), records.close()]);
    return tally;
  } catch (error) {
    // Neither upload may be left waiting for rows that will not come.
    errors.abort(error);
    records.abort(error);
    throw error;
  }
}

const RESULT_COLUMNS = ['row', 'code', 'message', 'column'] as const;

/**
 * Positions of the input columns that errors.csv and records.csv repeat. A fixed errors.csv dropped
 * back in carries the last run's `row`, `code`, `message` and `column`; unless the job maps them,
 * they are not repeated, so the new file has one set of them, this run's.
 */
export function echoedColumns(manifest: RunManifest): number[] {
  const job = manifest.job as { columns?: Record<string, unknown> } | undefined;
  const mapped = new Set(Object.keys(job?.columns ?? {}));
  const ours = new Set<string>(RESULT_COLUMNS);
  return manifest.header.flatMap((name, i) => (ours.has(name) && !mapped.has(name) ? [] : [i]));
}

function mergeByRow(
  chunkOutcomes: readonly RowOutcome[],
  planFailures: readonly RowOutcome[],
  start: number,
  lastRow: number,
): { outcomes: RowOutcome[]; nextPlan: number } {
  const outcomes = [...chunkOutcomes];
  let next = start;
  while (next < planFailures.length && (planFailures[next]?.row ?? Infinity) <= lastRow) {
    const failure = planFailures[next];
    if (failure) outcomes.push(failure);
    next += 1;
  }
  outcomes.sort((a, b) => a.row - b.row);
  return { outcomes, nextPlan: next };
}

function statusOf(succeeded: number, failed: number): RunStatus {
  if (failed === 0) return 'succeeded';
  return succeeded === 0 ? 'failed' : 'completedWithErrors';
}

/**
 * errors.csv keeps cells exactly as the user sent them (no formula prefixing), so fixing the
 * rows and dropping the file back in imports the same values.
 */
function openCsv(
  store: ObjectStore,
  path: string,
  columns: readonly string[],
): { csv: Stringifier; close: () => Promise<void>; abort: (error: unknown) => void } {
  const csv = createCsvWriter({ columns, bom: true, neutraliseFormulas: false });
  const body = new PassThrough();
  csv.pipe(body);
  const upload = store.putStream(path, body, { contentType: 'text/csv; charset=utf-8' });
  // Failures surface through the upload promise and write(); the streams' own error events are expected.
  csv.on('error', () => undefined);
  body.on('error', () => undefined);
  const abort = (error: unknown) => {
    const reason = error instanceof Error ? error : new Error(String(error));
    csv.destroy(reason);
    body.destroy(reason);
  };
  // A failed upload stops reading: fail the writer too, so writes neither wait for a drain that
  // never comes nor leave the rejection unhandled (which ends a Node process).
  upload.catch(abort);
  return {
    csv,
    close: async () => {
      csv.end();
      await upload;
    },
    abort,
  };
}

async function write(csv: Stringifier, record: readonly string[]): Promise<void> {
  if (csv.destroyed) throw csv.errored ?? new Error('The result file could not be written');
  if (!csv.write(record)) await once(csv, 'drain');
}

/** A file that cannot be processed at all still gets a summary and an errors.csv saying why. */
export async function writeRejectedRun(
  results: ObjectStore,
  resultsPrefix: string,
  details: {
    readonly runId: string;
    readonly job: string;
    readonly input: InputRef;
    readonly code: string;
    readonly message: string;
    readonly startedAt: Date;
    readonly dryRun?: boolean;
  },
  clock: () => Date = () => new Date(),
): Promise<RunSummary> {
  const finishedAt = clock();
  const errors = openCsv(results, resultsPrefix + resultFiles.errors, ['row', 'code', 'message']);
  await write(errors.csv, ['1', details.code, details.message]);
  await errors.close();
  const summary: RunSummary = {
    runId: details.runId,
    job: details.job,
    status: 'failed',
    input: { name: details.input.name, url: details.input.url, etag: details.input.etag },
    dryRun: details.dryRun ?? false,
    rows: {
      total: 0,
      succeeded: 0,
      failed: 0,
      created: 0,
      updated: 0,
      upserted: 0,
      deleted: 0,
      unchanged: 0,
    },
    chunks: 0,
    durationMs: finishedAt.getTime() - details.startedAt.getTime(),
    requests: 0,
    retries: 0,
    throttled: 0,
    startedAt: details.startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    errorsFile: resultsPrefix + resultFiles.errors,
    recordsFile: resultsPrefix + resultFiles.records,
    error: { code: details.code, message: details.message },
  };
  await putJson(results, resultsPrefix + resultFiles.summary, summary, { ifNoneMatch: true });
  return (await getJson<RunSummary>(results, resultsPrefix + resultFiles.summary)) ?? summary;
}
