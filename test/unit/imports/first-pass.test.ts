import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseImportJob, type ImportJob } from '../../../src/config/job.js';
import { openCsv } from '../../../src/csv/reader.js';
import { createDuplicateKeyTracker } from '../../../src/mapping/duplicates.js';
import { csvOptionsOf, firstPass, keyExtractor } from '../../../src/imports/first-pass.js';

const jobOf = (csv: Record<string, string> = {}): ImportJob =>
  parseImportJob(
    {
      name: 'people',
      table: 'contact',
      operation: 'upsert',
      key: ['emailaddress1'],
      csv,
      columns: { Email: 'emailaddress1', Name: 'lastname' },
    },
    'first pass test',
  );

/** The file in pieces of `piece` bytes, as a download hands them over (lines and \r\n split across pieces). */
const opener = (bytes: Buffer, piece: number) => async () =>
  Readable.from(
    Array.from({ length: Math.ceil(bytes.length / piece) }, (_, i) =>
      bytes.subarray(i * piece, (i + 1) * piece),
    ),
  );

/** What the plan's reader and duplicate check make of the file: readable rows, and those taken out. */
async function planView(job: ImportJob, bytes: Buffer, policy: 'lastWins' | 'failAll') {
  const csv = await openCsv(Readable.from([bytes]), csvOptionsOf(job, 'people.csv'));
  const keyOf = keyExtractor(job, csv.header.names);
  const tracker = createDuplicateKeyTracker(policy);
  const readable: { row: number; cells: readonly string[] }[] = [];
  const takenOut = new Set<number>();
  for await (const record of csv.rows) {
    if (record.error) continue;
    readable.push({ row: record.row, cells: record.cells });
    const key = keyOf?.(record.cells);
    if (key)
      for (const duplicate of tracker.add(key.key, record.row, key.display)) takenOut.add(duplicate.row);
  }
  return { header: csv.header.names, readable, takenOut };
}

const line = fc.record({
  key: fc.constantFrom('a@x.com', 'b@x.com', 'c@x.com', 'd@x.com', 'é@x.com', ''),
  variant: fc.constantFrom('as is', 'upper', 'padded'),
  name: fc.constantFrom('Ann', 'Bo', ''),
  shape: fc.constantFrom('plain', 'plain', 'plain', 'ragged', 'trailing delimiter', 'blank', 'bad bytes'),
  end: fc.constantFrom('\n', '\r\n', '\r'),
});

type Line = typeof line extends fc.Arbitrary<infer T> ? T : never;

function fileOf(lines: Line[], bom: boolean, lastEnd: boolean, delimiter: string) {
  const parts: Buffer[] = [Buffer.from(`${bom ? '\ufeff' : ''}Email${delimiter}Name\r\n`)];
  lines.forEach((l, i) => {
    const key = l.variant === 'upper' ? l.key.toUpperCase() : l.variant === 'padded' ? ` ${l.key} ` : l.key;
    const end = i === lines.length - 1 && !lastEnd ? '' : l.end;
    if (l.shape === 'blank') parts.push(Buffer.from(end));
    else if (l.shape === 'ragged')
      parts.push(Buffer.from(`${key}${delimiter}${l.name}${delimiter}extra${end}`));
    else if (l.shape === 'trailing delimiter')
      parts.push(Buffer.from(`${key}${delimiter}${l.name}${delimiter}${end}`));
    else if (l.shape === 'bad bytes')
      parts.push(
        Buffer.concat([Buffer.from(`${key}${delimiter}`), Buffer.from([0xff, 0xfe]), Buffer.from(end)]),
      );
    else parts.push(Buffer.from(`${key}${delimiter}${l.name}${end}`));
  });
  return Buffer.concat(parts);
}

describe('firstPass: which chunks no later row can change', () => {
  it('never calls a row final that the plan takes out, however the file is cut into pieces (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom(',', ';', 'tab'),
        fc.integer({ min: 1, max: 64 }),
        fc.constantFrom('lastWins' as const, 'failAll' as const),
        async (lines, bom, lastEnd, delimiterName, piece, policy) => {
          const job = jobOf({ delimiter: delimiterName });
          const bytes = fileOf(lines, bom, lastEnd, delimiterName === 'tab' ? '\t' : delimiterName);
          const pass = await firstPass(job, 'people.csv', opener(bytes, piece), { spillDuplicates: false });
          const { header, readable, takenOut } = await planView(job, bytes, policy);
          const final = pass(header);
          for (const row of readable)
            if (takenOut.has(row.row)) expect(final([row]), `row ${row.row}`).toBe(false);
          // And not every row waits: a key on one line only, of a well-formed row, is final.
          const counts = new Map<string, number>();
          for (const l of lines)
            if (l.shape !== 'blank' && l.key) counts.set(l.key, (counts.get(l.key) ?? 0) + 1);
          for (const row of readable) {
            const key = (row.cells[0] ?? '').trim().toLowerCase();
            if (key && counts.get(key) === 1) expect(final([row]), `row ${row.row} (${key})`).toBe(true);
          }
        },
      ),
      { numRuns: 300, seed: 20261205 },
    );
  });

  it('parses files with quotes (no scan of bytes): exactly the rows whose key comes again wait', async () => {
    const bytes = Buffer.from(
      'Email,Name\n"a@x.com","Ann, Jr"\nb@x.com,Bo\n"A@X.COM",Ann\nc@x.com,"Cy ""C"""\n',
    );
    const job = jobOf();
    const pass = await firstPass(job, 'people.csv', opener(bytes, 5), { spillDuplicates: false });
    const { header, readable } = await planView(job, bytes, 'lastWins');
    const final = pass(header);
    expect(readable.map((row) => [row.row, final([row])])).toEqual([
      [2, false],
      [3, true],
      [4, false],
      [5, true],
    ]);
    // Files too big for memory index their keys on disk, with the same answer.
    const spilled = await firstPass(job, 'people.csv', opener(bytes, 5), { spillDuplicates: true });
    expect(readable.map((row) => spilled(header)([row]))).toEqual([false, true, false, true]);
  });

  it('calls nothing final in a file the reader refuses after its header, or whose header it reads otherwise', async () => {
    const job = jobOf();
    const unclosed = Buffer.from('Email,Name\na@x.com,Ann\n"b@x.com,Bo\n');
    const refused = await firstPass(job, 'people.csv', opener(unclosed, 8), { spillDuplicates: false });
    expect(refused(['Email', 'Name'])([{ row: 2, cells: ['a@x.com', 'Ann'] }])).toBe(false);
    const plain = Buffer.from('Email,Name\na@x.com,Ann\n');
    const scanned = await firstPass(job, 'people.csv', opener(plain, 8), { spillDuplicates: false });
    expect(scanned(['Email', 'Name'])([{ row: 2, cells: ['a@x.com', 'Ann'] }])).toBe(true);
    expect(scanned(['Email', 'Name', '(column 3)'])([{ row: 2, cells: ['a@x.com', 'Ann', ''] }])).toBe(false);
  });
});
