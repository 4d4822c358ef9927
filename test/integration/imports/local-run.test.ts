import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
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

// The CLI's in-process runner: chunks read ahead while the plan runs and result files written as
// chunks finish must give the same outcomes as the plain pipeline.
const job = parseImportJob(
  {
    name: 'local-contacts',
    table: 'contact',
    operation: 'upsert',
    key: ['emailaddress1'],
    chunkSize: 100,
    columns: { Email: 'emailaddress1', 'First Name': 'firstname', 'Last Name': 'lastname' },
  },
  'test job',
);

describe('runLocalImport (emulator)', () => {
  let emulator: RunningEmulator;
  let client: DataverseClient;
  const meter = new RequestMeter();

  beforeAll(async () => {
    emulator = await startEmulator({ profile: 'fast' });
    client = createClient({ url: emulator.url, identities: ['local-run'], onEvent: meter.onEvent });
    for (let i = 0; i < 150; i += 1)
      emulator.store.put('contact', { emailaddress1: `p${i}@example.com`, lastname: 'Old' });
  });
  const scratchDirs: string[] = [];
  /** A temporary folder, removed after the suite. */
  const scratch = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dvp-local-run-'));
    scratchDirs.push(dir);
    return dir;
  };
  afterAll(async () => {
    await client?.close();
    await emulator?.close();
    await Promise.all(scratchDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('upserts 1,000 rows with in-file duplicates across chunks and bad rows: each key once, the last row winning', async () => {
    const dir = await scratch();
    const rows: string[][] = [];
    for (let i = 0; i < 1_000; i += 1) rows.push([`p${i}@example.com`, `First${i}`, `Last${i}`]);
    // Row 12 (i = 10) is repeated in the last chunk: that later row wins, the earlier one is superseded.
    rows.push(['P10@example.com ', 'Winner', 'Last10']);
    // A name longer than the column allows fails mapping (a row the read-ahead maps).
    rows[500] = ['p500@example.com', 'x'.repeat(300), 'Last500'];
    const file = join(dir, 'contacts.csv');
    await writeFile(file, stringify([['Email', 'First Name', 'Last Name'], ...rows]));
    const requestsBefore = client.metrics().requests;
    const importFile = (chunkConcurrency?: number) =>
      runLocalImport({
        file,
        job,
        client,
        environment: emulator.url,
        meter,
        outDir: join(dir, 'out'),
        log: silentLogger,
        ...(chunkConcurrency ? { chunkConcurrency } : {}),
      });

    const result = await importFile(3);

    expect(result.kind).toBe('finished');
    const { summary } = result;
    expect(summary.rows).toMatchObject({
      total: 1_001,
      succeeded: 1_000,
      failed: 1,
      created: 849,
      updated: 150,
      superseded: 1,
    });
    // Requests made ahead of a chunk's write still count as the run's.
    expect(summary.requests).toBe(client.metrics().requests - requestsBefore);

    const errors = parse(await readFile(join(dir, 'out', 'errors.csv')), {
      columns: true,
      bom: true,
    }) as Record<string, string>[];
    expect(errors.map((e) => [e.row, e.code])).toEqual([['502', 'StringTooLong']]);
    const records = parse(await readFile(join(dir, 'out', 'records.csv')), {
      columns: true,
      bom: true,
    }) as Record<string, string>[];
    expect(records.map((r) => Number(r.row))).toEqual(Array.from({ length: 1_001 }, (_, i) => i + 2));

    const stored = emulator.store.all('contact');
    const emails = stored.map((row) => String(row.emailaddress1).toLowerCase().trim());
    expect(emails).toHaveLength(new Set(emails).size);
    expect(stored).toHaveLength(999);
    const p10 = stored.find((row) => String(row.emailaddress1).trim().toLowerCase() === 'p10@example.com');
    expect(p10?.firstname).toBe('Winner');
    const p11 = stored.find((row) => row.emailaddress1 === 'p11@example.com');
    expect(p11?.lastname).toBe('Last11');

    // The same file again resumes the finished run: nothing is sent.
    const requests = client.metrics().requests;
    const again = await importFile();
    expect(again.summary.runId).toBe(summary.runId);
    expect(client.metrics().requests).toBe(requests);
  });

  it('rejects the whole file when the job does not fit the table, with nothing written and nothing left behind', async () => {
    const dir = await scratch();
    const file = join(dir, 'contacts.csv');
    const rows = Array.from({ length: 250 }, (_, i) => [`misfit${i}@example.com`, `Last${i}`]);
    await writeFile(file, stringify([['Email', 'Shoe Size'], ...rows]));
    const misfit = parseImportJob(
      {
        name: 'misfit',
        table: 'contact',
        operation: 'upsert',
        key: ['emailaddress1'],
        chunkSize: 100,
        columns: { Email: 'emailaddress1', 'Shoe Size': 'new_shoesize' },
      },
      'misfit job',
    );
    const before = emulator.store.all('contact').length;

    const result = await runLocalImport({
      file,
      job: misfit,
      client,
      environment: emulator.url,
      meter,
      outDir: join(dir, 'out'),
      log: silentLogger,
    });

    expect(result.kind).toBe('rejected');
    expect(result.summary.error?.code).toBe('JobDoesNotFitTable');
    expect(result.summary.error?.message).toContain('new_shoesize');
    expect(emulator.store.all('contact')).toHaveLength(before);
    const errors = parse(await readFile(join(dir, 'out', 'errors.csv')), {
      columns: true,
      bom: true,
    }) as Record<string, string>[];
    expect(errors.map((e) => e.code)).toEqual(['JobDoesNotFitTable']);
    // The file was read while the job was checked; what that left (chunks, no manifest) is removed.
    const left = await readdir(join(dir, 'out', '.dvpipe', 'runs', result.summary.runId), {
      recursive: true,
    }).catch(() => []);
    expect(left.filter((name) => name.includes('.'))).toEqual([]);
  });

  /** The client, noting for each write call whether the plan had been committed when it was made. */
  const watching = () => {
    const state = { planned: false, writes: [] as boolean[] };
    const watched = new Proxy(client, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const fn = value as (...args: unknown[]) => unknown;
        if (typeof prop === 'string' && /^(create|upsert|update)(Multiple)?$/.test(prop)) {
          return (...args: unknown[]) => {
            state.writes.push(state.planned);
            return fn.apply(target, args);
          };
        }
        return fn.bind(target);
      },
    });
    return { state, watched };
  };

  it('a job without a key writes chunks while the rest of the file is planned; every row is reported once', async () => {
    const dir = await scratch();
    const file = join(dir, 'people.csv');
    const rows = Array.from({ length: 20_000 }, (_, i) => [`ahead${i}@example.com`, `Ahead${i}`]);
    await writeFile(file, stringify([['Email', 'Last Name'], ...rows]));
    const creates = parseImportJob(
      {
        name: 'ahead',
        table: 'contact',
        operation: 'create',
        chunkSize: 500,
        columns: { Email: 'emailaddress1', 'Last Name': 'lastname' },
      },
      'ahead job',
    );
    const before = emulator.store.count('contact');
    const { state, watched } = watching();
    const result = await runLocalImport({
      file,
      job: creates,
      client: watched,
      environment: emulator.url,
      meter,
      outDir: join(dir, 'out'),
      log: silentLogger,
      onPlanned: () => {
        state.planned = true;
      },
    });
    expect(result.kind).toBe('finished');
    expect(result.summary.rows).toMatchObject({ total: 20_000, succeeded: 20_000, created: 20_000 });
    expect(emulator.store.count('contact')).toBe(before + 20_000);
    // Chunk 0 goes out as soon as it is stored and the preflight passed: long before row 20,000 is read.
    expect(state.writes[0]).toBe(false);
    const records = parse(await readFile(join(dir, 'out', 'records.csv')), {
      columns: true,
      bom: true,
    }) as Record<string, string>[];
    expect(records.map((r) => Number(r.row))).toEqual(Array.from({ length: 20_000 }, (_, i) => i + 2));
    expect(new Set(records.map((r) => r.status))).toEqual(new Set(['created']));
  });

  it('a file the reader refuses at its end (a quote never closed) writes nothing, though its job has no key', async () => {
    const dir = await scratch();
    const file = join(dir, 'people.csv');
    const rows = Array.from({ length: 3_000 }, (_, i) => `refused${i}@example.com,Refused${i}`);
    await writeFile(file, `Email,Last Name\n${rows.join('\n')}\n"never@example.com,Closed\n`);
    const creates = parseImportJob(
      {
        name: 'refused',
        table: 'contact',
        operation: 'create',
        chunkSize: 500,
        columns: { Email: 'emailaddress1', 'Last Name': 'lastname' },
      },
      'refused job',
    );
    const before = emulator.store.count('contact');
    const { state, watched } = watching();
    const result = await runLocalImport({
      file,
      job: creates,
      client: watched,
      environment: emulator.url,
      meter,
      outDir: join(dir, 'out'),
      log: silentLogger,
    });
    expect(result.kind).toBe('rejected');
    expect(result.summary.error?.code).toBe('UnclosedQuote');
    expect(state.writes).toEqual([]);
    expect(emulator.store.count('contact')).toBe(before);
  });

  it('a keyed job writes nothing before the plan is complete (later rows may take earlier ones out)', async () => {
    const dir = await scratch();
    const file = join(dir, 'people.csv');
    const rows = Array.from({ length: 3_000 }, (_, i) => [`keyed${i}@example.com`, `Keyed${i}`]);
    rows.push(['keyed0@example.com', 'Winner']);
    await writeFile(file, stringify([['Email', 'Last Name'], ...rows]));
    const keyed = parseImportJob(
      {
        name: 'keyed',
        table: 'contact',
        operation: 'upsert',
        key: ['emailaddress1'],
        chunkSize: 500,
        columns: { Email: 'emailaddress1', 'Last Name': 'lastname' },
      },
      'keyed job',
    );
    const { state, watched } = watching();
    const result = await runLocalImport({
      file,
      job: keyed,
      client: watched,
      environment: emulator.url,
      meter,
      outDir: join(dir, 'out'),
      log: silentLogger,
      onPlanned: () => {
        state.planned = true;
      },
    });
    expect(result.kind).toBe('finished');
    expect(result.summary.rows).toMatchObject({ total: 3_001, succeeded: 3_001, superseded: 1 });
    expect(state.writes.length).toBeGreaterThan(0);
    expect(state.writes.every((planned) => planned)).toBe(true);
    const winner = emulator.store.all('contact').filter((c) => c.emailaddress1 === 'keyed0@example.com');
    expect(winner.map((c) => c.lastname)).toEqual(['Winner']);
  });
});
