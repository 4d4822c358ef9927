// Writes the demo's sample CSVs (samples/). Deterministic, so the files only change when this does.
// Run: npx tsx scripts/generate-samples.ts
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { packageRoot } from '../src/app/package-root.js';

const FIRST = [
  'Ada',
  'Grace',
  'Alan',
  'Edsger',
  'Barbara',
  'Donald',
  'Frances',
  'Ken',
  'Margaret',
  'Linus',
  'Radia',
  'Tim',
  'Hedy',
  'Dennis',
  'Katherine',
  'José',
  'Zoë',
  'Søren',
  'Łucja',
  'Amélie',
];
const LAST = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Allen',
  'Thompson',
  'Hamilton',
  'Torvalds',
  'Perlman',
  'Berners-Lee',
  'Lamarr',
  'Ritchie',
  'Johnson',
  "O'Neil",
  'Müller',
  'Ørsted',
  'Nowak',
  'Dubois',
];
const CITIES = [
  'Seattle',
  'London',
  'Paris',
  'Berlin',
  'Madrid',
  'Oslo',
  'Warsaw',
  'Dublin',
  'Lisbon',
  'Vienna',
];
const METHODS = ['Any', 'Email', 'Phone', 'Fax', 'Mail'];
const INDUSTRIES = [
  'Accounting',
  'Consulting',
  'Financial',
  'Insurance',
  'Legal Services',
  'Wholesale',
  'Transportation',
];

/** A small linear congruential generator: the same sequence on every machine. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const pick = <T>(next: () => number, list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
const pad = (n: number, width: number) => String(n).padStart(width, '0');

function accounts(count: number): string[][] {
  const next = random(7);
  const rows = [['Account Number', 'Account Name', 'Phone', 'City', 'Employees', 'Revenue', 'Industry']];
  for (let i = 1; i <= count; i += 1) {
    rows.push([
      `ACC-${pad(i, 5)}`,
      `${pick(next, LAST)} ${pick(next, ['Labs', 'Systems', 'Partners', 'Group', 'Industries'])} ${i}`,
      `+1 555 ${pad(Math.floor(next() * 10_000), 4)}`,
      pick(next, CITIES),
      String(Math.floor(next() * 5_000)),
      (next() * 10_000_000).toFixed(2),
      pick(next, INDUSTRIES),
    ]);
  }
  // Bad rows a real file has: an unknown industry label, a negative employee count, an empty key.
  rows.push(['ACC-90001', 'Bad Industry Ltd', '', 'Oslo', '10', '100.00', 'Astrology']);
  rows.push(['ACC-90002', 'Negative Staff Inc', '', 'Oslo', '-5', '100.00', 'Wholesale']);
  rows.push(['', 'No Number Corp', '', 'Oslo', '10', '100.00', 'Wholesale']);
  return rows;
}

function contacts(count: number, accountCount: number): string[][] {
  const next = random(11);
  const rows = [['Email', 'First Name', 'Last Name', 'Company', 'Contact Method', 'Birthday']];
  for (let i = 1; i <= count; i += 1) {
    const first = pick(next, FIRST);
    const last = pick(next, LAST);
    const year = 1950 + Math.floor(next() * 50);
    rows.push([
      `${first}.${last}.${i}@example.com`.toLowerCase().replace(/[^a-z0-9.@-]/g, ''),
      first,
      last,
      `ACC-${pad(1 + Math.floor(next() * accountCount), 5)}`,
      pick(next, METHODS),
      `${year}-${pad(1 + Math.floor(next() * 12), 2)}-${pad(1 + Math.floor(next() * 28), 2)}`,
    ]);
  }
  // One row of each kind of mistake the pipeline must catch and explain.
  rows.push(['bad.date@example.com', 'Bad', 'Date', 'ACC-00001', 'Email', '1990-02-30']);
  rows.push(['bad.choice@example.com', 'Bad', 'Choice', 'ACC-00001', 'Carrier Pigeon', '1990-01-01']);
  rows.push(['no.company@example.com', 'No', 'Company', 'ACC-99999', 'Email', '1990-01-01']);
  rows.push(['long.name@example.com', 'Long', 'N'.repeat(60), 'ACC-00001', 'Email', '1990-01-01']);
  rows.push(['', 'No', 'Email', 'ACC-00001', 'Email', '1990-01-01']);
  return rows;
}

const dir = join(packageRoot(), 'samples');
await mkdir(dir, { recursive: true });
await writeFile(join(dir, 'accounts.csv'), stringify(accounts(150)));
await writeFile(join(dir, 'contacts.csv'), stringify(contacts(2_000, 150)));
console.log(`Wrote ${dir}/accounts.csv and ${dir}/contacts.csv`);
