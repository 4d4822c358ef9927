// Issue 20 through the Functions app on the local host (Azurite + emulator): a job that bypasses
// business logic fails up front without the privilege and writes with the headers once it is granted;
// owners are resolved from user emails / domain names and team names.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { startEmulator, type RunningEmulator } from '../../emulator/index.js';
import { startAzurite, type RunningAzurite } from '../../dev/azurite.js';
import { startLocalHost, type RunningLocalHost } from '../../dev/host.js';
import { packageRoot } from '../../src/app/package-root.js';
import { names } from '../../src/app/runtime.js';
import { readRunStatus } from '../../src/imports/status.js';
import { blobRunId } from '../helpers/run-ids.js';
import type { RunSummary } from '../../src/imports/types.js';
import { BlobObjectStore } from '../../src/storage/blob-store.js';
import { getJson } from '../../src/storage/object-store.js';
import { stableGuid } from '../../emulator/model.js';

const root = packageRoot();

describe('integration options on the local Functions host', () => {
  let azurite: RunningAzurite;
  let emulator: RunningEmulator;
  let host: RunningLocalHost;
  let blobs: BlobServiceClient;
  let runs: BlobObjectStore;
  let results: BlobObjectStore;

  beforeAll(async () => {
    if (!existsSync(join(root, 'dist', 'functions', 'importBlob.js'))) {
      throw new Error('dist/ is missing: run `npm run build` first (npm ci runs it through "prepare")');
    }
    [azurite, emulator] = await Promise.all([startAzurite(), startEmulator({ profile: 'fast' })]);
    blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
    for (const name of [names.incoming, names.runs, names.results, names.extracts, names.jobs]) {
      await blobs.getContainerClient(name).createIfNotExists();
    }
    for (const name of [names.importEvents, names.importChunks])
      await queues.getQueueClient(name).createIfNotExists();
    runs = new BlobObjectStore(blobs.getContainerClient(names.runs));
    results = new BlobObjectStore(blobs.getContainerClient(names.results));
    const jobs = blobs.getContainerClient(names.jobs);
    const putJob = async (job: Record<string, unknown>) => {
      const body = JSON.stringify(job);
      await jobs.getBlockBlobClient(`${String(job.name)}.json`).upload(body, Buffer.byteLength(body));
    };
    await putJob({
      name: 'quiet-accounts',
      table: 'account',
      operation: 'create',
      columns: { Name: 'name', Number: 'accountnumber' },
      bypass: { customSync: true, powerAutomateFlows: true },
    });
    await putJob({
      name: 'owned-accounts',
      table: 'account',
      operation: 'create',
      columns: { Name: 'name', Owner: 'ownerid' },
    });
    host = await startLocalHost({
      appRoot: root,
      httpPort: 0,
      settings: {
        FUNCTIONS_WORKER_RUNTIME: 'node',
        AzureWebJobsStorage: azurite.connectionString,
        Storage: azurite.connectionString,
        DATAVERSE_URL: emulator.url,
        NIGHTLY_EXTRACT_SCHEDULE: '0 0 2 * * *',
        RECONCILE_SCHEDULE: '0 0 0 1 1 *',
      },
      eventGrid: {
        container: names.incoming,
        queue: names.importEvents,
        includeExisting: false,
        pollIntervalMs: 200,
      },
      hostJson: {
        version: '2.0',
        extensions: {
          queues: {
            maxPollingInterval: '00:00:00.200',
            visibilityTimeout: '00:00:00',
            maxDequeueCount: 2,
            batchSize: 4,
            newBatchThreshold: 2,
          },
        },
      },
      log: () => {},
    });
  });

  afterAll(async () => {
    await host?.stop();
    await emulator?.close();
    await azurite?.stop();
  });

  async function waitForSummary(runId: string, timeoutMs = 60_000): Promise<RunSummary> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const status = await readRunStatus(runs, results, runId);
      if (status?.summary) return status.summary;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`run ${runId} did not finish within ${timeoutMs} ms`);
  }

  /** A run refused before planning has no manifest: its summary is in results/<job>/<input>/<runId>/. */
  async function waitForRejection(prefix: string, runId: string, timeoutMs = 60_000): Promise<RunSummary> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const summary = await getJson<RunSummary>(results, `${prefix}/${runId}/summary.json`);
      if (summary) return summary;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`run ${runId} was not refused within ${timeoutMs} ms`);
  }

  async function drop(container: ContainerClient, name: string, body: string): Promise<string> {
    const blob = container.getBlockBlobClient(name);
    const uploaded = await blob.upload(body, Buffer.byteLength(body));
    return blobRunId(blob.url, uploaded.etag ?? '', emulator.url);
  }

  it('bypass: a missing privilege fails the run before any row is written; granted, every write carries the headers', async () => {
    const incoming = blobs.getContainerClient(names.incoming);
    const refusedRun = await drop(
      incoming,
      'quiet-accounts/first.csv',
      'Name,Number\nContoso,Q-1\nFabrikam,Q-2\n',
    );
    const refused = await waitForRejection('quiet-accounts/first.csv', refusedRun);
    expect(refused.status).toBe('failed');
    expect(refused.error?.code).toBe('MissingPrivilege');
    expect(refused.error?.message).toContain('prvBypassCustomBusinessLogic');
    // The host's identity is the emulator user "dvpipe" (no DATAVERSE_CLIENT_IDS set).
    expect(refused.error?.message).toContain(stableGuid('systemuser:dvpipe'));
    expect(emulator.store.count('account')).toBe(0);

    await fetch(`${emulator.url}/_emulator/configure`, {
      method: 'POST',
      body: JSON.stringify({ privileges: { dvpipe: { prvBypassCustomBusinessLogic: true } } }),
    });
    const mark = emulator.recentLog().length;
    const grantedRun = await drop(
      incoming,
      'quiet-accounts/second.csv',
      'Name,Number\nContoso,Q-1\nFabrikam,Q-2\n',
    );
    const granted = await waitForSummary(grantedRun);
    expect(granted.rows).toMatchObject({ total: 2, succeeded: 2, failed: 0 });
    expect(
      emulator.store
        .all('account')
        .map((a) => a.name)
        .sort(),
    ).toEqual(['Contoso', 'Fabrikam']);
    const writes = emulator
      .recentLog()
      .slice(mark)
      .filter((e) => e.method !== 'GET');
    expect(writes.length).toBeGreaterThan(0);
    for (const write of writes) {
      expect(write.options).toEqual([
        'BypassBusinessLogicExecution=CustomSync',
        'SuppressCallbackRegistrationExpanderJob',
      ]);
    }
  });

  it('owners: ownerid from a user email or domain name, or a team name', async () => {
    const ada = emulator.store.put('systemuser', {
      firstname: 'Ada',
      lastname: 'Lovelace',
      domainname: 'ada@contoso.com',
      internalemailaddress: 'ada.lovelace@contoso.com',
    });
    const support = emulator.store.put('team', { name: 'Support', teamtype: 0 });
    const incoming = blobs.getContainerClient(names.incoming);
    const runId = await drop(
      incoming,
      'owned-accounts/owners.csv',
      'Name,Owner\nOwned One,ada@contoso.com\nOwned Two,ADA.LOVELACE@contoso.com\nOwned Three,Support\nOwned Four,nobody@contoso.com\n',
    );
    const summary = await waitForSummary(runId);
    expect(summary.rows).toMatchObject({ total: 4, succeeded: 3, failed: 1 });
    const owners = Object.fromEntries(
      emulator.store
        .all('account')
        .filter((a) => String(a.name).startsWith('Owned'))
        .map((a) => [a.name, a._ownerid_value]),
    );
    expect(owners).toEqual({ 'Owned One': ada, 'Owned Two': ada, 'Owned Three': support });
  });
});
