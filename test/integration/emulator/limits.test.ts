import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../../emulator/index.js';
import { call } from './client.js';

let emu: RunningEmulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function realistic(options: EmulatorOptions): Promise<RunningEmulator> {
  emu = await startEmulator({ profile: 'realistic', ...options });
  return emu;
}

const remaining = (h: Headers) => h.get('x-ms-ratelimit-time-remaining-xrm-requests');

describe('service protection (behaviours item 7)', () => {
  it('[webapi §8] the request limit gives 429 0x80072322 with Retry-After and a precise retry header', async () => {
    // A 3 s window: long enough for a loaded machine to send six requests inside it.
    const e = await realistic({ timeScale: 0.01, settings: { maxRequests: 5 } });
    for (let i = 0; i < 5; i += 1) expect((await call(e, 'GET', 'WhoAmI')).status).toBe(200);
    const r = await call(e, 'GET', 'WhoAmI');
    expect(r.status).toBe(429);
    expect(r.json.error).toEqual({
      code: '0x80072322',
      message: 'Number of requests exceeded the limit of 5 over time window of 300 seconds.',
    });
    const preciseMs = Number(r.headers.get('x-ms-emulator-retry-after-ms'));
    expect(preciseMs).toBeGreaterThan(0);
    expect(preciseMs).toBeLessThanOrEqual(3000);
    expect(r.headers.get('retry-after')).toBe(String(Math.max(1, Math.ceil(preciseMs / 1000))));
    // The reported counter is not the enforced limit: it starts near 8,000 (reference §13).
    expect(r.headers.get('x-ms-ratelimit-burst-remaining-xrm-requests')).toBe('7995');
    await new Promise((res) => setTimeout(res, preciseMs + 5));
    expect((await call(e, 'GET', 'WhoAmI')).status).toBe(200);
  });

  it('[webapi §8] another user has its own budget', async () => {
    const e = await realistic({ timeScale: 0.001, settings: { maxRequests: 2, windowSeconds: 100_000 } });
    await call(e, 'GET', 'WhoAmI', { user: 'a' });
    await call(e, 'GET', 'WhoAmI', { user: 'a' });
    expect((await call(e, 'GET', 'WhoAmI', { user: 'a' })).status).toBe(429);
    expect((await call(e, 'GET', 'WhoAmI', { user: 'b' })).status).toBe(200);
  });

  it('[webapi §8] execution time is enforced lazily at admission: 0x80072321 with the exact message', async () => {
    const e = await realistic({ timeScale: 0.01, settings: { latencyEnabled: false, createMs: 700_000 } });
    // Window 3 s real: the three requests below land inside it even on a loaded machine.
    expect((await call(e, 'POST', 'accounts', { body: { name: 'a' } })).status).toBe(204);
    // 700 s counted < 1,200 s: admitted, and it overshoots the budget.
    expect((await call(e, 'POST', 'accounts', { body: { name: 'b' } })).status).toBe(204);
    const r = await call(e, 'POST', 'accounts', { body: { name: 'c' } });
    expect(r.status).toBe(429);
    expect(r.json.error).toEqual({
      code: '0x80072321',
      message:
        'Combined execution time of incoming requests exceeded limit of 1,200,000  milliseconds over time window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.',
    });
    expect(remaining(r.headers)).toBe('0.00');
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(e.store.count('account')).toBe(2);
  });

  it('[webapi §8] concurrency above the limit is refused immediately with 0x80072326', async () => {
    const e = await realistic({
      timeScale: 1,
      settings: { maxConcurrent: 2, networkMs: 1500, createMs: 0, retrieveMs: 0, fixedServerMs: 0 },
    });
    const replies = await Promise.all([1, 2, 3].map(() => call(e, 'GET', 'WhoAmI')));
    const statuses = replies.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 429]);
    const throttled = replies.find((r) => r.status === 429)!;
    expect(throttled.json.error).toEqual({
      code: '0x80072326',
      message: 'Number of concurrent requests exceeded the limit of 2.',
    });
  });

  it('[perf §3] counted time follows the cost model and shows in x-ms-ratelimit-time-remaining', async () => {
    // Fast latency, but a window (1,000 s real) that nothing leaves during the test.
    const e = await realistic({ timeScale: 0.001, settings: { windowSeconds: 1_000_000 } });
    const create = await call(e, 'POST', 'accounts', { body: { name: 'one' } });
    expect(remaining(create.headers)).toBe('1,199.92'); // 80 ms single create
    const targets = Array.from({ length: 100 }, (_, i) => ({
      '@odata.type': 'Microsoft.Dynamics.CRM.account',
      name: `b${i}`,
    }));
    const bulk = await call(e, 'POST', 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', {
      body: { Targets: targets },
    });
    expect(bulk.status).toBe(200);
    expect(remaining(bulk.headers)).toBe('1,199.24'); // + 35 + 6.5 × 100 = 685 ms
    const page = await call(e, 'GET', 'accounts?$select=name', {
      headers: { Prefer: 'odata.maxpagesize=50' },
    });
    expect(page.json.value).toHaveLength(50);
    expect(remaining(page.headers)).toBe('1,199.20'); // + 35 + 0.1 × 50 × max(1, 1/10) = 40 ms
    expect(e.stats().users[0]!.totalCountedMs).toBeCloseTo(80 + 685 + 40, 6);
  });

  it('[perf §3.6] counts the bytes the requests and answers of each user carried, and the rows its reads returned', async () => {
    const e = await realistic({ timeScale: 0.001 });
    const body = { name: 'bytes' };
    const created = await call(e, 'POST', 'accounts', { body, headers: { Prefer: 'return=representation' } });
    expect(created.status).toBe(201);
    const page = await call(e, 'GET', 'accounts?$select=name');
    const usage = e.stats().users.find((u) => u.user === 'tester')!;
    expect(page.json.value).toHaveLength(1);
    const answers = Buffer.byteLength(created.text) + Buffer.byteLength(page.text);
    expect(usage.transferBytes).toBe(Buffer.byteLength(JSON.stringify(body)) + answers);
    expect(usage.rowsRead).toBe(1);
  });

  it('[perf §3.6] above the dop hint only observed latency grows; counted time stays at base cost', async () => {
    const e = await realistic({ timeScale: 0.01, settings: { dopHint: 2 } });
    await Promise.all(
      Array.from({ length: 8 }, (_, i) => call(e, 'POST', 'accounts', { body: { name: `c${i}` } })),
    );
    const usage = e.stats().users.find((u) => u.user === 'tester')!;
    expect(usage.totalCountedMs).toBe(8 * 80);
    expect(usage.inflight).toBe(0);
  });

  it('[webapi §6] a $batch counts as one request but every operation toward execution time', async () => {
    const e = await realistic({ timeScale: 0.001 });
    const body = ['a', 'b', 'c']
      .map(
        (n) =>
          `--b1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nPOST accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"name":"${n}"}`,
      )
      .join('\r\n');
    const r = await call(e, 'POST', '$batch', {
      body: `${body}\r\n--b1--\r\n`,
      headers: { 'Content-Type': 'multipart/mixed;boundary=b1' },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-ms-ratelimit-burst-remaining-xrm-requests')).toBe('7999');
    expect(remaining(r.headers)).toBe('1,199.85'); // 35 + 3 × 40 = 155 ms
  });

  it('[perf §4] ceiling() reports the binding limit for the settings in force', async () => {
    const e = await realistic({});
    const bulk = e.ceiling({ operation: 'create-multiple', batchSize: 100, runSeconds: 3600 });
    expect(bulk.binding).toBe('execution-time');
    const single = e.ceiling({ operation: 'create', runSeconds: 3600 });
    expect(single.binding).toBe('requests');
    // 6,000 requests × 3600 / 300 windows of budget spread over 3,600 s.
    expect(single.recordsPerSecond).toBeCloseTo((6000 * 12) / 3600, 6);
  });

  describe('web servers and affinity (reference §13)', () => {
    const cookieOf = (r: { headers: Headers }) =>
      /^ARRAffinity=([0-9a-f]+)/.exec(r.headers.get('set-cookie') ?? '')?.[1];

    it('[webapi §13 limits per web server] a cookie pins a client to a server whose limits are its own; without it requests spread', async () => {
      const e = await realistic({
        timeScale: 0.001,
        settings: { webServers: 2, maxRequests: 2, windowSeconds: 100_000 },
      });
      const first = await call(e, 'GET', 'WhoAmI');
      const token = cookieOf(first);
      expect(token).toMatch(/^[0-9a-f]{64}$/);
      const pinned = { Cookie: `ARRAffinity=${token}` };
      const second = await call(e, 'GET', 'WhoAmI', { headers: pinned });
      expect(second.status).toBe(200);
      // A pinned request is not told its server again.
      expect(second.headers.get('set-cookie')).toBeNull();
      // The pinned server's request limit is spent; the other server still admits this user.
      const third = await call(e, 'GET', 'WhoAmI', { headers: pinned });
      expect(third.status).toBe(429);
      expect(third.json.error.code).toBe('0x80072322');
      const elsewhere = await call(e, 'GET', 'WhoAmI');
      expect(elsewhere.status).toBe(200);
      const other = cookieOf(elsewhere);
      expect(other).toMatch(/^[0-9a-f]{64}$/);
      expect(other).not.toBe(token);
      expect(e.stats().users.find((u) => u.user === 'tester')?.requestsByServer).toEqual([2, 1]);
    });

    it('[webapi §13 rate-limit headers] the counters are per server: they start again when the cookie changes', async () => {
      const e = await realistic({ timeScale: 0.001, settings: { webServers: 2, windowSeconds: 100_000 } });
      const a = await call(e, 'GET', 'WhoAmI');
      const pinned = { Cookie: `ARRAffinity=${cookieOf(a)}` };
      await call(e, 'GET', 'WhoAmI', { headers: pinned });
      const again = await call(e, 'GET', 'WhoAmI', { headers: pinned });
      expect(again.headers.get('x-ms-ratelimit-burst-remaining-xrm-requests')).toBe('7997');
      expect(remaining(again.headers)).toBe('1,199.90'); // 3 × 35 ms
      // No cookie: the least-loaded server answers, with its own counters for this user.
      const fresh = await call(e, 'GET', 'WhoAmI');
      expect(cookieOf(fresh)).not.toBe(cookieOf(a));
      expect(fresh.headers.get('x-ms-ratelimit-burst-remaining-xrm-requests')).toBe('7999');
      expect(remaining(fresh.headers)).toBe('1,199.97');
    });

    it('[webapi §13 rate-limit headers] an environment can send none of them; Retry-After stays', async () => {
      const e = await realistic({
        timeScale: 0.01,
        settings: { rateLimitHeaders: false, dopHintHeader: false, maxRequests: 1 },
      });
      const ok = await call(e, 'GET', 'WhoAmI');
      expect(ok.status).toBe(200);
      for (const name of [
        'x-ms-ratelimit-burst-remaining-xrm-requests',
        'x-ms-ratelimit-time-remaining-xrm-requests',
        'x-ms-dop-hint',
      ])
        expect(ok.headers.get(name)).toBeNull();
      const refused = await call(e, 'GET', 'WhoAmI');
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    });

    it('[webapi §13] one web server by default (a trial environment)', async () => {
      const e = await realistic({ timeScale: 0.001 });
      expect(e.settings().webServers).toBe(1);
      const a = cookieOf(await call(e, 'GET', 'WhoAmI'));
      expect(cookieOf(await call(e, 'GET', 'WhoAmI'))).toBe(a);
    });
  });
});
