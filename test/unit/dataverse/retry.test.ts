import { describe, expect, it } from 'vitest';
import { decideRetry, defaultRetryOptions, type Failure } from '../../../src/dataverse/policies/retry.js';

const base: Failure = { transient: true, idempotent: true, throttleRetries: 0, transientRetries: 0 };
const half = () => 0.5;

describe('decideRetry', () => {
  it('always retries a 429, even for a non-idempotent write, without extra delay', () => {
    const d = decideRetry({ ...base, status: 429, idempotent: false }, defaultRetryOptions, half);
    expect(d).toEqual({ retry: true, delayMs: 0, throttle: true, ambiguous: false });
  });

  it('gives up on 429 after maxThrottleRetries', () => {
    const d = decideRetry({ ...base, status: 429, throttleRetries: 200 }, defaultRetryOptions, half);
    expect(d.retry).toBe(false);
  });

  it.each([502, 503, 504])('retries %i for idempotent requests and marks them ambiguous', (status) => {
    const d = decideRetry({ ...base, status }, defaultRetryOptions, half);
    expect(d.retry).toBe(true);
    if (d.retry) expect(d.ambiguous).toBe(true);
  });

  it('never repeats a non-idempotent write after a 503 or a dropped connection', () => {
    expect(decideRetry({ ...base, status: 503, idempotent: false }, defaultRetryOptions, half).retry).toBe(
      false,
    );
    expect(decideRetry({ ...base, idempotent: false }, defaultRetryOptions, half).retry).toBe(false);
  });

  it('retries dropped connections and timeouts of idempotent requests', () => {
    expect(decideRetry({ ...base }, defaultRetryOptions, half).retry).toBe(true);
  });

  it('does not retry caller aborts or client errors', () => {
    expect(decideRetry({ ...base, transient: false }, defaultRetryOptions, half).retry).toBe(false);
    expect(decideRetry({ ...base, status: 400 }, defaultRetryOptions, half).retry).toBe(false);
    expect(decideRetry({ ...base, status: 404 }, defaultRetryOptions, half).retry).toBe(false);
  });

  it('backs off exponentially with jitter inside [exp/2, exp] and caps it', () => {
    const opts = { ...defaultRetryOptions, maxRetries: 20, baseDelayMs: 100, maxDelayMs: 1000 };
    const at = (n: number, r: number) => {
      const d = decideRetry({ ...base, status: 503, transientRetries: n }, opts, () => r);
      return d.retry ? d.delayMs : -1;
    };
    expect(at(0, 0)).toBe(50);
    expect(at(0, 1)).toBe(100);
    expect(at(3, 0)).toBe(400);
    expect(at(3, 1)).toBe(800);
    expect(at(10, 1)).toBe(1000);
    expect(at(10, 0)).toBe(500);
  });

  it('waits at least a 503 Retry-After, within the cap', () => {
    const opts = { ...defaultRetryOptions, baseDelayMs: 100, maxDelayMs: 10_000 };
    const d = decideRetry({ ...base, status: 503, retryAfterMs: 3000 }, opts, half);
    expect(d.retry && d.delayMs).toBe(3000);
  });

  it('stops after maxRetries transient failures', () => {
    const d = decideRetry({ ...base, status: 503, transientRetries: 6 }, defaultRetryOptions, half);
    expect(d.retry).toBe(false);
  });

  it('tries an unreachable endpoint that never answered once more, then gives up; after an answer it rides it out', () => {
    const refused = { ...base, unreachableBeforeAnyAnswer: true };
    const first = decideRetry(refused, defaultRetryOptions, half);
    expect(first).toEqual({ retry: true, delayMs: 375, throttle: false, ambiguous: true });
    expect(decideRetry({ ...refused, transientRetries: 1 }, defaultRetryOptions, half).retry).toBe(false);
    expect(decideRetry({ ...base, transientRetries: 1 }, defaultRetryOptions, half).retry).toBe(true);
    expect(decideRetry({ ...base, transientRetries: 5 }, defaultRetryOptions, half).retry).toBe(true);
  });
});
