import { describe, expect, it } from 'vitest';
import { forecastReport, forecastRun } from '../../../src/imports/forecast.js';

const none = {
  createMultiple: 0,
  updateMultiple: 0,
  upsertMultipleByKey: 0,
  batchOperations: 0,
  readRequests: 0,
};

describe('forecastRun', () => {
  it('prices a million creates at the documented costs and the execution-time limit', () => {
    const f = forecastRun({ ...none, createMultiple: 1_000_000 }, { identities: 1, bulkSize: 1_000 });
    // 1,000 CreateMultiple of 1,000: 1,000 × (35 ms + 1,000 × 6.5 ms) = 6,535 s of server time.
    expect(f.requests).toBe(1_000);
    expect(f.executionSeconds).toBeCloseTo(6_535, 6);
    // 4 s of execution time per second per identity: 1,633.75 s.
    expect(f.durationSeconds).toBeCloseTo(1_633.75, 6);
    expect(f.binding).toBe('execution-time');
    expect(f.entitlementRequests).toBe(1_000_000);
    expect(f.perWindow.executionShare).toBeCloseTo(6_535 / 1_200, 6);
  });

  it('divides the duration by the identities, not the cost', () => {
    const one = forecastRun({ ...none, updateMultiple: 500_000 }, { identities: 1, bulkSize: 1_000 });
    const five = forecastRun({ ...none, updateMultiple: 500_000 }, { identities: 5, bulkSize: 1_000 });
    expect(five.durationSeconds).toBeCloseTo(one.durationSeconds / 5, 6);
    expect(five.executionSeconds).toBe(one.executionSeconds);
  });

  it('finds the request limit binding for many small requests', () => {
    const f = forecastRun({ ...none, readRequests: 12_000 }, { identities: 1, bulkSize: 1_000 });
    // 12,000 reads at 20 per second: 600 s; their 60 ms each is 720 s of execution = 180 s.
    expect(f.binding).toBe('requests');
    expect(f.durationSeconds).toBeCloseTo(600, 6);
  });

  it('sets the actual run against the forecast', () => {
    const r = forecastReport(
      { created: 40_000, updated: 10_000, upserted: 0, deleted: 0, readRequests: 200 },
      { identities: 1, bulkSize: 1_000 },
      { durationMs: 200_000, requests: 260 },
    );
    // 16 slots (one identity at the client's 16 in flight): 40,000 creates go as 40 messages of 1,000, and
    // 10,000 updates fill every slot as 16 messages of 625. 56 writes + 200 reads; 56 × 35 ms + 40,000 ×
    // 6.5 ms + 10,000 × 20 ms + 200 × 60 ms = 473.96 s of execution time: within one window's 1,200 s, so it
    // can all be spent at once over the 52 concurrent slots (9.1 s), but one update message alone takes
    // 35 ms + 625 × 20 ms = 12.535 s.
    expect(r.requests).toBe(256);
    expect(r.executionSeconds).toBeCloseTo(473.96, 6);
    expect(r.binding).toBe('message');
    expect(r.durationSeconds).toBeCloseTo(12.535, 6);
    expect(r.actual).toEqual({ durationSeconds: 200, requests: 260, speedOfLimits: 12.535 / 200 });
  });

  it('forecasts a small file as the client sends it: many small messages, no faster than the longest', () => {
    // 2,000 creates over one identity's 16 slots: 16 messages of 125 (35 ms + 812.5 ms each).
    const one = forecastRun({ ...none, createMultiple: 2_000 }, { identities: 1, bulkSize: 1_000 });
    expect(one.requests).toBe(16);
    expect(one.executionSeconds).toBeCloseTo(16 * 0.035 + 13, 6);
    expect(one.binding).toBe('message');
    expect(one.durationSeconds).toBeCloseTo(0.8475, 6);
    // Five identities, 80 slots: the client sends no message under 100 records, so 20 of 100.
    const five = forecastRun({ ...none, createMultiple: 2_000 }, { identities: 5, bulkSize: 1_000 });
    expect(five.requests).toBe(20);
    expect(five.durationSeconds).toBeCloseTo(0.035 + 100 * 0.0065, 6);
    // Four requests in flight: four messages of 500.
    const four = forecastRun(
      { ...none, createMultiple: 2_000 },
      { identities: 1, bulkSize: 1_000, concurrency: 4 },
    );
    expect(four.requests).toBe(4);
    expect(four.durationSeconds).toBeCloseTo(0.035 + 500 * 0.0065, 6);
    // Fewer records than a message: one message holds them all.
    const tiny = forecastRun({ ...none, upsertMultipleByKey: 10 }, { identities: 1, bulkSize: 1_000 });
    expect(tiny.requests).toBe(1);
    expect(tiny.durationSeconds).toBeCloseTo(0.035 + 10 * 0.06, 6);
    // Deletes go in $batch of 100 operations at 40 ms each.
    const deletes = forecastRun({ ...none, batchOperations: 1_000 }, { identities: 1, bulkSize: 1_000 });
    expect(deletes.requests).toBe(10);
    expect(deletes.durationSeconds).toBeCloseTo(0.035 + 100 * 0.04, 6);
  });

  it('leaves a run beyond one window to the limits, not the longest message', () => {
    const f = forecastRun({ ...none, createMultiple: 1_000_000 }, { identities: 5, bulkSize: 1_000 });
    expect(f.binding).toBe('execution-time');
    expect(f.durationSeconds).toBeCloseTo(1_633.75 / 5, 6);
  });
});
