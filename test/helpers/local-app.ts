// The compiled Functions app on the local host, with Azurite and the emulator, as the end-to-end tests run
// it: the containers and queues Bicep creates, Event Grid's events from incoming/, and queue settings
// that fail fast (two attempts, no wait between them).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { startEmulator, type RunningEmulator } from '../../emulator/index.js';
import { createAppStorage, startAzurite, type RunningAzurite } from '../../dev/azurite.js';
import { startLocalHost, type RunningLocalHost } from '../../dev/host.js';
import { packageRoot } from '../../src/app/package-root.js';
import { names } from '../../src/app/runtime.js';
import { readRunStatus } from '../../src/imports/status.js';
import type { RunSummary } from '../../src/imports/types.js';
import { BlobObjectStore } from '../../src/storage/blob-store.js';
import { blobRunId } from './run-ids.js';

export interface LocalApp {
  readonly azurite: RunningAzurite;
  readonly emulator: RunningEmulator;
  readonly host: RunningLocalHost;
  readonly blobs: BlobServiceClient;
  readonly runs: BlobObjectStore;
  readonly results: BlobObjectStore;
  /** Stores a job file in the `jobs` container. */
  putJob(job: Record<string, unknown>): Promise<void>;
  /** Uploads a file; returns the run id its event will start. */
  drop(container: ContainerClient, name: string, body: string): Promise<string>;
  waitForSummary(runId: string, timeoutMs?: number): Promise<RunSummary>;
  stop(): Promise<void>;
}

/** App settings beyond the connections: timers that stay quiet unless a test sets them. */
export async function startLocalApp(settings: Readonly<Record<string, string>> = {}): Promise<LocalApp> {
  const root = packageRoot();
  if (!existsSync(join(root, 'dist', 'functions', 'importBlob.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first (npm ci runs it through "prepare")');
  }
  const [azurite, emulator] = await Promise.all([startAzurite(), startEmulator({ profile: 'fast' })]);
  const { blobs } = await createAppStorage(azurite.connectionString);
  const runs = new BlobObjectStore(blobs.getContainerClient(names.runs));
  const results = new BlobObjectStore(blobs.getContainerClient(names.results));
  const host = await startLocalHost({
    appRoot: root,
    httpPort: 0,
    settings: {
      FUNCTIONS_WORKER_RUNTIME: 'node',
      AzureWebJobsStorage: azurite.connectionString,
      Storage: azurite.connectionString,
      DATAVERSE_URL: emulator.url,
      NIGHTLY_EXTRACT_SCHEDULE: '0 0 2 1 1 *',
      RECONCILE_SCHEDULE: '0 0 0 1 1 *',
      ...settings,
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
  return {
    azurite,
    emulator,
    host,
    blobs,
    runs,
    results,
    async putJob(job) {
      const body = JSON.stringify(job);
      await blobs
        .getContainerClient(names.jobs)
        .getBlockBlobClient(`${String(job.name)}.json`)
        .upload(body, Buffer.byteLength(body));
    },
    async drop(container, name, body) {
      const blob = container.getBlockBlobClient(name);
      const uploaded = await blob.upload(body, Buffer.byteLength(body));
      return blobRunId(blob.url, uploaded.etag ?? '', emulator.url);
    },
    async waitForSummary(runId, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const status = await readRunStatus(runs, results, runId);
        if (status?.summary) return status.summary;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      throw new Error(`run ${runId} did not finish within ${timeoutMs} ms`);
    },
    async stop() {
      await host.stop();
      await emulator.close();
      await azurite.stop();
    },
  };
}
