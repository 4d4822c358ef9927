import { describe, expect, it } from 'vitest';
import { DiskDuplicateDetector } from '../../../src/imports/disk-duplicates.js';
import { createDuplicateKeyTracker } from '../../../src/mapping/duplicates.js';

/** Keys with some repeats: key k appears on rows 2+k, and every 97th key again later. */
function keys(count: number): [string, number][] {
  const out: [string, number][] = [];
  for (let i = 0; i < count; i += 1) out.push([`person${i}@example.com`, i + 2]);
  for (let i = 0; i < count; i += 97) out.push([`person${i}@example.com`, count + 2 + i]);
  out.push(['person0@example.com', 3 * count]);
  return out;
}

describe('DiskDuplicateDetector', () => {
  it.each(['lastWins', 'failAll'] as const)(
    'fails the same rows as the in-memory tracker (%s)',
    async (policy) => {
      const disk = new DiskDuplicateDetector(policy);
      const memory = createDuplicateKeyTracker(policy);
      const expected = new Set<number>();
      // Enough rows that every one of the 256 buckets is flushed several times.
      for (const [key, row] of keys(60_000)) {
        await disk.add(key, row);
        for (const failure of memory.add(key, row, key)) expected.add(failure.row);
      }
      const failures = await disk.finish();
      expect(new Set(failures.map((f) => f.row))).toEqual(expected);
      expect(failures.length).toBe(expected.size);
      expect(expected.size).toBeGreaterThan(600);
      expect(failures.every((f) => f.code === 'DuplicateKeyInFile' && f.message.length > 0)).toBe(true);
    },
  );

  it('reports nothing for distinct keys and leaves no files behind', async () => {
    const disk = new DiskDuplicateDetector('lastWins');
    for (let i = 0; i < 1_000; i += 1) await disk.add(`k${i}`, i + 2);
    expect(await disk.finish()).toEqual([]);
  });
});
