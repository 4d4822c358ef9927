import { describe, expect, it } from 'vitest';
import { MemoryFleetBoard } from '../../../src/fleet/board.js';
import { assignmentOf, FleetShare, shareOf } from '../../../src/fleet/share.js';
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
      new Promise<void>((_resolve, reject) => {
        if (signal?.aborted) reject(signal.reason as Error);
        signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      }),
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

describe('assignmentOf', () => {
  const ids = ['id-5', 'id-1', 'id-3', 'id-2', 'id-4'];
  const sorted = (set: ReadonlySet<string> | undefined) => (set ? [...set].sort() : set);

  it('gives each live instance identities of its own by rank, the same on every instance', () => {
    const members = [
      member('b', 9),
      member('d', 9),
      member('a', 9),
      member('c', 9),
      member('gone', 9, 9_000),
    ];
    // Sorted identities id-1..id-5 to instances a..d in turn: a takes id-1 and id-5.
    expect(sorted(assignmentOf('a', members, 5_000, ids))).toEqual(['id-1', 'id-5']);
    expect(sorted(assignmentOf('b', members, 5_000, ids))).toEqual(['id-2']);
    expect(sorted(assignmentOf('d', members, 5_000, ids))).toEqual(['id-4']);
  });

  it("lends an idle instance's identities to the busy one with the fewest, and only while it is idle", () => {
    const members = [member('a', 9), member('b', 9), member('c', 0), member('d', 9)];
    const idle = new Set(['c']);
    // c (id-3) has had nothing to send for a while: b and d hold one identity each, a two; b ranks first.
    expect(sorted(assignmentOf('b', members, 5_000, ids, idle))).toEqual(['id-2', 'id-3']);
    expect(sorted(assignmentOf('d', members, 5_000, ids, idle))).toEqual(['id-4']);
    expect(sorted(assignmentOf('a', members, 5_000, ids, idle))).toEqual(['id-1', 'id-5']);
    // c counts itself busy: on new work it sends as its own identity at once.
    expect(sorted(assignmentOf('c', members, 5_000, ids, new Set()))).toEqual(['id-3']);
    // Busy again, it has it back: the assignment moves with membership, not with every backlog.
    const back = members.map((m) => (m.instance === 'c' ? member('c', 3) : m));
    expect(sorted(assignmentOf('b', back, 5_000, ids, idle))).toEqual(['id-2']);
  });

  it('lends nothing for a member only just idle, nor to an instance without work', () => {
    const members = [member('a', 9), member('b', 0), member('c', 0), member('d', 0)];
    // b, c and d show no backlog but have not been idle long enough: a new file may be reaching them.
    expect(sorted(assignmentOf('a', members, 5_000, ids))).toEqual(['id-1', 'id-5']);
    // b has nothing to send itself: it borrows nothing even from the long-idle c and d.
    const idle = new Set(['c', 'd']);
    expect(sorted(assignmentOf('b', members, 5_000, ids, idle, false))).toEqual(['id-2']);
    expect(sorted(assignmentOf('a', members, 5_000, ids, idle))).toEqual(['id-1', 'id-3', 'id-4', 'id-5']);
  });

  it('leaves every identity shared while alone or while instances outnumber identities', () => {
    expect(assignmentOf('a', [member('a', 9)], 5_000, ids)).toBeUndefined();
    expect(
      assignmentOf('a', [member('a', 9), member('b', 9), member('c', 9)], 5_000, ['x', 'y']),
    ).toBeUndefined();
    // A member past the TTL does not count: two live instances divide two identities.
    const withDead = [member('a', 9), member('b', 9), member('c', 9, 9_000)];
    expect(sorted(assignmentOf('b', withDead, 5_000, ['x', 'y']))).toEqual(['y']);
  });
});

describe('FleetShare with identities to divide', () => {
  /** Instances a and b on one board, dividing the identities x, y and z. */
  const twoInstances = () => {
    const clock = handClock();
    const board = new MemoryFleetBoard(() => clock.now());
    const identities = ['x', 'y', 'z'];
    const a = new FleetShare({ board, clock, refreshMs: 1_000, instance: 'a', identities });
    const b = new FleetShare({ board, clock, refreshMs: 1_000, instance: 'b', identities });
    return { clock, identities, a, b };
  };

  it('sends as its own identities only, whole, and as every one once alone again', async () => {
    const { clock, identities, a, b } = twoInstances();
    let backlogB = 8;
    a.track(() => 8);
    b.track(() => backlogB);
    await a.refresh();
    await b.refresh();
    await a.refresh();
    expect(identities.map((id) => a.shareFor(id))).toEqual([1, 0, 1]);
    expect(identities.map((id) => b.shareFor(id))).toEqual([0, 1, 0]);
    expect([a.share, b.share]).toEqual([1, 1]);
    backlogB = 0;
    await b.refresh(); // publishes the peak since its last refresh
    await b.refresh();
    await a.refresh();
    // b has just gone idle: a new file may be reaching it, so nothing is lent yet.
    expect(identities.map((id) => a.shareFor(id))).toEqual([1, 0, 1]);
    clock.advance(2_000);
    await a.refresh();
    expect(identities.map((id) => a.shareFor(id))).toEqual([1, 1, 1]);
    expect(identities.map((id) => b.shareFor(id))).toEqual([0, 1, 0]); // its own, ready for new work
    await b.close();
    await a.refresh();
    expect(identities.map((id) => a.shareFor(id))).toEqual([1, 1, 1]);
    await a.close();
  });

  it('borrows only once busy for a refresh, so instances handed a new file together keep their own', async () => {
    const { clock, identities, a, b } = twoInstances();
    let backlogA = 0;
    let backlogB = 0;
    a.track(() => backlogA);
    b.track(() => backlogB);
    // Both idle for a long while before the file.
    for (let i = 0; i < 5; i += 1) {
      await a.refresh();
      await b.refresh();
      clock.advance(1_000);
    }
    // The file's chunks reach both at once; a refreshes first and still sees b idle.
    backlogA = 8;
    backlogB = 8;
    await a.refresh();
    expect(identities.map((id) => a.shareFor(id))).toEqual([1, 0, 1]);
    clock.advance(500);
    await b.refresh();
    clock.advance(500);
    await a.refresh();
    expect(identities.map((id) => a.shareFor(id))).toEqual([1, 0, 1]);
    expect(identities.map((id) => b.shareFor(id))).toEqual([0, 1, 0]);
    // b's work ends: once it has been idle for two refreshes, a (busy for long) borrows its identity.
    backlogB = 0;
    await b.refresh(); // publishes the peak since its last refresh
    await b.refresh();
    await a.refresh();
    clock.advance(2_000);
    await b.refresh();
    await a.refresh();
    expect(identities.map((id) => a.shareFor(id))).toEqual([1, 1, 1]);
    await Promise.all([a.close(), b.close()]);
  });

  it('falls back to a part of every window while the instances outnumber the identities', async () => {
    const clock = handClock();
    const board = new MemoryFleetBoard(() => clock.now());
    const a = new FleetShare({ board, clock, refreshMs: 1_000, instance: 'a', identities: ['x', 'y'] });
    await board.publish({ instance: 'b', demand: 8 });
    await board.publish({ instance: 'c', demand: 8 });
    a.track(() => 8);
    await a.refresh();
    expect(a.share).toBeCloseTo(1 / 3);
    expect(a.shareFor('x')).toBeCloseTo(1 / 3);
    await a.close();
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
