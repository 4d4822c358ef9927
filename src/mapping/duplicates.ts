import type { RowError } from '../csv/row-error.js';

/**
 * Finds rows of one file that name the same record, before anything is written (parallel writes of
 * one key race and deadlock). Memory stays bounded: the tracker keeps a 64-bit hash and a row number
 * per key (12 bytes in typed arrays), never the rows. Two different keys sharing a 64-bit hash is
 * vanishingly unlikely (about 1 in 10^6 for 5 million keys).
 *
 * Policies, applied as rows arrive:
 * - `lastWins`: the later row is written; the earlier one is returned, naming the row that replaced it
 *   (the planner reports it `superseded`, not failed). A row that has been written cannot be recalled,
 *   so callers hold rows back until the file is read (the planner does).
 * - `failAll`: every row with the key fails, the first one included.
 */
export type DuplicatePolicy = 'lastWins' | 'failAll';

export interface DuplicateKeyTracker {
  /**
   * Records that `row` has `keyString`; `display` is the key as the user wrote it, for messages.
   * Returns the rows that must now fail (empty when the key is new).
   */
  add(keyString: string, row: number, display: string): RowError[];
  /** Distinct keys seen. */
  readonly size: number;
}

const EMPTY = 0;
const FAILED_FLAG = 0x8000_0000;

export function createDuplicateKeyTracker(
  policy: DuplicatePolicy,
  initialCapacity = 1 << 12,
): DuplicateKeyTracker {
  let capacity = nextPowerOfTwo(Math.max(16, initialCapacity));
  let high = new Uint32Array(capacity);
  let low = new Uint32Array(capacity);
  // Row numbers; 0 = empty slot (rows start at 2). The top bit marks a key whose rows all fail.
  let rows = new Uint32Array(capacity);
  let size = 0;

  const slotOf = (h: number, l: number): number => {
    const mask = capacity - 1;
    let slot = (l ^ (h >>> 7)) & mask;
    for (;;) {
      const stored = rows[slot] as number;
      if (stored === EMPTY || (high[slot] === h && low[slot] === l)) return slot;
      slot = (slot + 1) & mask;
    }
  };

  const grow = () => {
    const [oldHigh, oldLow, oldRows] = [high, low, rows];
    capacity *= 2;
    high = new Uint32Array(capacity);
    low = new Uint32Array(capacity);
    rows = new Uint32Array(capacity);
    for (let i = 0; i < oldRows.length; i += 1) {
      if (oldRows[i] === EMPTY) continue;
      const slot = slotOf(oldHigh[i] as number, oldLow[i] as number);
      high[slot] = oldHigh[i] as number;
      low[slot] = oldLow[i] as number;
      rows[slot] = oldRows[i] as number;
    }
  };

  return {
    get size() {
      return size;
    },
    add(keyString, row, display) {
      const h = hash32(keyString, 0x811c9dc5, 0x01000193);
      const l = hash32(keyString, 0x9e3779b9, 0x5bd1e995);
      const slot = slotOf(h, l);
      const stored = rows[slot] as number;
      if (stored === EMPTY) {
        high[slot] = h;
        low[slot] = l;
        rows[slot] = row;
        size += 1;
        if (size * 4 > capacity * 3) grow();
        return [];
      }
      const earlier = stored & ~FAILED_FLAG;
      const key = display.length > 80 ? `${display.slice(0, 80)}…` : display;
      if (policy === 'lastWins') {
        rows[slot] = row;
        return [
          {
            row: earlier,
            code: 'DuplicateKeyInFile',
            message: `key ${key} appears again in row ${row}, which replaces this row (duplicateKeys: lastWins)`,
          },
        ];
      }
      const failures: RowError[] = [];
      if ((stored & FAILED_FLAG) === 0) {
        failures.push({
          row: earlier,
          code: 'DuplicateKeyInFile',
          message: `key ${key} appears again in row ${row}; duplicates are not written (duplicateKeys: failAll)`,
        });
        rows[slot] = (earlier | FAILED_FLAG) >>> 0;
      }
      failures.push({
        row,
        code: 'DuplicateKeyInFile',
        message: `key ${key} already appears in row ${earlier}; duplicates are not written (duplicateKeys: failAll)`,
      });
      return failures;
    },
  };
}

/** FNV-1a style over UTF-16 code units with a final avalanche; two seed/multiplier pairs give 64 bits. */
function hash32(text: string, seed: number, multiplier: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, multiplier);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
