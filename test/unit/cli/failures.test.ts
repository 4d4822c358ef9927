import { describe, expect, it } from 'vitest';
import { failureSummary, type FailedRow } from '../../../src/cli/failures.js';

const failed = (row: number, code: string, column: string, message = `${code} at row ${row}`): FailedRow => ({
  row: String(row),
  code,
  column,
  message,
});

describe('failureSummary', () => {
  it('counts each reason, most frequent first, with its first row as the example', async () => {
    const rows = [
      failed(2, 'BadDate', 'Birthday'),
      failed(3, 'LookupNotFound', 'Company'),
      failed(4, 'LookupNotFound', 'Company'),
      failed(5, 'BadDate', 'Birthday'),
      failed(6, 'LookupNotFound', 'Company'),
      failed(7, 'Throttled', ''),
    ];
    expect((await failureSummary(rows, 'out/errors.csv')).split('\n')).toEqual([
      'Failed rows by reason (6 in all, each one in out/errors.csv):',
      '        3 × LookupNotFound (Company)  e.g. row 3: LookupNotFound at row 3',
      '        2 × BadDate (Birthday)        e.g. row 2: BadDate at row 2',
      '        1 × Throttled                 e.g. row 7: Throttled at row 7',
      'Fix the rows in out/errors.csv and import that file with another --out, so these results stay.',
      '',
    ]);
  });

  it('beyond the five most frequent reasons, says how many more rows and reasons there are', async () => {
    const rows: FailedRow[] = [];
    let row = 2;
    // Reasons A..G with 7, 6, ..., 1 rows: A-E shown, F (2 rows) and G (1 row) summed up.
    for (const [i, code] of ['A', 'B', 'C', 'D', 'E', 'F', 'G'].entries())
      for (let n = 0; n < 7 - i; n++) rows.push(failed(row++, code, 'Col'));
    const lines = (await failureSummary(rows, 'e.csv')).split('\n');
    expect(lines[0]).toBe('Failed rows by reason (28 in all, each one in e.csv):');
    expect(lines.slice(1, 6).map((line) => line.trim().split('  ')[0])).toEqual([
      '7 × A (Col)',
      '6 × B (Col)',
      '5 × C (Col)',
      '4 × D (Col)',
      '3 × E (Col)',
    ]);
    expect(lines[6]).toBe('  … and 3 more rows with 2 other reasons');
  });

  it('says "row" and "reason" for one of each, and shortens a long message', async () => {
    const rows = [1, 2, 3, 4, 5].flatMap((i) => [failed(i * 2, `C${i}`, ''), failed(i * 2 + 1, `C${i}`, '')]);
    rows.push(failed(99, 'Last', 'X', 'x'.repeat(150)));
    const lines = (await failureSummary(rows, 'e.csv', 5)).split('\n');
    expect(lines[6]).toBe('  … and 1 more row with 1 other reason');
    const long = (await failureSummary([failed(9, 'Long', 'X', 'y'.repeat(150))], 'e.csv')).split('\n')[1];
    expect(long).toBe(`        1 × Long (X)  e.g. row 9: ${'y'.repeat(100)}…`);
  });

  it('reads rows as they stream, one example kept per reason', async () => {
    async function* stream(): AsyncIterable<FailedRow> {
      for (let i = 0; i < 10_000; i++) yield failed(i + 2, 'Same', 'Col');
    }
    expect((await failureSummary(stream(), 'e.csv')).split('\n')[1]).toBe(
      '   10,000 × Same (Col)  e.g. row 2: Same at row 2',
    );
  });
});
