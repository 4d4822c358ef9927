import { describe, expect, it } from 'vitest';
import { andFilters, timeSlices } from '../../../src/extracts/partitions.js';

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
    expect(slices).toHaveLength(17);
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

describe('andFilters', () => {
  it('parenthesises each part and skips empty ones', () => {
    expect(andFilters(undefined, '')).toBeUndefined();
    expect(andFilters('a eq 1')).toBe('a eq 1');
    expect(andFilters('a eq 1 or b eq 2', undefined, 'c ne null')).toBe('(a eq 1 or b eq 2) and (c ne null)');
  });
});
