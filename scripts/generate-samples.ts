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

const ACCOUNT_HEADER = [
  'Account Number',
  'Account Name',
  'Phone',
  'City',
  'Employees',
  'Revenue',
  'Industry',
];
const CONTACT_HEADER = ['Email', 'First Name', 'Last Name', 'Company', 'Contact Method', 'Birthday'];

/** Clean accounts: every row imports. */
function accounts(count: number): string[][] {
  const next = random(7);
  const rows = [ACCOUNT_HEADER];
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
  return rows;
}

/** Clean contacts whose companies are the accounts of accounts.csv: every row imports once those are in. */
function contacts(count: number, accountCount: number): string[][] {
  const next = random(11);
  const rows = [CONTACT_HEADER];
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
  return rows;
}

/**
 * A few good contacts, then one row of each kind of mistake the pipeline must catch and explain:
 * the file to try errors.csv and "fix and drop back in" with (after accounts.csv).
 */
function contactsWithMistakes(): string[][] {
  return [
    CONTACT_HEADER,
    ['ada.lovelace.fix1@example.com', 'Ada', 'Lovelace', 'ACC-00001', 'Email', '1985-12-10'],
    ['grace.hopper.fix2@example.com', 'Grace', 'Hopper', 'ACC-00002', 'Phone', '1976-12-09'],
    ['alan.turing.fix3@example.com', 'Alan', 'Turing', 'ACC-00003', 'Any', '1962-06-23'],
    ['bad.date@example.com', 'Bad', 'Date', 'ACC-00001', 'Email', '1990-02-30'],
    ['bad.choice@example.com', 'Bad', 'Choice', 'ACC-00001', 'Carrier Pigeon', '1990-01-01'],
    ['no.company@example.com', 'No', 'Company', 'ACC-99999', 'Email', '1990-01-01'],
    ['long.name@example.com', 'Long', 'N'.repeat(60), 'ACC-00001', 'Email', '1990-01-01'],
    ['', 'No', 'Email', 'ACC-00001', 'Email', '1990-01-01'],
  ];
}

/** Bad rows a real accounts file has: an unknown industry label, a negative employee count, an empty key. */
function accountsWithMistakes(): string[][] {
  return [
    ACCOUNT_HEADER,
    ['ACC-90000', 'Good Partners 90000', '+1 555 0100', 'Oslo', '10', '100.00', 'Wholesale'],
    ['ACC-90001', 'Bad Industry Ltd', '', 'Oslo', '10', '100.00', 'Astrology'],
    ['ACC-90002', 'Negative Staff Inc', '', 'Oslo', '-5', '100.00', 'Wholesale'],
    ['', 'No Number Corp', '', 'Oslo', '10', '100.00', 'Wholesale'],
  ];
}

const dir = join(packageRoot(), 'samples');
await mkdir(dir, { recursive: true });
await writeFile(join(dir, 'accounts.csv'), stringify(accounts(150)));
await writeFile(join(dir, 'contacts.csv'), stringify(contacts(2_000, 150)));
await writeFile(join(dir, 'accounts-with-mistakes.csv'), stringify(accountsWithMistakes()));
await writeFile(join(dir, 'contacts-with-mistakes.csv'), stringify(contactsWithMistakes()));
console.log(
  `Wrote accounts.csv, contacts.csv, accounts-with-mistakes.csv and contacts-with-mistakes.csv to ${dir}`,
);
