// `dvpipe import` run again, as users do (DESIGN.md "Run identity"): a dry run never blocks the real
// run, another environment is another run, and a plain re-run of a finished run says so, writes nothing
// and leaves the newer result files alone (issue 16, defects 2, 3 and 4; issue 19, item 8).
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';
import { dvpipe } from '../../helpers/cli.js';

const job = {
  name: 'people',
  table: 'contact',
  operation: 'upsert',
  key: ['emailaddress1'],
  columns: {
    Email: 'emailaddress1',
    'Last Name': 'lastname',
    Company: { attribute: 'parentcustomerid', lookup: 'account', by: 'accountnumber' },
  },
};
const people = [
  ['Email', 'Last Name', 'Company'],
  ['ada@example.com', 'Lovelace', 'ACC-1'],
  ['alan@example.com', 'Turing', 'ACC-2'],
  ['grace@example.com', 'Hopper', 'ACC-1'],
];

describe('dvpipe import, run again', () => {
  let first: RunningEmulator;
  let second: RunningEmulator;
  let dir: string;
  let file: string;
  let jobFile: string;

  beforeAll(async () => {
    [first, second] = await Promise.all([
      startEmulator({ profile: 'fast' }),
      startEmulator({ profile: 'fast' }),
    ]);
    dir = await mkdtemp(join(tmpdir(), 'dvp-cli-reruns-'));
    file = join(dir, 'people.csv');
    jobFile = join(dir, 'people.json');
    await writeFile(file, people.map((row) => row.join(',')).join('\n'));
    await writeFile(jobFile, JSON.stringify(job));
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  const importInto = (emulator: RunningEmulator, out: string, ...extra: string[]) =>
    dvpipe([
      'import',
      file,
      '--job',
      jobFile,
      '--url',
      emulator.url,
      '--out',
      join(dir, out),
      '--quiet',
      ...extra,
    ]);
  const readCsv = async (path: string) =>
    parse(await readFile(path), { columns: true, bom: true }) as Record<string, string>[];
  const summaryIn = async (out: string) =>
    JSON.parse(await readFile(join(dir, out, 'summary.json'), 'utf8')) as {
      runId: string;
      dryRun: boolean;
      rows: { total: number; succeeded: number; failed: number; created: number };
    };
  const stored = (emulator: RunningEmulator) =>
    emulator.store
      .all('contact')
      .map((c) => [c.emailaddress1, c.lastname, c._parentcustomerid_value])
      .sort();
  const accountId = (emulator: RunningEmulator, number: string) =>
    emulator.store.all('account').find((a) => a.accountnumber === number)?.accountid;

  it('fails every row while the accounts are missing; a plain re-run says it was done; --rerun imports; a plain re-run then names the newer run and leaves its files', async () => {
    const failed = await importInto(first, 'out');
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('0 of 3 rows written');
    expect(failed.stdout).toMatch(/3 × LookupNotFound \(Company\)\s+e\.g\. row 2: /);
    const failedRun = (await summaryIn('out')).runId;

    const again = await importInto(first, 'out');
    expect(again.code).toBe(1);
    expect(again.stdout).toContain(`people.csv was already imported with job 'people' into ${first.url}`);
    expect(again.stdout).toContain(
      `(run ${failedRun}): 0 of 3 rows written, 3 failed. Nothing was written this time.`,
    );
    expect(again.stdout).toContain('To import the file again, add --rerun.');
    expect(stored(first)).toEqual([]);

    for (const number of ['ACC-1', 'ACC-2'])
      first.store.put('account', { name: number, accountnumber: number });
    const rerun = await importInto(first, 'out', '--rerun');
    expect(rerun.code).toBe(0);
    const newer = await summaryIn('out');
    expect(newer.runId).not.toBe(failedRun);
    expect(newer.rows).toMatchObject({ total: 3, succeeded: 3, failed: 0, created: 3 });
    expect(stored(first)).toEqual([
      ['ada@example.com', 'Lovelace', accountId(first, 'ACC-1')],
      ['alan@example.com', 'Turing', accountId(first, 'ACC-2')],
      ['grace@example.com', 'Hopper', accountId(first, 'ACC-1')],
    ]);
    const records = await readFile(join(dir, 'out', 'records.csv'), 'utf8');
    const requests = first.stats().requests;

    const plain = await importInto(first, 'out');
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain(
      `(run ${newer.runId}): 3 of 3 rows written, 0 failed. Nothing was written this time.`,
    );
    expect(plain.stdout).toContain(`Its results are in ${join(dir, 'out', 'summary.json')}`);
    expect((await summaryIn('out')).runId).toBe(newer.runId);
    expect(await readFile(join(dir, 'out', 'records.csv'), 'utf8')).toBe(records);
    // The errors.csv beside it is the newer run's (none failed), not the failed run's.
    expect(await readCsv(join(dir, 'out', 'errors.csv'))).toEqual([]);
    expect(first.stats().requests).toBe(requests);

    // A finished run leaves its manifest and summary, not its chunks.
    const state = await readdir(join(dir, 'out', '.dvpipe'), { recursive: true });
    expect(state.filter((name) => name.includes('chunks') || name.includes('plan-failures'))).toEqual([]);
  });

  it('a dry run writes nothing and does not block the real run', async () => {
    for (const number of ['ACC-1', 'ACC-2'])
      second.store.put('account', { name: number, accountnumber: number });
    const dry = await importInto(second, 'dry', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('Dry run: 3 of 3 rows valid');
    expect((await summaryIn('dry')).dryRun).toBe(true);
    expect(stored(second)).toEqual([]);
    // A dry run leaves no state that a later run could mistake for itself.
    expect(await readdir(join(dir, 'dry', '.dvpipe', 'runs')).catch(() => [])).toEqual([]);

    const real = await importInto(second, 'dry');
    expect(real.code).toBe(0);
    expect(real.stdout).toContain('3 of 3 rows written (3 created, 0 updated), 0 failed.');
    expect(await summaryIn('dry')).toMatchObject({ dryRun: false, rows: { created: 3 } });
    expect(stored(second).map(([email, name]) => [email, name])).toEqual([
      ['ada@example.com', 'Lovelace'],
      ['alan@example.com', 'Turing'],
      ['grace@example.com', 'Hopper'],
    ]);
  });

  it('the same file and --out against another environment is another run, which writes there', async () => {
    const third = await startEmulator({ profile: 'fast' });
    try {
      for (const number of ['ACC-1', 'ACC-2'])
        third.store.put('account', { name: number, accountnumber: number });
      // `out` holds a finished run of this file against the first emulator.
      const result = await importInto(third, 'out');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('3 of 3 rows written (3 created, 0 updated), 0 failed.');
      expect(stored(third).map(([email]) => email)).toEqual([
        'ada@example.com',
        'alan@example.com',
        'grace@example.com',
      ]);
      const records = await readCsv(join(dir, 'out', 'records.csv'));
      expect(records.map((r) => r.status)).toEqual(['created', 'created', 'created']);
    } finally {
      await third.close();
    }
  });
});
