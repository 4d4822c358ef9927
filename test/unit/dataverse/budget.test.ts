import { describe, expect, it } from 'vitest';
import { ExecutionBudget } from '../../../src/dataverse/budget.js';

const write = (weight: number) => ({ kind: 'POST contacts/CreateMultiple', weight });
const read = { kind: 'GET contacts', weight: 0 };

/** A service's view: the window's sum when each request arrives, own charge included. */
function service(limit: number) {
  let spent = 0;
  return (cost: number) => {
    spent += cost;
    return limit - spent;
  };
}

describe('ExecutionBudget', () => {
  it('learns each cost from the reports, in the order the requests arrived, whatever order they answer in', () => {
    const budget = new ExecutionBudget({ windowMs: 2_000, arrivalSlackMs: 0 });
    const report = service(80);
    const a = budget.sent(0, read);
    const b = budget.sent(10, write(1_000));
    const c = budget.sent(20, write(2_000));
    const rA = report(0.04);
    const rB = report(2.04);
    const rC = report(4.04);
    // Answers come back out of order; nothing leaves the window meanwhile.
    budget.answered(c, rC);
    budget.answered(a, rA);
    budget.answered(b, rB);
    expect(b.cost).toBeCloseTo(2.04, 6);
    expect(c.cost).toBeCloseTo(4.04, 6);
    // A new message of the kind is estimated from what was learnt: fixed part 0.04 plus 2 ms per character.
    expect(budget.knows('POST contacts/CreateMultiple')).toBe(true);
    budget.sent(30, write(3_000));
    expect(budget.spent(30)).toBeCloseTo(0 + 2.04 + 4.04 + 6.04, 1);
  });

  it('says when the window is full and when the oldest charges have left it', () => {
    const budget = new ExecutionBudget({ windowMs: 2_000, arrivalSlackMs: 10 });
    const report = service(10);
    const first = budget.sent(0, read);
    const entries = [
      budget.sent(10, write(1_000)),
      budget.sent(20, write(1_000)),
      budget.sent(30, write(1_000)),
    ];
    budget.answered(first, report(0.5));
    for (const e of entries) budget.answered(e, report(3));
    // 0.5 + 3 × 3 = 9.5 of 10: room for one more (the service admits while under the limit).
    expect(budget.fullUntil(40, 10)).toBeUndefined();
    budget.sent(40, write(1_000));
    // 12.5 now: full until enough has left; the first write (sent at 10) leaves at 10 + 2,000 + 10.
    expect(budget.fullUntil(50, 10)).toBe(2_020);
    expect(budget.fullUntil(2_020, 10)).toBeUndefined();
  });

  it('does not count refused requests, and prices a kind never seen at the dearest rate learnt', () => {
    const budget = new ExecutionBudget({ windowMs: 2_000, arrivalSlackMs: 0 });
    const report = service(100);
    const first = budget.sent(0, read);
    const a = budget.sent(5, read);
    const b = budget.sent(10, write(1_000));
    budget.answered(first, report(1)); // the first step is unknown: nothing reported before it
    budget.answered(a, report(1));
    budget.answered(b, report(3)); // 1 fixed (the cheapest read) + 0.002 per character
    const refused = budget.sent(20, write(1_000));
    budget.refused(refused);
    expect(budget.spent(20)).toBeCloseTo(1 + 1 + 3, 6);
    budget.sent(30, { kind: 'POST accounts/UpdateMultiple', weight: 500 });
    expect(budget.knows('POST accounts/UpdateMultiple')).toBe(false);
    expect(budget.inFlight('POST accounts/UpdateMultiple')).toBe(true);
    expect(budget.spent(30)).toBeCloseTo(5 + 1 + 0.002 * 500, 6);
  });

  it('learns nothing from a report at zero, which may hide an overdraft', () => {
    const budget = new ExecutionBudget({ windowMs: 2_000, arrivalSlackMs: 0 });
    const a = budget.sent(0, read);
    const b = budget.sent(10, write(1_000));
    budget.answered(a, 5);
    budget.answered(b, 0);
    expect(b.cost).toBeUndefined();
    expect(budget.knows('POST contacts/CreateMultiple')).toBe(false);
  });

  it('follows the window the service announces', () => {
    const budget = new ExecutionBudget({ windowMs: 300_000, arrivalSlackMs: 0 });
    const report = service(20);
    const a = budget.sent(0, read);
    const b = budget.sent(10, read);
    budget.answered(a, report(6));
    budget.answered(b, report(6));
    // 12 of 10 spent: full until the first read leaves.
    expect(budget.fullUntil(100, 10)).toBe(300_000);
    budget.setWindow(1_000);
    expect(budget.fullUntil(100, 10)).toBe(1_000);
    expect(budget.spent(1_011)).toBe(0);
  });

  it('stops claiming to follow the window when reports contradict one window (several web servers)', () => {
    const budget = new ExecutionBudget({ windowMs: 300_000, arrivalSlackMs: 0 });
    // Two servers' counters, answered alternately: a later request finds more room with nothing gone.
    const reports = [79, 75, 78, 71, 77, 67, 76, 63];
    reports.forEach((remaining, i) => budget.answered(budget.sent(i * 200, read), remaining));
    expect(budget.coherent).toBe(false);
    const single = new ExecutionBudget({ windowMs: 300_000, arrivalSlackMs: 0 });
    [79, 75, 71, 67, 63].forEach((remaining, i) => single.answered(single.sent(i * 200, read), remaining));
    expect(single.coherent).toBe(true);
  });

  it('reads more room from requests that arrived late, after old charges left, as one window', () => {
    const budget = new ExecutionBudget({ windowMs: 20_000, arrivalSlackMs: 0 });
    budget.answered(budget.sent(0, read), 80, 0);
    // Three writes of 10 s early in the window, leaving it at 20,500, 20,600 and 20,700.
    [500, 600, 700].forEach((at, i) => budget.answered(budget.sent(at, write(1_000)), 70 - 10 * i, at + 50));
    const early = budget.sent(20_050, write(500));
    budget.answered(early, 45, 20_060);
    // Sent before the old charges left, but on a busy host their bodies reached the service after: each report
    // shows the 30 s given back. The answers come last first.
    const late = [20_200, 20_350, 20_450].map((at) => budget.sent(at, write(500)));
    [60, 65, 70].forEach((remaining, i) => budget.answered(late[2 - i]!, remaining, 20_900));
    expect(budget.coherent).toBe(true);
    // More room when nothing can have left (the old charges gone, the new ones in until 40,000) is still a
    // contradiction: a second server's counter, answered in turns with the first's.
    [50, 55, 51, 56, 52, 57].forEach((remaining, i) => {
      const at = 25_000 + 200 * i;
      budget.answered(budget.sent(at, write(500)), remaining, at + 50);
    });
    expect(budget.coherent).toBe(false);
  });

  it('follows the window again two windows after the contradictions stop (another process that sent as it)', () => {
    const budget = new ExecutionBudget({ windowMs: 10_000, arrivalSlackMs: 0 });
    [79, 75, 78, 71, 77, 67, 76, 63].forEach((remaining, i) =>
      budget.answered(budget.sent(i * 200, read), remaining),
    );
    expect(budget.coherent).toBe(false);
    // Within two windows of the last contradiction (sent at 1,200) the ledger still does not trust the reports.
    budget.answered(budget.sent(15_000, read), 79);
    expect(budget.coherent).toBe(false);
    budget.answered(budget.sent(21_201, read), 78.9);
    expect(budget.coherent).toBe(true);
  });

  it("believes costs far from its kind's estimate once three come in a row (a first cost inflated by others' charges)", () => {
    const budget = new ExecutionBudget({ windowMs: 300_000, arrivalSlackMs: 0 });
    const report = service(200);
    const first = budget.sent(0, read);
    const inflated = budget.sent(10, write(1_000));
    budget.answered(first, report(0.04));
    report(20); // another process's charges land between the two reports
    budget.answered(inflated, report(2.04));
    expect(inflated.cost).toBeCloseTo(22.04, 6);
    // Every later write costs 2.04: each is ten times cheaper than the estimate, so not one stray.
    for (let i = 0; i < 8; i += 1) budget.answered(budget.sent(20 + 10 * i, write(1_000)), report(2.04));
    budget.sent(200, write(1_000));
    // The estimate now follows the recent costs: the read, the inflated write, and nine writes at 2.04.
    expect(budget.spent(200)).toBeCloseTo(0.04 + 22.04 + 9 * 2.04, 1);
  });

  it('does not charge a request the far cost of a crossed pair, even when three come in a row', () => {
    const budget = new ExecutionBudget({ windowMs: 300_000, arrivalSlackMs: 0 });
    const report = service(200);
    for (let i = 0; i < 5; i += 1) budget.answered(budget.sent(10 * i, write(1_000)), report(2.04));
    // Three requests whose reports each also hold the charge of a request that arrived between them unseen (a
    // burst reordered on the way): every difference reads as two writes.
    const crossed = [0, 1, 2].map((i) => budget.sent(100 + 10 * i, write(1_000)));
    for (const entry of crossed) {
      report(2.04);
      budget.answered(entry, report(2.04));
    }
    expect(crossed.map((e) => e.cost)).toEqual([undefined, undefined, undefined]);
    // Each counts at its kind's estimate, which one believed sample among five did not move.
    expect(budget.spent(200)).toBeCloseTo(8 * 2.04, 6);
  });

  it('takes a request answered without a report (a 503 from a proxy) out of flight', () => {
    const budget = new ExecutionBudget({ windowMs: 2_000, arrivalSlackMs: 0 });
    const probe = budget.sent(0, write(1_000));
    expect(budget.inFlight('POST contacts/CreateMultiple')).toBe(true);
    budget.answered(probe, undefined);
    expect(budget.inFlight('POST contacts/CreateMultiple')).toBe(false);
    expect(budget.knows('POST contacts/CreateMultiple')).toBe(false);
  });
});
