import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import {
  andFilters,
  guidedCuts,
  idRanges,
  idsLookRandom,
  pageFillTarget,
  smallestSliceShare,
  TimeSlicePlan,
  timeSlices,
  type Partition,
} from '../../../src/extracts/partitions.js';

/** Evaluates the slice filters timeSlices produces (ne/eq null, ge/lt date), joined by "and". */
function matches(filter: string | undefined, t: number | null): boolean {
  if (!filter) return true;
  return filter.split(' and ').every((raw) => {
    const [, op, value] = /^\(?createdon (ne|eq|ge|lt) ([^)]+)\)?$/.exec(raw.trim()) ?? [];
    if (value === 'null') return op === 'eq' ? t === null : t !== null;
    if (t === null) return false;
    const bound = Date.parse(value ?? '');
    return op === 'ge' ? t >= bound : t < bound;
  });
}

describe('timeSlices', () => {
  it('puts every instant (and null) in exactly one slice, in time order', () => {
    const min = Date.parse('2020-01-01T00:00:00Z');
    const max = Date.parse('2026-01-01T00:00:00Z');
    const slices = timeSlices(min, max, 16);
    expect(slices.length).toBeGreaterThan(17);
    expect(slices.map((s) => s.index)).toEqual(slices.map((_, i) => i + 1));
    const samples: (number | null)[] = [null, min - 1e9, min, max, max + 1e9];
    // createdon comes in whole seconds.
    const second = (t: number) => Math.floor(t / 1000) * 1000;
    for (let i = 0; i < 500; i += 1) samples.push(second(min + Math.floor(Math.random() * (max - min))));
    let last = 0;
    for (const t of samples) {
      const hits = slices.filter((s) => matches(s.filter, t));
      expect(hits).toHaveLength(1);
      if (t !== null && t >= min && t <= max) {
        expect(hits[0]!.index).toBeGreaterThanOrEqual(1);
        last = Math.max(last, hits[0]!.index);
      }
    }
    expect(last).toBeGreaterThan(1);
  });

  it('does not cut a span narrower than the slice count into empty pieces', () => {
    const slices = timeSlices(1000, 3999, 16);
    expect(slices).toHaveLength(4);
    expect(slices.map((s) => s.filter)).toEqual([
      '(createdon ne null) and (createdon lt 1970-01-01T00:00:02Z)',
      '(createdon ge 1970-01-01T00:00:02Z) and (createdon lt 1970-01-01T00:00:03Z)',
      'createdon ge 1970-01-01T00:00:03Z',
      'createdon eq null',
    ]);
    const same = timeSlices(1000, 1999, 16);
    expect(same.map((s) => s.filter)).toEqual(['createdon ne null', 'createdon eq null']);
  });
});

describe('guidedCuts', () => {
  it('cuts large slices first and small ones last, covering the span once', () => {
    const span = 1_000_000;
    const workers = 52;
    const cuts = guidedCuts(span, workers);
    const edges = [0, ...cuts, span];
    const sizes = edges.slice(1).map((edge, i) => edge - edges[i]!);
    expect(sizes.every((size) => size > 0)).toBe(true);
    // Non-increasing, except the last slice, which takes whatever is left.
    for (let i = 1; i < sizes.length - 1; i += 1) expect(sizes[i]!).toBeLessThanOrEqual(sizes[i - 1]!);
    expect(sizes[0]).toBe(Math.floor(span / workers));
    const smallest = Math.floor((span / workers) * smallestSliceShare);
    expect(Math.min(...sizes.slice(0, -1))).toBe(smallest);
    // The first wave (one slice per worker) covers most of the span; the rest is shared out in small slices.
    const firstWave = sizes.slice(0, workers).reduce((a, b) => a + b, 0);
    expect(firstWave / span).toBeGreaterThan(0.6);
    expect(sizes.length).toBeGreaterThan(2 * workers);
    expect(sizes.length).toBeLessThan(4 * workers);
  });

  it('never cuts below one unit, nor for a single worker', () => {
    expect(guidedCuts(3, 16)).toEqual([1, 2]);
    expect(guidedCuts(1, 16)).toEqual([]);
    expect(guidedCuts(100, 1)).toEqual([]);
  });
});

describe('TimeSlicePlan', () => {
  const min = Date.parse('2024-01-01T00:00:00Z');
  const seconds = 10_000;
  const max = min + (seconds - 1) * 1000;
  const drain = (plan: TimeSlicePlan, onSlice?: (p: Partition) => void): Partition[] => {
    const out: Partition[] = [];
    for (let p = plan.next(); p; p = plan.next()) {
      out.push(p);
      onSlice?.(p);
    }
    return out;
  };
  /** Seconds (from min) where a slice's `ge` bound starts, 0 for the first. */
  const startOf = (p: Partition) => {
    const m = /createdon ge ([^)\s]+)/.exec(p.filter ?? '');
    return m ? (Date.parse(m[1]!) - min) / 1000 : 0;
  };

  it('hands out slices that put every second (and null) in exactly one, then stops', () => {
    const plan = new TimeSlicePlan(min, max, 8, 5000);
    const slices = drain(plan);
    expect(plan.count).toBe(slices.length);
    expect(slices.at(-1)?.filter).toBe('createdon eq null');
    expect(slices.map((s) => s.index)).toEqual(slices.map((_, i) => i + 1));
    for (const t of [null, min - 5000, min, min + 4321_000, max, max + 60_000]) {
      expect(slices.filter((s) => matches(s.filter, t))).toHaveLength(1);
    }
  });

  it('after a slice is read, cuts the next to whole pages at the density seen', () => {
    const workers = 4;
    const pageSize = 100;
    const plan = new TimeSlicePlan(min, max, workers, pageSize);
    const firstWave = [plan.next()!, plan.next()!, plan.next()!, plan.next()!];
    // Blind first wave: 1/(2 × workers) of what is left each.
    expect(firstWave.map(startOf)).toEqual([0, 1250, 2343, 3300]);
    // The first slice (1,250 s) held 2,500 rows: 2 rows per second.
    plan.done(firstWave[0]!, 2500);
    const next = plan.next()!;
    const nextStart = startOf(next);
    const after = plan.next()!;
    const left = seconds - nextStart;
    const pages = Math.floor((left * 2) / workers / pageSize);
    expect(startOf(after) - nextStart).toBe(Math.floor((pages * pageSize * pageFillTarget) / 2));
  });
});

describe('andFilters', () => {
  it('parenthesises each part and skips empty ones', () => {
    expect(andFilters(undefined, '')).toBeUndefined();
    expect(andFilters('a eq 1')).toBe('a eq 1');
    expect(andFilters('a eq 1 or b eq 2', undefined, 'c ne null')).toBe('(a eq 1 or b eq 2) and (c ne null)');
  });
});

/** SQL Server's uniqueidentifier order: last group, fourth, then the first three byte-reversed. */
function sqlKey(id: string): string {
  const [g1 = '', g2 = '', g3 = '', g4 = '', g5 = ''] = id.split('-');
  const reversed = (hex: string) => hex.match(/../g)!.reverse().join('');
  return g5 + g4 + reversed(g3) + reversed(g2) + reversed(g1);
}

function inRange(filter: string | undefined, id: string, key: (id: string) => string): boolean {
  if (!filter) return true;
  return filter.split(' and ').every((raw) => {
    const [, op, bound = ''] = /^\(?contactid (ge|lt) ([0-9a-f-]+)\)?$/.exec(raw.trim()) ?? [];
    return op === 'ge' ? key(id) >= key(bound) : key(id) < key(bound);
  });
}

describe('idRanges', () => {
  it('puts every id in exactly one range in string order and in SQL Server order, evenly for random ids', () => {
    const ranges = idRanges('contactid', 8);
    expect(ranges).toHaveLength(8);
    const ids = Array.from({ length: 4000 }, () => randomUUID());
    ids.push('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff');
    for (const key of [(id: string) => id, sqlKey]) {
      const sizes = ranges.map(() => 0);
      for (const id of ids) {
        const hits = ranges.filter((r) => inRange(r.filter, id, key));
        expect(hits).toHaveLength(1);
        sizes[hits[0]!.index - 1]! += 1;
      }
      for (const size of sizes) expect(size).toBeGreaterThan(ids.length / 8 / 2);
    }
  });
});

describe('idsLookRandom', () => {
  it('accepts random ids even when sampled in key order, and refuses sequential ones', () => {
    const random = Array.from({ length: 60_000 }, () => randomUUID()).sort();
    expect(idsLookRandom(random.slice(0, 200))).toBe(true);
    // Keys computed once: a comparator calling sqlKey made this slow enough to time out on a busy machine.
    const bySqlKey = random.map((id) => ({ id, key: sqlKey(id) })).sort((a, b) => (a.key < b.key ? -1 : 1));
    expect(idsLookRandom(bySqlKey.slice(0, 200).map(({ id }) => id))).toBe(true);
    const sequential = Array.from(
      { length: 200 },
      (_, i) => `${(0x5e2e8a00 + i).toString(16)}-1e5c-ee11-9937-000d3a5a8f2b`,
    );
    expect(idsLookRandom(sequential)).toBe(false);
    expect(idsLookRandom(random.slice(0, 10))).toBe(false);
  }, 20_000);
});
