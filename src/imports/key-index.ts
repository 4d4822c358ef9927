/**
 * Remembers which row first used each key, in about 24 bytes per key: a 64-bit hash of the key
 * in two typed arrays plus the row number, open-addressed. A 10-million-row file with keys
 * stays near 240 MB at worst instead of gigabytes of strings. Collisions of 64-bit hashes are
 * negligible at these counts (about 1 in 10^5 for 10^7 keys).
 */
export class KeyIndex {
  #hi: Uint32Array;
  #lo: Uint32Array;
  #rows: Int32Array;
  #size = 0;

  constructor(initialCapacity = 1024) {
    const capacity = 2 ** Math.ceil(Math.log2(Math.max(16, initialCapacity)));
    this.#hi = new Uint32Array(capacity);
    this.#lo = new Uint32Array(capacity);
    this.#rows = new Int32Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Records `row` for `key` and returns the row that held the key before, if any. */
  set(key: string, row: number): number | undefined {
    if ((this.#size + 1) * 4 > this.#rows.length * 3) this.#grow();
    const [hi, lo] = hash64(key);
    const slot = this.#find(hi, lo);
    const previous = this.#rows[slot] ?? 0;
    if (previous === 0) this.#size += 1;
    this.#hi[slot] = hi;
    this.#lo[slot] = lo;
    this.#rows[slot] = row;
    return previous === 0 ? undefined : previous;
  }

  get(key: string): number | undefined {
    const [hi, lo] = hash64(key);
    const row = this.#rows[this.#find(hi, lo)] ?? 0;
    return row === 0 ? undefined : row;
  }

  /** Row numbers start at 2 (the header is row 1), so 0 marks an empty slot. */
  #find(hi: number, lo: number): number {
    const mask = this.#rows.length - 1;
    let slot = (lo ^ hi) & mask;
    while (this.#rows[slot] !== 0 && (this.#hi[slot] !== hi || this.#lo[slot] !== lo)) {
      slot = (slot + 1) & mask;
    }
    return slot;
  }

  #grow(): void {
    const hi = this.#hi;
    const lo = this.#lo;
    const rows = this.#rows;
    this.#hi = new Uint32Array(rows.length * 2);
    this.#lo = new Uint32Array(rows.length * 2);
    this.#rows = new Int32Array(rows.length * 2);
    for (let i = 0; i < rows.length; i += 1) {
      const row = rows[i] ?? 0;
      if (row === 0) continue;
      const slot = this.#find(hi[i] ?? 0, lo[i] ?? 0);
      this.#hi[slot] = hi[i] ?? 0;
      this.#lo[slot] = lo[i] ?? 0;
      this.#rows[slot] = row;
    }
  }
}

/** Two independent 32-bit FNV-1a/murmur-finalised lanes: fast, and good enough to index keys. */
function hash64(text: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return [fmix(a) >>> 0, fmix(b ^ 0x9e3779b9) >>> 0];
}

function fmix(h: number): number {
  let x = h;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x;
}
