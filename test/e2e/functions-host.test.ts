import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import type { RunningEmulator } from '../../emulator/index.js';
import { type RunningAzurite } from '../../dev/azurite.js';
import type { RunningLocalHost } from '../../dev/host.js';
import { startLocalApp, type LocalApp } from '../helpers/local-app.js';
import { names } from '../../src/app/runtime.js';
import { planRun } from '../../src/imports/plan.js';
import type { BlobObjectStore } from '../../src/storage/blob-store.js';
import { encodeQueueMessage } from '../../src/storage/queue.js';

// The compiled app, loaded by the local host exactly as Azure's Node worker loads package.json "main".

describe('the Functions app on the local host (Azurite + emulator)', () => {
  let app: LocalApp;
  let azurite: RunningAzurite;
  let emulator: RunningEmulator;
  let host: RunningLocalHost;
  let blobs: BlobServiceClient;
  let runs: BlobObjectStore;
  let results: BlobObjectStore;

  beforeAll(async () => {
    app = await startLocalApp({ IMPORT_CHUNK_SIZE: '400' });
    ({ azurite, emulator, host, blobs, runs, results } = app);
  });

  afterAll(async () => {
    await app?.stop();
  });

  const waitForSummary = (runId: string, timeoutMs?: number) => app.waitForSummary(runId, timeoutMs);
  const drop = (container: ContainerClient, name: string, body: string) => app.drop(container, name, body);

  it('a dropped file ends with a summary with the right counts, and runStatus reports it behind the function key', async () => {
    const incoming = blobs.getContainerClient(names.incoming);
    // Contacts look their company up by account number: the accounts must be in first.
    const accountsRun = await drop(
      incoming,
      'accounts/seed.csv',
      'Account Number,Account Name\nACC-1,One\nACC-2,Two\n',
    );
    expect((await waitForSummary(accountsRun)).rows.succeeded).toBe(2);
    const lines = ['Email,First Name,Last Name,Company,Contact Method,Birthday'];
    for (let i = 0; i < 1_000; i += 1)
      lines.push(`e2e${i}@example.com,F${i},L${i},ACC-${1 + (i % 2)},Email,1990-01-0${1 + (i % 9)}`);
    lines.push('bad@example.com,Bad,Row,ACC-404,Email,1990-01-01');
    const runId = await drop(incoming, 'contacts/e2e.csv', `${lines.join('\n')}\n`);

    const summary = await waitForSummary(runId);
    expect(summary.rows).toMatchObject({ total: 1_001, succeeded: 1_000, failed: 1 });
    expect(summary.chunks).toBe(3);
    expect(
      emulator.store.all('contact').filter((c) => String(c.emailaddress1).startsWith('e2e')),
    ).toHaveLength(1_000);

    const url = `${host.httpUrl}/api/runs/${runId}`;
    expect((await fetch(url)).status).toBe(401);
    const response = await fetch(`${url}?code=${host.functionKey}`);
    expect(response.status).toBe(200);
    const status = (await response.json()) as { state: string; rows: { failed: number } };
    expect(status).toMatchObject({ state: 'completedWithErrors', rows: { failed: 1 } });
    const tags = await incoming.getBlobClient('contacts/e2e.csv').getTags();
    expect(tags.tags).toMatchObject({ dvpipe_run: runId, dvpipe_status: 'completedWithErrors' });
  });

  it('a poisoned chunk ends with the run finalized and every row of that chunk failed', async () => {
    // A run planned for a table Dataverse does not have: every attempt at its chunks fails.
    const runId = 'r' + 'e'.repeat(24);
    const header = ['Name'];
    const { messages } = await planRun({
      runId,
      input: { job: 'ghost', name: 'ghost.csv', url: 'https://example/incoming/ghost/ghost.csv', etag: 'x' },
      jobName: 'ghost',
      job: { name: 'ghost', table: 'dvp_missing', operation: 'create', columns: { Name: 'dvp_name' } },
      header,
      records: (async function* () {
        for (let i = 0; i < 5; i += 1) yield { row: i + 2, cells: [`n${i}`] };
      })(),
      chunkSize: 10,
      duplicateKeys: 'lastWins',
      store: runs,
      dryRun: false,
      resultsPrefix: `ghost/ghost.csv/${runId}/`,
    });
    const queue = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient(
      names.importChunks,
    );
    for (const message of messages) await queue.sendMessage(encodeQueueMessage(message));

    const summary = await waitForSummary(runId);
    expect(summary.rows).toMatchObject({ total: 5, succeeded: 0, failed: 5 });
    const errors = (await results.get(summary.errorsFile))!.toString('utf8');
    expect(errors.match(/ChunkFailed/g)).toHaveLength(5);
    expect(errors).toContain('dvp_missing');
  });

  it('the nightly timer runs the extract jobs into the extracts container', async () => {
    await host.fireTimer('nightlyExtract');
    const extracts = blobs.getContainerClient(names.extracts);
    const files: string[] = [];
    for await (const blob of extracts.listBlobsFlat({ prefix: 'accounts-nightly/' })) files.push(blob.name);
    const csv = files.find((name) => name.endsWith('.csv'));
    expect(csv, files.join(', ')).toBeDefined();
    expect(files.some((name) => name.endsWith('.manifest.json'))).toBe(true);
    const body = (await extracts.getBlobClient(csv!).downloadToBuffer()).toString('utf8');
    expect(body).toContain('ACC-1');
    expect(body.trim().split(/\r?\n/)).toHaveLength(1 + emulator.store.count('account'));
    // The nightly run's report lands beside its file, with the rows it wrote.
    const report = csv!.replace(/\.csv$/, '.report.html');
    expect(files).toContain(report);
    const html = (await extracts.getBlobClient(report).downloadToBuffer()).toString('utf8');
    expect(html).toContain('(timer)');
    expect(html).toContain(
      `<tr><td>Rows</td><td>${emulator.store.count('account').toLocaleString('en-US')}</td></tr>`,
    );
  });
});
