import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';
import { createClient } from '../../../src/app/dataverse.js';
import { parseImportJob } from '../../../src/config/job.js';
import type { DataverseClient } from '../../../src/dataverse/index.js';
import { runLocalImport } from '../../../src/imports/local-run.js';
import { RequestMeter } from '../../../src/imports/request-meter.js';
import { silentLogger } from '../../../src/logging.js';

// Rows that lose to a later row with the same key (duplicateKeys: lastWins) were listed in errors.csv, and
// dropping errors.csv back in, as the README suggests, wrote the losers over the winners (issue 16, defect 5).
describe('superseded rows (lastWins)', () => {
  let emulator: RunningEmulator;
  let client: DataverseClient;
  let dir: string;
  const meter = new RequestMeter();
  const job = parseImportJob(
    {
      name: 'people',
      table: 'contact',
      operation: 'upsert',
      key: ['emailaddress1'],
      chunkSize: 2,
      columns: { Email: 'emailaddress1', 'Last Name': 'lastname', City: 'address1_city' },
    },
    'test job',
  );

  beforeAll(async () => {
    emulator = await startEmulator({ profile: 'fast' });
    client = createClient({ url: emulator.url, identities: ['superseded'], onEvent: meter.onEvent });
    dir = await mkdtemp(join(tmpdir(), 'dvp-superseded-'));
  });
  afterAll(async () => {
    await client?.close();
    await emulator?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const readCsv = async (path: string) =>
    parse(await readFile(path), { columns: true, bom: true }) as Record<string, string>[];

  it('reports the losers as superseded, keeps them out of errors.csv, and a re-import of errors.csv leaves the winners', async () => {
    const file = join(dir, 'people.csv');
    await writeFile(
      file,
      stringify([
        ['Email', 'Last Name', 'City'],
        ['a@example.com', 'Early', 'Oslo'],
        ['b@example.com', 'B', 'Lima'],
        ['c@example.com', 'C', ''],
        // Too long for lastname: a real error, to fix and drop back in.
        ['d@example.com', 'x'.repeat(200), 'Rome'],
        ['A@example.com ', 'Late', 'Paris'],
      ]),
    );
    const run = (path: string, out: string) =>
      runLocalImport({
        file: path,
        job,
        client,
        environment: emulator.url,
        meter,
        outDir: join(dir, out),
        log: silentLogger,
      });

    const first = await run(file, 'out');

    expect(first.summary.rows).toMatchObject({
      total: 5,
      succeeded: 4,
      failed: 1,
      created: 3,
      superseded: 1,
    });
    const records = await readCsv(join(dir, 'out', 'records.csv'));
    expect(records.map((r) => [r.row, r.status])).toEqual([
      ['2', 'superseded'],
      ['3', 'created'],
      ['4', 'created'],
      ['5', 'failed'],
      ['6', 'created'],
    ]);
    const errors = await readCsv(join(dir, 'out', 'errors.csv'));
    expect(errors.map((e) => [e.row, e.code])).toEqual([['5', 'StringTooLong']]);

    // The user fixes the failed row and drops errors.csv back in.
    const fixed = join(dir, 'errors-fixed.csv');
    await writeFile(
      fixed,
      stringify([
        ['Email', 'Last Name', 'City', 'row', 'code', 'message', 'column'],
        ...errors.map((e) => [e.Email, 'D', e.City, e.row, e.code, e.message, e.column]),
      ]),
    );
    const second = await run(fixed, 'out-fixed');
    expect(second.summary.rows).toMatchObject({ total: 1, succeeded: 1, failed: 0 });

    const a = emulator.store
      .all('contact')
      .filter((c) => String(c.emailaddress1).toLowerCase().trim() === 'a@example.com');
    expect(a.map((c) => [c.lastname, c.address1_city])).toEqual([['Late', 'Paris']]);
    const d = emulator.store.all('contact').filter((c) => c.emailaddress1 === 'd@example.com');
    expect(d.map((c) => [c.lastname, c.address1_city])).toEqual([['D', 'Rome']]);
  });
});
