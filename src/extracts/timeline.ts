// What an extract did over time, kept while it runs for its report: rows read per time bucket, the
// partitions being read at once, the client's 429s and retries, and each partition's rows, pages, time
// and status. Bounded memory whatever the table's size: a fixed number of buckets (they widen as the
// run lengthens) and one small record per partition. No cell value is ever kept.

/**
 * Buckets kept at most: a point every 4 px or more of a chart a page wide (ECharts draws no line
 * vertex within 2 px of the last one, so denser points would be data the chart does not show).
 */
export const MAX_BUCKETS = 200;
/** The first bucket width; doubled each time the run outgrows MAX_BUCKETS buckets. */
export const FIRST_BUCKET_MS = 50;

export type PartitionStatus = 'reading' | 'read' | 'failed';

export interface PartitionRecord {
  readonly index: number;
  /** The partition's own condition (a createdon or id range; never the job's filter), or a description. */
  readonly range: string;
  rows: number;
  pages: number;
  /** Milliseconds since the run started. */
  readonly startMs: number;
  endMs?: number;
  status: PartitionStatus;
}

/** One time bucket: rows read, pages read, most partitions reading at once, 429s and retries seen. */
export type TimelineBucket = [
  rows: number,
  pages: number,
  reading: number,
  throttled: number,
  retries: number,
];

export interface ExtractTimeline {
  readonly bucketMs: number;
  readonly buckets: readonly (readonly [number, number, number, number, number])[];
  /** Milliseconds from the run's start to its first partition read (metadata and planning). */
  readonly plannedMs?: number;
  readonly partitions: readonly PartitionRecord[];
}

/** The client's cumulative counters the timeline samples (shared clients count other work too). */
export interface CounterSource {
  (): { readonly throttled: number; readonly retries: number };
}

export class TimelineRecorder {
  #bucketMs = FIRST_BUCKET_MS;
  readonly #buckets: TimelineBucket[] = [];
  readonly #partitions = new Map<number, PartitionRecord>();
  #reading = 0;
  #plannedMs: number | undefined;
  #counted: { throttled: number; retries: number };

  constructor(
    private readonly now: () => number,
    private readonly startMs: number,
    private readonly counters: CounterSource,
    private readonly maxBuckets = MAX_BUCKETS,
  ) {
    const { throttled, retries } = counters();
    this.#counted = { throttled, retries };
  }

  partitionStarted(index: number, range: string): void {
    const at = this.#elapsed();
    this.#plannedMs ??= at;
    this.#partitions.set(index, { index, range, rows: 0, pages: 0, startMs: at, status: 'reading' });
    // The buckets up to now are made before this partition counts, so they show what was reading then.
    const bucket = this.#bucket(at);
    this.#reading += 1;
    bucket[2] = Math.max(bucket[2], this.#reading);
    this.#sampleCounters(bucket);
  }

  /** A page of `rows` rows (those written to the file) of partition `index` has been read. */
  pageRead(index: number, rows: number): void {
    const at = this.#elapsed();
    const bucket = this.#bucket(at);
    bucket[0] += rows;
    bucket[1] += 1;
    bucket[2] = Math.max(bucket[2], this.#reading);
    this.#sampleCounters(bucket);
    const partition = this.#partitions.get(index);
    if (partition) {
      partition.rows += rows;
      partition.pages += 1;
    }
  }

  partitionEnded(index: number, status: Exclude<PartitionStatus, 'reading'>): void {
    const partition = this.#partitions.get(index);
    if (!partition || partition.status !== 'reading') return;
    const at = this.#elapsed();
    partition.status = status;
    partition.endMs = at;
    const bucket = this.#bucket(at);
    bucket[2] = Math.max(bucket[2], this.#reading);
    this.#reading -= 1;
    this.#sampleCounters(bucket);
  }

  snapshot(): ExtractTimeline {
    const at = this.#elapsed();
    this.#sampleCounters(this.#bucket(at));
    return {
      bucketMs: this.#bucketMs,
      buckets: this.#buckets.map((b) => [...b] as const),
      ...(this.#plannedMs !== undefined ? { plannedMs: this.#plannedMs } : {}),
      partitions: [...this.#partitions.values()].sort((a, b) => a.index - b.index).map((p) => ({ ...p })),
    };
  }

  #elapsed(): number {
    return Math.max(0, this.now() - this.startMs);
  }

  /** 429s and retries counted by the client since the last sample land in this bucket. */
  #sampleCounters(bucket: TimelineBucket): void {
    const { throttled, retries } = this.counters();
    bucket[3] += Math.max(0, throttled - this.#counted.throttled);
    bucket[4] += Math.max(0, retries - this.#counted.retries);
    this.#counted = { throttled, retries };
  }

  /** The bucket holding time `at`, widening every bucket (merging pairs) while `at` lies beyond the last. */
  #bucket(at: number): TimelineBucket {
    let slot = Math.floor(at / this.#bucketMs);
    while (slot >= this.maxBuckets) {
      this.#widen();
      slot = Math.floor(at / this.#bucketMs);
    }
    while (this.#buckets.length <= slot) this.#buckets.push([0, 0, this.#reading, 0, 0]);
    return this.#buckets[slot]!;
  }

  #widen(): void {
    const merged: TimelineBucket[] = [];
    for (let i = 0; i < this.#buckets.length; i += 2) {
      const a = this.#buckets[i]!;
      const b = this.#buckets[i + 1];
      merged.push(
        b
          ? [a[0] + b[0], a[1] + b[1], Math.max(a[2], b[2]), a[3] + b[3], a[4] + b[4]]
          : [a[0], a[1], a[2], a[3], a[4]],
      );
    }
    this.#buckets.splice(0, this.#buckets.length, ...merged);
    this.#bucketMs *= 2;
  }
}
