import { describe, expect, it } from 'vitest';
import { MemoryFleetBoard } from '../../../src/fleet/board.js';
import { FleetShare, shareOf } from '../../../src/fleet/share.js';
import { ContainerClient } from '@azure/storage-blob';
import { fleetShareFor, poolKey } from '../../../src/fleet/runtime-share.js';
import { Governor } from '../../../src/dataverse/governor.js';
import type { Clock } from '../../../src/dataverse/clock.js';

/** A clock moved by hand whose sleeps never end (until aborted): the refresh loop waits, tests refresh. */
function handClock(): Clock & { advance(ms: number): void } {
  let t = 0;
  return {
    now: () => t,
    sleep: (_ms, signal) =>
      new Promise<void>((_resolve, reject) =>
        signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true }),
      ),
    advance: (ms) => {
      t += ms;
    },
  };
}

const member = (instance: string, demand: number, ageMs = 0) => ({ instance, demand, ageMs });

describe('shareOf', () => {
  it('gives a lone instance the whole window', () => {
    expect(shareOf('a', 12, [member('a', 12)], 5_000)).toEqual({ share: 1, active: 1 });
  });

  it('splits the window in proportion to the backlogs of the live, busy members', () => {
    const members = [member('a', 30), member('b', 10), member('c', 0), member('d', 20, 9_000)];
    // d is older than the TTL (a crashed instance) and c has nothing to send: a and b share 3:1.
    expect(shareOf('a', 30, members, 5_000)).toEqual({ share: 0.75, active: 2 });
    expect(shareOf('b', 10, members, 5_000)).toEqual({ share: 0.25, active: 2 });
  });

  it('gives idle instances an equal part while no one is busy, so a new file does not make them all burst', () => {
    const idle = [member('a', 0), member('b', 0), member('c', 0), member('d', 0, 9_000)];
    // d is past the TTL: three live members.
    expect(shareOf('a', 0, idle, 5_000).share).toBeCloseTo(1 / 3);
    expect(shareOf('a', 0, [member('a', 0)], 5_000).share).toBe(1);
  });

  it('keeps for an idle instance the share it would get as busy as the others', () => {
    expect(shareOf('c', 0, [member('a', 30), member('b', 10), member('c', 0)], 5_000).share).toBeCloseTo(
      1 / 3,
    );
  });
});

describe('FleetShare over a board', () => {
  it('two busy instances take half each, and the survivor takes all once the other leaves', async () => {
    const clock = handClock();
    const board = new MemoryFleetBoard(() => clock.now());
    const a = new FleetShare({ board, clock, refreshMs: 1_000, instance: 'a' });
    const b = new FleetShare({ board, clock, refreshMs: 1_000, instance: 'b' });
    let backlogA = 8;
    const backlogB = 8;
    a.track(() => backlogA);
    b.track(() => backlogB);
    await a.refresh();
    await b.refresh();
    await a.refresh();
    expect([a.share, b.share]).toEqual([0.5, 0.5]);
    backlogA = 24;
    await a.refresh();
    expect(a.share).toBe(0.75);
    await a.close();
    await b.refresh();
    expect(b.share).toBe(1);
    await b.close();
  });

  it('tells the client when its share changes, and only then', async () => {
    const clock = handClock();
    const board = new MemoryFleetBoard(() => clock.now());
    const a = new FleetShare({ board, clock, refreshMs: 1_000, instance: 'a' });
    const b = new FleetShare({ board, clock, refreshMs: 1_000, instance: 'b' });
    const told: number[] = [];
    a.track(
      () => 8,
      () => told.push(a.share),
    );
    b.track(() => 8);
    await b.refresh();
    await a.refresh(); // 1 → 0.5
    await a.refresh(); // unchanged
    await b.close();
    await a.refresh(); // 0.5 → 1: requests a half share held back may go now
    expect(told).toEqual([0.5, 1]);
    await a.close();
  });

  it("takes a crashed instance's share back after the TTL, by the board's clock", async () => {
    const clock = handClock();
    const board = new MemoryFleetBoard(() => clock.now());
    const a = new FleetShare({ board, clock, refreshMs: 1_000, ttlMs: 5_000, instance: 'a' });
    await board.publish({ instance: 'dead', demand: 10 });
    a.track(() => 10);
    await a.refresh();
    expect(a.share).toBe(0.5);
    clock.advance(5_001);
    await a.refresh();
    expect(a.share).toBe(1);
    await a.close();
  });
});

describe('fleetShareFor', () => {
  it('carries the pacing setting to the share the client reads', () => {
    const container = new ContainerClient('http://127.0.0.1:1/devstoreaccount1/runs');
    const settings = { container, url: 'https://org.crm.dynamics.com', identities: ['a'], refreshMs: 5_000 };
    expect(fleetShareFor({ ...settings, clock: handClock() }).steady).toBe(false);
    expect(fleetShareFor({ ...settings, clock: handClock(), steady: true }).steady).toBe(true);
  });
});

describe('poolKey', () => {
  it('is the same for the same environment and identities in any order, and hides the client ids', () => {
    const key = poolKey('https://contoso.crm.dynamics.com/', ['b-id', 'a-id']);
    expect(key).toBe(poolKey('https://contoso.crm.dynamics.com', ['a-id', 'b-id']));
    expect(key).not.toBe(poolKey('https://fabrikam.crm.dynamics.com', ['a-id', 'b-id']));
    expect(key).not.toContain('a-id');
  });
});

describe('Governor with a share', () => {
  it('scales its concurrency to the share, never below one', () => {
    let share = 1;
    const g = new Governor({ max: 16, initial: 8, share: () => share });
    expect(g.limit).toBe(8);
    share = 0.25;
    expect(g.limit).toBe(2);
    share = 0.01;
    expect(g.limit).toBe(1);
    expect(g.free(0)).toBe(1);
  });
});
