import { pipeline, type Readable } from 'node:stream';
import { CsvError, parse, type Parser } from 'csv-parse';
import { ByteRecordReader, type ByteSplit, type RecordReader } from './byte-records.js';
import { createDecoder, isUtf8Encoding, type DecodeState } from './decode.js';
import { showValue, type RowError } from './row-error.js';

export interface CsvReadOptions {
  /** Names the input in file-level errors (`incoming/contacts/x.csv`). */
  readonly source: string;
  /** One character, or `tab`. Default `,`. */
  readonly delimiter?: string;
  /** One character, or `''` for no quoting. Default `"`. */
  readonly quote?: string;
  /** Any iconv-lite encoding. Default `utf-8`. */
  readonly encoding?: string;
  /** Header names that must be present, and ones that may be. Others are allowed and noted. */
  readonly expect?: { readonly required: readonly string[]; readonly optional?: readonly string[] };
  /**
   * Bound on one record, so an unclosed quote cannot swallow a 1 GB file into memory.
   * Default 16 MiB: room for several 1 MB Memo cells.
   */
  readonly maxRecordBytes?: number;
  /**
   * Cut records from the bytes where that reads exactly as the parser does (UTF-8, a one-byte delimiter,
   * no quote character in the file; `byte-records.ts`). Default true; false always parses.
   */
  readonly readBytes?: boolean;
}

export interface CsvHeader {
  /** Column names as keys of `values`, in file order. Unnamed columns are called `(column N)`. */
  readonly names: readonly string[];
  /** Columns the job does not know: they are read but not written. */
  readonly unknown: readonly string[];
  /** Human notes about the header (unknown or unnamed columns). */
  readonly notes: readonly string[];
}

export interface CsvRecord {
  readonly row: number;
  readonly values: Readonly<Record<string, string>>;
  /** The cells in header order (what chunk files store). */
  readonly cells: readonly string[];
  readonly error?: undefined;
}

export interface CsvRowFailure {
  readonly row: number;
  readonly error: RowError;
  /** What could be read of the row, so errors.csv can echo it. */
  readonly values: Readonly<Record<string, string>>;
  readonly cells: readonly string[];
}

export type CsvRow = CsvRecord | CsvRowFailure;

export interface CsvStats {
  /** Records read, including failed ones; not counting the header and blank rows. */
  rows: number;
  /** Empty lines and rows whose cells are all empty: skipped, but counted in row numbers. */
  blankRows: number;
}

export interface CsvFile {
  readonly header: CsvHeader;
  /**
   * The records, in order. The iteration can still throw a `CsvFileError` (an unclosed quote or an
   * oversized record is only seen when reached), so nothing should be committed before it ends.
   */
  readonly rows: AsyncIterable<CsvRow>;
  readonly stats: Readonly<CsvStats>;
}

export type CsvFileErrorCode =
  | 'EmptyFile'
  | 'MissingColumns'
  | 'DuplicateHeader'
  | 'BadEncoding'
  | 'UnclosedQuote'
  | 'RecordTooLarge'
  | 'Unreadable';

/** The file as a whole cannot be processed; nothing of it should be written. */
export class CsvFileError extends Error {
  override readonly name = 'CsvFileError';
  constructor(
    readonly code: CsvFileErrorCode,
    message: string,
    readonly row?: number,
  ) {
    super(message);
  }
}

export function isCsvFileError(error: unknown): error is CsvFileError {
  return error instanceof CsvFileError;
}

export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;

/**
 * Opens a CSV stream: reads and checks the header before returning, then streams records in constant
 * memory. Handles a BOM, mixed CRLF / LF / CR line ends and quoted newlines. Ragged rows and invalid
 * bytes become row failures; a missing or duplicated header column is a `CsvFileError`.
 */
export async function openCsv(input: Readable, options: CsvReadOptions): Promise<CsvFile> {
  const decodeState: DecodeState = { sawInvalidBytes: false };
  const quote = options.quote ?? '"';
  const delimiter = options.delimiter === 'tab' ? '\t' : (options.delimiter ?? ',');
  const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const parsed = (bytes: Readable): RecordReader => {
    const parser = parse({
      delimiter,
      quote: quote === '' ? false : quote,
      record_delimiter: ['\r\n', '\n', '\r'],
      bom: true,
      relax_column_count: true,
      // `Bob "The Builder"` unquoted is common in exports; it is read literally.
      relax_quotes: true,
      max_record_size: maxRecordBytes,
    });
    pipeline(bytes, createDecoder(options.encoding ?? 'utf-8', decodeState), parser, () => {
      // Errors surface through the parser's iterator.
    });
    return new RecordSource(parser);
  };
  const split = byteSplit(options, delimiter, quote, maxRecordBytes);
  const source = split ? new ByteRecordReader(input, split, parsed) : parsed(input);
  const first = await nextRecord(source, options.source, 1);
  if (first === null) {
    throw new CsvFileError('EmptyFile', `${options.source}: the file is empty: expected a header row`, 1);
  }
  let header: CsvHeader;
  try {
    header = readHeader(first, options, decodeState);
  } catch (error) {
    source.close();
    throw error;
  }
  const stats: CsvStats = { rows: 0, blankRows: 0 };
  return { header, rows: iterateRows(source, header.names, options.source, decodeState, stats), stats };
}

/**
 * The parser's records, read synchronously while buffered; only an empty buffer costs an await. (The
 * stream's own async iterator costs two promise hops per record, which shows at 100k+ rows/s.)
 */
class RecordSource implements RecordReader {
  private ended = false;
  private failure: unknown;
  private signalled = false;
  private wake: (() => void) | undefined;

  constructor(private readonly parser: Parser) {
    parser.on('readable', () => this.notify());
    parser.on('end', () => {
      this.ended = true;
      this.notify();
    });
    parser.on('error', (error: unknown) => {
      this.failure ??= error;
      this.notify();
    });
  }

  /** A buffered record, or null (then `done`, or `wait()` for more). Throws the stream's error. */
  read(): string[] | null {
    if (this.failure !== undefined) throw this.failure;
    return this.parser.read() as string[] | null;
  }

  get done(): boolean {
    return this.ended;
  }

  wait(): Promise<void> {
    if (this.signalled) {
      this.signalled = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  close(): void {
    if (!this.ended) this.parser.destroy();
  }

  private notify(): void {
    const wake = this.wake;
    if (wake === undefined) {
      this.signalled = true;
      return;
    }
    this.wake = undefined;
    wake();
  }
}

/** How the bytes split a file the scan can read as the parser would, or undefined to parse it. */
function byteSplit(
  options: CsvReadOptions,
  delimiter: string,
  quote: string,
  maxRecordBytes: number,
): ByteSplit | undefined {
  const ascii = (text: string) => text.length === 1 && text.charCodeAt(0) < 0x80;
  if (options.readBytes === false || !isUtf8Encoding(options.encoding ?? 'utf-8')) return undefined;
  if (!ascii(delimiter) || (quote !== '' && !ascii(quote))) return undefined;
  // A delimiter that ends lines or quotes would not split the same way.
  if (delimiter === '\r' || delimiter === '\n' || delimiter === quote) return undefined;
  return {
    delimiter: delimiter.charCodeAt(0),
    quote: quote === '' ? -1 : quote.charCodeAt(0),
    maxRecordBytes,
  };
}

/** The next record, waiting if needed; null at the end. */
async function nextRecord(source: RecordReader, name: string, row: number): Promise<string[] | null> {
  for (;;) {
    let cells: string[] | null;
    try {
      cells = source.read();
    } catch (error) {
      throw toFileError(error, name, row);
    }
    if (cells !== null) return cells;
    if (source.done) return null;
    await source.wait();
  }
}

async function* iterateRows(
  source: RecordReader,
  names: readonly string[],
  name: string,
  decodeState: DecodeState,
  stats: CsvStats,
): AsyncGenerator<CsvRow> {
  const width = names.length;
  let row = 1;
  try {
    for (;;) {
      let cells: string[] | null;
      try {
        cells = source.read();
      } catch (error) {
        throw toFileError(error, name, row + 1, names);
      }
      if (cells === null) {
        if (source.done) return;
        await source.wait();
        continue;
      }
      row += 1;
      if (isBlank(cells)) {
        stats.blankRows += 1;
        continue;
      }
      stats.rows += 1;
      let count = cells.length;
      // Trailing delimiters (`a,b,c,,`) carry nothing: tolerated.
      while (count > width && cells[count - 1] === '') count -= 1;
      if (count !== cells.length) cells.length = count;
      if (count !== width) {
        const values = toValues(names, cells);
        const message =
          count < width
            ? `the row has ${count} cells, the header has ${width}: cells may have shifted, so none is trusted`
            : `the row has ${count} cells, the header has ${width}: is a value with the delimiter missing its quotes?`;
        yield { row, error: { row, code: 'RaggedRow', message }, values, cells };
        continue;
      }
      if (decodeState.sawInvalidBytes) {
        const bad = badlyDecoded(names, cells);
        if (bad !== undefined) {
          const value = cells[bad] as string;
          const error: RowError = {
            row,
            column: names[bad],
            value,
            code: 'BadEncoding',
            message: `column "${names[bad]}" holds bytes that are not valid in the file's encoding (shown as U+FFFD): ${showValue(value)}`,
          };
          yield { row, error, values: toValues(names, cells), cells };
          continue;
        }
      }
      yield new LazyRecord(row, cells, names);
    }
  } finally {
    source.close();
  }
}

/** Cells keyed by header name. Short rows get only the cells they have. */
export function toValues(names: readonly string[], cells: readonly string[]): Record<string, string> {
  const values: Record<string, string> = {};
  const n = Math.min(names.length, cells.length);
  for (let i = 0; i < n; i += 1) values[names[i] as string] = cells[i] as string;
  return values;
}

/** Builds `values` only when asked: the mapper reads cells by index, so most rows never need it. */
class LazyRecord implements CsvRecord {
  readonly #names: readonly string[];
  #values: Record<string, string> | undefined;
  constructor(
    readonly row: number,
    readonly cells: readonly string[],
    names: readonly string[],
  ) {
    this.#names = names;
  }
  get values(): Readonly<Record<string, string>> {
    return (this.#values ??= toValues(this.#names, this.cells));
  }
}

/** No cell holds anything but spaces (an empty line, `,,,`, or `  ,  `). */
function isBlank(cells: readonly string[]): boolean {
  for (const cell of cells) if (cell.length !== 0 && cell.trim() !== '') return false;
  return true;
}

function badlyDecoded(names: readonly string[], cells: readonly string[]): number | undefined {
  for (let i = 0; i < names.length; i += 1) if (cells[i]?.includes('\uFFFD') === true) return i;
  return undefined;
}

function readHeader(cells: string[], options: CsvReadOptions, decodeState: DecodeState): CsvHeader {
  const { source } = options;
  const names: string[] = [];
  const notes: string[] = [];
  const seen = new Map<string, number>();
  cells.forEach((cell, i) => {
    const name = cell.trim();
    if (name === '') {
      names.push(`(column ${i + 1})`);
      notes.push(`column ${i + 1} has no name in the header; its cells are ignored`);
      return;
    }
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      throw new CsvFileError(
        'DuplicateHeader',
        `${source}: the header names "${name}" twice (columns ${earlier + 1} and ${i + 1}); rename one`,
        1,
      );
    }
    seen.set(name, i);
    names.push(name);
  });
  if (decodeState.sawInvalidBytes && names.some((n) => n.includes('\uFFFD'))) {
    throw new CsvFileError(
      'BadEncoding',
      `${source}: the header holds bytes that are not valid ${options.encoding ?? 'utf-8'}; check the job's csv.encoding`,
      1,
    );
  }
  if (names[0]?.startsWith('\u00ef\u00bb\u00bf') === true) {
    // A UTF-8 BOM read as a single-byte encoding: the whole file is UTF-8.
    throw new CsvFileError(
      'BadEncoding',
      `${source}: the file starts with a UTF-8 byte order mark, but the job reads it as ${options.encoding ?? 'utf-8'}; set csv.encoding to "utf-8"`,
      1,
    );
  }
  const required = options.expect?.required ?? [];
  const known = new Set([...required, ...(options.expect?.optional ?? [])]);
  const missing = required.filter((name) => !seen.has(name));
  if (missing.length > 0) {
    throw new CsvFileError('MissingColumns', missingMessage(source, missing, names, options), 1);
  }
  const unknown = options.expect === undefined ? [] : names.filter((n) => seen.has(n) && !known.has(n));
  for (const name of unknown) notes.push(`column "${name}" is not in the job; it is read but not written`);
  return { names, unknown, notes };
}

function missingMessage(source: string, missing: string[], names: string[], options: CsvReadOptions): string {
  const list = missing.map((m) => `"${m}"`).join(', ');
  let message = `${source}: the header lacks required column${missing.length > 1 ? 's' : ''} ${list}`;
  const byLower = new Map(names.map((n) => [n.toLowerCase(), n]));
  const nearMisses = missing.flatMap((m) => {
    const near = byLower.get(m.toLowerCase());
    return near === undefined ? [] : [`"${near}" for "${m}"`];
  });
  if (nearMisses.length > 0)
    message += `; the header has ${nearMisses.join(', ')} (names are case-sensitive)`;
  const delimiter = options.delimiter === 'tab' ? '\t' : (options.delimiter ?? ',');
  const only = names.length === 1 ? names[0] : undefined;
  const other =
    only === undefined ? undefined : [';', ',', '\t', '|'].find((d) => d !== delimiter && only.includes(d));
  if (other !== undefined) {
    message += `; the header reads as one column: is the delimiter ${other === '\t' ? 'tab' : `"${other}"`}? (set csv.delimiter in the job)`;
  }
  return message + '. Nothing was written.';
}

function toFileError(error: unknown, source: string, row: number, names: readonly string[] = []): Error {
  if (error instanceof CsvError) {
    const bad = typeof error.records === 'number' ? error.records + 1 : row;
    if (error.code === 'CSV_QUOTE_NOT_CLOSED') {
      // csv-parse reports the index of the cell it was reading: the one whose quote never closed.
      const column = typeof error.column === 'number' ? names[error.column] : undefined;
      const where = column === undefined ? `row ${bad}` : `row ${bad}, column "${column}",`;
      return new CsvFileError(
        'UnclosedQuote',
        `${source}: ${where} opens a quoted value that is never closed (the file ends inside it); add the closing quote`,
        bad,
      );
    }
    if (error.code === 'CSV_MAX_RECORD_SIZE') {
      return new CsvFileError(
        'RecordTooLarge',
        `${source}: row ${bad} is larger than the limit: most likely a quote that is never closed`,
        bad,
      );
    }
    return new CsvFileError('Unreadable', `${source}: row ${bad}: ${error.message}`, bad);
  }
  if (error instanceof CsvFileError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new CsvFileError('Unreadable', `${source}: cannot read the file: ${message}`);
}
