import { describe, expect, it } from 'vitest';
import { BulkTurns, type BulkJob, type BulkTurn } from '../../../src/dataverse/bulk-turns.js';

const quarter = (unformed: number) => Math.ceil(unformed / 4);
/** Lets every pending promise callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Takes turns of `job` one worker at a time, answering each at once; returns the sizes. */
async function drain(job: BulkJob, size: (unformed: number) => number): Promise<number[]> {
  const sizes: number[] = [];
  for (let turn = await job.next(size); turn; turn = await job.next(size)) {
    sizes.push(turn.end - turn.start);
    turn.done();
  }
  return sizes;
}

describe('BulkTurns', () => {
  it('gives turns that start together the same count, so their messages are the same size', async () => {
    const turns = new BulkTurns(() => 4);
    const job = turns.open(1600, 400);
    const given = await Promise.all([1, 2, 3, 4].map(() => job.next(quarter)));
    expect(given.map((t) => [t?.start, t?.end])).toEqual([
      [0, 400],
      [400, 800],
      [800, 1200],
      [1200, 1600],
    ]);
    expect(await job.next(quarter)).toBeUndefined();
  });

  it('sizes each later message by the work still behind it, over every open write', async () => {
    const turns = new BulkTurns(() => 1);
    const a = turns.open(1000, 250);
    const b = turns.open(1000, 250);
    // One turn at a time: a's messages see a's rest and all of b (2,000 at first), then b's see b's rest.
    expect(await drain(a, quarter)).toEqual([500, 375, 125]);
    const sizes = await drain(b, quarter);
    expect(sizes.slice(0, 4)).toEqual([250, 188, 141, 106]);
    expect(sizes.every((n, i) => i === 0 || n <= sizes[i - 1]!)).toBe(true);
    expect(sizes.reduce((sum, n) => sum + n, 0)).toBe(1000);
    expect(turns.unformed).toBe(0);
  });

  it('keeps at most capacity() messages formed and unanswered, and gives the next turn on an answer', async () => {
    let capacity = 2;
    const turns = new BulkTurns(() => capacity);
    const job = turns.open(10, 1);
    const one = () => 1;
    const first = await job.next(one);
    const second = await job.next(one);
    let third: BulkTurn | undefined;
    void job.next(one).then((t) => (third = t));
    await settle();
    expect(third).toBeUndefined();
    first?.done();
    first?.done(); // a second answer of the same message frees nothing more
    await settle();
    expect(third).toEqual(expect.objectContaining({ start: 2, end: 3 }));
    let fourth: BulkTurn | undefined;
    void job.next(one).then((t) => (fourth = t));
    await settle();
    expect(fourth).toBeUndefined();
    capacity = 3; // a capacity that grew is used at the next turn given or answered
    second?.done();
    await settle();
    expect(fourth).toEqual(expect.objectContaining({ start: 3, end: 4 }));
  });

  it('gives a turn to the oldest open write first, whoever asked first', async () => {
    const turns = new BulkTurns(() => 1);
    const older = turns.open(100, 10);
    const newer = turns.open(100, 10);
    const held = await older.next(() => 10);
    const order: string[] = [];
    void newer.next(() => 10).then(() => order.push('newer'));
    void older.next(() => 10).then(() => order.push('older'));
    await settle();
    expect(order).toEqual([]);
    held?.done();
    await settle();
    expect(order).toEqual(['older']);
  });

  it('counts untaken records as requests of the nominal size, and drops a closed write', async () => {
    const turns = new BulkTurns(() => 1);
    const job = turns.open(1000, 100);
    expect(turns.backlog).toBe(10);
    const turn = await job.next(() => 250);
    expect(turns.backlog).toBe(8);
    expect(turns.unformed).toBe(750);
    let waiting: BulkTurn | undefined | 'pending' = 'pending';
    void job.next(() => 250).then((t) => (waiting = t));
    job.close();
    await settle();
    expect(waiting).toBeUndefined();
    expect(turns.unformed).toBe(0);
    expect(turns.backlog).toBe(0);
    // The closed write's message still out keeps its turn until answered; then a new write gets one.
    const next = turns.open(10, 10);
    let given: BulkTurn | undefined;
    void next.next(() => 10).then((t) => (given = t));
    await settle();
    expect(given).toBeUndefined();
    turn?.done();
    await settle();
    expect(given).toEqual(expect.objectContaining({ start: 0, end: 10 }));
  });
});
