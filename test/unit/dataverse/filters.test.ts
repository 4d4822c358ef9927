import { describe, expect, it } from 'vitest';
import { packFilters } from '../../../src/dataverse/filters.js';

const inShape = { open: 'In(P=[', separator: ',', close: '])' };

describe('packFilters', () => {
  it('frames the parts and keeps each filter within the encoded budget', () => {
    const values = Array.from({ length: 50 }, (_, i) => `'v${i}'`);
    const packed = [...packFilters(values, (v) => v, inShape, { maxEncodedLength: 60 })];
    expect(packed.length).toBeGreaterThan(1);
    for (const { filter, items } of packed) {
      expect(encodeURIComponent(filter).length).toBeLessThanOrEqual(60);
      expect(filter).toBe(`In(P=[${items.join(',')}])`);
    }
    // Every value once, in order.
    expect(packed.flatMap((p) => p.items)).toEqual(values);
  });

  it('fills a filter up to the budget, counting characters as they travel encoded', () => {
    // 'é' is 6 characters encoded: two parts of 'é' and a separator cost 6 + 3 + 6 = 15.
    const packed = [...packFilters(['é', 'é', 'é'], (v) => v, { separator: ' ' }, { maxEncodedLength: 15 })];
    expect(packed.map((p) => p.items.length)).toEqual([2, 1]);
  });

  it('stops at the most parts allowed', () => {
    const packed = [
      ...packFilters(
        ['a', 'b', 'c', 'd', 'e'],
        (v) => `x eq ${v}`,
        { separator: ' or ' },
        {
          maxEncodedLength: 10_000,
          maxParts: 2,
        },
      ),
    ];
    expect(packed.map((p) => p.filter)).toEqual(['x eq a or x eq b', 'x eq c or x eq d', 'x eq e']);
  });

  it('gives a part longer than the budget a filter of its own, and nothing for no items', () => {
    const long = 'z'.repeat(100);
    const packed = [...packFilters(['a', long, 'b'], (v) => v, { separator: ',' }, { maxEncodedLength: 20 })];
    expect(packed.map((p) => p.items)).toEqual([['a'], [long], ['b']]);
    expect([...packFilters([], (v: string) => v, inShape, { maxEncodedLength: 20 })]).toEqual([]);
  });
});
