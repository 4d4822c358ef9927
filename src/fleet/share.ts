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
  /**
   * The identities the instances use (the same list on each). With at least as many as the live instances,
   * each instance is given identities of its own instead of a part of every one (`assignmentOf`).
   */
  readonly identities?: readonly string[];
  /** Told when the board cannot be reached (the last share is kept meanwhile). */
  readonly onError?: (error: unknown) => void;
  /** Told when the share changes. */
  readonly onShare?: (share: number, members: number) => void;
}

/** Members silent this many TTLs are removed from the board by whoever sees them. */
const FORGET_AFTER_TTLS = 10;
/** Refreshes a member must have shown no backlog before its identities are lent (see `idleFor`). */
const LEND_AFTER_REFRESHES = 2;
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

/**
 * Which identities this instance sends as, when there are at least as many identities as live instances: an
 * instance alone on an identity reads that identity's reports as its own and paces on them exactly, as one
 * process does, where instances sharing every window can only guess each other's charges (measured: 12-14
 * 429s against 131-156 on 5 identities and 4 hosts, at the same or a higher throughput; BENCHMARKS.md).
 *
 * Identity j (sorted) belongs to the live instance ranked j modulo their count (by instance id), so the
 * assignment moves only when an instance joins or leaves, never as instances go busy and idle. The identities
 * of an owner in `idle` (nothing to send for a while) are lent meanwhile, one at a time, to the busy instance
 * that has the fewest, so the last instances working at the end of a file use every identity. This instance
 * is never idle to itself: on new work it sends at once as its own identities, and has back what it lent at
 * its borrower's next refresh; it borrows only while it has work (`selfBusy`).
 *
 * Undefined while alone (every identity is its own) or while fewer identities than live instances (every
 * identity is then shared by backlog, `shareOf`).
 */
export function assignmentOf(
  self: string,
  members: readonly MemberView[],
  ttlMs: number,
  identities: readonly string[],
  idle: ReadonlySet<string> = new Set(),
  selfBusy = true,
): ReadonlySet<string> | undefined {
  const others = members.filter((m) => m.instance !== self && m.ageMs <= ttlMs);
  const ranked = [...new Set([self, ...others.map((m) => m.instance)])].sort();
  if (ranked.length === 1 || identities.length < ranked.length) return undefined;
  const busy = new Set(others.filter((m) => m.demand > 0).map((m) => m.instance));
  if (selfBusy) busy.add(self);
  const sorted = [...new Set(identities)].sort();
  const user = sorted.map((_, j) => ranked[j % ranked.length]!);
  const held = new Map([...busy].map((m) => [m, user.filter((u) => u === m).length]));
  const borrowers = ranked.filter((m) => busy.has(m));
  if (borrowers.length > 0) {
    sorted.forEach((_, j) => {
      const owner = user[j]!;
      if (owner === self || busy.has(owner) || !idle.has(owner)) return;
      // The busy instance with the fewest identities (the first by rank among equals) borrows it.
      const borrower = borrowers.reduce((a, b) => (held.get(b)! < held.get(a)! ? b : a));
      held.set(borrower, held.get(borrower)! + 1);
      user[j] = borrower;
    });
  }
  return new Set(sorted.filter((_, j) => user[j] === self));
}

function sameSet(a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined): boolean {
  if (!a || !b) return a === b;
  return a.size === b.size && [...a].every((id) => b.has(id));
}

export class FleetShare implements BudgetShare {
  readonly instance: string;
  readonly steady: boolean;
  private current = 1;
  /** The identities this instance sends as while they are assigned (`assignmentOf`); undefined: all, shared. */
  private own: ReadonlySet<string> | undefined;
  /** When each other member was first seen with nothing to send, since it last had something. */
  private readonly idleSince = new Map<string, number>();
  private peak = 0;
  /** When this instance's refreshes first showed work, since it last had none. */
  private busySince: number | undefined;
  private backlog: () => number = () => 0;
  private changed: () => void = () => undefined;
  private readonly ttlMs: number;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private firstRefreshed: () => void = () => undefined;
  /** Settles after the first refresh (or its failure): `shareFor` then knows this instance's identities. */
  readonly ready = new Promise<void>((resolve) => {
    this.firstRefreshed = resolve;
  });

  constructor(private readonly options: FleetShareOptions) {
    this.instance = options.instance ?? randomUUID();
    this.steady = options.steady ?? false;
    this.ttlMs = options.ttlMs ?? 3 * options.refreshMs + 2_000;
  }

  /** The part of every identity's window; 1 while identities are assigned (each of its own is whole). */
  get share(): number {
    return this.own ? 1 : this.current;
  }

  /** 1 for an identity of its own, 0 for another instance's; `share` while identities are shared. */
  shareFor(identity: string): number {
    if (!this.own) return this.current;
    return this.own.has(identity) ? 1 : 0;
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
    const now = this.options.clock.now();
    this.busySince = demand > 0 ? (this.busySince ?? now) : undefined;
    // It borrows only once it has been busy for a refresh: instances handed a new file at the same moment
    // publish their backlogs within a refresh and look idle until then, and each borrowed every other's
    // identities at a run's start (and probed them, and sent on them) until its next refresh.
    const borrows = this.busySince !== undefined && now - this.busySince >= this.options.refreshMs;
    const own = this.options.identities
      ? assignmentOf(
          this.instance,
          members,
          this.ttlMs,
          this.options.identities,
          this.idleFor(members, LEND_AFTER_REFRESHES * this.options.refreshMs),
          borrows,
        )
      : undefined;
    const moved = share !== this.current || !sameSet(own, this.own);
    this.current = share;
    this.own = own;
    if (moved) {
      this.options.onShare?.(share, active);
      this.changed();
    }
    for (const m of members) {
      if (m.instance !== this.instance && m.ageMs > FORGET_AFTER_TTLS * this.ttlMs)
        await this.options.board.remove(m.instance).catch(() => undefined);
    }
  }

  /**
   * The other members that have had nothing to send for at least `ms` by this instance's clock (at each of its
   * refreshes since): their identities may be lent. Lent as soon as a member shows no backlog, they went to
   * whoever started a new file first, while the others' backlogs had not reached the board yet.
   */
  private idleFor(members: readonly MemberView[], ms: number): ReadonlySet<string> {
    const now = this.options.clock.now();
    const idle = new Set<string>();
    // Forget members gone from the board: one that comes back starts busy or freshly idle.
    const present = new Set(members.map((m) => m.instance));
    for (const instance of this.idleSince.keys()) if (!present.has(instance)) this.idleSince.delete(instance);
    for (const m of members) {
      if (m.instance === this.instance) continue;
      if (m.demand > 0) {
        this.idleSince.delete(m.instance);
        continue;
      }
      const since = this.idleSince.get(m.instance) ?? now;
      this.idleSince.set(m.instance, since);
      if (now - since >= ms) idle.add(m.instance);
    }
    return idle;
  }

  /** Stops refreshing and takes this instance off the board, so the others get its share at once. */
  async close(): Promise<void> {
    this.firstRefreshed();
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
        this.firstRefreshed();
      }
      this.peak = Math.max(this.peak, this.backlog());
      await clock.sleep(sampleMs, this.stopping.signal).catch(() => undefined);
    }
  }
}
