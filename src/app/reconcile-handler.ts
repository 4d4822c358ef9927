import type { RunManifest, RunSummary } from '../imports/types.js';
import { resultFiles, runPaths } from '../imports/paths.js';
import {
  blobCreatedEvent,
  sweepVerdict,
  type IncomingBlob,
  type SweepOptions,
} from '../imports/reconcile.js';
import type { Logger } from '../logging.js';
import { getJson } from '../storage/object-store.js';
import { markInput, names, type Runtime } from './runtime.js';

/** What one sweep did. */
export interface SweepReport {
  readonly listed: number;
  /** Inputs with no run, started as their event would have. */
  readonly started: number;
  /** Runs that stalled, resumed (only chunks without a result are queued again). */
  readonly resumed: number;
  /** Runs that had ended but whose input still said running: marked with how they ended. */
  readonly marked: number;
}

/**
 * `reconcileIncoming`: lists `incoming/` with its index tags and makes sure every input has a run that
 * is alive or has ended. Safe to run any time and on several instances: starting an input twice lands
 * in the same run (its id comes from the blob version), and a resumed run re-queues only unfinished chunks.
 */
export async function onReconcileTimer(
  runtime: Runtime,
  log: Logger,
  now = new Date(),
): Promise<SweepReport> {
  const after = runtime.settings.RECONCILE_AFTER_MINUTES * 60_000;
  const options: SweepOptions = {
    now,
    graceMs: after,
    staleMs: 4 * after,
    suffix: runtime.settings.IMPORT_BLOB_SUFFIX,
  };
  const incoming = runtime.containers.incoming;
  let listed = 0;
  let started = 0;
  let resumed = 0;
  let marked = 0;
  for await (const item of incoming.listBlobsFlat({ includeTags: true })) {
    listed += 1;
    const blob: IncomingBlob = {
      name: item.name,
      url: incoming.getBlobClient(item.name).url,
      etag: (item.properties.etag ?? '').replace(/^"(.*)"$/, '$1'),
      ...(item.properties.contentLength !== undefined
        ? { contentLength: item.properties.contentLength }
        : {}),
      lastModified: item.properties.lastModified,
      tags: item.tags ?? {},
    };
    const verdict = sweepVerdict(blob, options);
    if (verdict.action === 'leave') continue;
    if (verdict.action === 'start') {
      await runtime.eventQueue.send(blobCreatedEvent(blob, names.incoming, now));
      log.warn('Reconciliation: an input had no run; started it', { blob: blob.name });
      started += 1;
      continue;
    }
    const manifest = await getJson<RunManifest>(runtime.runs, runPaths.manifest(verdict.runId));
    const summary =
      manifest && (await getJson<RunSummary>(runtime.results, manifest.resultsPrefix + resultFiles.summary));
    if (manifest && summary) {
      await markInput(incoming, manifest.input, { runId: summary.runId, status: summary.status });
      marked += 1;
    } else if (!manifest || (await lastActivity(runtime, verdict.runId)) < now.getTime() - options.staleMs) {
      await runtime.eventQueue.send(blobCreatedEvent(blob, names.incoming, now));
      log.warn('Reconciliation: a run showed no progress; resumed it', { runId: verdict.runId });
      resumed += 1;
    }
  }
  const report = { listed, started, resumed, marked };
  log.info('Reconciliation sweep', { ...report });
  return report;
}

/** When the run last wrote anything to its state (a chunk started or finished), in ms since the epoch. */
async function lastActivity(runtime: Runtime, runId: string): Promise<number> {
  let latest = 0;
  for await (const item of runtime.containers.runs.listBlobsFlat({ prefix: `${runId}/` })) {
    latest = Math.max(latest, item.properties.lastModified.getTime());
  }
  return latest;
}
