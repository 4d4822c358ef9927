import { describe, expect, it } from 'vitest';
import { watermarkFilter, WatermarkTracker } from '../../../src/extracts/watermark.js';

const options = { column: 'modifiedon', overlapSeconds: 60 };
const row = (id: string, at: string) => ({ contactid: id, modifiedon: at });

describe('watermark increments', () => {
  it('reads from the watermark minus the overlap; nothing on a first run', () => {
    expect(watermarkFilter(undefined, options)).toEqual({});
    const previous = { column: 'modifiedon', value: '2026-01-01T10:00:00.000Z', boundary: [] };
    expect(watermarkFilter(previous, options)).toEqual({
      filter: 'modifiedon ge 2026-01-01T09:59:00.000Z',
      from: '2026-01-01T09:59:00.000Z',
    });
  });

  it('skips rows of the overlap delivered unchanged, keeps changed ones, and moves the watermark', () => {
    const first = new WatermarkTracker(options, 'contactid', undefined);
    for (const r of [
      row('a', '2026-01-01T09:00:00Z'),
      row('b', '2026-01-01T09:59:30Z'),
      row('c', '2026-01-01T10:00:00Z'),
    ]) {
      expect(first.accept(r)).toBe(true);
    }
    const state = first.state()!;
    expect(state.value).toBe('2026-01-01T10:00:00.000Z');
    const b = Date.parse('2026-01-01T09:59:30Z');
    const c = Date.parse('2026-01-01T10:00:00Z');
    expect(state.boundary).toEqual([
      ['b', b, String(b)],
      ['c', c, String(c)],
    ]);

    const second = new WatermarkTracker(options, 'contactid', state);
    expect(second.accept(row('b', '2026-01-01T09:59:30Z'))).toBe(false);
    expect(second.accept(row('c', '2026-01-01T10:00:05Z'))).toBe(true);
    expect(second.accept(row('d', '2026-01-01T10:02:00Z'))).toBe(true);
    expect(second.skipped).toBe(1);
    const next = second.state()!;
    expect(next.value).toBe('2026-01-01T10:02:00.000Z');
    expect(next.boundary.map(([id]) => id)).toEqual(['d']);
  });

  it('tells rewrites within the same second apart by row version', () => {
    const at = '2026-01-01T10:00:00Z';
    const first = new WatermarkTracker(options, 'contactid', undefined);
    first.accept({ ...row('a', at), versionnumber: 7 });
    first.accept({ ...row('b', at), versionnumber: 8 });
    const second = new WatermarkTracker(options, 'contactid', first.state());
    expect(second.accept({ ...row('a', at), versionnumber: 7 })).toBe(false);
    expect(second.accept({ ...row('b', at), versionnumber: 9 })).toBe(true);
  });

  it('keeps the previous position when nothing new was read', () => {
    const previous = {
      column: 'modifiedon',
      value: '2026-01-01T10:00:00.000Z',
      boundary: [] as [string, number, string][],
    };
    expect(new WatermarkTracker(options, 'contactid', previous).state()).toEqual({
      ...previous,
      boundary: [],
    });
  });
});
