import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { stringify } from 'csv-stringify/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../emulator/index.js';
import { createAppStorage, startAzurite, type RunningAzurite } from '../../dev/azurite.js';
import { packageRoot } from '../../src/app/package-root.js';
import { names } from '../../src/app/runtime.js';
import { runPaths } from '../../src/imports/paths.js';
import { blobRunId } from '../helpers/run-ids.js';
import { readRunStatus } from '../../src/imports/status.js';
import type { RunSummary } from '../../src/imports/types.js';
import { BlobObjectStore } from '../../src/storage/blob-store.js';
import { contactsJob } from './helpers.js';
import { startHostProcess, type HostProcess } from './host-process.js';

const KEY = 'reliability-function-key-51c7';
const TOKEN_USER = 'hosttokmarker93b1';
const CELL_MARKER = 'hostcellmarker4e8';
const ROWS = 3_000;

const leadsJob = {
  name: 'leads',
  table: 'contact',
  operation: 'create',
  columns: { Email: 'emailaddress1', 'First Name': 'firstname', 'Last Name': 'lastname' },
};

describe('the compiled app on the local host in a child process: kill -9 mid-chunk, hostile input, runStatus auth', () => {
  let azurite: RunningAzurite;
  let emulator: RunningEmulator;
  let blobs: BlobServiceClient;
  let runs: BlobObjectStore;
  let results: BlobObjectStore;
  let settings: Record<string, string>;
  const hosts: HostProcess[] = [];
  let runId = '';

  beforeAll(async () => {
    if (!existsSync(join(packageRoot(), 'dist', 'functions', 'importBlob.js'))) {
      throw new Error('dist/ is missing: run `npm run build` first');
    }
    [azurite, emulator] = await Promise.all([startAzurite(), startEmulator({ profile: 'fast' })]);
    ({ blobs } = await createAppStorage(azurite.connectionString));
    runs = new BlobObjectStore(blobs.getContainerClient(names.runs));
    results = new BlobObjectStore(blobs.getContainerClient(names.results));
    for (const job of [leadsJob, contactsJob]) {
      const body = JSON.stringify(job);
      await blobs
        .getContainerClient(names.jobs)
        .getBlockBlobClient(`${job.name}.json`)
        .upload(body, body.length);
    }
    settings = {
      FUNCTIONS_WORKER_RUNTIME: 'node',
      AzureWebJobsStorage: azurite.connectionString,
      Storage: azurite.connectionString,
      NIGHTLY_EXTRACT_SCHEDULE: '0 0 0 1 1 *',
      RECONCILE_SCHEDULE: '0 0 0 1 1 *',
      DATAVERSE_URL: emulator.url,
      // The token of this run is `emulator:<marker>`: it must show up nowhere.
      DATAVERSE_CLIENT_IDS: TOKEN_USER,
      IMPORT_CHUNK_SIZE: '1000',
      // Small bulk requests, two at a time: a chunk takes long enough to be killed in the middle.
      DATAVERSE_BULK_SIZE: '50',
      DATAVERSE_MAX_CONCURRENCY: '2',
      AzureFunctionsJobHost__extensions__queues__maxPollingInterval: '00:00:00.200',
      AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:00',
    };
  });

  afterAll(async () => {
    for (const host of hosts) await host.kill().catch(() => undefined);
    await emulator?.close();
    await azurite?.stop();
  });

  async function upload(path: string, body: string | Buffer): Promise<string> {
    const blob = blobs.getContainerClient(names.incoming).getBlockBlobClient(path);
    const data = typeof body === 'string' ? Buffer.from(body) : body;
    const uploaded = await blob.upload(data, data.length);
    return blobRunId(blob.url, uploaded.etag ?? '', emulator.url);
  }

  async function waitFor<T>(
    what: string,
    probe: () => Promise<T | undefined>,
    timeoutMs = 60_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const value = await probe();
      if (value !== undefined) return value;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  const summaryOf = (id: string) => async () => (await readRunStatus(runs, results, id))?.summary;
  const ours = () =>
    emulator.store.all('contact').filter((c) => String(c.emailaddress1).startsWith('killed'));
  const chunkFiles = async (id: string, folder: 'results' | 'started') => {
    const found: string[] = [];
    for await (const path of runs.list(`${id}/${folder}/`))
      if (/\/\d+(\.json)?$/.test(path)) found.push(path);
    return found;
  };

  it('a worker killed with SIGKILL mid-chunk: a new host finishes the run with no duplicates and one summary', async () => {
    hosts.push(await startHostProcess(settings, KEY));
    // Every other answer held back a little, so chunks are in flight long enough.
    emulator.configure({ faults: 'slow=0.5', slowMs: 150 });
    const rows = Array.from({ length: ROWS }, (_, i) => [
      `killed${i}@example.com`,
      `${CELL_MARKER}${i}`,
      `L${i}`,
    ]);
    runId = await upload('leads/killed.csv', stringify([['Email', 'First Name', 'Last Name'], ...rows]));

    // Kill once some rows are in Dataverse and a started chunk has no result yet.
    await waitFor('rows written mid-chunk', async () => {
      const [started, done] = [await chunkFiles(runId, 'started'), await chunkFiles(runId, 'results')];
      return ours().length >= 200 && started.length > done.length ? true : undefined;
    });
    await hosts[0]!.kill();
    const started = await chunkFiles(runId, 'started');
    const done = await chunkFiles(runId, 'results');
    const writtenAtKill = ours().length;
    console.info(
      `[reliability] host killed: ${writtenAtKill} of ${ROWS} rows written, ${started.length} chunks started, ${done.length} with a result`,
    );
    expect(started.length).toBeGreaterThan(done.length);
    expect(writtenAtKill).toBeLessThan(ROWS);
    expect(await summaryOf(runId)()).toBeUndefined();

    // A new host; the killed invocations' messages reappear once their lease lapses.
    emulator.configure({ faults: 'none' });
    hosts.push(await startHostProcess(settings, KEY));
    const summary = await waitFor('the summary', summaryOf(runId));
    expect(summary.rows).toMatchObject({ total: ROWS, succeeded: ROWS, failed: 0, created: ROWS });
    const stored = ours();
    expect(stored).toHaveLength(ROWS);
    expect(new Set(stored.map((c) => c.emailaddress1)).size).toBe(ROWS);
    let summaries = 0;
    for await (const path of results.list(`leads/killed.csv/`))
      if (path.endsWith('summary.json')) summaries += 1;
    expect(summaries).toBe(1);
    expect(await runs.exists(runPaths.finalized(runId))).toBe(true);
  });

  it('hostile input through the host: each run gets a clear error and the host keeps working', async () => {
    const csvCorpus = (name: string) => readFileSync(new URL(`../fixtures/csv/${name}`, import.meta.url));
    const queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
    // Garbage on the event queue first: it must not stop what follows.
    await queues
      .getQueueClient(names.importEvents)
      .sendMessage(Buffer.from('not an event').toString('base64'));
    await queues.getQueueClient(names.importEvents).sendMessage('%%% not even base64 %%%');
    const cases: [string, string | Buffer, string][] = [
      ['contacts/empty.csv', csvCorpus('empty.csv'), 'EmptyFile'],
      ['contacts/unbalanced.csv', csvCorpus('unbalanced-quotes.csv'), 'UnclosedQuote'],
      ['contacts/mismatch.csv', csvCorpus('header-mismatch.csv'), 'MissingColumns'],
      ['nosuchjob/file.csv', 'a,b\n1,2\n', 'UnknownJob'],
      [`contacts/${'n'.repeat(600)}.csv`, 'Email\n', 'InvalidInputName'],
    ];
    const ids = await Promise.all(cases.map(([path, body]) => upload(path, body)));
    for (const [i, [path, , code]] of cases.entries()) {
      const summary = await waitFor(path, async () => {
        for await (const name of results.list('')) {
          if (name.endsWith(`/${ids[i]}/summary.json`))
            return JSON.parse((await results.get(name))!.toString()) as RunSummary;
        }
        return undefined;
      });
      expect(summary.error?.code, path).toBe(code);
      expect(summary.error?.message.length).toBeGreaterThan(10);
    }
    // Still alive and working: a good file after all that.
    const good = await upload('contacts/after.csv', 'Email,First Name,Last Name\nafter@example.com,A,B\n');
    expect((await waitFor('a good run after the bad ones', summaryOf(good))).rows.succeeded).toBe(1);
    expect(hosts.at(-1)!.child.exitCode).toBeNull();
  });

  it('runStatus needs the function key and without it reveals nothing about any run', async () => {
    const host = hosts.at(-1)!;
    const get = async (id: string, key?: string) => {
      const response = await fetch(
        `${host.url}/api/runs/${id}${key ? `?code=${encodeURIComponent(key)}` : ''}`,
      );
      return { status: response.status, body: await response.text() };
    };
    const known = await get(runId);
    expect(known.status).toBe(401);
    for (const leak of [runId, 'killed', 'leads', 'rows', 'succeeded'])
      expect(known.body).not.toContain(leak);
    // No oracle: an unknown, a malformed and a hostile id answer exactly like a real one.
    for (const id of [
      'r0000000000000000000000000',
      'not-a-run',
      '..%2F..%2Fmanifest.json',
      'x'.repeat(2_000),
    ]) {
      expect(await get(id), id).toEqual(known);
    }
    expect((await get(runId, 'wrong-key')).status).toBe(401);
    const withHeader = await fetch(`${host.url}/api/runs/${runId}`, { headers: { 'x-functions-key': KEY } });
    expect(withHeader.status).toBe(200);
    expect((await get(runId, KEY)).body).toContain(runId);
    expect((await get('r0000000000000000000000000', KEY)).status).toBe(404);
  });

  it('no token, storage key, function key or cell value in anything the hosts printed', async () => {
    const lines = hosts.flatMap((host) => host.output);
    expect(lines.length).toBeGreaterThan(20);
    const accountKey = /AccountKey=([^;]+)/.exec(azurite.connectionString)![1]!;
    for (const line of lines) {
      expect(line).not.toContain(`emulator:${TOKEN_USER}`);
      expect(line).not.toMatch(/Bearer\s+\S/i);
      expect(line).not.toContain(accountKey);
      expect(line).not.toContain(KEY);
      expect(line).not.toContain(CELL_MARKER);
    }
    expect(emulator.stats().users.map((u) => u.user)).toContain(TOKEN_USER);
    // Nor in anything the runs stored: run state and result files.
    for (const store of [runs, results]) {
      for await (const path of store.list('')) {
        const text = (await store.get(path))?.toString('utf8') ?? '';
        expect(text, path).not.toContain(`emulator:${TOKEN_USER}`);
        expect(text, path).not.toContain(accountKey);
        expect(text, path).not.toMatch(/Bearer\s+\S/i);
      }
    }
  });
});
