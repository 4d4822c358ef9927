import type { Readable } from 'node:stream';
import { DEFAULT_MAX_RECORD_BYTES, isCsvFileError, openCsv } from '../csv/reader.js';
import { isUtf8Encoding } from '../csv/decode.js';
import type { ImportJob } from '../config/job.js';
import { attributeOf, isAssociationJob, requiredHeaders } from '../config/job.js';
import type { Logger } from '../logging.js';
import type { ObjectStore } from '../storage/object-store.js';
import { getJson } from '../storage/object-store.js';
import type { RequestTrace } from './request-trace.js';
import type { RunTelemetry } from '../telemetry/run-telemetry.js';
import { ensureImportReport } from '../reports/write-report.js';
import { tryFinalize, writeRejectedRun, type FinalizeDeps } from './finalize.js';
import { runPaths } from './paths.js';
import { chunkMessages, planRun } from './plan.js';
import type { ChunkMessage, ChunkRow, InputRef, RequestCounters, RunManifest, RunSummary } from './types.js';
import { failChunk, processChunk, type ChunkWorkerDeps, type RunIdentity } from './write-chunk.js';

/** Inputs above this size index their keys on disk (about 1 million rows of typical CSV). */
const SPILL_DUPLICATES_ABOVE_BYTES = 64 * 1024 * 1024;

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
   * first read once to its end (`readsToTheEnd`), while the preflight's requests are out.
   */
  readonly writeAhead?: boolean;
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
   * whole: the job has no key (so the plan looks for no in-file duplicates; rows it fails as unreadable
   * are never in a chunk), and the reader got to the end of the file (asked with `writeAhead`).
   */
  readonly final: boolean;
  /** Resolves once the preflight passed (privileges, job fits the table); rejects if it did not. */
  readonly cleared: Promise<void>;
}

/** How the job reads its CSV files (the plan's reader and `readsToTheEnd` alike). */
function csvOptionsOf(job: ImportJob, source: string) {
  return {
    source,
    delimiter: job.csv.delimiter,
    quote: job.csv.quote,
    encoding: job.csv.encoding,
    expect: { required: requiredHeaders(job), optional: Object.keys(job.columns) },
  };
}

/**
 * Whether the reader gets to the end of the file without refusing it whole (a header that does not
 * fit, a quote never closed, a record over the size limit, undecodable bytes). A runner that writes
 * chunks before the plan is complete asks first: a file refused after its first writes would break
 * "a refused file wrote nothing". Reads the file once more, storing nothing.
 */
async function readsToTheEnd(
  job: ImportJob,
  source: string,
  open: () => Promise<Readable>,
): Promise<boolean> {
  // Most files settle it from their bytes alone, at a fraction of a parse. (A header that does not fit
  // is refused by the plan's reader before any chunk exists.)
  if (await quoteFreeShortLines(job, open)) return true;
  try {
    const csv = await openCsv(await open(), csvOptionsOf(job, source));
    for await (const row of csv.rows) void row;
    return true;
  } catch (error) {
    if (isCsvFileError(error)) return false;
    throw error;
  }
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

/**
 * A UTF-8 file without the quote character and without a line as long as the record limit: the reader
 * cannot refuse it after its header (it refuses mid-file only a quote never closed or a record over
 * the limit; bytes invalid in the encoding fail their row). In UTF-8 an ASCII byte is never part of
 * another character, so the bytes tell. Anything else is read by the parser to be sure.
 */
async function quoteFreeShortLines(job: ImportJob, open: () => Promise<Readable>): Promise<boolean> {
  const quote = job.csv.quote ?? '"';
  if (!isUtf8Encoding(job.csv.encoding ?? 'utf-8') || quote.length > 1 || quote.charCodeAt(0) > 0x7f) {
    return false;
  }
  const quoteByte = quote === '' ? -1 : quote.charCodeAt(0);
  /** Bytes since the last line break. */
  let carried = 0;
  for await (const piece of await open()) {
    const bytes = piece as Buffer;
    if (quoteByte >= 0 && bytes.includes(quoteByte)) return false;
    // A line inside one piece is shorter than the piece; only lines across pieces need counting.
    if (bytes.length >= DEFAULT_MAX_RECORD_BYTES) return false;
    const breaks = [bytes.indexOf(0x0a), bytes.indexOf(0x0d)].filter((at) => at >= 0);
    if (breaks.length === 0) {
      carried += bytes.length;
    } else {
      if (carried + Math.min(...breaks) >= DEFAULT_MAX_RECORD_BYTES) return false;
      carried = bytes.length - 1 - Math.max(bytes.lastIndexOf(0x0a), bytes.lastIndexOf(0x0d));
    }
    if (carried >= DEFAULT_MAX_RECORD_BYTES) return false;
  }
  return true;
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
    const whole =
      request.writeAhead === true && !job.key?.length && (await readsToTheEnd(job, source, request.open));
    const csv = await openCsv(await request.open(), csvOptionsOf(job, source));
    const header = csv.header.names;
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
      spillDuplicates: (input.size ?? 0) > SPILL_DUPLICATES_ABOVE_BYTES,
      store: deps.runs,
      dryRun: request.dryRun ?? false,
      resultsPrefix,
      clock,
      onProgress: request.onProgress,
      ...(request.onChunk
        ? {
            onChunk: (chunk: number, rows: readonly ChunkRow[]) =>
              request.onChunk?.({ runId, job, jobName: job.name, header }, chunk, rows, {
                final: whole && keyOf === undefined,
                cleared,
              }),
          }
        : {}),
      beforeCommit: afterPreflight,
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
 * The in-file duplicate check compares key cells the way Dataverse compares alternate keys:
 * trimmed and case-insensitive.
 */
function keyExtractor(
  job: ImportJob,
  header: readonly string[],
): ((cells: readonly string[]) => { key: string; display: string } | undefined) | undefined {
  // Creates with a key too: two rows creating one key would race, and the policy says which one counts.
  if (!job.key?.length) return undefined;
  const positions = job.key.map((attribute) => {
    const column = Object.entries(job.columns).find(([, spec]) => attributeOf(spec) === attribute)?.[0];
    return column === undefined ? -1 : header.indexOf(column);
  });
  if (isAssociationJob(job)) {
    // A row names a pair: the same record appears in many rows, the same pair twice is the duplicate.
    const related = Object.entries(job.columns).find(([, spec]) => typeof spec !== 'string' && spec.lookup);
    positions.push(related ? header.indexOf(related[0]) : -1);
  }
  if (positions.some((p) => p < 0)) return undefined;
  return (cells) => {
    const parts = positions.map((p) => (cells[p] ?? '').trim());
    if (parts.every((part) => part === '')) return undefined;
    return { key: parts.map((part) => part.toLowerCase()).join('\u001f'), display: parts.join(', ') };
  };
}
