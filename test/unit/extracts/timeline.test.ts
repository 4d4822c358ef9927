import { describe, expect, it } from 'vitest';
import { FIRST_BUCKET_MS, TimelineRecorder } from '../../../src/extracts/timeline.js';

/** A recorder on a hand-moved clock, with client counters the test sets. */
function recorder(maxBuckets?: number) {
  let now = 1_000_000;
  const counters = { throttled: 7, retries: 3 }; // counts from before the run must not show
  const timeline = new TimelineRecorder(
    () => now,
    now,
    () => counters,
    maxBuckets,
  );
  return {
    timeline,
    counters,
    at: (ms: number) => {
      now = 1_000_000 + ms;
    },
  };
}

describe('TimelineRecorder', () => {
  it('counts rows and pages per bucket and per partition, and the most partitions reading at once', () => {
    const { timeline, at, counters } = recorder();
    at(10);
    timeline.partitionStarted(1, 'createdon from the start to before 2026-01-01T00:00:00Z');
    at(20);
    timeline.partitionStarted(2, 'createdon from 2026-01-01T00:00:00Z to the end');
    at(30);
    timeline.pageRead(1, 500);
    at(60);
    counters.throttled += 2;
    counters.retries += 2;
    timeline.pageRead(2, 500);
    timeline.partitionEnded(2, 'read');
    at(130);
    timeline.pageRead(1, 120);
    timeline.partitionEnded(1, 'read');
    const snapshot = timeline.snapshot();
    expect(snapshot.bucketMs).toBe(FIRST_BUCKET_MS);
    expect(snapshot.plannedMs).toBe(10);
    // Buckets [0,50), [50,100), [100,150): rows, pages, most reading, 429s, retries.
    expect(snapshot.buckets).toEqual([
      [500, 1, 2, 0, 0],
      [500, 1, 2, 2, 2],
      [120, 1, 1, 0, 0],
    ]);
    expect(snapshot.partitions).toEqual([
      {
        index: 1,
        range: 'createdon from the start to before 2026-01-01T00:00:00Z',
        rows: 620,
        pages: 2,
        startMs: 10,
        endMs: 130,
        status: 'read',
      },
      {
        index: 2,
        range: 'createdon from 2026-01-01T00:00:00Z to the end',
        rows: 500,
        pages: 1,
        startMs: 20,
        endMs: 60,
        status: 'read',
      },
    ]);
  });

  it('stays within its bucket limit on a long run, widening buckets without losing a row, 429 or retry', () => {
    const { timeline, at, counters } = recorder(8);
    timeline.partitionStarted(1, 'whole table');
    let rows = 0;
    for (let t = 0; t < 10_000; t += 37) {
      at(t);
      if (t % 5 === 0) counters.throttled += 1;
      counters.retries += t % 3 === 0 ? 1 : 0;
      timeline.pageRead(1, t % 100);
      rows += t % 100;
    }
    timeline.partitionEnded(1, 'read');
    const { buckets, bucketMs, partitions } = timeline.snapshot();
    expect(buckets.length).toBeLessThanOrEqual(8);
    // The last page at 9,990 ms in at most 8 buckets: 50 ms doubled until 8 of them pass it (8 × 800 <
    // 9,990 ≤ 8 × 1,600).
    expect(bucketMs).toBe(1_600);
    expect(buckets.reduce((n, b) => n + b[0], 0)).toBe(rows);
    expect(buckets.reduce((n, b) => n + b[3], 0)).toBe(counters.throttled - 7);
    expect(buckets.reduce((n, b) => n + b[4], 0)).toBe(counters.retries - 3);
    expect(partitions[0]!.rows).toBe(rows);
    expect(partitions[0]!.pages).toBe(Math.ceil(10_000 / 37));
  });

  it('keeps a partition that failed, and one still reading when the run failed', () => {
    const { timeline, at } = recorder();
    timeline.partitionStarted(1, 'a');
    timeline.partitionStarted(2, 'b');
    at(70);
    timeline.pageRead(2, 9);
    timeline.partitionEnded(1, 'failed');
    // A second end (a late settle) does not move what was recorded.
    at(90);
    timeline.partitionEnded(1, 'read');
    const { partitions } = timeline.snapshot();
    expect(partitions.map((p) => [p.index, p.status, p.endMs, p.rows])).toEqual([
      [1, 'failed', 70, 0],
      [2, 'reading', undefined, 9],
    ]);
  });
});

describe('TimelineRecorder before the first partition', () => {
  it('shows nothing reading while the run plans, and puts the planning 429s where the planning ended', () => {
    let now = 0;
    const counters = { throttled: 0, retries: 0 };
    const timeline = new TimelineRecorder(
      () => now,
      0,
      () => counters,
    );
    now = 120;
    counters.throttled = 1;
    timeline.partitionStarted(1, 'whole table');
    now = 160;
    timeline.pageRead(1, 10);
    expect(timeline.snapshot().buckets).toEqual([
      [0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0],
      [0, 0, 1, 1, 0],
      [10, 1, 1, 0, 0],
    ]);
  });
});
