// Reading a file once before its plan, for runners that write chunks while the plan still reads: a chunk
// may go before the plan is complete only if no later row can change it and the file will not be refused
// whole after its first writes.
import type { Readable } from 'node:stream';
import { DEFAULT_MAX_RECORD_BYTES, isCsvFileError, openCsv } from '../csv/reader.js';
import { isUtf8Encoding } from '../csv/decode.js';
import type { ImportJob } from '../config/job.js';
import { attributeOf, isAssociationJob, requiredHeaders } from '../config/job.js';
import { createDuplicateKeyTracker } from '../mapping/duplicates.js';
import { DiskDuplicateDetector } from './disk-duplicates.js';
import type { ChunkRow } from './types.js';

/** Inputs above this size index their keys on disk (about 1 million rows of typical CSV). */
export const SPILL_DUPLICATES_ABOVE_BYTES = 64 * 1024 * 1024;

/**
 * Rows sharing a key that the first pass keeps track of: past this, a file so full of repeated keys gains
 * little from writing early, and every chunk waits for the plan.
 */
const MAX_REPEATED_ROWS = 100_000;

/** Whether a chunk's rows are final: no later row can take one out of the write, and the file is read whole. */
export type ChunkFinality = (rows: readonly ChunkRow[]) => boolean;

const NONE_FINAL: ChunkFinality = () => false;

/**
 * Reads the file once to its end, storing nothing, and says which chunks are final. A job without a key
 * has final chunks once the reader gets to the end (the plan looks for no in-file duplicates). A keyed
 * job's chunk is final when none of its rows has a key another row of the file has: the pass finds those
 * rows with the plan's own duplicate check under `failAll` (every row of a repeated key, the first
 * included), on the same records, so every row the plan later takes out under either policy is among them.
 */
export async function firstPass(
  job: ImportJob,
  source: string,
  open: () => Promise<Readable>,
  options: { readonly spillDuplicates: boolean },
): Promise<ChunkFinality> {
  if (!job.key?.length) return (await readsToTheEnd(job, source, open)) ? () => true : NONE_FINAL;
  const onDisk = options.spillDuplicates ? new DiskDuplicateDetector('failAll') : undefined;
  let finished = false;
  try {
    const csv = await openCsv(await open(), csvOptionsOf(job, source));
    const keyOf = keyExtractor(job, csv.header.names);
    const inMemory = onDisk ? undefined : createDuplicateKeyTracker('failAll');
    const repeated = new Set<number>();
    for await (const record of csv.rows) {
      // Unreadable rows are never in a chunk, and the plan checks no key of theirs.
      if (record.error) continue;
      const key = keyOf?.(record.cells);
      if (!key) continue;
      if (onDisk) await onDisk.add(key.key, record.row);
      for (const duplicate of inMemory?.add(key.key, record.row, key.display) ?? [])
        repeated.add(duplicate.row);
      if (repeated.size > MAX_REPEATED_ROWS) return NONE_FINAL;
    }
    finished = true;
    for (const duplicate of (await onDisk?.finish()) ?? []) repeated.add(duplicate.row);
    if (repeated.size > MAX_REPEATED_ROWS) return NONE_FINAL;
    return (rows) => rows.every((row) => !repeated.has(row.row));
  } catch (error) {
    if (isCsvFileError(error)) return NONE_FINAL;
    throw error;
  } finally {
    // A pass stopped before the end still removes its bucket files.
    if (!finished) await onDisk?.finish().catch(() => undefined);
  }
}

/** How the job reads its CSV files (the plan's reader and the first pass alike). */
export function csvOptionsOf(job: ImportJob, source: string) {
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

/**
 * The in-file duplicate check compares key cells the way Dataverse compares alternate keys:
 * trimmed and case-insensitive.
 */
export function keyExtractor(
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
