import type { QueueClient } from '@azure/storage-queue';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../emulator/index.js';
import { startAzurite, type RunningAzurite } from '../../dev/azurite.js';
import { loadSettings } from '../../src/config/settings.js';
import { createRuntime, names, type Runtime } from '../../src/app/runtime.js';
import { onChunkMessage, onImportEvent } from '../../src/app/import-handlers.js';
import { silentLogger } from '../../src/logging.js';
import { readRunStatus } from '../../src/imports/status.js';
import type { RunSummary } from '../../src/imports/types.js';

/** Azurite + the Dataverse emulator + the product's runtime wired to both: the real parts, in-process. */
export interface Stack {
  readonly azurite: RunningAzurite;
  readonly emulator: RunningEmulator;
  readonly runtime: Runtime;
  readonly env: NodeJS.ProcessEnv;
  /** Uploads a job definition into the `jobs` container. */
  putJob(job: Record<string, unknown>): Promise<void>;
  /** Uploads a CSV to incoming/<job>/<name> and returns the Event Grid event Azure would send. */
  dropFile(job: string, name: string, body: string | Buffer): Promise<BlobCreatedEvent>;
  /** Runs importBlob for the event, then writeChunk for every queued chunk until the queue is empty. */
  importEvent(event: BlobCreatedEvent): Promise<RunSummary | undefined>;
  /** Processes queued chunk messages (at most `limit`), deleting each one that succeeds. */
  drainChunks(limit?: number, runtime?: Runtime): Promise<RunSummary | undefined>;
  chunkQueue(): QueueClient;
  stop(): Promise<void>;
}

export interface BlobCreatedEvent {
  readonly id: string;
  readonly eventType: 'Microsoft.Storage.BlobCreated';
  readonly subject: string;
  readonly eventTime: string;
  readonly dataVersion: string;
  readonly metadataVersion: string;
  readonly topic: string;
  readonly data: { api: string; url: string; eTag: string; contentLength: number; blobType: string };
}

export async function startStack(
  emulatorOptions: EmulatorOptions = {},
  settings: Record<string, string> = {},
): Promise<Stack> {
  const [azurite, emulator] = await Promise.all([startAzurite(), startEmulator(emulatorOptions)]);
  const env: NodeJS.ProcessEnv = {
    Storage: azurite.connectionString,
    DATAVERSE_URL: emulator.url,
    IMPORT_CHUNK_SIZE: '1000',
    ...settings,
  };
  const runtime = createRuntime(loadSettings(env), env);
  for (const container of Object.values(runtime.containers)) await container.createIfNotExists();
  for (const queue of [names.importEvents, names.importChunks]) {
    await runtime.storage.queues.getQueueClient(queue).createIfNotExists();
  }
  let events = 0;
  const chunkQueue = () => runtime.storage.queues.getQueueClient(names.importChunks);

  const drainChunks = async (limit = Infinity, rt: Runtime = runtime): Promise<RunSummary | undefined> => {
    let summary: RunSummary | undefined;
    let processed = 0;
    while (processed < limit) {
      const batch = await chunkQueue().receiveMessages({ numberOfMessages: Math.min(32, limit - processed) });
      if (batch.receivedMessageItems.length === 0) break;
      for (const item of batch.receivedMessageItems) {
        // The host hands handlers the base64-decoded body; do the same.
        const body = Buffer.from(item.messageText, 'base64').toString('utf8');
        summary = (await onChunkMessage(rt, body, silentLogger)) ?? summary;
        await chunkQueue().deleteMessage(item.messageId, item.popReceipt);
        processed += 1;
      }
    }
    return summary;
  };

  return {
    azurite,
    emulator,
    runtime,
    env,
    async putJob(job) {
      const body = JSON.stringify(job);
      await runtime.containers.jobs
        .getBlockBlobClient(`${String(job.name)}.json`)
        .upload(body, Buffer.byteLength(body));
    },
    async dropFile(job, name, body) {
      const blob = runtime.containers.incoming.getBlockBlobClient(`${job}/${name}`);
      const data = typeof body === 'string' ? Buffer.from(body) : body;
      const uploaded = await blob.upload(data, data.length);
      events += 1;
      return {
        id: `event-${events}`,
        eventType: 'Microsoft.Storage.BlobCreated',
        subject: `/blobServices/default/containers/incoming/blobs/${job}/${name}`,
        eventTime: new Date().toISOString(),
        dataVersion: '',
        metadataVersion: '1',
        topic:
          '/subscriptions/test/resourceGroups/test/providers/Microsoft.Storage/storageAccounts/devstoreaccount1',
        data: {
          api: 'PutBlob',
          url: blob.url,
          eTag: uploaded.etag ?? '',
          contentLength: data.length,
          blobType: 'BlockBlob',
        },
      };
    },
    async importEvent(event) {
      await onImportEvent(runtime, JSON.stringify(event), silentLogger);
      return drainChunks();
    },
    drainChunks,
    chunkQueue,
    async stop() {
      await runtime.client.close().catch(() => undefined);
      await Promise.all([azurite.stop(), emulator.close()]);
    },
  };
}

export async function statusOf(stack: Stack, runId: string) {
  return readRunStatus(stack.runtime.runs, stack.runtime.results, runId);
}
