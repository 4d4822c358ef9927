import { parseImportJob, type ImportJob } from '../../../src/config/job.js';
import type { CsvRecord } from '../../../src/csv/reader.js';
import type { LookupResults } from '../../../src/mapping/lookups.js';
import { lookupKey } from '../../../src/mapping/lookups.js';

export function importJob(fields: Record<string, unknown>): ImportJob {
  return parseImportJob({ name: 'test', ...fields }, 'test.json');
}

export function record(row: number, values: Record<string, string>): CsvRecord {
  return { row, values, cells: Object.values(values) };
}

/** Lookup answers as a resolver would give them: `table.by` -> value -> ids. */
export function answers(data: Record<string, Record<string, string[]>>): LookupResults {
  return {
    ids(table, by, value) {
      const perValue = data[`${table}.${by}`];
      if (perValue === undefined) return undefined;
      for (const [v, ids] of Object.entries(perValue)) if (lookupKey(v) === lookupKey(value)) return ids;
      return [];
    },
  };
}
