import { describe, expect, it } from 'vitest';
import { defaultUseMonitor, parseNcrontab, resolveScheduleSetting } from '../../../dev/ncrontab.js';

const at = (iso: string): Date => new Date(iso);

describe('parseNcrontab', () => {
  it('reads six fields, seconds first, in UTC', () => {
    const daily = parseNcrontab('0 0 2 * * *');
    expect(daily.next(at('2026-01-01T01:59:59Z'))?.toISOString()).toBe('2026-01-01T02:00:00.000Z');
    expect(daily.next(at('2026-01-01T02:00:00Z'))?.toISOString()).toBe('2026-01-02T02:00:00.000Z');
    expect(parseNcrontab('*/15 * * * * *').next(at('2026-01-01T00:00:01Z'))?.toISOString()).toBe(
      '2026-01-01T00:00:15.000Z',
    );
  });

  it('accepts weekday names and matches day-of-month AND day-of-week', () => {
    expect(parseNcrontab('0 30 9 * * MON-FRI').next(at('2026-11-28T00:00:00Z'))?.toISOString()).toBe(
      '2026-11-30T09:30:00.000Z',
    );
    // Friday the 13th: February 2026.
    expect(parseNcrontab('0 0 0 13 * 5').next(at('2026-01-01T00:00:00Z'))?.toISOString()).toBe(
      '2026-02-13T00:00:00.000Z',
    );
  });

  it('rejects five-field cron and nonsense', () => {
    expect(() => parseNcrontab('0 2 * * *')).toThrow(/six-field NCRONTAB/);
    expect(() => parseNcrontab('every day')).toThrow(/six-field NCRONTAB/);
  });
});

describe('resolveScheduleSetting', () => {
  it('reads %NAME% from app settings and leaves literal schedules alone', () => {
    expect(resolveScheduleSetting('%NIGHTLY%', { NIGHTLY: '0 0 2 * * *' })).toBe('0 0 2 * * *');
    expect(resolveScheduleSetting('0 0 2 * * *', {})).toBe('0 0 2 * * *');
    expect(() => resolveScheduleSetting('%MISSING%', {})).toThrow(/"MISSING"/);
  });
});

describe('defaultUseMonitor', () => {
  it('monitors schedules whose occurrences are at least a minute apart', () => {
    const from = at('2026-01-01T00:00:00Z');
    expect(defaultUseMonitor(parseNcrontab('0 */5 * * * *'), from)).toBe(true);
    expect(defaultUseMonitor(parseNcrontab('*/10 * * * * *'), from)).toBe(false);
  });
});
