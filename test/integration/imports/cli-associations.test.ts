// `dvpipe import` with the associate / disassociate operations (issue 20, many-to-many): a file of
// (marketing list name, contact email) pairs links contacts to lists through listcontact_association,
// in $batch requests; a re-run finds the links in place and reports them unchanged, not failed; a pair
// naming a missing record fails that row only, naming its column and value.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';
import { dvpipe } from '../../helpers/cli.js';

const associateJob = {
  name: 'list-members',
  table: 'list',
  operation: 'associate',
  relationship: 'listcontact_association',
  columns: {
    List: 'listname',
    Email: { attribute: 'contactid', lookup: 'contact', by: 'emailaddress1' },
  },
};
const pairs = [
  ['List', 'Email'],
  ['Spring Launch', 'ada@example.com'],
  ['Spring Launch', 'alan@example.com'],
  ['Autumn Gala', 'ADA@example.com'],
  ['Spring Launch', 'nobody@example.com'],
  ['Winter Sale', 'grace@example.com'],
  ['Autumn Gala', ''],
];

describe('dvpipe import: associate and disassociate (many-to-many)', () => {
  let emulator: RunningEmulator;
  let dir: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    emulator = await startEmulator({ profile: 'fast' });
    dir = await mkdtemp(join(tmpdir(), 'dvp-assoc-'));
    for (const name of ['Spring Launch', 'Autumn Gala']) {
      ids[name] = emulator.store.put('list', { listname: name, createdfromcode: 2 });
    }
    for (const [email, last] of [
      ['ada@example.com', 'Lovelace'],
      ['alan@example.com', 'Turing'],
      ['grace@example.com', 'Hopper'],
    ] as const) {
      ids[email] = emulator.store.put('contact', { emailaddress1: email, lastname: last });
    }
    await writeFile(join(dir, 'pairs.csv'), pairs.map((row) => row.join(',')).join('\n'));
    await writeFile(join(dir, 'associate.json'), JSON.stringify(associateJob));
    await writeFile(
      join(dir, 'disassociate.json'),
      JSON.stringify({ ...associateJob, name: 'list-leavers', operation: 'disassociate' }),
    );
  });
  afterAll(async () => {
    await emulator?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const run = (jobFile: string, out: string, file = 'pairs.csv', ...extra: string[]) =>
    dvpipe([
      'import',
      join(dir, file),
      '--job',
      join(dir, jobFile),
      '--url',
      emulator.url,
      '--out',
      join(dir, out),
      '--quiet',
      ...extra,
    ]);
  const readCsv = async (path: string) =>
    parse(await readFile(path), { columns: true, bom: true }) as Record<string, string>[];
  const summaryOf = async (out: string) =>
    JSON.parse(await readFile(join(dir, out, 'summary.json'), 'utf8')) as {
      rows: Record<string, number>;
    };
  const members = (list: string) => emulator.store.related('list', ids[list]!, 'listcontact_association');

  it('jobs validate checks the relationship and the related column against metadata', async () => {
    const ok = await dvpipe(['jobs', 'validate', join(dir, 'associate.json'), '--url', emulator.url]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("job 'list-members' fits table 'list'");

    await writeFile(
      join(dir, 'wrong.json'),
      JSON.stringify({
        ...associateJob,
        relationship: 'listaccount_association',
        columns: {
          ...associateJob.columns,
          Email: { attribute: 'contactid', lookup: 'contact', by: 'emailaddress9' },
        },
      }),
    );
    const wrong = await dvpipe(['jobs', 'validate', join(dir, 'wrong.json'), '--url', emulator.url]);
    expect(wrong.code).toBe(2);
    expect(wrong.stdout).toContain(
      'table "list" has no many-to-many relationship "listaccount_association" (it has: listcontact_association)',
    );

    await writeFile(
      join(dir, 'no-relationship.json'),
      JSON.stringify({ ...associateJob, relationship: undefined }),
    );
    const shape = await dvpipe(['jobs', 'validate', join(dir, 'no-relationship.json')]);
    expect(shape.code).toBe(2);
    expect(shape.stdout).toContain('relationship: operation "associate" needs "relationship"');
  });

  it('links each pair once, fails rows naming a missing record, and a re-run reports the links unchanged', async () => {
    const first = await run('associate.json', 'first');
    expect(first.stderr).toBe('');
    expect(first.code).toBe(1);
    expect(members('Spring Launch')).toEqual([ids['ada@example.com'], ids['alan@example.com']].sort());
    expect(members('Autumn Gala')).toEqual([ids['ada@example.com']]);

    const summary = await summaryOf('first');
    expect(summary.rows).toMatchObject({ total: 6, succeeded: 3, failed: 3, associated: 3 });
    const records = await readCsv(join(dir, 'first', 'records.csv'));
    expect(records.map((r) => [r.row, r.status, r.id])).toEqual([
      ['2', 'associated', ids['Spring Launch']],
      ['3', 'associated', ids['Spring Launch']],
      ['4', 'associated', ids['Autumn Gala']],
      ['5', 'failed', ''],
      ['6', 'failed', ''],
      ['7', 'failed', ''],
    ]);
    const errors = await readCsv(join(dir, 'first', 'errors.csv'));
    expect(errors.map((e) => [e.row, e.code, e.column, e.message])).toEqual([
      ['5', 'RecordNotFound', 'Email', 'no contact has emailaddress1 "nobody@example.com" (column "Email")'],
      ['6', 'RecordNotFound', 'List', 'no list has listname "Winter Sale" (column "List")'],
      ['7', 'RequiredValueMissing', 'Email', 'column "Email" is empty: it names the contact to associate'],
    ]);

    // The same file again (a new run): every link exists, so nothing fails that succeeded before.
    const again = await run('associate.json', 'again', 'pairs.csv', '--rerun');
    expect(again.code).toBe(1);
    const rerun = await summaryOf('again');
    expect(rerun.rows).toMatchObject({ succeeded: 3, failed: 3, unchanged: 3 });
    expect(rerun.rows.associated).toBeUndefined();
    const rerunRecords = await readCsv(join(dir, 'again', 'records.csv'));
    expect(rerunRecords.slice(0, 3).map((r) => r.status)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    expect(members('Spring Launch')).toHaveLength(2);
  });

  it('disassociates the pairs a file names and leaves the others', async () => {
    await writeFile(
      join(dir, 'leavers.csv'),
      ['List,Email', 'Spring Launch,alan@example.com', 'Autumn Gala,ada@example.com'].join('\n'),
    );
    const ran = await dvpipe([
      'import',
      join(dir, 'leavers.csv'),
      '--job',
      join(dir, 'disassociate.json'),
      '--url',
      emulator.url,
      '--out',
      join(dir, 'leavers'),
    ]);
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain('2 of 2 rows written (2 disassociated), 0 failed.');
    const summary = await summaryOf('leavers');
    expect(summary.rows).toMatchObject({ total: 2, succeeded: 2, failed: 0, disassociated: 2 });
    expect(members('Spring Launch')).toEqual([ids['ada@example.com']]);
    expect(members('Autumn Gala')).toEqual([]);
    // The links went through $batch requests, not one HTTP request per pair.
    const batches = emulator.recentLog().filter((e) => e.url.endsWith('/$batch'));
    expect(batches.length).toBeGreaterThan(0);
  });
});
