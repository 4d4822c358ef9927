import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CsvFileError } from '../../../src/csv/reader.js';
import { isCsvFileError, openCsv, type CsvReadOptions, type CsvRow } from '../../../src/csv/reader.js';

const corpus = join(import.meta.dirname, '../../fixtures/csv');
const expect3 = { required: ['Email', 'First Name', 'Last Name'] };

async function readAll(input: Readable, options: Partial<CsvReadOptions> = {}) {
  const file = await openCsv(input, { source: 'test.csv', expect: expect3, ...options });
  const rows: CsvRow[] = [];
  for await (const row of file.rows) rows.push(row);
  return { header: file.header, rows, stats: file.stats };
}

function fixture(name: string, options: Partial<CsvReadOptions> = {}) {
  return readAll(createReadStream(join(corpus, name)), { source: `fixtures/${name}`, ...options });
}

async function fileError(promise: Promise<unknown>): Promise<CsvFileError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isCsvFileError(error)) throw new Error(`expected a CsvFileError, got ${String(error)}`);
  return error;
}

function summary(row: CsvRow) {
  return { row: row.row, code: row.error?.code, column: row.error?.column, values: row.values };
}

function fromChunks(chunks: (string | Buffer)[]): Readable {
  return Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
}

describe('openCsv: the bad-input corpus', () => {
  it('empty file: one file error', async () => {
    const error = await fileError(fixture('empty.csv'));
    expect(error.code).toBe('EmptyFile');
    expect(error.message).toContain('fixtures/empty.csv');
  });

  it('header only: no rows', async () => {
    const { header, rows } = await fixture('header-only.csv');
    expect(header.names).toEqual(['Email', 'First Name', 'Last Name']);
    expect(rows).toEqual([]);
  });

  it('BOM: stripped from the first header name', async () => {
    const { header, rows } = await fixture('bom.csv');
    expect(header.names[0]).toBe('Email');
    expect(rows[0]?.values.Email).toBe('ada@example.com');
  });

  it('mixed CRLF, LF and CR: one record per line, rows numbered 2..5', async () => {
    const { rows } = await fixture('mixed-line-endings.csv');
    expect(rows.map((r) => [r.row, r.values['Last Name']])).toEqual([
      [2, 'Lovelace'],
      [3, 'Hopper'],
      [4, 'Turing'],
      [5, 'Johnson'],
    ]);
  });

  it('quoted newlines: kept in the value; row numbers count records, not lines', async () => {
    const { rows } = await fixture('quoted-newlines.csv');
    expect(rows.map((r) => r.row)).toEqual([2, 3, 4]);
    expect(rows[0]?.values['First Name']).toBe('Ada\nAugusta');
    expect(rows[1]?.values['Last Name']).toBe('Hopper, "Amazing" Grace\r\nof COBOL');
    expect(rows[2]?.values.Email).toBe('alan@example.com');
  });

  it('unbalanced quotes: a file error naming the row where the quote opens', async () => {
    const error = await fileError(fixture('unbalanced-quotes.csv'));
    expect(error.code).toBe('UnclosedQuote');
    expect(error.row).toBe(3);
    expect(error.message).toMatch(
      /fixtures\/unbalanced-quotes\.csv: row 3, column "First Name", opens a quoted value that is never closed/,
    );
  });

  it('ragged rows: row errors, not a crash; trailing empty cells are tolerated', async () => {
    const { rows } = await fixture('ragged-rows.csv');
    expect(rows.map((r) => [r.row, r.error?.code])).toEqual([
      [2, undefined],
      [3, 'RaggedRow'],
      [4, 'RaggedRow'],
      [5, undefined],
    ]);
    expect(rows[1]?.error?.message).toContain('2 cells, the header has 3');
    expect(rows[1]?.values.Email).toBe('grace@example.com');
    expect(rows[3]?.values['Last Name']).toBe('Johnson');
  });

  it('wrong delimiter: missing columns with a delimiter hint', async () => {
    const error = await fileError(fixture('wrong-delimiter.csv'));
    expect(error.code).toBe('MissingColumns');
    expect(error.message).toContain('"Email", "First Name", "Last Name"');
    expect(error.message).toContain('is the delimiter ";"?');
    const { rows } = await fixture('wrong-delimiter.csv', { delimiter: ';' });
    expect(rows[0]?.values['First Name']).toBe('Ada');
  });

  it('non-UTF-8 bytes read as UTF-8: BadEncoding row errors naming the column and value', async () => {
    const { rows } = await fixture('windows-1252.csv');
    expect(rows.map((r) => [r.row, r.error?.code, r.error?.column])).toEqual([
      [2, 'BadEncoding', 'First Name'],
      [3, undefined, undefined],
      [4, 'BadEncoding', 'Email'],
    ]);
    expect(rows[0]?.error?.message).toContain('"Ren\uFFFD"');
  });

  it('the same file with its encoding declared: exact text', async () => {
    const { rows } = await fixture('windows-1252.csv', { encoding: 'windows-1252' });
    expect(rows.every((r) => r.error === undefined)).toBe(true);
    expect(rows[0]?.values['First Name']).toBe('René');
    expect(rows[2]?.values.Email).toBe('benoît@example.com');
  });

  it('a UTF-8 file declared as windows-1252: one clear file error', async () => {
    const error = await fileError(fixture('bom.csv', { encoding: 'windows-1252' }));
    expect(error.code).toBe('BadEncoding');
    expect(error.message).toContain('set csv.encoding to "utf-8"');
  });

  it('any chunking of the input gives the same rows', async () => {
    const files = [
      'quoted-newlines.csv',
      'mixed-line-endings.csv',
      'utf16le.csv',
      'windows-1252.csv',
      'ragged-rows.csv',
    ];
    let seed = 7;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (const name of files) {
      const options = { encoding: name === 'utf16le.csv' ? 'utf-16le' : 'utf-8' };
      const whole = await fixture(name, options);
      const bytes = await readFile(join(corpus, name));
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const chunks: Buffer[] = [];
        for (let i = 0; i < bytes.length;) {
          const size = 1 + Math.floor(random() * 7);
          chunks.push(bytes.subarray(i, i + size));
          i += size;
        }
        const pieces = await readAll(Readable.from(chunks), options);
        expect(pieces.rows.map(summary), `${name} attempt ${attempt}`).toEqual(whole.rows.map(summary));
      }
    }
  });

  it('UTF-16 LE with a BOM', async () => {
    const { rows } = await fixture('utf16le.csv', { encoding: 'utf-16le' });
    expect(rows[0]?.values).toEqual({ Email: 'zoe@example.com', 'First Name': 'Zoë', 'Last Name': '東京' });
  });

  it('duplicate header names: one file error', async () => {
    const error = await fileError(fixture('duplicate-headers.csv'));
    expect(error.code).toBe('DuplicateHeader');
    expect(error.message).toContain('"Email" twice (columns 1 and 4)');
  });

  it('header not matching the job: every missing column at once, with near misses', async () => {
    const error = await fileError(fixture('header-mismatch.csv'));
    expect(error.code).toBe('MissingColumns');
    expect(error.message).toContain('lacks required columns "Email", "First Name", "Last Name"');
    expect(error.message).toContain('"first name" for "First Name"');
    expect(error.message).toContain('Nothing was written');
  });

  it('blank lines and all-empty rows: skipped but counted', async () => {
    const { rows, stats } = await fixture('blank-lines.csv');
    expect(rows.map((r) => [r.row, r.values.Email])).toEqual([
      [3, 'ada@example.com'],
      [5, 'grace@example.com'],
    ]);
    expect(stats).toEqual({ rows: 2, blankRows: 3 });
  });

  it('unnamed columns and unknown columns: read, noted', async () => {
    const { header, rows } = await fixture('unnamed-columns.csv');
    expect(header.names).toEqual(['(column 1)', 'Email', 'First Name', 'Last Name', '(column 5)']);
    expect(header.notes.some((n) => n.includes('column 1 has no name'))).toBe(true);
    expect(rows[0]?.values['(column 1)']).toBe('1');
    const mismatch = await readAll(fromChunks(['Email,First Name,Last Name,Notes\na,b,c,d\n']));
    expect(mismatch.header.unknown).toEqual(['Notes']);
    expect(mismatch.header.notes).toEqual(['column "Notes" is not in the job; it is read but not written']);
  });

  it('no header check is made when the caller expects nothing', async () => {
    const { header } = await readAll(fromChunks(['x,y\n1,2\n']), { expect: undefined });
    expect(header.unknown).toEqual([]);
  });
});

describe('openCsv: streams', () => {
  it('checks the header before any record: openCsv itself rejects, so no row iterable exists', async () => {
    const input = fromChunks(['Email,Nope\n', 'a,b\n']);
    const error = await fileError(openCsv(input, { source: 's.csv', expect: expect3 }));
    expect(error.message).toContain('"First Name", "Last Name"');
  });

  it('multi-byte characters split across chunks are not invalid', async () => {
    const bytes = Buffer.from('Email,First Name,Last Name\nz@x.io,Zoë,東京🙂\n');
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 1) chunks.push(bytes.subarray(i, i + 1));
    const { rows } = await readAll(Readable.from(chunks));
    expect(rows[0]?.error).toBeUndefined();
    expect(rows[0]?.values['Last Name']).toBe('東京🙂');
  });

  it('a sequence cut off at the end of the file is reported', async () => {
    const bytes = Buffer.concat([
      Buffer.from('Email,First Name,Last Name\nz@x.io,Zo,'),
      Buffer.from([0xe6, 0x9d]),
    ]);
    const { rows } = await readAll(Readable.from([bytes]));
    expect(rows[0]?.error?.code).toBe('BadEncoding');
    expect(rows[0]?.error?.column).toBe('Last Name');
  });

  it('a configurable quote and tab delimiter', async () => {
    const { rows } = await readAll(fromChunks(["Email\tFirst Name\tLast Name\n'a\tb'\tx\ty\n"]), {
      delimiter: 'tab',
      quote: "'",
    });
    expect(rows[0]?.values.Email).toBe('a\tb');
  });

  it('quoting can be switched off: quotes are then plain characters', async () => {
    const { rows } = await readAll(fromChunks(['Email,First Name,Last Name\n"a@x.io,"Ada,Love"lace\n']), {
      quote: '',
    });
    expect(rows[0]?.values).toEqual({ Email: '"a@x.io', 'First Name': '"Ada', 'Last Name': 'Love"lace' });
  });

  it('rows of spaces only are blank', async () => {
    const { rows, stats } = await readAll(fromChunks(['Email,First Name,Last Name\n  \n , ,\na,b,c\n']));
    expect(rows.map((r) => r.row)).toEqual([4]);
    expect(stats.blankRows).toBe(2);
  });

  it('a 1 MB cell is read whole', async () => {
    const big = 'x'.repeat(1024 * 1024);
    const { rows } = await readAll(fromChunks([`Email,First Name,Last Name\na@x.io,"${big}",z\n`]));
    expect(rows[0]?.values['First Name']?.length).toBe(big.length);
  });

  it('10,000 columns', async () => {
    const names = Array.from({ length: 10_000 }, (_, i) => `c${i}`);
    const cells = names.map((_, i) => String(i));
    const { header, rows } = await readAll(fromChunks([names.join(',') + '\n', cells.join(',') + '\n']), {
      expect: { required: ['c0', 'c9999'] },
    });
    expect(header.names.length).toBe(10_000);
    expect(rows[0]?.values.c9999).toBe('9999');
  });

  it('an unclosed quote in a long file stops at the record size limit, naming the row', async () => {
    const lines = Array.from({ length: 2_000 }, (_, i) => `r${i}@x.io,a,b\n`);
    const input = fromChunks(['Email,First Name,Last Name\n', 'ok@x.io,"never closed,b\n', ...lines]);
    const error = await fileError(readAll(input, { maxRecordBytes: 1_000 }));
    expect(error.code).toBe('RecordTooLarge');
    expect(error.row).toBe(2);
  });

  it('a failing input stream surfaces as a file error', async () => {
    async function* broken() {
      yield Buffer.from('Email,First Name,Last Name\na,b,c\n');
      throw new Error('connection reset');
    }
    const error = await fileError(readAll(Readable.from(broken())));
    expect(error.code).toBe('Unreadable');
    expect(error.message).toContain('connection reset');
  });
});
