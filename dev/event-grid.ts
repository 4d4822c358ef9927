import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerClient } from '@azure/storage-blob';
import type { QueueClient } from '@azure/storage-queue';
import type { HostLogger } from './log.js';

/** A committed blob as listed, enough to describe its BlobCreated event. */
export interface BlobSnapshot {
  readonly name: string;
  readonly etag: string;
  readonly url: string;
  readonly contentType: string | undefined;
  readonly contentLength: number | undefined;
  readonly blobType: string | undefined;
}

/** Event Grid's own event schema (not CloudEvents), as delivered to a storage queue. */
export interface EventGridEvent {
  topic: string;
  subject: string;
  eventType: 'Microsoft.Storage.BlobCreated';
  id: string;
  data: {
    api: string;
    clientRequestId: string;
    requestId: string;
    eTag: string;
    contentType: string;
    contentLength: number;
    blobType: string;
    url: string;
    sequencer: string;
    storageDiagnostics: { batchId: string };
  };
  dataVersion: string;
  metadataVersion: '1';
  eventTime: string;
}

export interface BlobCreatedInput {
  readonly accountName: string;
  readonly container: string;
  readonly blob: BlobSnapshot;
  /** PutBlob for a single-shot upload, PutBlockList for a block upload. */
  readonly api: string;
  readonly sequencer: string;
  readonly eventTime: Date;
}

/** Builds the `Microsoft.Storage.BlobCreated` event Event Grid would publish for this blob. */
export function buildBlobCreatedEvent(input: BlobCreatedInput): EventGridEvent {
  const { blob } = input;
  return {
    topic:
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/' +
      `Microsoft.Storage/storageAccounts/${input.accountName}`,
    subject: `/blobServices/default/containers/${input.container}/blobs/${blob.name}`,
    eventType: 'Microsoft.Storage.BlobCreated',
    id: randomUUID(),
    data: {
      api: input.api,
      clientRequestId: randomUUID(),
      requestId: randomUUID(),
      eTag: blob.etag,
      contentType: blob.contentType ?? 'application/octet-stream',
      contentLength: blob.contentLength ?? 0,
      blobType: blob.blobType ?? 'BlockBlob',
      url: blob.url,
      sequencer: input.sequencer,
      storageDiagnostics: { batchId: randomUUID() },
    },
    dataVersion: '',
    metadataVersion: '1',
    eventTime: input.eventTime.toISOString(),
  };
}

/** Event Grid's storage-queue delivery writes one event per message, as base64 of its JSON. */
export function encodeEventForQueue(event: EventGridEvent): string {
  return Buffer.from(JSON.stringify(event)).toString('base64');
}

export interface BlobCreatedWatcherOptions {
  readonly container: ContainerClient;
  readonly queue: QueueClient;
  readonly pollIntervalMs: number;
  /** Emit events for the blobs already there at start; otherwise only for later writes. */
  readonly includeExisting: boolean;
  readonly logger: HostLogger;
}

/**
 * Emulates an Event Grid subscription (BlobCreated -> storage queue), which Azurite lacks: lists
 * the container, and writes one event per new blob or new ETag of an existing name.
 */
export class BlobCreatedWatcher {
  readonly #options: BlobCreatedWatcherOptions;
  readonly #seen = new Map<string, string>();
  readonly #stopping = new AbortController();
  #scanning: Promise<number> = Promise.resolve(0);
  #loop: Promise<void> | undefined;
  #sequence = 0;

  constructor(options: BlobCreatedWatcherOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    await this.#options.container.createIfNotExists();
    await this.#options.queue.createIfNotExists();
    if (!this.#options.includeExisting) {
      for await (const blob of this.#options.container.listBlobsFlat()) {
        this.#seen.set(blob.name, bareEtag(blob.properties.etag ?? ''));
      }
    }
    this.#loop = this.#poll();
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#loop;
  }

  /** Lists the container once and emits what is new; scans never overlap. Returns events written. */
  scanOnce(): Promise<number> {
    this.#scanning = this.#scanning.catch(() => 0).then(() => this.#scan());
    return this.#scanning;
  }

  async #poll(): Promise<void> {
    while (!this.#stopping.signal.aborted) {
      try {
        await this.scanOnce();
      } catch (error) {
        if (this.#stopping.signal.aborted) break;
        this.#options.logger.host(
          'warning',
          `Listing container "${this.#options.container.containerName}" failed: ${String(error)}`,
        );
      }
      try {
        await sleep(this.#options.pollIntervalMs, undefined, { signal: this.#stopping.signal });
      } catch {
        // Aborted by stop().
      }
    }
  }

  async #scan(): Promise<number> {
    const { container, queue, logger } = this.#options;
    let written = 0;
    for await (const item of container.listBlobsFlat({ abortSignal: this.#stopping.signal })) {
      const etag = bareEtag(item.properties.etag ?? '');
      if (this.#seen.get(item.name) === etag) continue;
      const blob: BlobSnapshot = {
        name: item.name,
        etag,
        url: container.getBlobClient(item.name).url,
        contentType: item.properties.contentType,
        contentLength: item.properties.contentLength,
        blobType: item.properties.blobType,
      };
      const event = buildBlobCreatedEvent({
        accountName: container.accountName,
        container: container.containerName,
        blob,
        api: await this.#api(blob),
        sequencer: this.#nextSequencer(),
        eventTime: item.properties.lastModified,
      });
      await queue.sendMessage(encodeEventForQueue(event));
      this.#seen.set(item.name, etag);
      written += 1;
      logger.host('information', `BlobCreated ${event.subject} -> queue ${queue.name}`);
    }
    return written;
  }

  /** Event Grid reports how the blob was committed; a committed block list means PutBlockList. */
  async #api(blob: BlobSnapshot): Promise<string> {
    if (blob.blobType !== undefined && blob.blobType !== 'BlockBlob') return 'PutBlob';
    try {
      const list = await this.#options.container.getBlockBlobClient(blob.name).getBlockList('committed');
      return (list.committedBlocks?.length ?? 0) > 0 ? 'PutBlockList' : 'PutBlob';
    } catch {
      return 'PutBlob';
    }
  }

  /** Increasing 32-hex-digit values, like Event Grid's per-blob ordering sequencer. */
  #nextSequencer(): string {
    this.#sequence += 1;
    return (BigInt(Date.now()) * 1_000_000n + BigInt(this.#sequence)).toString(16).padStart(32, '0');
  }
}

/** Event Grid writes the ETag without the quotes the ETag header and the SDK carry. */
export function bareEtag(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1');
}
