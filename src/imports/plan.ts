import { createDuplicateKeyTracker } from '../mapping/duplicates.js';
import { DiskDuplicateDetector } from './disk-duplicates.js';
import { runPaths } from './paths.js';
import type { RequestTrace } from './request-trace.js';
import { getJson, putJson, type ObjectStore } from '../storage/object-store.js';
import type {
  ChunkMessage,
  ChunkRow,
  InputRef,
  PlanFailures,
  StoredPlanResult,
  RequestCounters,
  RowOutcome,
  RunManifest,
} from './types.js';

/** A record from the CSV reader: its cells in header order, or why it could not be read. */
export type SourceRecord =
  | { readonly row: number; readonly cells: readonly string[]; readonly error?: undefined }
  | {
      readonly row: number;
      readonly cells?: readonly string[];
      readonly error: { readonly code: string; readonly message: string; readonly column?: string };
    };

export type DuplicateKeyPolicy = 'lastWins' | 'failAll';

/** Chunk objects the plan writes at once while it reads on. */
const CHUNK_WRITES = 3;

export interface PlanOptions {
  readonly runId: string;
  readonly input: InputRef;
  readonly jobName: string;
  readonly job: unknown;
  readonly header: readonly string[];
  readonly records: AsyncIterable<SourceRecord>;
  readonly chunkSize: number;
  /**
   * The key of a record as Dataverse compares it (`key`) and as the user wrote it (`display`), or
   * undefined when the row has none.
   */
  readonly keyOf?: (
    cells: readonly string[],
  ) => { readonly key: string; readonly display: string } | undefined;
  readonly duplicateKeys: DuplicateKeyPolicy;
  /** Index keys on local disk instead of memory (big inputs: memory stays flat whatever the row count). */
  readonly spillDuplicates?: boolean;
  readonly store: ObjectStore;
  readonly dryRun: boolean;
  readonly resultsPrefix: string;
  /**
   * Awaited once the file has been read, before anything commits the plan (its result, then the
   * manifest): a check that ran alongside the read can still stop the run, with nothing committed, by
   * throwing. Resolves to the requests the check made, which count as the plan's.
   */
  readonly beforeCommit?: () => Promise<RequestCounters & { readonly trace?: RequestTrace }>;
  readonly clock?: () => Date;
  readonly onProgress?: (rowsRead: number) => void;
  /**
   * Each chunk once stored, before the file has been read to the end: for reads ahead only (rows
   * may still be skipped as in-file duplicates, and the file may yet be rejected).
   */
  readonly onChunk?: (chunk: number, rows: readonly ChunkRow[]) => void;
}

export interface PlanResult {
  readonly manifest: RunManifest;
  readonly messages: readonly ChunkMessage[];
  /** False when the run was already planned (a re-delivered event): nothing new was written. */
  readonly created: boolean;
}

/**
 * Streams the input once: splits it into chunk objects, fails unreadable rows and in-file
 * duplicate keys up front, then writes the manifest last, so a crash mid-plan simply re-plans.
 */
export async function planRun(options: PlanOptions): Promise<PlanResult> {
  const { store, runId } = options;
  const clock = options.clock ?? (() => new Date());
  const existing = await getJson<RunManifest>(store, runPaths.manifest(runId));
  if (existing) return { manifest: existing, messages: chunkMessages(existing), created: false };

  const startedAt = clock();
  /** Rows the plan takes out of the write: failed (unreadable, failAll duplicates) or superseded (lastWins). */
  const failures: RowOutcome[] = [];
  // Under lastWins the earlier rows of a key are not errors: a later row says what the record should hold.
  const duplicateOutcome = (duplicate: { row: number; code: string; message: string }): RowOutcome =>
    options.duplicateKeys === 'lastWins'
      ? { row: duplicate.row, status: 'superseded', message: duplicate.message }
      : { row: duplicate.row, status: 'failed', code: duplicate.code, message: duplicate.message };
  const failedCells: Record<string, readonly string[]> = {};
  /** The last row of each chunk: which chunk's row range each failure falls in. */
  const chunkLastRows: number[] = [];
  const onDisk =
    options.keyOf && options.spillDuplicates ? new DiskDuplicateDetector(options.duplicateKeys) : undefined;
  const duplicates = options.keyOf && !onDisk ? createDuplicateKeyTracker(options.duplicateKeys) : undefined;
  let buffer: ChunkRow[] = [];
  let chunkCount = 0;
  let totalRows = 0;

  // Chunk writes go on while the file is read: awaited one by one, each write's round trip stopped the
  // read. At most CHUNK_WRITES are out; `onChunk` still sees each chunk stored, in chunk order.
  const writing: Promise<void>[] = [];
  let announced: Promise<void> = Promise.resolve();
  const flush = async (): Promise<void> => {
    if (buffer.length === 0) return;
    const rows = buffer;
    const chunk = chunkCount;
    const body = rows.map((row) => JSON.stringify(row)).join('\n');
    const put = store.put(runPaths.chunk(runId, chunk), body, { contentType: 'application/x-ndjson' });
    announced = Promise.all([announced, put]).then(() => options.onChunk?.(chunk, rows));
    // Awaited in order below; until then a failure must not count as unhandled.
    announced.catch(() => undefined);
    writing.push(announced);
    chunkLastRows.push(rows[rows.length - 1]?.row ?? 0);
    chunkCount += 1;
    buffer = [];
    if (writing.length >= CHUNK_WRITES) await writing.shift();
  };

  for await (const record of options.records) {
    totalRows += 1;
    if (totalRows % 10_000 === 0) options.onProgress?.(totalRows);
    if (record.error) {
      const { code, message, column } = record.error;
      failures.push({ row: record.row, status: 'failed', code, message, ...(column ? { column } : {}) });
      if (record.cells) failedCells[record.row] = record.cells;
      continue;
    }
    const key = options.keyOf?.(record.cells);
    if (onDisk && key) await onDisk.add(key.key, record.row);
    if (duplicates && key) {
      for (const duplicate of duplicates.add(key.key, record.row, key.display))
        failures.push(duplicateOutcome(duplicate));
    }
    buffer.push({ row: record.row, cells: record.cells });
    if (buffer.length >= options.chunkSize) await flush();
  }
  await flush();
  // The last announcement follows every earlier one: every chunk is stored.
  await announced;
  options.onProgress?.(totalRows);
  for (const duplicate of (await onDisk?.finish()) ?? []) failures.push(duplicateOutcome(duplicate));

  const measured: RequestCounters & { readonly trace?: RequestTrace } = (await options.beforeCommit?.()) ?? {
    requests: 0,
    retries: 0,
    throttled: 0,
  };
  const { trace, ...counters } = measured;
  // Failures are stored once: with the chunk whose row range holds them, or here when no chunk does.
  const byChunk = failuresByChunk(failures, chunkLastRows);
  const planResult: StoredPlanResult = {
    runId,
    chunk: 'plan',
    outcomes: chunkCount === 0 ? failures : [],
    cells: chunkCount === 0 ? failedCells : {},
    counters,
    durationMs: clock().getTime() - startedAt.getTime(),
    completedAt: clock().toISOString(),
    ...(trace ? { trace } : {}),
  };
  await putJson(store, runPaths.planResult(runId), planResult, { compact: true });
  for (const [chunk, outcomes] of byChunk) {
    const cells: Record<string, readonly string[]> = {};
    for (const outcome of outcomes) {
      const read = failedCells[outcome.row];
      if (read) cells[outcome.row] = read;
    }
    const part: PlanFailures = { outcomes, cells };
    await putJson(store, runPaths.chunkPlanFailures(runId, chunk), part, { compact: true });
  }

  const manifest: RunManifest = {
    runId,
    input: options.input,
    job: options.job,
    jobName: options.jobName,
    header: options.header,
    chunkCount,
    chunkSize: options.chunkSize,
    totalRows,
    planFailures: failures.filter((outcome) => outcome.status === 'failed').length,
    planSuperseded: failures.filter((outcome) => outcome.status === 'superseded').length,
    dryRun: options.dryRun,
    startedAt: startedAt.toISOString(),
    plannedAt: clock().toISOString(),
    planCounters: planResult.counters,
    resultsPrefix: options.resultsPrefix,
  };
  const created = await putJson(store, runPaths.manifest(runId), manifest, { ifNoneMatch: true });
  const stored = created
    ? manifest
    : ((await getJson<RunManifest>(store, runPaths.manifest(runId))) ?? manifest);
  return { manifest: stored, messages: chunkMessages(stored), created };
}

/**
 * Each failure goes to the chunk whose row range holds it: after the previous chunk's last row, up to
 * its own last row (rows after the last chunk go to the last chunk). With no chunk, none is assigned:
 * the fan-in writes them from the plan's result.
 */
function failuresByChunk(
  failures: readonly RowOutcome[],
  chunkLastRows: readonly number[],
): Map<number, RowOutcome[]> {
  const byChunk = new Map<number, RowOutcome[]>();
  if (chunkLastRows.length === 0) return byChunk;
  const sorted = [...failures].sort((a, b) => a.row - b.row);
  let chunk = 0;
  for (const failure of sorted) {
    while (chunk < chunkLastRows.length - 1 && failure.row > (chunkLastRows[chunk] ?? 0)) chunk += 1;
    const list = byChunk.get(chunk) ?? [];
    list.push(failure);
    byChunk.set(chunk, list);
  }
  return byChunk;
}

export function chunkMessages(manifest: RunManifest): ChunkMessage[] {
  return Array.from({ length: manifest.chunkCount }, (_, chunk) => ({ runId: manifest.runId, chunk }));
}
