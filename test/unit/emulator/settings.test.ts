import { describe, expect, it } from 'vitest';
import { ceiling, countedMs, REALISTIC } from '../../../emulator/settings.js';

describe('cost model and ceiling', () => {
  it('[perf §3.3] counted ms per request: fixed + per record for bulk, totals for single writes', () => {
    expect(countedMs(REALISTIC, 'create', 1)).toBe(80);
    expect(countedMs(REALISTIC, 'create-multiple', 100)).toBeCloseTo(685, 9);
    expect(countedMs(REALISTIC, 'create-multiple', 1000)).toBeCloseTo(6535, 9);
    expect(countedMs(REALISTIC, 'upsert-multiple-key', 100)).toBe(6035);
    expect(countedMs(REALISTIC, 'batch', 10)).toBe(435);
    expect(countedMs(REALISTIC, 'read', 5000, 10)).toBeCloseTo(535, 9);
    expect(countedMs(REALISTIC, 'read', 5000, 5)).toBeCloseTo(535, 9);
    expect(countedMs(REALISTIC, 'read', 5000, 20)).toBeCloseTo(1035, 9);
  });

  it('[perf §4] sustained ceilings match the reference table for long runs', () => {
    const long = 1e9;
    const cm100 = ceiling(REALISTIC, { operation: 'create-multiple', batchSize: 100, runSeconds: long });
    expect(cm100.binding).toBe('execution-time');
    expect(cm100.recordsPerSecond).toBeCloseTo(4000 / 6.85, 3); // about 584 rec/s
    const cm1000 = ceiling(REALISTIC, { operation: 'create-multiple', batchSize: 1000, runSeconds: long });
    expect(cm1000.recordsPerSecond).toBeCloseTo(4000 / 6.535, 3); // about 612 rec/s
    const create = ceiling(REALISTIC, { operation: 'create', runSeconds: long });
    expect(create.binding).toBe('requests');
    expect(create.recordsPerSecond).toBeCloseTo(20, 3);
    const batch = ceiling(REALISTIC, { operation: 'batch', batchSize: 100, runSeconds: long });
    expect(batch.recordsPerSecond).toBeCloseTo((4000 / 4035) * 100, 3); // about 100 rec/s
    const upsertKey = ceiling(REALISTIC, {
      operation: 'upsert-multiple-key',
      batchSize: 100,
      runSeconds: long,
    });
    expect(upsertKey.recordsPerSecond).toBeCloseTo((4000 / 6035) * 100, 3); // about 67 rec/s
    const read = ceiling(REALISTIC, { operation: 'read', batchSize: 5000, columns: 10, runSeconds: long });
    expect(read.recordsPerSecond).toBeCloseTo((4000 / 535) * 5000, 0); // about 37k rows/s
  });

  it('[perf §4] a run shorter than a window gets the whole budget at once (burst); longer runs the sustained rate', () => {
    const sustained = 4000 / 6.85; // 4 s of execution per second over 6.85 ms per record
    const rate = (runSeconds: number) =>
      ceiling(REALISTIC, { operation: 'create-multiple', batchSize: 100, runSeconds }).limits[
        'execution-time'
      ];
    // A 60 s run: one window's budget, spent in a burst, over 60 s (what the execution-time limit allows).
    expect(rate(60) / sustained).toBeCloseTo(300 / 60, 6);
    // From one window on: the sustained rate, with no jump at window boundaries.
    expect(rate(300) / sustained).toBeCloseTo(1, 6);
    expect(rate(301) / sustained).toBeCloseTo(1, 6);
    expect(rate(900) / sustained).toBeCloseTo(1, 6);
  });

  it('[perf §4] users multiply the ceiling; the time scale converts to real seconds', () => {
    const one = ceiling(REALISTIC, { operation: 'update-multiple', batchSize: 100, runSeconds: 600 });
    const two = ceiling(REALISTIC, {
      operation: 'update-multiple',
      batchSize: 100,
      runSeconds: 600,
      users: 2,
    });
    expect(two.recordsPerSecond).toBeCloseTo(2 * one.recordsPerSecond, 6);
    const scaled = ceiling(
      { ...REALISTIC, timeScale: 0.01 },
      { operation: 'update-multiple', batchSize: 100, runSeconds: 6 },
    );
    expect(scaled.recordsPerSecond).toBeCloseTo(100 * one.recordsPerSecond, 6);
  });

  it('[perf §3.6] the concurrency bound binds when requests are long and limits are generous', () => {
    const generous = { ...REALISTIC, maxExecutionMs: 1e12, maxRequests: 1e12 };
    const c = ceiling(generous, { operation: 'create', runSeconds: 60 });
    expect(c.binding).toBe('concurrency');
    const observed = (40 + (300 / 10_000_000) * 1000 + 80) * (52 / 4) ** 0.6;
    expect(c.observedMsAtConcurrency).toBeCloseTo(observed, 6);
    expect(c.recordsPerSecond).toBeCloseTo(52 / (observed / 1000), 6);
  });

  it('[perf §3.6] the concurrency bound charges transfer on the bytes per record a run really moved', () => {
    const read = (bytesPerRecord?: number) =>
      ceiling(REALISTIC, {
        operation: 'read',
        runSeconds: 30,
        columns: 11,
        ...(bytesPerRecord === undefined ? {} : { bytesPerRecord }),
      });
    const latency = (bytes: number) =>
      (40 + ((5000 * bytes) / 10_000_000) * 1000 + 35 + 550) * (52 / 4) ** 0.6;
    expect(read().binding).toBe('concurrency');
    expect(read().observedMsAtConcurrency).toBeCloseTo(latency(300), 6);
    expect(read(355).observedMsAtConcurrency).toBeCloseTo(latency(355), 6);
    expect(read(355).recordsPerSecond).toBeCloseTo((52 * 5000) / (latency(355) / 1000), 6);
  });
});
