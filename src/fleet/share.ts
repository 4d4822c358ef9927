// A process's part of each identity's service protection budget when several instances of the app use the
// same identities. Dataverse meters each user's window (requests, execution time, 52 concurrent) whatever
// process the requests come from, so instances that each spend a whole window meet 429s, and instances that
// each take a static slice leave most of it unused when only one is busy. Each instance publishes its
// backlog on a board in the storage account (board.ts) and takes a share of the window proportional to it:
// alone it takes the whole window, with three others equally busy a quarter.
import { randomUUID } from 'node:crypto';
import type { Clock } from '../dataverse/clock.js';
import type { BudgetShare } from '../dataverse/governor.js';
import type { FleetBoard, MemberView } from './board.js';

export interface FleetShareOptions {
  readonly board: FleetBoard;
  readonly clock: Clock;
  /** How often the record is written and the others read. */
  readonly refreshMs: number;
  /**
   * A member whose record is older than this is taken as gone (a crashed instance's share comes back after
   * it). Default: three refreshes plus 2 s, since the board's ages have one-second precision.
   */
  readonly ttlMs?: number;
  readonly instance?: string;
  /** Pace on this process's own time at its part of the sustained rate (DATAVERSE_FLEET_PACING=steady). */
  readonly steady?: boolean;
  /** Told when the board cannot be reached (the last share is kept meanwhile). */
  readonly onError?: (error: unknown) => void;
  /** Told when the share changes. */
  readonly onShare?: (share: number, members: number) => void;
}

/** Members silent this many TTLs are removed from the board by whoever sees them. */
const FORGET_AFTER_TTLS = 10;
/** How often the backlog is sampled between refreshes (its peak since the last refresh is published). */
const SAMPLES_PER_REFRESH = 10;

/**
 * This instance's share: its backlog over the backlogs of the live members that have one. An idle instance
 * keeps the share it would get if it joined as busy as the others, ready for its next request; when no one
 * is busy, an equal part among the live members, since a new file's chunks reach them all at once (with the
 * whole window each, every instance would burst on it until its next refresh).
 */
export function shareOf(
  self: string,
  selfDemand: number,
  members: readonly MemberView[],
  ttlMs: number,
): { share: number; active: number } {
  const live = members.filter((m) => m.instance !== self && m.ageMs <= ttlMs);
  const others = live.filter((m) => m.demand > 0);
  if (selfDemand <= 0)
    return { share: 1 / ((others.length > 0 ? others.length : live.length) + 1), active: others.length };
  const total = others.reduce((sum, m) => sum + m.demand, selfDemand);
  return { share: selfDemand / total, active: others.length + 1 };
}

export class FleetShare implements BudgetShare {
  readonly instance: string;
  readonly steady: boolean;
  private current = 1;
  private peak = 0;
  private backlog: () => number = () => 0;
  private changed: () => void = () => undefined;
  private readonly ttlMs: number;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly options: FleetShareOptions) {
    this.instance = options.instance ?? randomUUID();
    this.steady = options.steady ?? false;
    this.ttlMs = options.ttlMs ?? 3 * options.refreshMs + 2_000;
  }

  get share(): number {
    return this.current;
  }

  track(backlog: () => number, changed?: () => void): void {
    this.backlog = backlog;
    if (changed) this.changed = changed;
    this.loop ??= this.run();
  }

  /** One refresh: publish the backlog's peak since the last one, read the others, set the share. */
  async refresh(): Promise<void> {
    const demand = Math.max(this.peak, this.backlog());
    this.peak = 0;
    const members = await this.options.board.publish({ instance: this.instance, demand });
    const { share, active } = shareOf(this.instance, demand, members, this.ttlMs);
    const moved = share !== this.current;
    this.current = share;
    if (moved) {
      this.options.onShare?.(share, active);
      this.changed();
    }
    for (const m of members) {
      if (m.instance !== this.instance && m.ageMs > FORGET_AFTER_TTLS * this.ttlMs)
        await this.options.board.remove(m.instance).catch(() => undefined);
    }
  }

  /** Stops refreshing and takes this instance off the board, so the others get its share at once. */
  async close(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    await this.options.board.remove(this.instance).catch(() => undefined);
  }

  private async run(): Promise<void> {
    const { clock, refreshMs } = this.options;
    const sampleMs = Math.max(1, refreshMs / SAMPLES_PER_REFRESH);
    let next = clock.now();
    while (!this.stopping.signal.aborted) {
      if (clock.now() >= next) {
        next = clock.now() + refreshMs;
        await this.refresh().catch((e: unknown) => this.options.onError?.(e));
      }
      this.peak = Math.max(this.peak, this.backlog());
      await clock.sleep(sampleMs, this.stopping.signal).catch(() => undefined);
    }
  }
}
