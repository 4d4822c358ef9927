// Lanes per web server against the emulator over real HTTP (reference §13: limits per user per web server, a
// client pinned to a server by its ARRAffinity cookie): requests are pinned per lane, and a 429 from one
// server pauses only that server's lane.
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';
import { affinityOf } from '../../../src/dataverse/affinity.js';
import { emulatorTokenProvider } from '../../../src/dataverse/auth.js';
import { systemClock } from '../../../src/dataverse/clock.js';
import { IdentityPool } from '../../../src/dataverse/identity-pool.js';
import { authPolicy } from '../../../src/dataverse/policies/auth.js';
import { composePolicies, type PipelineRequest } from '../../../src/dataverse/policies/pipeline.js';
import { throttlePolicy } from '../../../src/dataverse/policies/throttle.js';
import { createTransport, odataHeaders, type Transport } from '../../../src/dataverse/transport.js';

interface Sent {
  /** The affinity token the request carried as a cookie. */
  readonly pinnedTo?: string;
  /** The token the answer's Set-Cookie named. */
  readonly named?: string;
  readonly status: number;
}

const user = 'lanes';
const maxRequests = 20;

describe('identity lanes per web server (emulator, 3 web servers)', () => {
  let emu: RunningEmulator | undefined;
  let transport: Transport | undefined;
  let pool: IdentityPool | undefined;
  afterEach(async () => {
    pool?.close();
    await transport?.close();
    await emu?.close();
  });

  it('pins each lane to its server by cookie, and a 429 from one server pauses only its lane', async () => {
    // Limits on, latency off: a request limit per user per server that a few requests reach, a window long
    // enough (60 s) that its Retry-After outlasts the test.
    emu = await startEmulator({
      profile: 'realistic',
      settings: { latencyEnabled: false, webServers: 3, maxRequests, windowSeconds: 60 },
    });
    const tokens = emulatorTokenProvider(emu.url, user);
    pool = new IdentityPool([tokens], systemClock, { max: 4, initial: 3 });
    transport = createTransport({ connections: 16 });
    const sent: Sent[] = [];
    const send = composePolicies([throttlePolicy(pool, systemClock), authPolicy()], async (request) => {
      const response = await transport!.send(request);
      const pinnedTo = /ARRAffinity=([^;\s]+)/.exec(request.headers['cookie'] ?? '')?.[1];
      const named = affinityOf(response.headers);
      sent.push({ ...(pinnedTo ? { pinnedTo } : {}), ...(named ? { named } : {}), status: response.status });
      return response;
    });
    const url = `${emu.url}/api/data/v9.2/contacts?$top=1`;
    const get = () => {
      const request: PipelineRequest = {
        method: 'GET',
        url,
        headers: odataHeaders({ read: true, hasBody: false }),
        idempotent: true,
        context: { attempt: 0, ambiguous: false },
      };
      return send(request);
    };

    // Discovery: three requests at once without a cookie meet the three servers; then the pool pins.
    for (let round = 0; round < 5; round += 1) await Promise.all([get(), get(), get(), get(), get()]);
    const pinned = pool.lanes.map((lane) => lane.affinity);
    expect(pinned).toHaveLength(3);
    expect(pinned.every((token) => token !== undefined)).toBe(true);
    expect(new Set(pinned).size).toBe(3);
    expect(sent.every((s) => s.status === 200)).toBe(true);
    // The balancer honoured every pin (no new cookie), and per server the emulator counted exactly the requests
    // pinned to it plus the unpinned ones it named.
    const pinnedRequests = sent.filter((s) => s.pinnedTo !== undefined);
    expect(pinnedRequests.length).toBeGreaterThan(10);
    expect(pinnedRequests.every((s) => s.named === undefined)).toBe(true);
    const perToken = new Map<string, number>();
    for (const s of sent) {
      const server = s.pinnedTo ?? s.named!;
      perToken.set(server, (perToken.get(server) ?? 0) + 1);
    }
    const byServer = emu.stats().users.find((u) => u.user === user)!.requestsByServer;
    expect([...perToken.values()].sort()).toEqual([...byServer].sort());
    expect(byServer.every((n) => n < maxRequests)).toBe(true);

    // Spend server A's request budget from outside the pool, pinned by the same cookie.
    const a = pinned[0]!;
    const token = await tokens.getToken();
    let refused = false;
    for (let i = 0; i < maxRequests && !refused; i += 1) {
      const answer = await fetch(url, {
        headers: { authorization: `Bearer ${token}`, cookie: `ARRAffinity=${a}`, accept: 'application/json' },
      });
      await answer.text();
      refused = answer.status === 429;
    }
    expect(refused).toBe(true);

    // One at a time through the pool: the lanes take turns, A meets its 429 once, then only B and C are used.
    const before = sent.length;
    const statuses: number[] = [];
    for (let i = 0; i < 9; i += 1) statuses.push((await get()).status);
    const phase = sent.slice(before);
    const toA = phase.filter((s) => s.pinnedTo === a);
    expect(toA.map((s) => s.status)).toEqual([429]);
    expect(statuses.filter((s) => s === 429)).toHaveLength(1);
    expect(phase.filter((s) => s.pinnedTo !== a).every((s) => s.status === 200 && s.pinnedTo)).toBe(true);
    const now = Date.now();
    const laneA = pool.lanes.find((lane) => lane.affinity === a)!;
    expect(laneA.governor.pausedUntil).toBeGreaterThan(now + 30_000);
    for (const lane of pool.lanes.filter((l) => l.affinity !== a))
      expect(lane.governor.pausedUntil).toBeLessThanOrEqual(now);
  });
});
