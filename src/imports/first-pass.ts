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
import { RepeatedKeys } from './repeated-keys.js';
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

/** What the first pass found, for the header the plan's reader reads: which chunks are final. */
export type FirstPass = (header: readonly string[]) => ChunkFinality;

const NONE_FINAL: ChunkFinality = () => false;
const NOTHING_FINAL: FirstPass = () => NONE_FINAL;

/** Distinct keys the scan of bytes keeps count of (9 bytes a slot: about 48 MB at the most). */
const MAX_SCANNED_KEYS = 4_000_000;

/**
 * Reads the file once to its end, storing nothing, and says which chunks are final. A job without a key
 * has final chunks once the reader gets to the end (the plan looks for no in-file duplicates). A keyed
 * job's chunk is final when none of its rows has a key another row of the file has, as the plan's
 * duplicate check tells keys apart: then no policy takes one of its rows out.
 *
 * Most files are read as bytes (`scanKeys`: 200,000 rows in about a fifth of the time of a parse); the
 * others are parsed, and their repeated rows found by the plan's own duplicate check under `failAll`
 * (every row of a repeated key).
 */
export async function firstPass(
  job: ImportJob,
  source: string,
  open: () => Promise<Readable>,
  options: { readonly spillDuplicates: boolean },
): Promise<FirstPass> {
  if (!job.key?.length) return (await readsToTheEnd(job, source, open)) ? () => () => true : NOTHING_FINAL;
  const scanned = await scanKeys(job, open);
  if (scanned === 'refused') return NOTHING_FINAL;
  if (scanned !== 'unsuited') {
    return (header) => {
      // The scan split the header as the reader would: anything else, and its positions mean nothing.
      if (header.length !== scanned.header.length || header.some((name, i) => name !== scanned.header[i]))
        return NONE_FINAL;
      const keyOf = keyExtractor(job, header);
      const { repeated } = scanned;
      if (!keyOf) return () => true;
      if (!repeated) return NONE_FINAL;
      return (rows) =>
        rows.every((row) => {
          const key = keyOf(row.cells);
          return key === undefined || !repeated.repeated(key.key);
        });
    };
  }
  const final = await parseForRepeatedRows(job, source, open, options);
  return () => final;
}

/**
 * The key cells of a file read as bytes, for files the reader splits the same way: UTF-8, a one-byte
 * delimiter and no quote character anywhere, so a record is a line (the reader ends records at \r\n, \n
 * or \r) and a cell is what lies between delimiters. The cells of every row the reader can read are then
 * the scan's, so every key the plan's duplicate check finds repeated is repeated here (rows the reader
 * fails, ragged or undecodable, only add keys: more chunks wait, none goes wrongly). 'unsuited' for other
 * files; 'refused' when a line is longer than the reader accepts (the plan refuses the file).
 */
async function scanKeys(
  job: ImportJob,
  open: () => Promise<Readable>,
): Promise<{ header: string[]; repeated?: RepeatedKeys } | 'unsuited' | 'refused'> {
  const quote = job.csv.quote ?? '"';
  const delimiter = job.csv.delimiter === 'tab' ? '\t' : (job.csv.delimiter ?? ',');
  if (
    !isUtf8Encoding(job.csv.encoding ?? 'utf-8') ||
    quote.length > 1 ||
    quote.charCodeAt(0) > 0x7f ||
    delimiter.length !== 1 ||
    delimiter.charCodeAt(0) > 0x7f
  ) {
    return 'unsuited';
  }
  const quoteByte = quote === '' ? -1 : quote.charCodeAt(0);
  const delimiterByte = delimiter.charCodeAt(0);
  const repeated = new RepeatedKeys(MAX_SCANNED_KEYS);
  let header: string[] | undefined;
  let positions: number[] | undefined;
  let full = false;
  const line = (bytes: Buffer, start: number, end: number) => {
    if (!header) {
      // The reader drops a UTF-8 byte order mark before the header.
      const from =
        bytes[start] === 0xef && bytes[start + 1] === 0xbb && bytes[start + 2] === 0xbf ? start + 3 : start;
      header = cellsOf(bytes, from, end, delimiterByte, Number.POSITIVE_INFINITY);
      positions = keyPositions(job, header);
      return;
    }
    if (!positions || full || start === end) return;
    const cells = cellsOf(bytes, start, end, delimiterByte, Math.max(...positions) + 1);
    const key = keyOfParts(positions.map((p) => cells[p] ?? ''));
    if (key && !repeated.add(key.key)) full = true;
  };
  /** The bytes of a line that began in an earlier piece. */
  let carried: Buffer | undefined;
  /** The last piece ended with \r: a \n starting the next one ends no second record. */
  let afterReturn = false;
  for await (const piece of await open()) {
    let bytes = piece as Buffer;
    if (quoteByte >= 0 && bytes.includes(quoteByte)) return 'unsuited';
    let at = afterReturn && bytes[0] === 0x0a ? 1 : 0;
    afterReturn = false;
    if (carried) {
      bytes = Buffer.concat([carried, bytes.subarray(at)]);
      at = 0;
      carried = undefined;
    }
    let start = at;
    for (let i = at; i < bytes.length; i += 1) {
      const byte = bytes[i];
      if (byte !== 0x0a && byte !== 0x0d) continue;
      if (i - start >= DEFAULT_MAX_RECORD_BYTES) return 'refused';
      line(bytes, start, i);
      if (byte === 0x0d) {
        if (i + 1 === bytes.length) afterReturn = true;
        else if (bytes[i + 1] === 0x0a) i += 1;
      }
      start = i + 1;
    }
    if (start < bytes.length) {
      if (bytes.length - start >= DEFAULT_MAX_RECORD_BYTES) return 'refused';
      carried = Buffer.from(bytes.subarray(start));
    }
  }
  if (carried) line(carried, 0, carried.length);
  if (!header) return 'unsuited';
  return full ? { header } : { header, repeated };
}

/** The first `count` cells of a line, decoded. */
function cellsOf(bytes: Buffer, start: number, end: number, delimiter: number, count: number): string[] {
  const cells: string[] = [];
  let from = start;
  while (cells.length < count) {
    let to = bytes.indexOf(delimiter, from);
    if (to < 0 || to > end) to = end;
    cells.push(bytes.toString('utf8', from, to));
    if (to === end) break;
    from = to + 1;
  }
  return cells;
}

/** The parsed first pass: the rows whose key another row has, found by the plan's own duplicate check. */
async function parseForRepeatedRows(
  job: ImportJob,
  source: string,
  open: () => Promise<Readable>,
  options: { readonly spillDuplicates: boolean },
): Promise<ChunkFinality> {
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
  const positions = keyPositions(job, header);
  if (!positions) return undefined;
  return (cells) => keyOfParts(positions.map((p) => cells[p] ?? ''));
}

/** Where the key's cells are in a row: undefined when the job has no key or the header lacks one of them. */
function keyPositions(job: ImportJob, header: readonly string[]): number[] | undefined {
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
  return positions.some((p) => p < 0) ? undefined : positions;
}

function keyOfParts(cells: readonly string[]): { key: string; display: string } | undefined {
  const parts = cells.map((cell) => cell.trim());
  if (parts.every((part) => part === '')) return undefined;
  return { key: parts.map((part) => part.toLowerCase()).join('\u001f'), display: parts.join(', ') };
}
