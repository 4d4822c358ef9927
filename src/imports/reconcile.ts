// The reconciliation sweep's decisions: which inputs in `incoming/` have no run although they should.
// Event Grid delivers at least once but can give up (24 hours or 30 attempts, then dead-letter), a
// queue message can expire, and a run's tag can be left behind by a crash; the sweep catches each.
import type { RunStatus } from './types.js';

/** An input as the sweep lists it: the blob and its index tags. */
export interface IncomingBlob {
  readonly name: string;
  readonly url: string;
  /** Unquoted. */
  readonly etag: string;
  readonly contentLength?: number;
  readonly lastModified: Date;
  readonly tags: Readonly<Record<string, string>>;
}

/** Blob index tags the importer sets on its inputs (see `markBlob`). */
export const inputTags = {
  run: 'dvpipe_run',
  status: 'dvpipe_status',
  /** When the input got its status. */
  at: 'dvpipe_at',
  /** The version the tags describe: an input overwritten since is a new input. */
  etag: 'dvpipe_etag',
} as const;

export interface SweepOptions {
  readonly now: Date;
  /** How long an input may wait for its event before the sweep starts it. */
  readonly graceMs: number;
  /** How long a run may show no progress before the sweep resumes it. */
  readonly staleMs: number;
  /** Only names ending with this (case-insensitive) are imported, as the Event Grid filter says. */
  readonly suffix: string;
}

export type SweepVerdict =
  /** No run has the input (its event never came): start one, as the event would have. */
  | { readonly action: 'start' }
  /** Its run has shown nothing for a long time: see whether it ended or stalled. */
  | { readonly action: 'check'; readonly runId: string }
  | { readonly action: 'leave' };

const ended = new Set<string>(['succeeded', 'completedWithErrors', 'failed'] satisfies RunStatus[]);

export function sweepVerdict(blob: IncomingBlob, options: SweepOptions): SweepVerdict {
  if (!blob.name.toLowerCase().endsWith(options.suffix.toLowerCase())) return { action: 'leave' };
  const age = (since: Date) => options.now.getTime() - since.getTime();
  const run = blob.tags[inputTags.run];
  const current = run !== undefined && (blob.tags[inputTags.etag] ?? blob.etag) === blob.etag;
  if (!current) return age(blob.lastModified) > options.graceMs ? { action: 'start' } : { action: 'leave' };
  if (ended.has(blob.tags[inputTags.status] ?? '')) return { action: 'leave' };
  const at = Date.parse(blob.tags[inputTags.at] ?? '');
  const since = Number.isNaN(at) ? blob.lastModified : new Date(at);
  return age(since) > options.staleMs ? { action: 'check', runId: run } : { action: 'leave' };
}

/**
 * The Event Grid `BlobCreated` event for an input, so a started input goes through exactly the path a
 * delivered event takes (the same run id, the same handler).
 */
export function blobCreatedEvent(blob: IncomingBlob, container: string, now: Date): Record<string, unknown> {
  return {
    id: `reconcile-${now.getTime()}-${blob.etag}`,
    eventType: 'Microsoft.Storage.BlobCreated',
    subject: `/blobServices/default/containers/${container}/blobs/${blob.name}`,
    eventTime: now.toISOString(),
    dataVersion: '',
    metadataVersion: '1',
    data: {
      api: 'PutBlob',
      url: blob.url,
      eTag: blob.etag,
      ...(blob.contentLength !== undefined ? { contentLength: blob.contentLength } : {}),
      blobType: 'BlockBlob',
    },
  };
}
