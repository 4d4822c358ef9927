import { keyFingerprint } from '../mapping/duplicates.js';

const EMPTY = 0;
const SEEN = 1;
const REPEATED = 2;

/**
 * Which keys of a file occur more than once, told apart by the duplicate tracker's own 64-bit fingerprint
 * (`keyFingerprint`), so every key the tracker will find repeated is repeated here too. 9 bytes a slot in
 * typed arrays; `add` refuses once `maxKeys` distinct keys are held, so memory stays bounded.
 */
export class RepeatedKeys {
  #capacity = 1 << 12;
  #high = new Uint32Array(this.#capacity);
  #low = new Uint32Array(this.#capacity);
  #state = new Uint8Array(this.#capacity);
  #size = 0;

  constructor(private readonly maxKeys: number) {}

  /** Counts one occurrence of the key; false when the table is full (nothing more can be told). */
  add(key: string): boolean {
    const [h, l] = keyFingerprint(key);
    const slot = this.#slotOf(h, l);
    if (this.#state[slot] !== EMPTY) {
      this.#state[slot] = REPEATED;
      return true;
    }
    if (this.#size >= this.maxKeys) return false;
    this.#high[slot] = h;
    this.#low[slot] = l;
    this.#state[slot] = SEEN;
    this.#size += 1;
    if (this.#size * 4 > this.#capacity * 3) this.#grow();
    return true;
  }

  /** Whether the key occurred more than once. */
  repeated(key: string): boolean {
    const [h, l] = keyFingerprint(key);
    return this.#state[this.#slotOf(h, l)] === REPEATED;
  }

  #slotOf(h: number, l: number): number {
    const mask = this.#capacity - 1;
    let slot = (l ^ (h >>> 7)) & mask;
    while (this.#state[slot] !== EMPTY && (this.#high[slot] !== h || this.#low[slot] !== l)) {
      slot = (slot + 1) & mask;
    }
    return slot;
  }

  #grow(): void {
    const [high, low, state] = [this.#high, this.#low, this.#state];
    this.#capacity *= 2;
    this.#high = new Uint32Array(this.#capacity);
    this.#low = new Uint32Array(this.#capacity);
    this.#state = new Uint8Array(this.#capacity);
    for (let i = 0; i < state.length; i += 1) {
      if (state[i] === EMPTY) continue;
      const slot = this.#slotOf(high[i] as number, low[i] as number);
      this.#high[slot] = high[i] as number;
      this.#low[slot] = low[i] as number;
      this.#state[slot] = state[i] as number;
    }
  }
}
