import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseNcrontab } from '../../../dev/ncrontab.js';
import { TimerScheduler, type ScheduleStatus, type TimerInfoPayload } from '../../../dev/timer-trigger.js';

describe('TimerScheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-03-01T00:00:30.000Z'));
  });
  afterEach(() => vi.useRealTimers());

  it('fires at each occurrence with the status as it stood before the run', async () => {
    const runs: TimerInfoPayload[] = [];
    const scheduler = new TimerScheduler({
      schedule: parseNcrontab('0 * * * * *'),
      useMonitor: true,
      runOnStartup: false,
      pastDueToleranceMs: 1_000,
      invoke: async (timer) => void runs.push(timer),
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(29_000);
    expect(runs).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1_000);
    await vi.advanceTimersByTimeAsync(60_000);
    scheduler.stop();
    expect(runs.map((r) => r.IsPastDue)).toEqual([false, false]);
    expect(runs[0]?.ScheduleStatus).toMatchObject({
      Last: '0001-01-01T00:00:00.000Z',
      Next: '2026-03-01T00:01:00.000Z',
    });
    expect(runs[1]?.ScheduleStatus).toMatchObject({
      Last: '2026-03-01T00:01:00.000Z',
      Next: '2026-03-01T00:02:00.000Z',
    });
  });

  it('after a run overshoots occurrences, fires once past due and then resumes the schedule', async () => {
    const runs: { at: string; timer: TimerInfoPayload }[] = [];
    const scheduler = new TimerScheduler({
      schedule: parseNcrontab('0 * * * * *'),
      useMonitor: true,
      runOnStartup: false,
      pastDueToleranceMs: 1_000,
      invoke: async (timer) => {
        runs.push({ at: new Date().toISOString().slice(0, 19), timer });
        // The first run takes 150 s, missing the 00:02 and 00:03 occurrences.
        if (runs.length === 1) await new Promise((resolve) => setTimeout(resolve, 150_000));
      },
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(30_000 + 150_000 + 60_000);
    scheduler.stop();
    expect(runs.map((r) => [r.at, r.timer.IsPastDue])).toEqual([
      ['2026-03-01T00:01:00', false],
      ['2026-03-01T00:03:30', true],
      ['2026-03-01T00:04:00', false],
    ]);
  });

  it('runs once at start when runOnStartup is set, and omits status when not monitored', async () => {
    const runs: TimerInfoPayload[] = [];
    const scheduler = new TimerScheduler({
      schedule: parseNcrontab('0 0 2 * * *'),
      useMonitor: false,
      runOnStartup: true,
      pastDueToleranceMs: 1_000,
      invoke: async (timer) => void runs.push(timer),
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    scheduler.stop();
    expect(runs).toEqual([{ Schedule: { AdjustForDST: true }, ScheduleStatus: null, IsPastDue: false }]);
  });

  it('fires once past due at start for an occurrence missed while no host ran, and saves the status', async () => {
    const runs: TimerInfoPayload[] = [];
    const saved: ScheduleStatus[] = [];
    const scheduler = new TimerScheduler({
      schedule: parseNcrontab('0 0 2 * * *'),
      useMonitor: true,
      runOnStartup: false,
      pastDueToleranceMs: 1_000,
      invoke: async (timer) => void runs.push(timer),
      monitor: {
        load: async () => ({
          last: new Date('2026-02-27T02:00:00.000Z'),
          next: new Date('2026-02-28T02:00:00.000Z'),
          lastUpdated: new Date('2026-02-27T02:00:01.000Z'),
        }),
        save: async (status) => void saved.push(status),
      },
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    scheduler.stop();
    expect(runs).toEqual([
      {
        Schedule: { AdjustForDST: true },
        ScheduleStatus: {
          Last: '2026-02-27T02:00:00.000Z',
          Next: '2026-02-28T02:00:00.000Z',
          LastUpdated: '2026-02-27T02:00:01.000Z',
        },
        IsPastDue: true,
      },
    ]);
    expect(saved.map((s) => [s.last?.toISOString(), s.next?.toISOString()])).toEqual([
      ['2026-02-28T02:00:00.000Z', '2026-03-01T02:00:00.000Z'],
    ]);
  });

  it('does not fire at start when the stored next occurrence is still ahead', async () => {
    const runs: TimerInfoPayload[] = [];
    const scheduler = new TimerScheduler({
      schedule: parseNcrontab('0 0 2 * * *'),
      useMonitor: true,
      runOnStartup: false,
      pastDueToleranceMs: 1_000,
      invoke: async (timer) => void runs.push(timer),
      monitor: {
        load: async () => ({
          last: new Date('2026-02-28T02:00:00.000Z'),
          next: new Date('2026-03-01T02:00:00.000Z'),
          lastUpdated: new Date('2026-02-28T02:00:01.000Z'),
        }),
        save: async () => {},
      },
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(1_000);
    scheduler.stop();
    expect(runs).toEqual([]);
    expect(scheduler.payload(false).ScheduleStatus?.Last).toBe('2026-02-28T02:00:00.000Z');
  });
});
