import type { Readable } from 'node:stream';
import { isCsvFileError, openCsv } from '../csv/reader.js';
import type { ImportJob } from '../config/job.js';
import { isAssociationJob } from '../config/job.js';
import type { Logger } from '../logging.js';
import type { ObjectStore } from '../storage/object-store.js';
import { getJson } from '../storage/object-store.js';
import type { RequestTrace } from './request-trace.js';
import type { RunTelemetry } from '../telemetry/run-telemetry.js';
import { ensureImportReport } from '../reports/write-report.js';
import { tryFinalize, writeRejectedRun, type FinalizeDeps } from './finalize.js';
import { runPaths } from './paths.js';
import { chunkMessages, planRun } from './plan.js';
import { csvOptionsOf, firstPass, keyExtractor, SPILL_DUPLICATES_ABOVE_BYTES } from './first-pass.js';
import type { ChunkMessage, ChunkRow, InputRef, RequestCounters, RunManifest, RunSummary } from './types.js';
import { failChunk, processChunk, type ChunkWorkerDeps, type RunIdentity } from './write-chunk.js';

export interface ImportDeps extends ChunkWorkerDeps, FinalizeDeps {
  readonly runs: ObjectStore;
  readonly results: ObjectStore;
  readonly defaultChunkSize: number;
  readonly log: Logger;
  /**
   * Checks the job against the table before any row is read; returns why it cannot work, so a
   * misconfigured job fails the file once instead of every chunk five times.
   */
  readonly preflight?: (job: ImportJob) => Promise<PreflightProblem | string | undefined>;
  /** Row-failure logs carry the message, which quotes the cell (personal data), only when true. */
  readonly logCellValues?: boolean;
  /** Run metrics (Application Insights in Azure; see src/telemetry). */
  readonly telemetry?: Pick<RunTelemetry, 'runFinished'>;
  /**
   * The caller runs the fan-in once, after its last chunk (the local runner), instead of every chunk
   * trying it: chunks finishing together would each write the result files.
   */
  readonly deferFanIn?: boolean;
}

/** Row failures logged per chunk; errors.csv holds them all. */
const LOGGED_ROW_FAILURES = 20;

export interface StartRequest {
  /** The run's id (`runIdFor`): the caller knows what identifies a run where it hosts one. */
  readonly runId: string;
  readonly input: InputRef;
  readonly job: ImportJob | undefined;
  readonly open: () => Promise<Readable>;
  /** Where result files go in the results store; defaults to `<job>/<input name>/<runId>/`. */
  readonly resultsPrefix?: (runId: string) => string;
  /** How messages about the file name it; defaults to `<job>/<input name>`, its path in `incoming/`. */
  readonly sourceName?: string;
  readonly dryRun?: boolean;
  readonly onProgress?: (rowsRead: number) => void;
  /**
   * The caller wants to write chunks before the plan is complete (`ChunkSettled.final`): the file is
   * first read once to its end (`firstPass`), while the preflight's requests are out.
   */
  readonly writeAhead?: boolean;
  /**
   * Hands a final chunk to the workers before the plan is complete (a hosted runner's queue; needs
   * `writeAhead`): called once the preflight has passed, after the chunk and the plan's failures in its
   * row range are stored. Chunks handed over are not in the result's messages. Not used for jobs whose
   * writes would make new records if the file had to be uploaded again (see `releasesEarly`).
   */
  readonly release?: (message: ChunkMessage) => Promise<void>;
  /** See `PlanOptions.onChunk`; `run` is what preparing the run needs. */
  readonly onChunk?: (
    run: RunIdentity,
    chunk: number,
    rows: readonly ChunkRow[],
    settled: ChunkSettled,
  ) => void;
}

/** What a runner may know of a chunk stored before the plan is complete. */
export interface ChunkSettled {
  /**
   * No later row can take one of the chunk's rows out of the write, and the file will not be refused
   * whole: the first pass (asked with `writeAhead`) got to the end of the file, and none of the chunk's
   * rows has a key another row of the file has (rows the plan fails as unreadable are never in a chunk).
   */
  readonly final: boolean;
  /** Resolves once the preflight passed (privileges, job fits the table); rejects if it did not. */
  readonly cleared: Promise<void>;
}

export type StartResult =
  | { readonly kind: 'planned'; readonly manifest: RunManifest; readonly messages: readonly ChunkMessage[] }
  /** Already planned by an earlier delivery: only the chunks still lacking a result are returned. */
  | { readonly kind: 'resumed'; readonly manifest: RunManifest; readonly messages: readonly ChunkMessage[] }
  | { readonly kind: 'rejected'; readonly summary: RunSummary };

class PreflightFailure extends Error {}

/** Why a job cannot run, with the run's failure code (a plain string is `JobDoesNotFitTable`). */
export interface PreflightProblem {
  readonly code: string;
  readonly message: string;
}

/** A preflight's answer as one shape: a plain reason is a job that does not fit its table. */
function asProblem(problem: PreflightProblem | string | undefined): PreflightProblem | undefined {
  return typeof problem === 'string' ? { code: 'JobDoesNotFitTable', message: problem } : problem;
}

/** Plans a run for one input version. Safe to call again for the same input: it resumes. */
export async function startImport(deps: ImportDeps, request: StartRequest): Promise<StartResult> {
  const clock = deps.clock ?? (() => new Date());
  const { input } = request;
  const { runId } = request;
  const resultsPrefix = (request.resultsPrefix ?? defaultResultsPrefix(input))(runId);
  const startedAt = clock();

  const existing = await getJson<RunManifest>(deps.runs, runPaths.manifest(runId));
  if (existing)
    return { kind: 'resumed', manifest: existing, messages: await pendingMessages(deps, existing) };
  const rejectedBefore = await getJson<RunSummary>(deps.results, `${resultsPrefix}summary.json`);
  if (rejectedBefore?.runId === runId) return { kind: 'rejected', summary: rejectedBefore };

  const reject = async (code: string, message: string): Promise<StartResult> => {
    deps.log.warn('Input rejected', { runId, job: input.job, input: input.name, code });
    const summary = await writeRejectedRun(
      deps.results,
      resultsPrefix,
      { runId, job: input.job, input, code, message, startedAt, dryRun: request.dryRun ?? false },
      clock,
    );
    await deps.markInput?.(input, { runId, status: summary.status }).catch(() => undefined);
    return { kind: 'rejected', summary };
  };

  const job = request.job;
  if (!job) {
    return reject(
      'UnknownJob',
      `No import job named '${input.job}': add jobs/${input.job}.json or put the file in a known job folder.`,
    );
  }
  // The preflight's metadata reads run while the file is read (they count in the run's summary). The
  // plan commits nothing until it has passed, so a job that does not fit still rejects the file whole.
  const preflight = deps.measure(async () => asProblem(await deps.preflight?.(job)));
  // Awaited below; until then a failure must not count as unhandled.
  preflight.catch(() => undefined);
  const cleared = preflight.then(({ value: problem }) => {
    if (problem) throw new PreflightFailure(problem.message);
  });
  cleared.catch(() => undefined);
  const afterPreflight = async (): Promise<RequestCounters & { trace?: RequestTrace }> => {
    const { value: problem, counters, trace } = await preflight;
    if (problem) throw new PreflightFailure(problem.message);
    return { ...counters, ...(trace ? { trace } : {}) };
  };
  const source = request.sourceName ?? `${input.job}/${input.name}`;
  // The input says it has a run from now on, so the reconciliation sweep leaves it to this one.
  await deps.markInput?.(input, { runId, status: 'running' }).catch(() => undefined);
  try {
    const spillDuplicates = (input.size ?? 0) > SPILL_DUPLICATES_ABOVE_BYTES;
    const pass =
      request.writeAhead === true
        ? await firstPass(job, source, request.open, { spillDuplicates })
        : undefined;
    const csv = await openCsv(await request.open(), csvOptionsOf(job, source));
    const header = csv.header.names;
    const final = pass?.(header);
    const release = final && request.release && releasesEarly(job) ? request.release : undefined;
    const keyOf = keyExtractor(job, header);
    const { manifest, messages } = await planRun({
      runId,
      input,
      jobName: job.name,
      job,
      header,
      records: csv.rows,
      chunkSize: job.chunkSize ?? deps.defaultChunkSize,
      keyOf,
      duplicateKeys: job.duplicateKeys,
      spillDuplicates,
      store: deps.runs,
      dryRun: request.dryRun ?? false,
      resultsPrefix,
      clock,
      onProgress: request.onProgress,
      ...(request.onChunk
        ? {
            onChunk: (chunk: number, rows: readonly ChunkRow[]) =>
              request.onChunk?.({ runId, job, jobName: job.name, header }, chunk, rows, {
                final: final?.(rows) ?? false,
                cleared,
              }),
          }
        : {}),
      beforeCommit: afterPreflight,
      ...(final && release
        ? {
            release: {
              final,
              send: async (message: ChunkMessage) => {
                await cleared;
                await release(message);
              },
            },
          }
        : {}),
    });
    deps.log.info('Run planned', {
      runId,
      job: job.name,
      rows: manifest.totalRows,
      chunks: manifest.chunkCount,
      planFailures: manifest.planFailures,
      notes: csv.header.notes.length,
    });
    return { kind: 'planned', manifest, messages };
  } catch (error) {
    // A job that does not fit the table is the first thing to fix, whatever else is wrong with the file.
    const { value: problem } = await preflight;
    if (problem) {
      // What the read left behind (chunks, no manifest) is of no use.
      for await (const name of deps.runs.list(`${runId}/`)) await deps.runs.delete(name);
      return reject(problem.code, problem.message);
    }
    if (isCsvFileError(error)) return reject(error.code, error.message);
    throw error;
  }
}

/**
 * Writes one chunk, then tries the fan-in. Returns the summary when this call (or an earlier
 * one) completed the run.
 */
export async function handleChunk(deps: ImportDeps, message: ChunkMessage): Promise<RunSummary | undefined> {
  const { result, fresh, outcomes = [] } = await processChunk(deps, message);
  if (fresh) {
    const failed = outcomes.filter((o) => o.status === 'failed').length;
    deps.log.info('Chunk written', {
      runId: message.runId,
      chunk: message.chunk,
      rows: outcomes.length,
      failed,
      requests: result.counters.requests,
      throttled: result.counters.throttled,
      durationMs: result.durationMs,
    });
    for (const outcome of outcomes.filter((o) => o.status === 'failed').slice(0, LOGGED_ROW_FAILURES)) {
      deps.log.warn('Row failed', {
        runId: message.runId,
        row: outcome.row,
        code: outcome.code,
        column: outcome.column,
        ...(deps.logCellValues ? { message: outcome.message } : {}),
      });
    }
  }
  return deps.deferFanIn ? undefined : finalizeIfComplete(deps, message.runId);
}

/** A chunk that exhausted its retries: every row fails with the reason and the run still ends. */
export async function handlePoisonedChunk(
  deps: ImportDeps,
  message: ChunkMessage,
  reason: string,
): Promise<RunSummary | undefined> {
  deps.log.error('Chunk poisoned', { runId: message.runId, chunk: message.chunk, reason });
  await failChunk(deps.runs, message, reason, deps.clock);
  return deps.deferFanIn ? undefined : finalizeIfComplete(deps, message.runId);
}

/** The fan-in, when every chunk has a result; logs the run's end. */
export async function finalizeIfComplete(deps: ImportDeps, runId: string): Promise<RunSummary | undefined> {
  const summary = await tryFinalize(deps, runId);
  if (summary) {
    deps.log.info('Run finished', {
      runId,
      status: summary.status,
      total: summary.rows.total,
      succeeded: summary.rows.succeeded,
      failed: summary.rows.failed,
      durationMs: summary.durationMs,
    });
    // The report for people and the run's metrics, once: their own modules, best effort.
    const report = await ensureImportReport({ ...deps, cellValues: deps.logCellValues ?? false }, runId);
    if (report.state !== 'existed') deps.telemetry?.runFinished(summary, report.failuresByCode);
  }
  return summary;
}

export function defaultResultsPrefix(input: InputRef): (runId: string) => string {
  return (runId) => `${input.job}/${input.name}/${runId}/`;
}

async function pendingMessages(deps: ImportDeps, manifest: RunManifest): Promise<ChunkMessage[]> {
  const pending: ChunkMessage[] = [];
  for (const message of chunkMessages(manifest)) {
    if (!(await deps.runs.exists(runPaths.chunkResult(manifest.runId, message.chunk)))) pending.push(message);
  }
  return pending;
}

/**
 * Jobs whose chunks a hosted runner may hand to its workers before the plan is complete. If the plan then
 * failed every retry, the file is reported failed with some rows already written, and the user uploads it
 * again (a new run): an upsert, update or delete by key or id meets the same records again, and a create
 * with a key is refused for the records already made. A create without a key would make them twice, and
 * associations are left to the plan.
 */
export function releasesEarly(job: ImportJob): boolean {
  if (isAssociationJob(job)) return false;
  return job.operation !== 'create' || (job.key?.length ?? 0) > 0;
}
