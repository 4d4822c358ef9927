import { describe, expect, it } from 'vitest';
import type { TokenProvider } from '../../../src/dataverse/auth.js';
import { IdentityPool, type Lease } from '../../../src/dataverse/identity-pool.js';
import type { Clock } from '../../../src/dataverse/clock.js';
import { manualClock } from '../../fixtures/manual-clock.js';

const tokens: TokenProvider = { identity: 'a', getToken: () => Promise.resolve('t') };

const remaining = (s: number) => ({ 'x-ms-ratelimit-time-remaining-xrm-requests': s.toFixed(2) });
const read = { kind: 'GET contacts', weight: 0 };
const write = { kind: 'POST contacts/CreateMultiple', weight: 1_000 };

describe('IdentityPool with an execution-time ledger', () => {
  it('lets a read pass a write its ledger holds back, and serves the write once its kind is learnt', async () => {
    const clock = manualClock();
    const pool = new IdentityPool([tokens], clock, { max: 8, budgetWindowMs: 2_000 });
    const settled: string[] = [];
    const take = (name: string, shape: typeof read) =>
      pool.acquire(undefined, shape).then((lease) => {
        settled.push(name);
        return lease;
      });
    (await take('r1', read)).release({ status: 200, headers: remaining(79.9) });
    clock.advance(10);
    (await take('r2', read)).release({ status: 200, headers: remaining(79.8) });
    clock.advance(10);
    const first: Lease = await take('w1', write);
    clock.advance(10);
    const second = take('w2', write);
    const third = take('r3', read);
    await third;
    expect(settled).toEqual(['r1', 'r2', 'w1', 'r3']); // w2 waits: its kind's cost is not known yet
    first.release({ status: 200, headers: remaining(73.8) });
    await second;
    expect(settled).toEqual(['r1', 'r2', 'w1', 'r3', 'w2']);
    pool.close();
  });
});

describe('IdentityPool while instances share the identity', () => {
  it('serves a write its ledger held back as soon as the share grows, not when the smaller share would have freed', async () => {
    // Sleeps that never end: only a poke can serve the held write before the span frees.
    let t = 0;
    const clock: Clock & { advance(ms: number): void } = {
      now: () => t,
      sleep: () => new Promise<void>(() => undefined),
      advance: (ms) => {
        t += ms;
      },
    };
    let share = 0.25;
    const pool = new IdentityPool([tokens], clock, {
      max: 16,
      budgetWindowMs: 20_000,
      share: () => share,
      steadySharing: true,
    });
    const window = { 'x-ms-emulator-window-ms': '20000' };
    // 5 s of round trip: the whole of a quarter share's 5 s span (4 s per second over a quarter of the window).
    const first = await pool.acquire(undefined, write);
    clock.advance(5_000);
    first.release({ status: 200, headers: window });
    let served = false;
    const second = pool.acquire(undefined, write).then((lease) => {
      served = true;
      return lease;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(served).toBe(false);
    share = 1;
    pool.poke();
    (await second).release({ status: 200, headers: window });
    expect(served).toBe(true);
    expect(clock.now()).toBe(5_000); // served at once, not at 5,045 when the first one's time leaves the span
    pool.close();
  });
});

describe('IdentityPool: a request pinned to one identity', () => {
  const provider = (identity: string): TokenProvider => ({ identity, getToken: () => Promise.resolve('t') });

  it('is carried by that identity only, waiting for its slot while unpinned requests use the others', async () => {
    const clock = manualClock();
    const pool = new IdentityPool([provider('a'), provider('b')], clock, { max: 1, budgetWindowMs: 0 });
    const first = await pool.acquire(undefined, undefined, 'b');
    expect(first.lane.identity).toBe('b');
    const order: string[] = [];
    const pinned = pool.acquire(undefined, undefined, 'b').then((lease) => {
      order.push(`pinned:${lease.lane.identity}`);
      return lease;
    });
    const free = await pool.acquire(undefined, read);
    order.push(`free:${free.lane.identity}`);
    expect(order).toEqual(['free:a']);
    first.release({ status: 200 });
    (await pinned).release({ status: 200 });
    expect(order).toEqual(['free:a', 'pinned:b']);
    free.release({ status: 200 });
    pool.close();
  });

  it("sends new work as this instance's own identities only, and as another's only when pinned to it", async () => {
    const clock = manualClock();
    const own = new Set(['b']);
    const shareFor = (identity: string) => (own.has(identity) ? 1 : 0);
    const pool = new IdentityPool(
      [provider('a'), provider('b')],
      clock,
      { max: 2, budgetWindowMs: 0 },
      undefined,
      undefined,
      shareFor,
    );
    expect(pool.capacity).toBe(2); // b's lane only
    const leases = [await pool.acquire(), await pool.acquire()];
    expect(leases.map((l) => l.lane.identity)).toEqual(['b', 'b']);
    let third: Lease | undefined;
    const waiting = pool.acquire().then((lease) => (third = lease));
    await Promise.resolve();
    expect(third).toBeUndefined(); // a's free slots are another instance's window
    const pinned = await pool.acquire(undefined, undefined, 'a');
    expect(pinned.lane.identity).toBe('a');
    // Lent a's identity (its instance went idle), the waiting request takes it at once.
    own.add('a');
    pool.poke();
    await waiting;
    expect(third?.lane.identity).toBe('a');
    for (const lease of [...leases, pinned, third!]) lease.release({ status: 200 });
    pool.close();
  });

  it('refuses an identity the pool does not have, naming it', async () => {
    const pool = new IdentityPool([provider('a')], manualClock(), { max: 1, budgetWindowMs: 0 });
    await expect(pool.acquire(undefined, undefined, 'z')).rejects.toThrow(
      "No identity 'z' in this client's pool",
    );
    pool.close();
  });
});

describe('IdentityPool lanes per web server', () => {
  const server = (token: string) => ({ 'set-cookie': `ARRAffinity=${token}; path=/; secure; HttpOnly` });

  it('opens a lane pinned to each server the discovery answers name, and a 429 pauses only its lane', async () => {
    const clock = manualClock();
    const pool = new IdentityPool([tokens], clock, { max: 4, initial: 4 });
    expect(pool.lanes.map((l) => l.affinity)).toEqual([undefined]);
    const first = await Promise.all([0, 1].map(() => pool.acquire()));
    first[0]!.release({ status: 200, headers: server('s1') });
    first[1]!.release({ status: 200, headers: server('s2') });
    expect(pool.lanes.map((l) => l.affinity)).toEqual([undefined, 's1', 's2']);

    // Fill every lane: 4 slots each.
    const leases = await Promise.all(Array.from({ length: 12 }, () => pool.acquire()));
    const count = (affinity: string | undefined) => leases.filter((l) => l.lane.affinity === affinity).length;
    expect([count(undefined), count('s1'), count('s2')]).toEqual([4, 4, 4]);

    // s1 refuses one: its lane pauses for Retry-After, s2's lane takes what s1's would have.
    leases.find((l) => l.lane.affinity === 's1')!.release({ status: 429, retryAfterMs: 5_000 });
    leases.find((l) => l.lane.affinity === 's2')!.release({ status: 200 });
    leases.find((l) => l.lane.affinity === 's1')!.release({ status: 200 });
    const next = await pool.acquire();
    expect(next.lane.affinity).toBe('s2');
    const s1 = pool.lanes.find((l) => l.affinity === 's1')!;
    const s2 = pool.lanes.find((l) => l.affinity === 's2')!;
    expect(s1.governor.pausedUntil).toBe(5_000);
    expect(s2.governor.pausedUntil).toBe(0);
    pool.close();
  });

  it("pauses a server's lane when a discovery request meets that server's 429", async () => {
    const clock = manualClock();
    const pool = new IdentityPool([tokens], clock, { max: 4, initial: 2 });
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    a!.release({ status: 200, headers: server('s1') });
    clock.advance(100);
    b!.release({ status: 429, retryAfterMs: 3_000, headers: server('s1') });
    const s1 = pool.lanes.find((l) => l.affinity === 's1')!;
    expect(s1.governor.pausedUntil).toBe(3_100);
    pool.close();
  });

  it('stops sending unpinned requests once discovery has found every server', async () => {
    const clock = manualClock();
    const pool = new IdentityPool([tokens], clock, { max: 8, initial: 8 });
    const leases = await Promise.all(Array.from({ length: 6 }, () => pool.acquire()));
    // One server answers everything: 1 new, then 4 quiet answers (the minimum) end discovery.
    for (const lease of leases.slice(0, 5)) lease.release({ status: 200, headers: server('only') });
    expect(pool.lanes.map((l) => l.affinity)).toEqual(['only']);
    const more = await Promise.all(Array.from({ length: 3 }, () => pool.acquire()));
    expect(more.map((l) => l.lane.affinity)).toEqual(['only', 'only', 'only']);
    pool.close();
  });
});

describe('IdentityPool server discovery by probes', () => {
  const server = (token: string) => ({ 'set-cookie': `ARRAffinity=${token}; path=/` });

  it('probes before the first request and sends every request pinned to a server the probes found', async () => {
    const clock = manualClock();
    let probes = 0;
    // A balancer taking servers in turn: s0, s1, s2, s0, ...
    const probe = () => Promise.resolve({ status: 200, headers: server(`s${probes++ % 3}`) });
    const pool = new IdentityPool([tokens], clock, { max: 4, initial: 4 }, () => {}, probe);
    const leases = await Promise.all(Array.from({ length: 12 }, () => pool.acquire()));
    // Round 1 (8 probes) found three servers, round 2 none: discovery ends after 16 probes.
    expect(probes).toBe(16);
    expect(leases.map((l) => l.lane.affinity).sort()).toEqual([
      's0',
      's0',
      's0',
      's0',
      's1',
      's1',
      's1',
      's1',
      's2',
      's2',
      's2',
      's2',
    ]);
    pool.close();
  });

  it("probes only the identities this instance sends as; another instance's once it is lent or a request is pinned to it", async () => {
    const clock = manualClock();
    const probed: string[] = [];
    const probe = (t: TokenProvider) => {
      probed.push(t.identity);
      return Promise.resolve({ status: 200, headers: server(`${t.identity}-s0`) });
    };
    const own = new Set(['b']);
    const shareFor = (identity: string) => (own.has(identity) ? 1 : 0);
    const ids = ['a', 'b', 'c'].map((identity): TokenProvider => ({
      identity,
      getToken: () => Promise.resolve('t'),
    }));
    const pool = new IdentityPool(
      ids,
      clock,
      { max: 4, initial: 4, budgetWindowMs: 0 },
      () => {},
      probe,
      shareFor,
    );
    const first = await pool.acquire();
    // b's two rounds of 8 (the second finds no new server); a and c are other instances' and not probed.
    expect(probed.filter((id) => id === 'b')).toHaveLength(16);
    expect(probed.filter((id) => id !== 'b')).toEqual([]);
    expect(first.lane).toMatchObject({ identity: 'b', affinity: 'b-s0' });
    // A request pinned to c (a check that runs as each identity) waits for c's probes, then goes pinned.
    const pinned = await pool.acquire(undefined, undefined, 'c');
    expect(pinned.lane).toMatchObject({ identity: 'c', affinity: 'c-s0' });
    expect(probed.filter((id) => id === 'c')).toHaveLength(16);
    // a, lent when its instance went idle, is probed before it carries new work.
    own.add('a');
    own.delete('b');
    pool.poke();
    const lent = await pool.acquire();
    expect(lent.lane).toMatchObject({ identity: 'a', affinity: 'a-s0' });
    expect(probed.filter((id) => id === 'a')).toHaveLength(16);
    for (const lease of [first, pinned, lent]) lease.release({ status: 200 });
    pool.close();
  });

  it('opens each further server’s lane half a second after the one before', async () => {
    const clock = manualClock(10_000);
    let probes = 0;
    const probe = () => Promise.resolve({ status: 200, headers: server(`s${probes++ % 3}`) });
    const pool = new IdentityPool([tokens], clock, { max: 4, initial: 4 }, () => {}, probe);
    const opened: { server: string | undefined; at: number }[] = [];
    const leases = await Promise.all(
      Array.from({ length: 12 }, () =>
        pool.acquire().then((lease) => {
          opened.push({ server: lease.lane.affinity, at: clock.now() });
          return lease;
        }),
      ),
    );
    // s0 takes its 4 at once; s1 only from 500 ms on, s2 from 1,000 ms (the clock's sleeps move it).
    const firstAt = (server: string) =>
      Math.min(...opened.filter((o) => o.server === server).map((o) => o.at));
    expect(firstAt('s0')).toBe(10_000);
    expect(firstAt('s1')).toBe(10_500);
    expect(firstAt('s2')).toBe(11_000);
    expect(leases.filter((l) => l.lane.affinity === 's1')).toHaveLength(4);
    pool.close();
  });

  it('pauses the lane of a server whose probe met a 429, and falls back to unpinned lanes without cookies', async () => {
    const clock = manualClock(1_000);
    const refusing = () => Promise.resolve({ status: 429, headers: { ...server('s0'), 'retry-after': '2' } });
    const pool = new IdentityPool([tokens], clock, { max: 4 }, () => {}, refusing);
    const lease = await pool.acquire();
    // The only server refused: its lane waited out the 2 s before taking the request.
    expect(lease.lane.affinity).toBe('s0');
    expect(clock.now()).toBeGreaterThanOrEqual(3_000);
    pool.close();

    const bare = () => Promise.resolve({ status: 200, headers: {} });
    const unpinned = new IdentityPool([tokens], clock, { max: 4 }, () => {}, bare);
    expect((await unpinned.acquire()).lane.affinity).toBeUndefined();
    unpinned.close();
  });
});
