import { describe, expect, it } from 'vitest';
import { ServiceProtection } from '../../../emulator/limits.js';
import { REALISTIC, type EmulatorSettings } from '../../../emulator/settings.js';

function setup(overrides: Partial<EmulatorSettings> = {}) {
  let now = 0;
  const settings = { ...REALISTIC, ...overrides };
  const sp = new ServiceProtection(
    () => settings,
    () => now,
  );
  return { sp, advance: (ms: number) => (now += ms) };
}

describe('ServiceProtection', () => {
  it('[webapi §8] the request window slides: the oldest request leaving frees one slot', () => {
    const { sp, advance } = setup({ maxRequests: 3, windowSeconds: 10 });
    for (let i = 0; i < 3; i += 1) {
      expect(sp.admit('u')).toBeUndefined();
      sp.release('u');
      advance(1000);
    }
    const refused = sp.admit('u');
    expect(refused?.code).toBe('0x80072322');
    // First request at t=0 leaves the window at t=10 s; now is 3 s.
    expect(refused?.headers['x-ms-emulator-retry-after-ms']).toBe('7000');
    expect(refused?.headers['Retry-After']).toBe('7');
    advance(7000);
    expect(sp.admit('u')).toBeUndefined();
  });

  it('[perf §2] execution time is checked at admission; Retry-After waits until enough time leaves the window', () => {
    const { sp, advance } = setup({ maxExecutionMs: 1000, windowSeconds: 10 });
    expect(sp.admit('u')).toBeUndefined();
    sp.charge('u', 600);
    advance(2000);
    expect(sp.admit('u')).toBeUndefined(); // 600 < 1000: admitted, then overshoots
    sp.charge('u', 600);
    const refused = sp.admit('u');
    expect(refused?.code).toBe('0x80072321');
    // Dropping the first charge (at t=0, leaving at t=10 s) brings the sum to 600 < 1000.
    expect(refused?.headers['x-ms-emulator-retry-after-ms']).toBe('8000');
  });

  it('[webapi §8] concurrency counts admitted, unreleased requests', () => {
    const { sp } = setup({ maxConcurrent: 2 });
    expect(sp.admit('u')).toBeUndefined();
    expect(sp.admit('u')).toBeUndefined();
    expect(sp.admit('u')?.code).toBe('0x80072326');
    sp.release('u');
    expect(sp.admit('u')).toBeUndefined();
  });

  it('time scale shrinks windows and retry times', () => {
    const { sp, advance } = setup({ maxRequests: 1, windowSeconds: 300, timeScale: 0.01 });
    expect(sp.admit('u')).toBeUndefined();
    sp.release('u');
    const refused = sp.admit('u');
    expect(refused?.headers['x-ms-emulator-retry-after-ms']).toBe('3000');
    expect(refused?.headers['Retry-After']).toBe('3');
    advance(3000);
    expect(sp.admit('u')).toBeUndefined();
  });

  it('limits off: everything is admitted; requests are counted, execution time reads as unspent', () => {
    const { sp } = setup({ limitsEnabled: false, maxRequests: 1 });
    expect(sp.admit('u')).toBeUndefined();
    expect(sp.admit('u')).toBeUndefined();
    sp.charge('u', 1234.5);
    // The request counter starts near 8,000 whatever the enforced limit (reference §13).
    expect(sp.headers('u')).toEqual({
      'x-ms-ratelimit-burst-remaining-xrm-requests': '7998',
      'x-ms-ratelimit-time-remaining-xrm-requests': '1,200.00',
      'x-ms-dop-hint': '4',
    });
  });

  it('limits on: the headers count execution time and give the window in real milliseconds', () => {
    const { sp } = setup({ windowSeconds: 20, timeScale: 0.1 });
    expect(sp.admit('u')).toBeUndefined();
    sp.charge('u', 1234.5);
    expect(sp.headers('u')).toMatchObject({
      'x-ms-ratelimit-time-remaining-xrm-requests': '1,198.77',
      'x-ms-emulator-window-ms': '2000',
    });
  });
});
