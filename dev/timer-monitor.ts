import type { ContainerClient } from '@azure/storage-blob';
import type { ScheduleMonitor, ScheduleStatus } from './timer-trigger.js';

/** The host's own container in AzureWebJobsStorage. */
export const HOST_CONTAINER = 'azure-webjobs-hosts';

/**
 * Keeps a timer's schedule status where the Functions host keeps it:
 * `azure-webjobs-hosts/timers/<hostId>/Host.Functions.<name>/status`, as `{ Last, Next, LastUpdated }`.
 */
export class BlobScheduleMonitor implements ScheduleMonitor {
  readonly #container: ContainerClient;
  readonly #path: string;

  constructor(container: ContainerClient, hostId: string, functionName: string) {
    this.#container = container;
    this.#path = `timers/${hostId}/Host.Functions.${functionName}/status`;
  }

  async load(): Promise<ScheduleStatus | undefined> {
    const blob = this.#container.getBlobClient(this.#path);
    if (!(await blob.exists())) return undefined;
    const stored = JSON.parse((await blob.downloadToBuffer()).toString('utf8')) as Record<string, unknown>;
    return {
      last: toDate(stored.Last),
      next: toDate(stored.Next),
      lastUpdated: toDate(stored.LastUpdated) ?? new Date(0),
    };
  }

  async save(status: ScheduleStatus): Promise<void> {
    await this.#container.createIfNotExists();
    const body = JSON.stringify({
      Last: status.last?.toISOString() ?? null,
      Next: status.next?.toISOString() ?? null,
      LastUpdated: status.lastUpdated.toISOString(),
    });
    await this.#container.getBlockBlobClient(this.#path).upload(body, Buffer.byteLength(body), {
      blobHTTPHeaders: { blobContentType: 'application/json' },
    });
  }
}

function toDate(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
