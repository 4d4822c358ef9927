import { join } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { JobCatalog } from '../config/job-catalog.js';
import { loadSettings, type Settings } from '../config/settings.js';
import type { DataverseClient } from '../dataverse/index.js';
import { blobFileSource } from '../imports/file-columns.js';
import { checkJobFitsTable, prepareRun } from '../imports/prepare.js';
import { RequestMeter } from '../imports/request-meter.js';
import { createRunTelemetry } from '../telemetry/run-telemetry.js';
import { startTelemetry } from './telemetry.js';
import type { InputMark } from '../imports/finalize.js';
import { inputTags } from '../imports/reconcile.js';
import type { ChunkMessage, InputRef } from '../imports/types.js';
import type { ImportDeps } from '../imports/service.js';
import type { Logger } from '../logging.js';
import { BlobObjectStore } from '../storage/blob-store.js';
import { storageClientsFromSettings, type StorageClients } from '../storage/connection.js';
import { FileObjectStore } from '../storage/file-store.js';
import type { ObjectStore } from '../storage/object-store.js';
import { StorageQueueSender, type MessageSender } from '../storage/queue.js';
import { createClient, splitList } from './dataverse.js';
import { fleetShareFor } from '../fleet/runtime-share.js';
import { systemClock } from '../dataverse/clock.js';
import { packageRoot } from './package-root.js';
import { names } from './names.js';

// Kept here too: the functions import the names with the runtime.
export { names };

/** Everything the function handlers share in one process: one Dataverse client, one governor. */
export interface Runtime {
  readonly settings: Settings;
  readonly storage: StorageClients;
  readonly containers: Readonly<
    Record<'incoming' | 'runs' | 'results' | 'extracts' | 'jobs', ContainerClient>
  >;
  readonly runs: ObjectStore;
  readonly results: ObjectStore;
  readonly jobs: JobCatalog;
  readonly client: DataverseClient;
  readonly chunkQueue: MessageSender<ChunkMessage>;
  /** Where Event Grid puts BlobCreated events; the reconciliation sweep sends the ones it missed. */
  readonly eventQueue: MessageSender<unknown>;
  importDeps(log: Logger): ImportDeps;
  /** Closes the Dataverse client if one was made (its connections, and the fleet board's refresh loop). */
  close?(): Promise<void>;
}

/**
 * Index tags, not metadata: tags leave the ETag alone, so marking never looks like a new upload. The
 * reconciliation sweep reads them (`dvpipe_at` says since when the input has been in that state).
 */
export async function markInput(incoming: ContainerClient, input: InputRef, mark: InputMark): Promise<void> {
  await markBlob(incoming, `${input.job}/${input.name}`, input.etag, mark);
}

export async function markBlob(
  incoming: ContainerClient,
  blobName: string,
  etag: string,
  mark: InputMark,
): Promise<void> {
  await incoming.getBlobClient(blobName).setTags({
    [inputTags.run]: mark.runId,
    [inputTags.status]: mark.status,
    [inputTags.at]: new Date().toISOString(),
    [inputTags.etag]: etag.replace(/^"(.*)"$/, '$1'),
  });
}

let cached: Runtime | undefined;

/** Built on first use so a cold start pays only for what the first invocation needs. */
export function getRuntime(env: NodeJS.ProcessEnv = process.env): Runtime {
  // Application Insights, when the app has a connection string (before the first metric or log record).
  startTelemetry(env);
  cached ??= createRuntime(loadSettings(env), env);
  return cached;
}

/**
 * Ends the process's runtime. The Functions host simply ends the process; a host that runs the app
 * in-process and stops without exiting (the local host of `npm start`) calls this, or the fleet
 * board's refresh loop keeps the process alive, retrying writes to the storage it stopped.
 */
export async function closeRuntime(): Promise<void> {
  const runtime = cached;
  cached = undefined;
  await runtime?.close?.();
}

export function createRuntime(settings: Settings, env: NodeJS.ProcessEnv = process.env): Runtime {
  const storage = storageClientsFromSettings(settings.STORAGE_CONNECTION, env);
  const container = (name: string) => storage.blobs.getContainerClient(name);
  const containers = {
    incoming: container(names.incoming),
    runs: container(names.runs),
    results: container(names.results),
    extracts: container(names.extracts),
    jobs: container(names.jobs),
  };
  const meter = new RequestMeter();
  const telemetry = createRunTelemetry();
  let client: DataverseClient | undefined;
  const runs = new BlobObjectStore(containers.runs);
  const results = new BlobObjectStore(containers.results);
  // Jobs in the `jobs` container win over the examples shipped in the package's jobs/ folder.
  const bundledJobs = new FileObjectStore(join(packageRoot(), 'jobs'));
  const runtime: Runtime = {
    settings,
    storage,
    containers,
    runs,
    results,
    jobs: new JobCatalog([new BlobObjectStore(containers.jobs), bundledJobs]),
    get client() {
      if (!client) {
        const identities = splitList(settings.DATAVERSE_CLIENT_IDS);
        const budgetShare = settings.DATAVERSE_FLEET_SHARING
          ? fleetShareFor({
              container: containers.runs,
              url: settings.DATAVERSE_URL,
              identities,
              refreshMs: settings.DATAVERSE_FLEET_REFRESH_MS,
              steady: settings.DATAVERSE_FLEET_PACING === 'steady',
              clock: systemClock,
            })
          : undefined;
        client = createClient({
          url: settings.DATAVERSE_URL,
          identities,
          maxConcurrency: settings.DATAVERSE_MAX_CONCURRENCY,
          bulkSize: settings.DATAVERSE_BULK_SIZE,
          ...(budgetShare ? { budgetShare } : {}),
          onEvent: (event) => {
            meter.onEvent(event);
            telemetry.onClientEvent(event);
          },
        });
        const created = client;
        telemetry.observeClient(() => created.metrics());
      }
      return client;
    },
    chunkQueue: new StorageQueueSender<ChunkMessage>(storage.queues.getQueueClient(names.importChunks)),
    eventQueue: new StorageQueueSender<unknown>(storage.queues.getQueueClient(names.importEvents)),
    close: async () => {
      await client?.close();
    },
    importDeps: (log) => ({
      runs,
      results,
      defaultChunkSize: settings.IMPORT_CHUNK_SIZE,
      log,
      logCellValues: settings.LOG_CELL_VALUES,
      telemetry,
      measure: (work) => meter.measure(work),
      // File columns name blobs relative to the job's folder in the input container.
      prepare: (manifest) =>
        prepareRun(runtime.client, manifest, blobFileSource(containers.incoming, `${manifest.jobName}/`)),
      preflight: (job) => checkJobFitsTable(runtime.client, job),
      markInput: (input, mark) => markInput(containers.incoming, input, mark),
      forecast: {
        identities: Math.max(1, splitList(settings.DATAVERSE_CLIENT_IDS).length),
        bulkSize: settings.DATAVERSE_BULK_SIZE,
        concurrency: settings.DATAVERSE_MAX_CONCURRENCY,
      },
    }),
  };
  return runtime;
}
