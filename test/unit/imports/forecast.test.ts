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
    // 40 + 10 bulk requests + 200 reads; 40 × 6.535 + 10 × 20.035 + 200 × 0.06 = 473.75 s of execution time:
    // within one window's 1,200 s, so it can all be spent at once over the 52 concurrent slots.
    expect(r.requests).toBe(250);
    expect(r.durationSeconds).toBeCloseTo(473.75 / 52, 6);
    expect(r.actual).toEqual({ durationSeconds: 200, requests: 260, speedOfLimits: 473.75 / 52 / 200 });
  });
});
