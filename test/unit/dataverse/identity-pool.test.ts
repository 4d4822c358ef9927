import { describe, expect, it } from 'vitest';
import type { TokenProvider } from '../../../src/dataverse/auth.js';
import { IdentityPool, type Lease } from '../../../src/dataverse/identity-pool.js';
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

  it('refuses an identity the pool does not have, naming it', async () => {
    const pool = new IdentityPool([provider('a')], manualClock(), { max: 1, budgetWindowMs: 0 });
    await expect(pool.acquire(undefined, undefined, 'z')).rejects.toThrow(
      "No identity 'z' in this client's pool",
    );
    pool.close();
  });
});
