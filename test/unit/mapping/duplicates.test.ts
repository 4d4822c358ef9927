import { describe, expect, it } from 'vitest';
import { createDuplicateKeyTracker } from '../../../src/mapping/duplicates.js';

describe('DuplicateKeyTracker', () => {
  it('lastWins: the earlier row fails, naming the row that wins', () => {
    const tracker = createDuplicateKeyTracker('lastWins');
    expect(tracker.add('a@x.io', 2, 'a@x.io')).toEqual([]);
    expect(tracker.add('b@x.io', 3, 'b@x.io')).toEqual([]);
    const failures = tracker.add('a@x.io', 5, 'A@x.io');
    expect(failures).toEqual([
      {
        row: 2,
        code: 'DuplicateKeyInFile',
        message: 'key A@x.io appears again in row 5, which replaces this row (duplicateKeys: lastWins)',
      },
    ]);
    expect(tracker.add('a@x.io', 9, 'a@x.io').map((f) => f.row)).toEqual([5]);
    expect(tracker.size).toBe(2);
  });

  it('failAll: every row with the key fails, the first one once', () => {
    const tracker = createDuplicateKeyTracker('failAll');
    tracker.add('k', 2, 'k');
    expect(tracker.add('k', 4, 'k').map((f) => f.row)).toEqual([2, 4]);
    expect(tracker.add('k', 7, 'k').map((f) => [f.row, f.message])).toEqual([
      [7, 'key k already appears in row 2; duplicates are not written (duplicateKeys: failAll)'],
    ]);
    expect(tracker.add('other', 8, 'other')).toEqual([]);
  });

  it('grows past its initial capacity without losing keys', () => {
    const tracker = createDuplicateKeyTracker('lastWins', 16);
    for (let i = 0; i < 50_000; i += 1) expect(tracker.add(`key-${i}`, i + 2, `key-${i}`)).toHaveLength(0);
    expect(tracker.size).toBe(50_000);
    let again = 0;
    for (let i = 0; i < 50_000; i += 997) again += tracker.add(`key-${i}`, 100_000 + i, `key-${i}`).length;
    expect(again).toBe(Math.ceil(50_000 / 997));
    expect(tracker.add('key-0', 200_000, 'key-0')[0]?.row).toBe(100_000);
  });
});
