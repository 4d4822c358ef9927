// Records of a quote-free UTF-8 file cut from its bytes, for the reader's most common input. With no quote
// character in it, csv-parse's records are the file's lines (the reader ends records at \r\n, \n or \r)
// and its cells what lies between delimiters, so the same cells come out of a scan for line breaks and
// delimiters at a fraction of the parser's cost (test/unit/csv/byte-records.test.ts checks the two agree on
// generated files). Anything the scan does not read the same way (a quote character, bytes that are not
// UTF-8, a line as long as the record limit) hands the rest of the file, from the first line not yet read,
// to the parser.
import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import { CsvError } from 'csv-parse';

/** Records as the reader pulls them: buffered ones at once, `wait` for more. */
export interface RecordReader {
  /** A buffered record, or null (then `done`, or `wait()` for more). Throws the input's error. */
  read(): string[] | null;
  readonly done: boolean;
  wait(): Promise<void>;
  close(): void;
}

/** Bytes that split a quote-free file. */
export interface ByteSplit {
  readonly delimiter: number;
  /** The quote character's byte, or -1 when the job reads without quoting. */
  readonly quote: number;
  readonly maxRecordBytes: number;
}

const LF = 0x0a;
const CR = 0x0d;

export class ByteRecordReader implements RecordReader {
  readonly #input: Readable;
  readonly #pieces: AsyncIterator<unknown>;
  #records: string[][] = [];
  #next = 0;
  /** The start of a line whose end is in a later piece. */
  #carried: Buffer | undefined;
  /** The last line ended with \r at the end of a piece: a \n opening the next piece belongs to it. */
  #afterReturn = false;
  /** Whether the start of the file (a byte order mark) has been looked at. */
  #started = false;
  #ended = false;
  #failure: unknown;
  #parser: RecordReader | undefined;
  /** Records cut before the parser took over: its errors count records from there. */
  #cut = 0;

  constructor(
    input: Readable,
    private readonly split: ByteSplit,
    /** The parser, for the rest of the file from where the scan stops. */
    private readonly parse: (rest: Readable) => RecordReader,
  ) {
    this.#input = input;
    this.#pieces = input[Symbol.asyncIterator]();
  }

  read(): string[] | null {
    if (this.#next < this.#records.length) return this.#records[this.#next++] as string[];
    if (this.#parser) {
      try {
        return this.#parser.read();
      } catch (error) {
        // The parser numbers the records it read; the file's numbering counts those cut before.
        if (error instanceof CsvError && typeof error.records === 'number') error.records += this.#cut;
        throw error;
      }
    }
    if (this.#failure !== undefined) throw this.#failure;
    return null;
  }

  get done(): boolean {
    return this.#next >= this.#records.length && (this.#parser ? this.#parser.done : this.#ended);
  }

  async wait(): Promise<void> {
    if (this.#parser) return this.#parser.wait();
    this.#records = [];
    this.#next = 0;
    try {
      const { value, done } = await this.#pieces.next();
      if (done) this.#finish();
      else this.#take(asBuffer(value));
    } catch (error) {
      this.#failure ??= error;
    }
  }

  close(): void {
    this.#parser?.close();
    // The parser reads the rest through a stream of its own: the input is not closed with it.
    this.#input.destroy();
  }

  #take(piece: Buffer): void {
    let bytes = piece;
    let at = this.#afterReturn && bytes[0] === LF ? 1 : 0;
    this.#afterReturn = false;
    if (this.#carried) {
      bytes = Buffer.concat([this.#carried, bytes.subarray(at)]);
      at = 0;
      this.#carried = undefined;
    }
    if (!this.#started) {
      // A byte order mark may be cut by the first piece's end.
      if (bytes.length < 3) return this.#carry(bytes, 0);
      at = this.#afterMark(bytes);
    }
    const last = Math.max(bytes.lastIndexOf(LF), bytes.lastIndexOf(CR));
    if (last < at) return this.#carry(bytes, at);
    if (!this.#scannable(bytes.subarray(at, last + 1))) return this.#handOver(bytes, at);
    let start = at;
    for (let i = at; i <= last; i += 1) {
      const byte = bytes[i];
      if (byte !== LF && byte !== CR) continue;
      if (i - start >= this.split.maxRecordBytes) return this.#handOver(bytes, start);
      this.#cutLine(bytes, start, i);
      if (byte === CR) {
        if (i + 1 === bytes.length) this.#afterReturn = true;
        else if (bytes[i + 1] === LF) i += 1;
      }
      start = i + 1;
    }
    if (start < bytes.length) this.#carry(bytes, start);
  }

  /** The end of the file: its last line, if it has no line break. */
  #finish(): void {
    const rest = this.#carried;
    this.#carried = undefined;
    if (rest && rest.length > 0) {
      const at = this.#started ? 0 : this.#afterMark(rest);
      const line = rest.subarray(at);
      if (!this.#scannable(line) || line.length >= this.split.maxRecordBytes) return this.#handOver(rest, at);
      if (line.length > 0) this.#cutLine(rest, at, rest.length);
    }
    this.#ended = true;
  }

  /** Whole lines the scan reads as the parser would: no quote character, valid UTF-8. */
  #scannable(lines: Buffer): boolean {
    return !(this.split.quote >= 0 && lines.includes(this.split.quote)) && isUtf8(lines);
  }

  #cutLine(bytes: Buffer, start: number, end: number): void {
    this.#records.push(cellsOf(bytes, start, end, this.split.delimiter));
    this.#cut += 1;
  }

  #afterMark(bytes: Buffer): number {
    this.#started = true;
    return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  }

  #carry(bytes: Buffer, from: number): void {
    if (bytes.length - from >= this.split.maxRecordBytes) return this.#handOver(bytes, from);
    this.#carried = Buffer.from(bytes.subarray(from));
  }

  /** The parser reads on from `from` (a line's start), then the pieces not yet taken. */
  #handOver(bytes: Buffer, from: number): void {
    const first = Buffer.from(bytes.subarray(from));
    const pieces = this.#pieces;
    async function* rest(): AsyncGenerator<Buffer> {
      if (first.length > 0) yield first;
      for (;;) {
        const { value, done } = await pieces.next();
        if (done) return;
        yield asBuffer(value);
      }
    }
    this.#parser = this.parse(Readable.from(rest(), { objectMode: false }));
  }
}

function asBuffer(piece: unknown): Buffer {
  return Buffer.isBuffer(piece) ? piece : Buffer.from(String(piece));
}

/** The cells of the line from `start` to `end` (its line break), each decoded from its own bytes. */
function cellsOf(bytes: Buffer, start: number, end: number, delimiter: number): string[] {
  const cells: string[] = [];
  let from = start;
  for (;;) {
    let to = bytes.indexOf(delimiter, from);
    if (to < 0 || to > end) to = end;
    cells.push(bytes.toString('utf8', from, to));
    if (to >= end) return cells;
    from = to + 1;
  }
}
