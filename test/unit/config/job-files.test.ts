import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadJobFile, requiredHeaders, type ImportJob } from '../../../src/config/job.js';
import { renderJobSchema } from '../../../src/config/job-schema.js';
import { openCsv, type CsvRecord } from '../../../src/csv/reader.js';
import { createRowMapper } from '../../../src/mapping/mapper.js';
import { validateJobAgainstMetadata } from '../../../src/mapping/validate.js';
import { getTable, related } from '../mapping/fixtures.js';
import { answers } from '../mapping/helpers.js';

const root = join(import.meta.dirname, '../../..');
const jobsDir = join(root, 'jobs');

async function jobFiles(): Promise<string[]> {
  return (await readdir(jobsDir)).filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json'));
}

describe('jobs/', () => {
  it('the committed JSON Schema is the one generated from zod', async () => {
    const committed: unknown = JSON.parse(await readFile(join(jobsDir, 'job.schema.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(renderJobSchema()));
  });

  it('every example job parses, is named after its file, and fits the account/contact metadata', async () => {
    const files = await jobFiles();
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const file of files) {
      const job = await loadJobFile(join(jobsDir, file));
      expect(`${job.name}.json`).toBe(file);
      const problems = await validateJobAgainstMetadata(job, getTable);
      expect(
        problems.filter((p) => p.severity === 'error'),
        file,
      ).toEqual([]);
    }
  });

  it.each([
    ['contacts', 'contacts.csv', 2_000, []],
    ['accounts', 'accounts.csv', 150, []],
    [
      'contacts',
      'contacts-with-mistakes.csv',
      8,
      [
        [5, 'BadDate'],
        [6, 'BadChoice'],
        [7, 'LookupNotFound'],
        [8, 'StringTooLong'],
        [9, 'MissingKey'],
      ],
    ],
    [
      'accounts',
      'accounts-with-mistakes.csv',
      4,
      [
        [3, 'BadChoice'],
        [4, 'OutOfRange'],
        [5, 'MissingKey'],
      ],
    ],
  ] as const)(
    'jobs/%s.json maps samples/%s (%i rows); exactly the deliberately bad rows fail',
    async (name, sample, rowCount, expected) => {
      const job = (await loadJobFile(join(jobsDir, `${name}.json`))) as ImportJob;
      const mapper = createRowMapper(job, await getTable(job.table), related);
      const records = await readSample(sample, job);
      // Lookups find the accounts of samples/accounts.csv, as they would after importing it.
      const accountNumbers = (await readSample('accounts.csv')).map((r) => r.values['Account Number'] ?? '');
      const lookups = answers({
        'account.accountnumber': Object.fromEntries(accountNumbers.map((n, i) => [n, [guid(i)]])),
      });
      const failures = records.flatMap((r) => {
        const result = mapper.map(r, lookups);
        return result.ok ? [] : result.errors;
      });
      expect(records.length).toBe(rowCount);
      expect(failures.map((f) => [f.row, f.code])).toEqual(expected);
      for (const failure of failures) expect(failure.message).toContain(`column "${failure.column}"`);
    },
  );
});

async function readSample(sample: string, job?: ImportJob): Promise<CsvRecord[]> {
  const file = await openCsv(createReadStream(join(root, 'samples', sample)), {
    source: sample,
    expect:
      job === undefined ? undefined : { required: requiredHeaders(job), optional: Object.keys(job.columns) },
  });
  const records: CsvRecord[] = [];
  for await (const row of file.rows) {
    if (row.error !== undefined) throw new Error(row.error.message);
    records.push(row);
  }
  return records;
}

function guid(i: number): string {
  return `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`;
}
