// What an extract is doing while it runs, for the runs page: one small JSON record per run in the
// progress store (the app's `runs` container), written when the run starts, rewritten at most once per
// interval as pages are read, and removed once the run has ended (its manifest or failed report then
// tells the rest). A host that dies mid-run leaves its record behind; the page shows it as interrupted
// once it has not moved for a while, for a week, and the next extract then removes it.
import type { Clock } from '../dataverse/index.js';
import { errorMessage, type Logger } from '../logging.js';
import { getJson, putJson, type ObjectStore } from '../storage/object-store.js';
import type { ExtractFormat } from '../config/job.js';
import type { ExtractTrigger } from './manifest.js';

/** Where running extracts' records live in the progress store. */
export const progressPrefix = 'extract-runs/';

export function progressPathOf(runId: string): string {
  return `${progressPrefix}${runId}.json`;
}

/**
 * A record this long unchanged belongs to a run whose host stopped: a working run rewrites it with
 * every page it reads. Generous, so a run waiting out throttling is not called interrupted.
 */
export const staleAfterMs = 15 * 60_000;

/**
 * How long an interrupted run stays on the runs page: a week, so a nightly run that died is seen
 * after a weekend away, and then gone (a later run of the job has read the same rows again). The next
 * extract removes older records; the page hides them meanwhile. In Azure the storage account's
 * lifecycle rule for the runs container (infra/modules/storage.bicep, `retentionDays`, 30 by default)
 * deletes them too, but only after the retention period and not locally.
 */
export const interruptedKeptForMs = 7 * 24 * 60 * 60_000;

/** Rewrites of a run's record: at most one per this many ms (a blob write per page would cost more than the page). */
export const defaultProgressIntervalMs = 1_000;

export interface ExtractRunProgress {
  readonly version: 1;
  readonly runId: string;
  readonly job: string;
  readonly table: string;
  readonly trigger: ExtractTrigger;
  readonly format: ExtractFormat;
  readonly startedAt: string;
  /** When the record was last written: a record that stops moving belongs to a run that died. */
  readonly updatedAt: string;
  /** Rows read so far (all partitions). */
  readonly rows: number;
  readonly partitionsDone: number;
  /** Partitions planned so far (the plan may still split). */
  readonly partitions: number;
}

type Identity = Pick<ExtractRunProgress, 'runId' | 'job' | 'table' | 'trigger' | 'format' | 'startedAt'>;

interface Counts {
  readonly rows: number;
  readonly partitionsDone: number;
  readonly partitions: number;
}

/**
 * Keeps one run's record current without slowing the run: updates are coalesced (the latest counts
 * win), one write is in flight at a time, and a failed write is logged, never thrown (progress is a
 * view of the run, not part of it).
 */
export class ProgressRecorder {
  private latest: Counts = { rows: 0, partitionsDone: 0, partitions: 1 };
  private lastWriteMs = Number.NEGATIVE_INFINITY;
  private writing: Promise<void> | undefined;
  private pending = false;
  private ended = false;

  constructor(
    private readonly store: ObjectStore,
    private readonly identity: Identity,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly intervalMs = defaultProgressIntervalMs,
  ) {}

  /** Writes the first record at once, so the run is listed from its start. */
  start(): Promise<void> {
    return this.write();
  }

  update(counts: Counts): void {
    if (this.ended) return;
    this.latest = counts;
    if (this.writing) {
      this.pending = true;
      return;
    }
    if (this.clock.now() - this.lastWriteMs >= this.intervalMs) void this.write();
  }

  /** Removes the record once the run's own files say how it ended. */
  async end(): Promise<void> {
    this.ended = true;
    await this.writing;
    await this.store.delete(progressPathOf(this.identity.runId)).catch((error: unknown) => {
      this.log.warn('The extract progress record could not be removed', {
        runId: this.identity.runId,
        reason: errorMessage(error),
      });
    });
  }

  private write(): Promise<void> {
    this.pending = false;
    this.lastWriteMs = this.clock.now();
    const record: ExtractRunProgress = {
      version: 1,
      ...this.identity,
      updatedAt: new Date(this.lastWriteMs).toISOString(),
      ...this.latest,
    };
    const done = putJson(this.store, progressPathOf(this.identity.runId), record)
      .then(() => {})
      .catch((error: unknown) => {
        this.log.warn('The extract progress record could not be written', {
          runId: this.identity.runId,
          reason: errorMessage(error),
        });
      })
      .finally(() => {
        this.writing = undefined;
        // Counts that came in meanwhile are written once the interval allows, by the next update,
        // or here if none comes soon (a slow last page): a timer would outlive short runs.
        if (this.pending && !this.ended && this.clock.now() - this.lastWriteMs >= this.intervalMs) {
          void this.write();
        }
      });
    this.writing = done;
    return done;
  }
}

/** Whether a record has not moved for longer than an interrupted run is kept. */
function expired(record: ExtractRunProgress, nowMs: number): boolean {
  return nowMs - Date.parse(record.updatedAt) > interruptedKeptForMs;
}

async function progressRecords(store: ObjectStore): Promise<{ path: string; record: ExtractRunProgress }[]> {
  const found: { path: string; record: ExtractRunProgress }[] = [];
  for await (const path of store.list(progressPrefix)) {
    if (!path.endsWith('.json')) continue;
    // A record removed between the listing and the read simply ended; a torn one is skipped.
    const record = await getJson<ExtractRunProgress>(store, path).catch(() => undefined);
    if (record?.version === 1) found.push({ path, record });
  }
  return found;
}

/**
 * The records of extracts that are running (or died running), oldest first; with `nowMs`, without
 * those of runs interrupted longer ago than `interruptedKeptForMs`.
 */
export async function runningExtracts(store: ObjectStore, nowMs?: number): Promise<ExtractRunProgress[]> {
  return (await progressRecords(store))
    .map((found) => found.record)
    .filter((record) => nowMs === undefined || !expired(record, nowMs))
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/**
 * Removes the records of runs interrupted longer ago than `interruptedKeptForMs`; returns their run
 * ids. Best effort: a record that cannot be removed is logged and left for the next run.
 */
export async function removeExpiredProgress(
  store: ObjectStore,
  clock: Clock,
  log: Logger,
): Promise<string[]> {
  const nowMs = clock.now();
  const removed: string[] = [];
  for (const { path, record } of await progressRecords(store)) {
    if (!expired(record, nowMs)) continue;
    try {
      await store.delete(path);
      removed.push(record.runId);
    } catch (error) {
      log.warn('An old interrupted extract record could not be removed', {
        runId: record.runId,
        reason: errorMessage(error),
      });
    }
  }
  return removed;
}
