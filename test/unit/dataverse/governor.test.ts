import { describe, expect, it } from 'vitest';
import {
  Governor,
  maxServersFollowed,
  parseRateLimitNumber,
  parseRetryAfter,
  readRateLimitHeaders,
  retryAfterFromHeaders,
} from '../../../src/dataverse/governor.js';
import { ArrivalLag } from '../../../src/dataverse/budget.js';

/** Starts `n` requests and returns their tickets. */
function startMany(g: Governor, n: number) {
  return Array.from({ length: n }, () => g.start());
}

describe('parseRateLimitNumber', () => {
  it('reads the thousands separator and decimals Dataverse sends', () => {
    expect(parseRateLimitNumber('1,200.00')).toBe(1200);
    expect(parseRateLimitNumber('1,199,999.50')).toBe(1199999.5);
    expect(parseRateLimitNumber('5999')).toBe(5999);
    expect(parseRateLimitNumber(' 0.25 ')).toBe(0.25);
  });
  it('rejects what is not a number', () => {
    expect(parseRateLimitNumber(undefined)).toBeUndefined();
    expect(parseRateLimitNumber('')).toBeUndefined();
    expect(parseRateLimitNumber('abc')).toBeUndefined();
    expect(parseRateLimitNumber('1.2.3')).toBeUndefined();
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('reads delta seconds, integer or decimal', () => {
    expect(parseRetryAfter('5', now)).toBe(5000);
    expect(parseRetryAfter('0.25', now)).toBe(250);
    expect(parseRetryAfter('0', now)).toBe(0);
  });
  it('reads an HTTP date relative to now, never negative', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:07 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
  });
  it('ignores garbage', () => {
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('readRateLimitHeaders', () => {
  it('picks the three x-ms headers', () => {
    expect(
      readRateLimitHeaders({
        'x-ms-dop-hint': '48',
        'x-ms-ratelimit-burst-remaining-xrm-requests': '5,999',
        'x-ms-ratelimit-time-remaining-xrm-requests': '1,200.00',
      }),
    ).toEqual({ dopHint: 48, burstRemaining: 5999, timeRemainingSeconds: 1200 });
    expect(readRateLimitHeaders({})).toEqual({});
  });
});

describe('Governor', () => {
  it('starts at 4 before any answer', () => {
    expect(new Governor({ max: 52 }).limit).toBe(4);
  });

  it('takes x-ms-dop-hint from the first answer', () => {
    const g = new Governor({ max: 52 });
    const [t] = startMany(g, 1);
    g.finish(t!, { now: 0, status: 204, headers: { 'x-ms-dop-hint': '10' } });
    // The hint sets the window; this unsaturated answer does not grow it.
    expect(g.limit).toBe(10);
  });

  it('never exceeds its configured max, nor 52', () => {
    const g = new Governor({ max: 6 });
    for (let i = 0; i < 50; i++) {
      const ts = startMany(g, g.limit);
      for (const t of ts) g.finish(t, { now: i, status: 200 });
    }
    expect(g.limit).toBe(6);
    expect(new Governor({ max: 500 }).max).toBe(52);
  });

  it('doubles per round while saturated (slow start), then halves on a budget 429, not below the default start without a hint', () => {
    const g = new Governor({ max: 52 });
    let ts = startMany(g, 4);
    for (const t of ts) g.finish(t, { now: 0, status: 204 });
    // Only requests that started at the limit count as saturated: the 4th one here.
    expect(g.limit).toBe(5);
    ts = startMany(g, 5);
    for (const t of ts) g.finish(t, { now: 0, status: 204 });
    expect(g.limit).toBe(6);
    const [a, b] = startMany(g, 2);
    g.finish(a!, { now: 1000, status: 429, retryAfterMs: 2000 });
    // Half of 6 is 3; with no x-ms-dop-hint the default start (4) stands in for the recommended parallelism.
    expect(g.limit).toBe(4);
    // A second 429 from a request started before the decrease is the same congestion event.
    g.finish(b!, { now: 1000, status: 429, retryAfterMs: 500 });
    expect(g.limit).toBe(4);
  });

  it('stops reading the rate-limit headers as its budget once a second web server answers', () => {
    const g = new Governor({ max: 16, budgetWindowMs: 300_000 });
    const answer = (server: string, remaining: string) => {
      const [t] = startMany(g, 1);
      g.finish(t!, {
        now: 0,
        status: 204,
        headers: {
          'set-cookie': `ARRAffinity=${server}`,
          'x-ms-ratelimit-time-remaining-xrm-requests': remaining,
        },
      });
    };
    answer('aa', '1,200.00');
    answer('aa', '1,150.00');
    // One server charging: the ledger paces.
    expect(g.pacing).toBe(true);
    answer('bb', '1,190.00');
    expect(g.pacing).toBe(false);
    expect(g.limit).toBeLessThanOrEqual(g.max);
  });

  it('scales its bound with the web servers whose affinity cookies the answers carry (reference §13)', () => {
    const g = new Governor({ max: 10 });
    expect(g.max).toBe(10);
    const answer = (server: string) => {
      const [t] = startMany(g, 1);
      g.finish(t!, {
        now: 0,
        status: 204,
        headers: { 'set-cookie': `ARRAffinity=${server}; path=/; secure; HttpOnly` },
      });
    };
    answer('aa');
    answer('aa');
    expect(g.serverCount).toBe(1);
    answer('bb');
    answer('cc');
    expect(g.max).toBe(30);
    // Followed up to maxServersFollowed, so recycled servers cannot inflate the bound without end.
    for (let i = 0; i < 20; i++) answer(`s${i}`);
    expect(g.serverCount).toBe(maxServersFollowed);
    expect(g.max).toBe(10 * maxServersFollowed);
    expect(g.maxPossible).toBe(10 * maxServersFollowed);
  });

  it('grows additively after the first 429 for concurrency', () => {
    const g = new Governor({ max: 52, initial: 8 });
    const [t] = startMany(g, 1);
    g.finish(t!, { now: 0, status: 429, retryAfterMs: 0, concurrencyLimited: true });
    expect(g.limit).toBe(4);
    // 4 saturated answers at window 4 add about 1 in total.
    for (let round = 0; round < 4; round++) {
      const ts = startMany(g, g.limit);
      g.finish(ts.pop()!, { now: 1, status: 200 });
      for (const x of ts) g.finish(x, { now: 1, status: 200 });
    }
    expect(g.limit).toBe(4);
    for (let round = 0; round < 4; round++) {
      const ts = startMany(g, g.limit);
      for (const x of ts.reverse()) g.finish(x, { now: 1, status: 200 });
    }
    expect(g.limit).toBeGreaterThanOrEqual(5);
    expect(g.limit).toBeLessThanOrEqual(6);
  });

  it('grows no further than the hint once a 429 for the budget has shown the limits bind', () => {
    const g = new Governor({ max: 52, initial: 8 });
    const [t] = startMany(g, 1);
    g.finish(t!, { now: 0, status: 429, retryAfterMs: 0 });
    expect(g.limit).toBe(4);
    for (let round = 0; round < 20; round++) {
      const ts = startMany(g, g.limit);
      for (const x of ts.reverse()) g.finish(x, { now: 1, status: 200 });
    }
    expect(g.limit).toBe(4);
  });

  it('pauses for Retry-After and keeps the longest pause', () => {
    const g = new Governor({ max: 52 });
    const [a, b] = startMany(g, 2);
    g.finish(a!, { now: 1000, status: 429, retryAfterMs: 5000 });
    g.finish(b!, { now: 1100, status: 429, retryAfterMs: 1000 });
    expect(g.pausedUntil).toBe(6000);
    expect(g.isPaused(5999)).toBe(true);
    expect(g.free(5999)).toBe(0);
    expect(g.isPaused(6000)).toBe(false);
    expect(g.free(6000)).toBe(g.limit);
  });

  it('stops growing when the execution-time budget runs low', () => {
    const g = new Governor({ max: 52 });
    const full = { 'x-ms-ratelimit-time-remaining-xrm-requests': '1,200.00' };
    const low = { 'x-ms-ratelimit-time-remaining-xrm-requests': '60.00' };
    let ts = startMany(g, 4);
    for (const t of ts) g.finish(t, { now: 0, status: 204, headers: full });
    const before = g.limit;
    ts = startMany(g, g.limit);
    for (const t of ts.reverse()) g.finish(t, { now: 0, status: 204, headers: low });
    expect(g.limit).toBe(before);
  });

  it('does not grow on server errors', () => {
    const g = new Governor({ max: 52 });
    const ts = startMany(g, 4);
    for (const t of ts.reverse()) g.finish(t, { now: 0, status: 503 });
    expect(g.limit).toBe(4);
    expect(g.inFlight).toBe(0);
  });
});

describe('Governor with a dop hint', () => {
  it('never decreases below the hint, however many 429s', () => {
    const g = new Governor({ max: 52 });
    let [t] = startMany(g, 1);
    g.finish(t!, { now: 0, status: 204, headers: { 'x-ms-dop-hint': '4' } });
    for (let i = 0; i < 20; i++) {
      const ts = startMany(g, g.limit);
      for (const x of ts.reverse()) g.finish(x, { now: 0, status: 204 });
    }
    expect(g.limit).toBeGreaterThan(8);
    for (let i = 0; i < 10; i++) {
      [t] = startMany(g, 1);
      g.finish(t!, { now: i, status: 429, retryAfterMs: 10 });
    }
    expect(g.limit).toBe(4);
  });
});

describe('retryAfterFromHeaders', () => {
  it('prefers millisecond headers over whole-second Retry-After', () => {
    expect(retryAfterFromHeaders({ 'retry-after': '1', 'x-ms-retry-after-ms': '37' }, 0)).toBe(37);
    expect(retryAfterFromHeaders({ 'retry-after-ms': '12.6' }, 0)).toBe(13);
    expect(retryAfterFromHeaders({ 'retry-after': '3' }, 0)).toBe(3000);
    expect(retryAfterFromHeaders({}, 0)).toBeUndefined();
  });
});

describe('Governor reading the execution-time budget', () => {
  const remaining = (s: number) => ({
    'x-ms-ratelimit-time-remaining-xrm-requests': s.toLocaleString('en-US', { minimumFractionDigits: 2 }),
  });
  /** A first, unsaturated answer that shows the full budget (the metadata read every job starts with). */
  function fresh(max: number) {
    const g = new Governor({ max });
    const [t] = startMany(g, 1);
    g.finish(t!, { now: 0, status: 200, headers: remaining(1200) });
    expect(g.limit).toBe(4);
    return g;
  }

  it('learns what one request costs and takes the remaining budget in one step', () => {
    const g = fresh(40);
    const ts = startMany(g, 4);
    // Five requests spent 240 s of 1,200 (48 s each on average), so 960 s pays for 20 more.
    g.finish(ts[3]!, { now: 0, status: 204, headers: remaining(960) });
    expect(g.limit).toBe(3 + 20);
  });

  it('after the first 429 grows one step at a time even when the budget frees up again', () => {
    const g = fresh(10);
    let ts = startMany(g, 4);
    g.finish(ts[3]!, { now: 0, status: 204, headers: remaining(960) });
    expect(g.limit).toBe(10);
    for (const t of ts.slice(0, 3)) g.finish(t, { now: 0, status: 204, headers: remaining(960) });
    const [t] = startMany(g, 1);
    g.finish(t!, { now: 1, status: 429, retryAfterMs: 100 });
    expect(g.limit).toBe(5);
    // Old requests leave the window: the budget is back, but spending it in one burst again would end
    // in another round of 429s (measured on the import bench: the same throughput, 4x the 429s).
    ts = startMany(g, 5);
    g.finish(ts[4]!, { now: 2, status: 204, headers: remaining(1200) });
    expect(g.limit).toBe(5);
  });

  it('does not jump while the budget is spent', () => {
    const g = fresh(40);
    const ts = startMany(g, 4);
    g.finish(ts[3]!, { now: 0, status: 204, headers: remaining(20) });
    expect(g.limit).toBeLessThanOrEqual(5);
  });
});

describe('Governor on a concurrency 429', () => {
  it('cuts below the hint: too many requests in flight is the one 429 more slots cannot help', () => {
    const g = new Governor({ max: 52 });
    const [t] = startMany(g, 1);
    g.finish(t!, { now: 0, status: 204, headers: { 'x-ms-dop-hint': '8' } });
    expect(g.limit).toBe(8);
    const [a] = startMany(g, 1);
    g.finish(a!, { now: 1, status: 429, retryAfterMs: 10, concurrencyLimited: true });
    expect(g.limit).toBe(4);
    const [b] = startMany(g, 1);
    g.finish(b!, { now: 2, status: 429, retryAfterMs: 10 });
    // A budget 429 would not go below the hint, but the window is already under it.
    expect(g.limit).toBe(4);
  });
});

describe('Governor with an execution-time ledger', () => {
  const time = (s: number) => ({
    'x-ms-ratelimit-time-remaining-xrm-requests': s.toLocaleString('en-US', { minimumFractionDigits: 2 }),
    'x-ms-emulator-window-ms': '2000',
  });
  const read = { kind: 'GET contacts', weight: 0 };
  const write = { kind: 'POST contacts/CreateMultiple', weight: 1_000 };

  it('paces only once the service is seen charging execution time', () => {
    const g = new Governor({ max: 16, budgetWindowMs: 300_000 });
    const t = g.start(read, 0);
    g.finish(t, { now: 1, status: 200, headers: time(80) });
    expect(g.pacing).toBe(false); // a full window: nothing is charged (an emulator without limits)
    const u = g.start(read, 2);
    g.finish(u, { now: 3, status: 200, headers: time(79.5) });
    expect(g.pacing).toBe(true);
    expect(g.limit).toBe(16);
  });

  it('holds requests while its ledger says the window is full, until the charges leave', () => {
    const g = new Governor({ max: 16, budgetWindowMs: 2_000 });
    let remaining = 80;
    const answer = (shape: typeof read, sentAt: number, cost: number) => {
      const t = g.start(shape, sentAt);
      remaining -= cost;
      g.finish(t, { now: sentAt + 1, status: 200, headers: time(remaining) });
    };
    answer(read, 0, 0.5);
    answer(read, 10, 0.5);
    answer(write, 20, 30);
    answer(write, 30, 30);
    // 61 of 80 spent: room. The next write is estimated like the last one.
    expect(g.free(40)).toBeGreaterThan(0);
    g.start(write, 40);
    expect(g.free(40)).toBe(0); // bodies leave spaced apart
    expect(g.free(60)).toBe(0); // 91 of 80: full
    // The write sent at 20 leaves the window at 20 + 2,000 + slack; then there is room again.
    const until = g.pausedUntil;
    expect(until).toBeGreaterThan(2_020);
    expect(until).toBeLessThan(2_100);
    expect(g.free(until)).toBeGreaterThan(0);
  });

  it('sizes the window from its ledger when no report showed it empty (another sender before it), up to 4 s a second', () => {
    const g = new Governor({ max: 16, budgetWindowMs: 20_000 });
    let remaining = 60; // another process's 20 s are in the 80 s window when this one starts
    const answer = (shape: typeof read, sentAt: number, cost: number) => {
      const t = g.start(shape, sentAt);
      remaining -= cost;
      const headers = { ...time(remaining), 'x-ms-emulator-window-ms': '20000' };
      g.finish(t, { now: sentAt + 1, status: 200, headers });
    };
    answer(read, 0, 0.5);
    answer(read, 10, 0.5);
    answer(write, 20, 20);
    answer(write, 30, 20);
    remaining += 20; // the other's charges leave the window
    answer(read, 5_000, 0.5);
    // 41.5 in the ledger and 38.5 reported: the window holds 80, not the 59.5 the largest report said.
    expect(g.free(5_010)).toBeGreaterThan(0);
    g.start(write, 5_010);
    expect(g.free(5_030)).toBeGreaterThan(0); // 61.5 of 80
    g.start(write, 5_030);
    expect(g.free(5_050)).toBe(0); // 81.5: full at the documented size
  });

  it('sends a write of a kind it has not learnt one at a time; reads are not held', () => {
    const g = new Governor({ max: 16, budgetWindowMs: 2_000 });
    const a = g.start(read, 0);
    g.finish(a, { now: 1, status: 200, headers: time(79.9) });
    const b = g.start(read, 5);
    g.finish(b, { now: 6, status: 200, headers: time(79.8) });
    expect(g.admits(write)).toBe(true);
    const w = g.start(write, 10);
    expect(g.admits(write)).toBe(false);
    expect(g.admits(read)).toBe(true);
    g.finish(w, { now: 50, status: 200, headers: time(73.8) });
    expect(g.admits(write)).toBe(true);
  });

  it('does not charge a refused request', () => {
    const g = new Governor({ max: 16, budgetWindowMs: 2_000 });
    const a = g.start(read, 0);
    g.finish(a, { now: 1, status: 200, headers: time(79) });
    const w = g.start(write, 10);
    g.finish(w, { now: 11, status: 429, retryAfterMs: 5, headers: time(0) });
    // Only the pause of the 429 holds requests; the refused write left nothing in the window.
    expect(g.free(20)).toBeGreaterThan(0);
  });
});

describe('Governor ledger: lateness learnt from budget 429s', () => {
  const time = (s: number) => ({
    'x-ms-ratelimit-time-remaining-xrm-requests': s.toLocaleString('en-US', { minimumFractionDigits: 2 }),
    'x-ms-emulator-window-ms': '20000',
  });
  const read = { kind: 'GET contacts', weight: 0 };
  const write = { kind: 'POST contacts/UpsertMultiple', weight: 1_000 };

  /**
   * A governor whose ledger has learnt that a write costs 30 s of an 80 s window of 20 s (time-scaled): a read answered first
   * (the whole window), then two writes sent at 10 and 20, both before any report showed a charge.
   */
  function learnt(lag = new ArrivalLag()) {
    const g = new Governor({ max: 16, budgetWindowMs: 20_000, arrivalLag: lag });
    const a = g.start(read, 0);
    const b = g.start(write, 10);
    const c = g.start(write, 20);
    g.finish(a, { now: 5, status: 200, headers: time(80) });
    g.finish(b, { now: 500, status: 204, headers: time(50) });
    g.finish(c, { now: 510, status: 204, headers: time(20) });
    return g;
  }

  it('counts the requests sent before the service was seen charging', () => {
    const g = learnt();
    expect(g.pacing).toBe(true);
    // Both first writes are in the ledger: 60 of 80 spent, so a third (90) finds the window full.
    expect(g.free(600)).toBeGreaterThan(0);
    g.start(write, 600);
    expect(g.free(700)).toBe(0);
    // Room again once the write sent at 10 leaves: 20,000 + the default slack (40 + 20) ms after it.
    expect(g.pausedUntil).toBe(20_070);
  });

  it('a budget 429 for a request it admitted moves every charge later by the wait asked', () => {
    const lag = new ArrivalLag();
    const g = learnt(lag);
    g.start(write, 600);
    expect(g.free(20_070)).toBeGreaterThan(0);
    const refused = g.start(write, 20_070);
    g.finish(refused, { now: 20_075, status: 429, retryAfterMs: 120, headers: time(0) });
    expect(lag.ms).toBe(120);
    // The Retry-After pause holds the lane until 20,195; the ledger's own view moved too (below).
    expect(g.free(20_180)).toBe(0);
    expect(g.pausedUntil).toBe(20_195);
    // A refusal of a request admitted with that lateness adds its wait to it.
    const again = g.start(write, 20_195);
    g.finish(again, { now: 20_196, status: 429, retryAfterMs: 30, headers: time(0) });
    expect(lag.ms).toBe(150);
    // Another lane sharing the lateness reckons with it before meeting a 429 of its own.
    const other = learnt(lag);
    other.start(write, 600);
    expect(other.free(20_100)).toBe(0);
    expect(other.pausedUntil).toBe(20_220);
  });

  it('does not take a long wait (a miscounted window) or a 429 before pacing for lateness', () => {
    const lag = new ArrivalLag();
    const g = new Governor({ max: 16, budgetWindowMs: 20_000, arrivalLag: lag });
    const first = g.start(write, 0);
    g.finish(first, { now: 5, status: 429, retryAfterMs: 20, headers: time(0) });
    expect(lag.ms).toBe(0); // not paced when admitted
    const h = learnt(lag);
    const long = h.start(write, 600);
    h.finish(long, { now: 601, status: 429, retryAfterMs: 500, headers: time(0) });
    expect(lag.ms).toBe(0); // 500 ms is more than 2% of the window: a miscount, waited out by the pause
  });
});

describe('ArrivalLag', () => {
  it('keeps the largest lateness seen, capped at 2% of the window', () => {
    const lag = new ArrivalLag();
    expect(lag.refusedAfterAdmit(100, 0, 300_000)).toBe(true);
    expect(lag.ms).toBe(100);
    expect(lag.refusedAfterAdmit(50, 0, 300_000)).toBe(true);
    expect(lag.ms).toBe(100);
    expect(lag.refusedAfterAdmit(5_000, 2_000, 300_000)).toBe(true);
    expect(lag.ms).toBe(6_000);
    expect(lag.refusedAfterAdmit(7_000, 0, 300_000)).toBe(false);
    expect(lag.ms).toBe(6_000);
  });
});

describe('Governor without execution-time reports: counting the window', () => {
  const windowOnly = { 'x-ms-emulator-window-ms': '20000' };
  const write = { kind: 'POST contacts/UpsertMultiple', weight: 1_000 };

  it('after a budget 429, holds the window to the requests it held and frees one per charge that leaves', () => {
    const g = new Governor({ max: 16, budgetWindowMs: 20_000 });
    // Four writes answered, then a fifth refused for the budget: the window holds four.
    const sent = [0, 100, 200, 300].map((t) => g.start(write, t));
    sent.forEach((ticket, i) => g.finish(ticket, { now: 5_000 + i, status: 204, headers: windowOnly }));
    const refused = g.start(write, 6_000);
    // The service frees the window when the write sent at 0 leaves: 20,000 + 60 of slack, as reckoned.
    g.finish(refused, { now: 6_001, status: 429, retryAfterMs: 14_059, headers: windowOnly });
    expect(g.countPacing).toBe(true);
    expect(g.pacing).toBe(false);
    expect(g.free(20_060)).toBe(1); // the write sent at 0 left: room for one, not for the whole limit
    g.start(write, 20_060);
    expect(g.free(20_061)).toBe(0);
    expect(g.pausedUntil).toBe(20_160); // the write sent at 100 leaves next
    expect(g.free(20_160)).toBe(1);
  });

  it('learns from Retry-After that the oldest charge leaves later than it reckoned', () => {
    const lag = new ArrivalLag();
    const g = new Governor({ max: 16, budgetWindowMs: 20_000, arrivalLag: lag });
    const sent = [0, 100].map((t) => g.start(write, t));
    sent.forEach((ticket, i) => g.finish(ticket, { now: 5_000 + i, status: 204, headers: windowOnly }));
    const refused = g.start(write, 6_000);
    // Reckoned to leave at 20,060; the service says 20,360.
    g.finish(refused, { now: 6_000, status: 429, retryAfterMs: 14_360, headers: windowOnly });
    expect(lag.ms).toBe(300);
    expect(g.free(20_359)).toBe(0);
    expect(g.free(20_360)).toBe(1);
  });

  it('does not count the window for a 429 on concurrency, nor while instances share the identity', () => {
    const g = new Governor({ max: 16, budgetWindowMs: 20_000 });
    const a = g.start(write, 0);
    g.finish(a, { now: 10, status: 429, retryAfterMs: 1_000, concurrencyLimited: true, headers: windowOnly });
    expect(g.countPacing).toBe(false);
    const shared = new Governor({ max: 16, budgetWindowMs: 20_000, share: () => 0.5 });
    const b = shared.start(write, 0);
    const c = shared.start(write, 1);
    shared.finish(b, { now: 5_000, status: 204, headers: windowOnly });
    shared.finish(c, { now: 5_001, status: 429, retryAfterMs: 15_000, headers: windowOnly });
    expect(shared.countPacing).toBe(false);
  });
});

describe('Governor without execution-time reports: a 429 that does not match the window', () => {
  it('does not count the window when Retry-After is far from when its oldest charge leaves', () => {
    const g = new Governor({ max: 16, budgetWindowMs: 300_000 });
    const write = { kind: 'POST contacts/UpsertMultiple', weight: 1_000 };
    const a = g.start(write, 0);
    g.finish(a, { now: 50, status: 204 });
    // A 429 asking to wait 1 s while the oldest charge stays for another 300 s: not a full window.
    const b = g.start(write, 100);
    g.finish(b, { now: 110, status: 429, retryAfterMs: 1_000 });
    expect(g.countPacing).toBe(false);
    expect(g.free(1_200)).toBe(4); // its concurrency limit, as without a ledger
  });
});

describe('Governor while instances share the identity, pacing steadily: on its own time', () => {
  const windowOnly = { 'x-ms-emulator-window-ms': '20000' };
  const write = { kind: 'POST contacts/CreateMultiple', weight: 1_000 };
  const time = (s: number) => ({
    'x-ms-ratelimit-time-remaining-xrm-requests': s.toLocaleString('en-US', { minimumFractionDigits: 2 }),
    ...windowOnly,
  });

  it("fills its share of the window's execution time with its round trips, then waits for the oldest to leave", () => {
    // Held over a quarter of the 20 s window: a quarter share of 4 s per second over 5 s is 5 s of round trips.
    const g = new Governor({ max: 20, budgetWindowMs: 20_000, share: () => 0.25, steadySharing: true });
    expect(g.sharedPacing).toBe(true);
    expect(g.limit).toBe(1); // a quarter of the recommended parallelism (4 without a hint), rounded up
    const first = g.start(write, 0);
    expect(g.admits(write)).toBe(false); // an unknown kind goes alone
    g.finish(first, { now: 1_000, status: 200, headers: { ...windowOnly, 'x-ms-dop-hint': '20' } });
    expect(g.limit).toBe(5); // a quarter of the hint
    // Four more estimated at the first one's 1 s each fill the 5 s, spaced 8 ms apart.
    for (const at of [1_000, 1_008, 1_016, 1_024]) {
      expect(g.free(at)).toBeGreaterThan(0);
      g.start(write, at);
    }
    expect(g.free(1_032)).toBe(0);
    // The first request's second leaves the span 5 s after its send (plus 40 ms + 0.1% of slack).
    expect(g.pausedUntil).toBe(5_045);
    expect(g.free(5_044)).toBe(0);
    expect(g.free(5_045)).toBe(1); // room for one under the limit of 5, the four still out
  });

  it('counts what a request took, not what its kind usually takes, once answered', () => {
    const g = new Governor({ max: 16, budgetWindowMs: 20_000, share: () => 0.25, steadySharing: true });
    const a = g.start(write, 0);
    g.finish(a, { now: 500, status: 200, headers: windowOnly });
    const b = g.start(write, 500);
    g.finish(b, { now: 5_000, status: 200, headers: windowOnly }); // 4.5 s: a congested answer
    // 0.5 + 4.5 = 5 s spent: full until the first one's half second leaves.
    expect(g.free(5_000)).toBe(0);
    expect(g.pausedUntil).toBe(5_045);
  });

  it('leaves a refused request out of its own time', () => {
    const g = new Governor({ max: 16, budgetWindowMs: 20_000, share: () => 0.25, steadySharing: true });
    const a = g.start(write, 0);
    g.finish(a, { now: 2_000, status: 200, headers: windowOnly });
    const b = g.start(write, 2_000);
    g.finish(b, { now: 4_500, status: 429, retryAfterMs: 100, headers: windowOnly });
    // Only the 2 s of the answered one: room once the pause ends.
    expect(g.free(4_599)).toBe(0);
    expect(g.free(4_600)).toBeGreaterThan(0);
  });

  it('works its hold out afresh when its share grows (another instance went idle)', () => {
    let share = 0.25;
    const g = new Governor({ max: 16, budgetWindowMs: 20_000, share: () => share, steadySharing: true });
    const a = g.start(write, 0);
    g.finish(a, { now: 5_000, status: 200, headers: windowOnly }); // 5 s: the quarter's whole span
    expect(g.free(5_000)).toBe(0);
    expect(g.pausedUntil).toBe(5_045);
    share = 1; // the span now holds 20 s
    expect(g.free(5_001)).toBeGreaterThan(0);
  });

  it('does not pace against a service whose reports show nothing charged (an emulator without limits)', () => {
    const g = new Governor({ max: 16, budgetWindowMs: 20_000, share: () => 0.5, steadySharing: true });
    for (let i = 0; i < 3; i++) {
      const t = g.start(write, i * 10_000);
      g.finish(t, { now: i * 10_000 + 9_000, status: 200, headers: time(80) });
    }
    expect(g.sharedPacing).toBe(false);
    expect(g.free(30_000)).toBe(2); // half the AIMD window of 4, however long its round trips
  });

  it('learns nothing from the reports while shared, so alone again it starts from what it measured alone', () => {
    let share = 0.5;
    const g = new Governor({ max: 16, budgetWindowMs: 20_000, share: () => share, steadySharing: true });
    // Two writes answered while another instance's charges fall in the same reports.
    const a = g.start(write, 0);
    g.finish(a, { now: 1_000, status: 200, headers: time(70) });
    const b = g.start(write, 2_000);
    g.finish(b, { now: 3_000, status: 200, headers: time(50) });
    share = 1;
    // Alone, but the window may still hold what it sent while shared: it goes on pacing on its own time.
    expect(g.free(4_000)).toBeGreaterThan(0);
    expect(g.pacing).toBe(false);
    expect(g.sharedPacing).toBe(true);
    // Once the last request sent while shared has left the window (3,000 + 20,000 + 60 of slack), the reports
    // pace again. The 20 s step between the shared reports was not taken as this write's cost: its kind is
    // still unknown, so the next write goes alone to learn it.
    expect(g.free(23_060)).toBeGreaterThan(0);
    expect(g.pacing).toBe(true);
    g.start(write, 23_060);
    expect(g.admits(write)).toBe(false);
  });
});

describe('Governor while instances share the identity, spending bursts (the default)', () => {
  it('does not pace on its own time, and learns from the reports as before', () => {
    const write = { kind: 'POST contacts/CreateMultiple', weight: 1_000 };
    const g = new Governor({ max: 16, budgetWindowMs: 20_000, share: () => 0.25 });
    expect(g.sharedPacing).toBe(false);
    const a = g.start(write, 0);
    g.finish(a, { now: 5_000, status: 200, headers: { 'x-ms-emulator-window-ms': '20000' } });
    // 5 s of round trip would fill a steady quarter's 5 s span; bursting, only the scaled concurrency limits.
    expect(g.free(5_000)).toBe(1);
  });
});
