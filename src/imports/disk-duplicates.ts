import { createHash } from 'node:crypto';
import { mkdtemp, open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuplicatePolicy } from '../mapping/duplicates.js';

/** A row that must fail because another row of the file has its key. */
export interface DuplicateFailure {
  readonly row: number;
  readonly code: 'DuplicateKeyInFile';
  readonly message: string;
}

const BUCKETS = 256;
const ENTRY_BYTES = 12;
const FLUSH_BYTES = 64 * 1024;

/**
 * In-file duplicate keys for files too big to index in memory: each key's 64-bit hash and row go to
 * one of 256 bucket files on local disk (12 bytes a row), and the buckets are checked one at a time
 * once the file has been read. Memory stays at a few MB whatever the row count (an in-memory index
 * of 13.6 million keys needs about 400 MB while it grows). Two keys sharing a 64-bit hash are
 * vanishingly unlikely (about 1 in 10^7 for 13 million keys).
 */
export class DiskDuplicateDetector {
  readonly #policy: DuplicatePolicy;
  readonly #buffers: Buffer[] = [];
  readonly #lengths: number[] = [];
  #dir: string | undefined;
  #files: (FileHandle | undefined)[] = [];
  #pending: Promise<unknown> = Promise.resolve();

  constructor(policy: DuplicatePolicy) {
    this.#policy = policy;
    for (let i = 0; i < BUCKETS; i += 1) {
      this.#buffers.push(Buffer.allocUnsafe(FLUSH_BYTES));
      this.#lengths.push(0);
    }
  }

  /** Records that `row` has `key`; writes happen in the background, in order. */
  async add(key: string, row: number): Promise<void> {
    const hash = createHash('sha1').update(key).digest();
    const bucket = hash[0] ?? 0;
    const buffer = this.#buffers[bucket] as Buffer;
    const at = this.#lengths[bucket] as number;
    hash.copy(buffer, at, 1, 9);
    buffer.writeUInt32LE(row, at + 8);
    this.#lengths[bucket] = at + ENTRY_BYTES;
    if (at + ENTRY_BYTES + ENTRY_BYTES > FLUSH_BYTES) await this.#flush(bucket);
  }

  /** Checks every bucket and returns the rows that fail, then deletes the bucket files. */
  async finish(): Promise<DuplicateFailure[]> {
    try {
      for (let bucket = 0; bucket < BUCKETS; bucket += 1) await this.#flush(bucket);
      await this.#pending;
      for (const file of this.#files) await file?.close();
      const failures: DuplicateFailure[] = [];
      if (!this.#dir) return failures;
      for (let bucket = 0; bucket < BUCKETS; bucket += 1) {
        if (!this.#files[bucket]) continue;
        failures.push(...this.#check(await readFile(join(this.#dir, String(bucket)))));
      }
      return failures;
    } finally {
      if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
    }
  }

  async #flush(bucket: number): Promise<void> {
    const length = this.#lengths[bucket] as number;
    if (length === 0) return;
    const data = Buffer.from((this.#buffers[bucket] as Buffer).subarray(0, length));
    this.#lengths[bucket] = 0;
    this.#dir ??= await mkdtemp(join(tmpdir(), 'dvpipe-keys-'));
    const dir = this.#dir;
    this.#pending = this.#pending.then(async () => {
      let file = this.#files[bucket];
      if (!file) this.#files[bucket] = file = await open(join(dir, String(bucket)), 'a');
      await file.write(data);
    });
    await this.#pending;
  }

  /** Entries sorted by (hash, row): each run of equal hashes is one key seen on several rows. */
  #check(data: Buffer): DuplicateFailure[] {
    const count = data.length / ENTRY_BYTES;
    const order = Array.from({ length: count }, (_, i) => i);
    const hi = (i: number) => data.readUInt32LE(i * ENTRY_BYTES);
    const lo = (i: number) => data.readUInt32LE(i * ENTRY_BYTES + 4);
    const row = (i: number) => data.readUInt32LE(i * ENTRY_BYTES + 8);
    order.sort((a, b) => hi(a) - hi(b) || lo(a) - lo(b) || row(a) - row(b));
    const failures: DuplicateFailure[] = [];
    for (let start = 0; start < count;) {
      let end = start + 1;
      const first = order[start] as number;
      while (end < count && hi(order[end] as number) === hi(first) && lo(order[end] as number) === lo(first))
        end += 1;
      if (end - start > 1) failures.push(...this.#fail(order.slice(start, end).map(row)));
      start = end;
    }
    return failures;
  }

  #fail(rows: readonly number[]): DuplicateFailure[] {
    const last = rows[rows.length - 1] as number;
    if (this.#policy === 'lastWins') {
      return rows.slice(0, -1).map((r) => ({
        row: r,
        code: 'DuplicateKeyInFile' as const,
        message: `row ${last} has the same key and replaces this row (duplicateKeys: lastWins)`,
      }));
    }
    const list = rows.length > 6 ? `${rows.slice(0, 5).join(', ')}, …` : rows.join(', ');
    return rows.map((r) => ({
      row: r,
      code: 'DuplicateKeyInFile' as const,
      message: `rows ${list} share this key; duplicates are not written (duplicateKeys: failAll)`,
    }));
  }
}
