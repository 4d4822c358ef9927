// Watermark increments: read rows whose column (modifiedon) is at or after the last watermark minus
// a safety overlap (late commits, clock skew), and skip those already delivered unchanged.
import type { Row } from '../dataverse/index.js';
import type { WatermarkState } from './state.js';

export interface WatermarkOptions {
  readonly column: string;
  readonly overlapSeconds: number;
}

/** The lower bound of this run's read, or undefined for a first (full) run. */
export function watermarkFilter(
  previous: WatermarkState | undefined,
  options: WatermarkOptions,
): { filter?: string; from?: string } {
  if (!previous) return {};
  const from = new Date(Date.parse(previous.value) - options.overlapSeconds * 1000).toISOString();
  return { filter: `${options.column} ge ${from}`, from };
}

/** Dataverse's row version: changes on every write, even within the same second of modifiedon. */
export const rowVersionColumn = 'versionnumber';

/**
 * Follows the highest watermark value while rows stream by, keeping the ids inside the overlap window
 * (bounded by the rows modified within `overlapSeconds` of the newest one), and de-duplicates against
 * the previous run's window.
 */
export class WatermarkTracker {
  private max = Number.NEGATIVE_INFINITY;
  /** id -> [watermark ms, stamp]; the stamp is the row version when selected, else the ms. */
  private readonly recent = new Map<string, readonly [number, string]>();
  private readonly seen: ReadonlyMap<string, readonly [number, string]>;
  private readonly overlapMs: number;
  private pruneAt = 10_000;
  skipped = 0;

  constructor(
    private readonly options: WatermarkOptions,
    private readonly primaryId: string,
    private readonly previous: WatermarkState | undefined,
  ) {
    this.overlapMs = options.overlapSeconds * 1000;
    this.seen = new Map((previous?.boundary ?? []).map(([id, ms, stamp]) => [id, [ms, stamp]] as const));
    if (previous) this.max = Date.parse(previous.value);
  }

  /** False when the row was delivered by the previous run and has not changed since. */
  accept(row: Row): boolean {
    const id = row[this.primaryId];
    const value = row[this.options.column];
    if (typeof id !== 'string' || typeof value !== 'string') return true;
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) return true;
    const version = row[rowVersionColumn];
    const stamp = version === undefined || version === null ? String(ms) : String(version);
    if (this.seen.get(id)?.[1] === stamp) {
      this.skipped += 1;
      return false;
    }
    if (ms > this.max) this.max = ms;
    if (ms >= this.max - this.overlapMs) {
      this.recent.set(id, [ms, stamp]);
      if (this.recent.size > this.pruneAt) {
        this.prune();
        this.pruneAt = Math.max(10_000, this.recent.size * 2);
      }
    }
    return true;
  }

  /** The position to store after a successful run. */
  state(): WatermarkState | undefined {
    if (!Number.isFinite(this.max)) return this.previous;
    this.prune();
    const boundary: [string, number, string][] = [...this.recent].map(([id, [ms, stamp]]) => [id, ms, stamp]);
    // Rows of the previous window still inside the new one were skipped above, not re-added.
    for (const [id, [ms, stamp]] of this.seen) {
      if (ms >= this.max - this.overlapMs && !this.recent.has(id)) boundary.push([id, ms, stamp]);
    }
    return { column: this.options.column, value: new Date(this.max).toISOString(), boundary };
  }

  private prune(): void {
    const floor = this.max - this.overlapMs;
    for (const [id, [ms]] of this.recent) if (ms < floor) this.recent.delete(id);
  }
}
