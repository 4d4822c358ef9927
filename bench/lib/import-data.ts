import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/** The benchmark's contacts: row i has email u<i>@bench.example.com; the first `existing` rows already exist. */
export const importHeader = [
  'Email',
  'First Name',
  'Last Name',
  'Phone',
  'Job Title',
  'Contact Method',
] as const;

export interface BenchRow {
  readonly email: string;
  readonly firstname: string;
  readonly lastname: string;
  readonly telephone1: string;
  readonly jobtitle: string;
  readonly method: number;
}

const METHODS = ['Any', 'Email', 'Phone', 'Fax', 'Mail'];

export function benchRow(i: number): BenchRow {
  return {
    email: `u${i}@bench.example.com`,
    firstname: `First${i % 997}`,
    lastname: `Last${i}`,
    telephone1: `+1 555 ${String(i % 10_000).padStart(4, '0')}`,
    jobtitle: ['Engineer', 'Manager', 'Analyst', 'Director'][i % 4] ?? 'Engineer',
    method: 1 + (i % 5),
  };
}

export function methodLabel(value: number): string {
  return METHODS[value - 1] ?? 'Any';
}

export async function writeBenchCsv(path: string, rows: number): Promise<void> {
  const out = createWriteStream(path);
  out.write(`${importHeader.join(',')}\n`);
  for (let i = 0; i < rows; i += 1) {
    const r = benchRow(i);
    const line = `${r.email},${r.firstname},${r.lastname},${r.telephone1},${r.jobtitle},${methodLabel(r.method)}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** The job "ours" runs: an upsert by the email alternate key, choices by label. */
export const benchJob = {
  name: 'bench-contacts',
  table: 'contact',
  operation: 'upsert',
  key: ['emailaddress1'],
  columns: {
    Email: 'emailaddress1',
    'First Name': 'firstname',
    'Last Name': 'lastname',
    Phone: 'telephone1',
    'Job Title': 'jobtitle',
    'Contact Method': { attribute: 'preferredcontactmethodcode', choice: 'label' },
  },
} as const;
