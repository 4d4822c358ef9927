import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { openCsv, type CsvReadOptions } from '../../../src/csv/reader.js';

/** The file in pieces of `piece` bytes, as a download hands them over. */
const pieces = (bytes: Buffer, piece: number) =>
  Readable.from(
    Array.from({ length: Math.ceil(bytes.length / piece) || 1 }, (_, i) =>
      bytes.subarray(i * piece, (i + 1) * piece),
    ),
  );

/** Everything the reader tells of a file: header, each row (cells or error), stats, or the file error. */
async function readAll(bytes: Buffer, options: CsvReadOptions, piece: number) {
  try {
    const csv = await openCsv(pieces(bytes, piece), options);
    const rows: unknown[] = [];
    for await (const row of csv.rows) {
      rows.push(
        row.error
          ? { row: row.row, error: row.error, cells: [...row.cells], values: { ...row.values } }
          : { row: row.row, cells: [...row.cells], values: { ...row.values } },
      );
    }
    return { header: csv.header, rows, stats: { ...csv.stats } };
  } catch (error) {
    const e = error as { code?: string; row?: number; message?: string };
    return { fileError: { code: e.code, row: e.row, message: e.message } };
  }
}

const cell = fc.oneof(
  fc.constantFrom('', ' ', 'a', 'Ann', 'é', '日本', '😀', ' padded ', 'x'.repeat(30)),
  fc.stringMatching(/^[a-z0-9 .@-]{0,8}$/),
);
const line = fc.record({
  cells: fc.array(cell, { minLength: 1, maxLength: 5 }),
  end: fc.constantFrom('\n', '\r\n', '\r'),
  extra: fc.constantFrom('none', 'none', 'none', 'quote', 'bad bytes', 'blank'),
});

describe('records cut from bytes read exactly as the parser reads them', () => {
  it('same header, rows, row numbers, errors and stats, however the file is cut (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { minLength: 0, maxLength: 25 }),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom(',', ';', 'tab', '|'),
        fc.constantFrom('"', "'", ''),
        fc.integer({ min: 1, max: 70 }),
        fc.constantFrom(24, 64, 1_000),
        async (lines, bom, lastEnd, delimiterName, quote, piece, maxRecordBytes) => {
          const delimiter = delimiterName === 'tab' ? '\t' : delimiterName;
          const parts: Buffer[] = [Buffer.from(`${bom ? '\ufeff' : ''}A${delimiter}B${delimiter}C\n`)];
          lines.forEach((l, i) => {
            const end = i === lines.length - 1 && !lastEnd ? '' : l.end;
            if (l.extra === 'blank') return parts.push(Buffer.from(end));
            const text = l.cells.join(delimiter);
            if (l.extra === 'quote' && quote !== '')
              return parts.push(Buffer.from(`${quote}${text}${quote}${delimiter}z${end}`));
            if (l.extra === 'bad bytes')
              return parts.push(
                Buffer.concat([Buffer.from(text), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(end)]),
              );
            return parts.push(Buffer.from(`${text}${end}`));
          });
          const bytes = Buffer.concat(parts);
          const options: CsvReadOptions = {
            source: 'f.csv',
            delimiter: delimiterName,
            quote,
            maxRecordBytes,
          };
          const scanned = await readAll(bytes, options, piece);
          const parsed = await readAll(bytes, { ...options, readBytes: false }, piece);
          expect(scanned).toEqual(parsed);
        },
      ),
      { numRuns: 400, seed: 20261205 },
    );
  });

  it('a file that turns to quotes half way is read on by the parser from the line where they start', async () => {
    const rows = Array.from({ length: 2_000 }, (_, i) => `r${i},plain ${i}`);
    rows[1_500] = '"r1500","quoted, with a comma"';
    const bytes = Buffer.from(`Id,Text\r\n${rows.join('\r\n')}\r\n`);
    const csv = await openCsv(pieces(bytes, 4_096), { source: 'f.csv' });
    const read: string[][] = [];
    for await (const row of csv.rows) read.push([String(row.row), ...row.cells]);
    expect(read).toHaveLength(2_000);
    expect(read[0]).toEqual(['2', 'r0', 'plain 0']);
    expect(read[1_500]).toEqual(['1502', 'r1500', 'quoted, with a comma']);
    expect(read[1_999]).toEqual(['2001', 'r1999', 'plain 1999']);
  });
});
