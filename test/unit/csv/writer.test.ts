import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { openCsv } from '../../../src/csv/reader.js';
import {
  createCsvWriter,
  formatCsvHeader,
  formatCsvLines,
  type CsvCell,
  type CsvWriteOptions,
} from '../../../src/csv/writer.js';

async function write(records: Record<string, CsvCell>[], options: CsvWriteOptions): Promise<string> {
  const writer = createCsvWriter(options);
  const done = buffer(writer);
  for (const record of records) writer.write(record);
  writer.end();
  return (await done).toString('utf8');
}

describe('createCsvWriter', () => {
  it('writes a header and CRLF lines, quoting what needs quotes', async () => {
    const out = await write(
      [
        { a: 'x,y', b: 'say "hi"' },
        { a: 'line\nbreak', b: null },
      ],
      { columns: ['a', 'b'] },
    );
    expect(out).toBe('a,b\r\n"x,y","say ""hi"""\r\n"line\nbreak",\r\n');
  });

  it('neutralises formula cells by default, but not numbers', async () => {
    const cells = ['=1+1', '+31 6 1234', '-2+3+cmd', '@SUM(A1)', '\tx', '\rx', 'plain'];
    const out = await write(
      cells.map((c) => ({ v: c, n: -5 })),
      { columns: ['v', 'n'] },
    );
    const lines = out.split('\r\n').slice(1, -1);
    expect(lines[0]).toBe("'=1+1,-5");
    expect(lines[1]).toBe("'+31 6 1234,-5");
    expect(lines[2]).toBe("'-2+3+cmd,-5");
    expect(lines[3]).toBe("'@SUM(A1),-5");
    expect(lines[4]).toBe("'\tx,-5");
    expect(lines[6]).toBe('plain,-5');
  });

  it('can be told not to neutralise', async () => {
    const out = await write([{ v: '=1+1' }], { columns: ['v'], neutraliseFormulas: false });
    expect(out).toBe('v\r\n=1+1\r\n');
  });

  it('writes an optional BOM and another delimiter', async () => {
    const out = await write([{ a: 1, b: true }], { columns: ['a', 'b'], bom: true, delimiter: ';' });
    expect(out).toBe('\ufeffa;b\r\n1;true\r\n');
  });

  it('what it writes, the reader reads back unchanged', async () => {
    const records = [
      { Email: 'a@x.io', 'First Name': 'Zoë "Z"', 'Last Name': 'multi\r\nline, with comma' },
      { Email: 'b@x.io', 'First Name': '', 'Last Name': '東京' },
    ];
    const columns = ['Email', 'First Name', 'Last Name'];
    const out = await write(records, { columns, bom: true, neutraliseFormulas: false });
    const file = await openCsv(Readable.from([Buffer.from(out)]), {
      source: 'x',
      expect: { required: columns },
    });
    const back = [];
    for await (const row of file.rows) back.push(row.values);
    expect(back).toEqual(records);
  });
});

describe('formatCsvHeader and formatCsvLines', () => {
  it('put together, write what the streaming writer writes', async () => {
    const rows = [
      ['x,y', 'say "hi"', '=1'],
      ['line\nbreak', '', '@a'],
    ];
    const options = { columns: ['a', 'b', 'c'], neutraliseFormulas: false };
    const streamed = await write(
      rows.map(([a, b, c]) => ({ a, b, c })),
      { ...options, bom: true },
    );
    const parts =
      formatCsvHeader({ ...options, bom: true }) +
      formatCsvLines(rows.slice(0, 1), options) +
      formatCsvLines([], options) +
      formatCsvLines(rows.slice(1), options);
    expect(parts).toBe(streamed);
    expect(parts.startsWith('\uFEFFa,b,c\r\n')).toBe(true);
  });
});
