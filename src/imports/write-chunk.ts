import { runPaths } from './paths.js';
import { resultLines, type ResultLines } from './result-lines.js';
import { mergeTraces, type RequestTrace } from './request-trace.js';
import { stageChunkParts } from './result-parts.js';
import { getJson, putJson, type ObjectStore } from '../storage/object-store.js';
import { lookUpTargets, needsLookUps, writeRows, type WritableRow, type WriteContext } from './write-rows.js';
import {
  addCounters,
  type ChunkMessage,
  type ChunkResult,
  type ChunkRow,
  type PlanFailures,
  type RequestCounters,
  type RowOutcome,
  type RunManifest,
} from './types.js';

/** Turns a chunk's rows into writable payloads or row failures (lookups resolved in batches). */
export interface ChunkMapper {
  mapChunk(rows: readonly ChunkRow[]): Promise<{ writable: WritableRow[]; failures: RowOutcome[] }>;
}

/** Everything a chunk needs that depends on the run's job: built once per run and process. */
export interface PreparedRun {
  readonly mapper: ChunkMapper;
  readonly write: Omit<WriteContext, 'recovering' | 'dryRun'>;
  /**
   * Runs that write more than rows bring their own writer, called in place of `writeRows` with the
   * same context: associate / disassociate (which then ignore `write`), file columns (rows, then files).
   * One outcome per row, as `writeRows`.
   */
  readonly writer?: (context: WriteContext, rows: readonly WritableRow[]) => Promise<RowOutcome[]>;
}

/** What building a run's `PreparedRun` reads of its manifest (known before the manifest is written). */
export type RunIdentity = Pick<RunManifest, 'runId' | 'job' | 'jobName' | 'header'>;

export interface ChunkWorkerDeps {
  readonly runs: ObjectStore;
  /** Where the run's result files go: a chunk stages its lines there when the store joins parts. */
  readonly results?: ObjectStore;
  readonly prepare: (manifest: RunIdentity) => Promise<PreparedRun>;
  /** Runs `work` and reports the Dataverse requests it made (attributed per chunk). */
  readonly measure: <T>(
    work: () => Promise<T>,
  ) => Promise<{ value: T; counters: RequestCounters; trace?: RequestTrace }>;
  /**
   * The chunk already mapped and its records looked up (see `prefetchChunk`), when a runner did that
   * ahead; undefined (or a failure) means the chunk does it itself.
   */
  readonly prefetched?: (message: ChunkMessage) => Promise<PrefetchedChunk> | undefined;
  readonly clock?: () => Date;
}

/**
 * A chunk's reads done ahead of its write: mapping (lookup columns resolved) and the look-up of the
 * records its rows target. Nothing is written, so it may run while the file is still being planned;
 * rows the plan later skips (in-file duplicates) are dropped when the chunk is written.
 */
export interface PrefetchedChunk {
  /** The chunk's rows as read, so its write need not read the chunk object again. */
  readonly rows: readonly ChunkRow[];
  readonly writable: readonly WritableRow[];
  readonly failures: readonly RowOutcome[];
  readonly resolved?: ReadonlyMap<string, string>;
  /**
   * Set when the chunk was written ahead too (`writeChunkAhead`, while the plan was still reading):
   * an outcome for each writable row. The chunk's processing then only records the result.
   */
  readonly written?: readonly RowOutcome[];
  /** The requests the reads made: they count as the chunk's. */
  readonly counters: RequestCounters;
  readonly trace?: RequestTrace;
}

export async function prefetchChunk(
  deps: Pick<ChunkWorkerDeps, 'measure'>,
  prepared: PreparedRun,
  rows: readonly ChunkRow[],
): Promise<PrefetchedChunk> {
  const { value, counters, trace } = await deps.measure(() => mapAndLookUp(prepared, rows));
  return { rows, ...value, counters, ...(trace ? { trace } : {}) };
}

/** A chunk's rows mapped, and the lookup targets its writable rows name resolved. */
async function mapAndLookUp(prepared: PreparedRun, rows: readonly ChunkRow[]) {
  const { writable, failures } = await prepared.mapper.mapChunk(rows);
  const resolved =
    needsLookUps(prepared.write) && writable.length > 0
      ? await lookUpTargets(prepared.write, writable)
      : undefined;
  return { writable, failures, ...(resolved ? { resolved } : {}) };
}

/**
 * Maps and writes a chunk before the run's plan is committed, for a runner that knows no later row can
 * change the chunk (`ChunkSettled.final`) and that the file reads to its end. Marks the chunk started
 * first, as `processChunk` does, so an attempt cut short (a crash mid-plan, then a re-plan of the same
 * run) is written again in recovery mode. The outcomes are kept for `processChunk`, which records them.
 */
export async function writeChunkAhead(
  deps: Pick<ChunkWorkerDeps, 'measure' | 'runs' | 'clock'>,
  prepared: PreparedRun,
  message: ChunkMessage,
  rows: readonly ChunkRow[],
  options: { readonly dryRun: boolean },
): Promise<PrefetchedChunk> {
  const clock = deps.clock ?? (() => new Date());
  const firstAttempt = await deps.runs.put(
    runPaths.chunkStarted(message.runId, message.chunk),
    clock().toISOString(),
    { ifNoneMatch: true },
  );
  const { value, counters, trace } = await deps.measure(async () => {
    const { writable, failures, resolved } = await mapAndLookUp(prepared, rows);
    const written = await (prepared.writer ?? writeRows)(
      {
        ...prepared.write,
        recovering: !firstAttempt,
        dryRun: options.dryRun,
        ...(resolved ? { resolved } : {}),
      },
      writable,
    );
    return { writable, failures, written };
  });
  return { rows, ...value, counters, ...(trace ? { trace } : {}) };
}

export interface ChunkOutcome {
  readonly result: ChunkResult;
  /** False when the chunk had already been written (a re-delivered message): nothing was sent. */
  readonly fresh: boolean;
  /** A fresh write's outcome for each of its rows (not stored: the result keeps their lines). */
  readonly outcomes?: readonly RowOutcome[];
}

/**
 * Writes one chunk at most once in effect: a stored result short-circuits a re-delivery, and a
 * chunk that was started before (crash mid-write) runs in recovery mode, where creates first
 * check which deterministic ids already exist.
 */
export async function processChunk(deps: ChunkWorkerDeps, message: ChunkMessage): Promise<ChunkOutcome> {
  const { runs } = deps;
  const clock = deps.clock ?? (() => new Date());
  const resultPath = runPaths.chunkResult(message.runId, message.chunk);
  const done = await getJson<ChunkResult>(runs, resultPath);
  if (done) {
    return { result: done, fresh: false };
  }

  const manifest = await loadManifest(runs, message.runId);
  if (message.chunk < 0 || message.chunk >= manifest.chunkCount) {
    throw new Error(`Run ${message.runId} has no chunk ${message.chunk}`);
  }
  // The run's setup (its table's metadata; on a new instance, finding the web servers first) goes on while
  // the chunk's objects are read: on a new instance of the local fleet it took 0.9-1.2 s and had waited for
  // reads of 0.4-1.4 s. Awaited below; until then a failure must not count as unhandled.
  const preparing = deps.prepare(manifest);
  preparing.catch(() => undefined);
  const started = clock();
  // A failed prefetch only loses the head start: the chunk reads, maps and looks up for itself. A
  // failed write ahead left its chunk marked started: the write below recovers.
  const ahead = await deps.prefetched?.(message)?.catch(() => undefined);
  const firstAttempt = ahead?.written
    ? false
    : await runs.put(runPaths.chunkStarted(message.runId, message.chunk), started.toISOString(), {
        ifNoneMatch: true,
      });
  const rows = ahead?.rows ?? (await loadChunk(runs, message.runId, message.chunk));
  const { planned, skipped } = await loadPlanFailures(runs, message);
  const prepared = await preparing;
  if (ahead?.written && [...ahead.failures, ...ahead.written].some((outcome) => skipped.has(outcome.row))) {
    // Only a chunk no later row can change is written ahead; the plan taking a row out is a bug.
    throw new Error(
      `Run ${message.runId} chunk ${message.chunk} was written ahead, but the plan took rows out of it`,
    );
  }

  const {
    value: outcomes,
    counters: measured,
    trace: writeTrace,
  } = await deps.measure(async () => {
    if (ahead?.written) return [...ahead.failures, ...ahead.written].sort((a, b) => a.row - b.row);
    const eligible = (row: { readonly row: number }) => !skipped.has(row.row);
    const { writable, failures } = ahead
      ? { writable: ahead.writable.filter(eligible), failures: ahead.failures.filter(eligible) }
      : await prepared.mapper.mapChunk(rows.filter(eligible));
    const written = await (prepared.writer ?? writeRows)(
      {
        ...prepared.write,
        recovering: !firstAttempt,
        dryRun: manifest.dryRun,
        ...(ahead?.resolved ? { resolved: ahead.resolved } : {}),
      },
      writable,
    );
    return [...failures, ...written].sort((a, b) => a.row - b.row);
  });
  const counters = ahead ? addCounters(ahead.counters, measured) : measured;
  const trace = mergeTraces(ahead?.trace, writeTrace);
  assertOneOutcomePerRow(rows, skipped, outcomes, message);
  const lines = chunkLines(manifest, rows, outcomes, planned);

  const result: ChunkResult = {
    runId: message.runId,
    chunk: message.chunk,
    counters,
    durationMs: clock().getTime() - started.getTime(),
    completedAt: clock().toISOString(),
    lines,
    ...(trace ? { trace } : {}),
  };
  const stored = await putJson(runs, resultPath, result, { ifNoneMatch: true, compact: true });
  await Promise.all([
    putJson(runs, runPaths.chunkCounts(message.runId, message.chunk), countsOf(outcomes)),
    // Only the stored result's lines may become parts; the fan-in stages any that are missing.
    stored && deps.results ? stageChunkParts(deps.results, runs, manifest, result) : undefined,
  ]);
  if (!stored) {
    // A duplicate delivery finished first; its result stands and ours is dropped.
    return { result: (await getJson<ChunkResult>(runs, resultPath)) ?? result, fresh: false };
  }
  return { result, fresh: true, outcomes };
}

/**
 * A chunk that could not be processed after every retry (a poison message): all of its rows
 * are recorded as failed with the reason, so the run can still be finalized.
 */
export async function failChunk(
  runs: ObjectStore,
  message: ChunkMessage,
  reason: string,
  clock: () => Date = () => new Date(),
): Promise<ChunkResult> {
  const resultPath = runPaths.chunkResult(message.runId, message.chunk);
  const done = await getJson<ChunkResult>(runs, resultPath);
  if (done) return done;
  const manifest = await loadManifest(runs, message.runId);
  const rows = await loadChunk(runs, message.runId, message.chunk);
  const { planned, skipped } = await loadPlanFailures(runs, message);
  const outcomes: RowOutcome[] = rows
    .filter((row) => !skipped.has(row.row))
    .map((row) => ({ row: row.row, status: 'failed', code: 'ChunkFailed', message: reason }));
  const result: ChunkResult = {
    runId: message.runId,
    chunk: message.chunk,
    counters: { requests: 0, retries: 0, throttled: 0 },
    durationMs: 0,
    completedAt: clock().toISOString(),
    chunkError: reason,
    lines: chunkLines(manifest, rows, outcomes, planned),
  };
  await putJson(runs, resultPath, result, { ifNoneMatch: true, compact: true });
  await putJson(runs, runPaths.chunkCounts(message.runId, message.chunk), countsOf(outcomes));
  return (await getJson<ChunkResult>(runs, resultPath)) ?? result;
}

/** Small per-chunk tallies, so a status request reads a few bytes per chunk instead of every outcome. */
export interface ChunkCounts {
  readonly succeeded: number;
  readonly failed: number;
}

/** The chunk's own rows (the plan's failures in its range are counted with the plan's). */
function countsOf(outcomes: readonly RowOutcome[]): ChunkCounts {
  const failed = outcomes.filter((outcome) => outcome.status === 'failed').length;
  return { succeeded: outcomes.length - failed, failed };
}

export async function loadManifest(runs: ObjectStore, runId: string): Promise<RunManifest> {
  const manifest = await getJson<RunManifest>(runs, runPaths.manifest(runId));
  if (!manifest) throw new Error(`Run ${runId} has no manifest in ${runs.location}`);
  return manifest;
}

export async function loadChunk(runs: ObjectStore, runId: string, chunk: number): Promise<ChunkRow[]> {
  const body = await runs.get(runPaths.chunk(runId, chunk));
  if (!body) throw new Error(`Run ${runId} chunk ${chunk} is missing from ${runs.location}`);
  // NDJSON lines never hold a raw newline (JSON escapes it): one parse of the lines as an array is
  // cheaper than a parse per line.
  const lines = body
    .toString('utf8')
    .split('\n')
    .filter((line) => line.length > 0);
  return JSON.parse(`[${lines.join(',')}]`) as ChunkRow[];
}

/** The plan's failures in the chunk's range, and which of its rows they take out of the write. */
async function loadPlanFailures(
  runs: ObjectStore,
  message: ChunkMessage,
): Promise<{ planned: PlanFailures; skipped: ReadonlySet<number> }> {
  const path = runPaths.chunkPlanFailures(message.runId, message.chunk);
  const planned = (await getJson<PlanFailures>(runs, path)) ?? { outcomes: [], cells: {} };
  return { planned, skipped: new Set(planned.outcomes.map((outcome) => outcome.row)) };
}

/** The chunk's result lines: its own outcomes and the plan's failures in its range, in row order. */
function chunkLines(
  manifest: Pick<RunManifest, 'job' | 'header'>,
  rows: readonly ChunkRow[],
  outcomes: readonly RowOutcome[],
  planned: PlanFailures,
): ResultLines {
  const cellsByRow = new Map(rows.map((row) => [row.row, row.cells]));
  const all = [...outcomes, ...planned.outcomes].sort((a, b) => a.row - b.row);
  return resultLines(manifest, all, (row) => cellsByRow.get(row) ?? planned.cells[row]);
}

/** The contract is one outcome per row; a gap here would silently lose a row, so fail loudly. */
function assertOneOutcomePerRow(
  rows: readonly ChunkRow[],
  skipped: ReadonlySet<number>,
  outcomes: readonly RowOutcome[],
  message: ChunkMessage,
): void {
  const expected = rows.filter((row) => !skipped.has(row.row)).map((row) => row.row);
  const actual = outcomes.map((outcome) => outcome.row);
  if (expected.length !== actual.length || expected.some((row, i) => row !== actual[i])) {
    throw new Error(
      `Run ${message.runId} chunk ${message.chunk}: ${actual.length} outcomes for ${expected.length} rows`,
    );
  }
}
