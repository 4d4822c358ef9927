// A client-side ledger of one identity's execution-time window.
//
// Dataverse limits the combined execution time of a user's requests to 1,200 s per 300 s sliding window
// (reference §8). When within a request the service counts that time is not documented: the ledger
// assumes it counts from the request's arrival (the emulator's model, docs/emulator.md), an assumption,
// which is why it stops pacing when the reports contradict it. Concurrency alone cannot see the window's
// sum: at the recommended parallelism a client spends a little less than the budget, and above it meets
// 429s. The ledger keeps when each request was sent and what it cost, learns costs from
// `x-ms-ratelimit-time-remaining-xrm-requests` when the service sends it ("for debugging only", §13: the
// client works without it, on Retry-After), and so knows when the next request would find the window full
// and when the window frees again.

export interface BudgetOptions {
  /** The service's window (Dataverse: 300 s). */
  readonly windowMs: number;
  /**
   * How much later than its send a request may reach the service (its body on the wire, the service's
   * queue): a charge is kept this much longer than the window. Default 40 ms plus 0.1% of the window.
   */
  readonly arrivalSlackMs?: number;
  /**
   * How much later than the ledger reckoned the service has been seen counting charges, learnt from budget
   * 429s (see ArrivalLag); added to the slack. Shared by the ledgers of one process: the way to the service
   * is the same for each of its web servers.
   */
  readonly lag?: ArrivalLag;
}

/**
 * Lateness learnt from the service's own word. A budget 429 for a request the ledger admitted says the
 * window was still full when the ledger counted a charge gone; its Retry-After says when the service
 * frees it, so the charges leave at least that much later than the ledger reckoned when it admitted the
 * request (with the lateness it knew then). Under load (a busy service, a queue of large bodies on the
 * way) that lateness exceeds the fixed slack, and every freed window would meet 429s at its start.
 * Bounded by a share of the window: a longer wait is not lateness but a miscounted window, which the
 * pause waits out.
 */
export class ArrivalLag {
  private learnt = 0;

  /** Lateness seen so far, in ms. */
  get ms(): number {
    return this.learnt;
  }

  /**
   * A budget 429 for a request the ledger admitted while it knew `lagAtAdmitMs` of lateness, asking to wait
   * `retryAfterMs`. Returns whether it was taken as lateness (at most `maxShare` of the window).
   */
  refusedAfterAdmit(
    retryAfterMs: number,
    lagAtAdmitMs: number,
    windowMs: number,
    maxShare = maxLatenessShare,
  ): boolean {
    const cap = windowMs * maxShare;
    if (!(retryAfterMs >= 0) || retryAfterMs > cap) return false;
    this.learnt = Math.min(cap, Math.max(this.learnt, lagAtAdmitMs + retryAfterMs));
    return true;
  }

  /** Lateness shown another way (a full window's first charge leaving later than the ledger reckoned). */
  observed(lateMs: number, windowMs: number, maxShare = maxLatenessShare): boolean {
    const cap = windowMs * maxShare;
    if (!(lateMs > 0) || lateMs > cap) return false;
    this.learnt = Math.max(this.learnt, lateMs);
    return true;
  }
}

/** Most lateness learnt, as a share of the window: 1.2 s of a time-scaled 24 s window, 6 s of 300 s. */
export const maxLatenessShare = 0.02;

/** What a request is, for its cost: its kind (method and path) and its weight (body length). */
export interface RequestShape {
  readonly kind: string;
  readonly weight: number;
}

/** One request in the ledger. */
export interface BudgetEntry {
  readonly sentAt: number;
  readonly shape: RequestShape;
  /** Answered, with or without a report. */
  answered?: boolean;
  /** When the answer came, if told: the request reached the service between its send and this. */
  answeredAt?: number;
  /** The remaining execution seconds reported with the answer. */
  remaining?: number;
  /** The charge in seconds, once worked out from the reports. */
  cost?: number;
  /** A cost worked out for it was far from its kind's estimate. */
  doubted?: boolean;
}

const DEFAULT_ARRIVAL_SLACK_MS = 40;
/** Reports at or below this (seconds) may be an overdraft shown as zero. */
const REPORT_FLOOR = 0.01;
/** Sends closer than this may reach the service in either order. */
const REORDER_MS = 5;
/** A worked-out cost further than this share from its kind's estimate is not learnt. */
const OUTLIER_SHARE = 0.15;
/**
 * Outliers of one kind in a row after which they are learnt after all: the estimate is then what is wrong (its
 * first samples were unpicked from charges another process made as the same identity), and refusing every
 * cost far from it would keep a tenfold estimate for good.
 */
const OUTLIERS_BELIEVED = 3;
/** Sends this far apart arrive in order. */
const SURELY_AFTER_MS = 100;
/** Contradicting reports after which the ledger stops pacing. */
const CONTRADICTIONS_TOLERATED = 3;
/** How far along a run of answered requests learning looks from the one just answered. */
const RUN_REACH = 32;
/** Samples a cost model keeps. */
const SAMPLES = 25;

/**
 * What one kind of request costs: the fixed part every request pays, plus a rate per body character.
 * The rate is the median of recent samples, so a stray one does not move it.
 */
class CostModel {
  private readonly rates: number[] = [];
  private readonly flat: number[] = [];
  // Kept up to date on each sample: estimates are asked for on every admission, samples come rarely.
  private rate: number | undefined;
  private flatCost: number | undefined;
  /** Worked-out costs refused in a row as far from the estimate. */
  outliersInARow = 0;

  add(weight: number, cost: number, fixed: number): void {
    this.outliersInARow = 0;
    if (weight > 0) {
      this.rate = pushMedian(this.rates, Math.max(0, cost - fixed) / weight);
    } else {
      this.flatCost = pushMedian(this.flat, cost);
    }
  }

  estimate(weight: number, fixed: number): number | undefined {
    if (weight > 0 && this.rate !== undefined) return fixed + this.rate * weight;
    return this.flatCost;
  }
}

/** Adds a sample, keeping the last `SAMPLES`. */
function keepLast(samples: number[], value: number): readonly number[] {
  samples.push(value);
  if (samples.length > SAMPLES) samples.shift();
  return samples;
}

/** Adds a sample (keeping the last `SAMPLES`) and returns the samples' median. */
function pushMedian(samples: number[], value: number): number {
  return median(keepLast(samples, value));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export class ExecutionBudget {
  private windowMs: number;
  private readonly slackMs: number | undefined;
  readonly lag: ArrivalLag;
  /** Requests in send order; dropped two windows after their send. */
  private entries: BudgetEntry[] = [];
  private readonly models = new Map<string, CostModel>();
  /** Recent costs of bodiless requests, and the cheapest: the fixed part every request pays. */
  private readonly bodiless: number[] = [];
  private fixed = 0;
  /** The dearest rate per body character learnt of any kind, for a kind not learnt yet. */
  private dearestRate = 0;
  /**
   * When reports contradicted one window (a later request finding more room with nothing gone), for two
   * windows: requests spread over several servers go on contradicting it, while charges of another process
   * that leave the window (one that sent as this identity for a while) stop doing so once they have left.
   */
  private contradictions: number[] = [];

  constructor(options: BudgetOptions) {
    this.slackMs = options.arrivalSlackMs;
    this.lag = options.lag ?? new ArrivalLag();
    this.windowMs = options.windowMs;
  }

  /** The service's window, as the ledger knows it. */
  get window(): number {
    return this.windowMs;
  }

  /** How long a charge counts after its send: the window, the slack for its arrival, and lateness learnt. */
  get keepMs(): number {
    return this.windowMs + (this.slackMs ?? DEFAULT_ARRIVAL_SLACK_MS + this.windowMs / 1000) + this.lag.ms;
  }

  /** The service said how long its window is (a time-scaled emulator does). */
  setWindow(windowMs: number): void {
    if (windowMs <= 0 || windowMs === this.windowMs) return;
    this.windowMs = windowMs;
  }

  sent(now: number, shape: RequestShape): BudgetEntry {
    this.forget(now);
    const entry: BudgetEntry = { sentAt: now, shape };
    this.entries.push(entry);
    return entry;
  }

  /** A request the service refused (429) or never saw: it was not charged. */
  refused(entry: BudgetEntry): void {
    const at = this.entries.indexOf(entry);
    if (at >= 0) this.entries.splice(at, 1);
  }

  /** Records the remaining time reported with a request's answer, and learns what it can from it. */
  answered(entry: BudgetEntry, remainingSeconds: number | undefined, now?: number): void {
    // Out of flight even when the answer reports nothing (a 503 from a proxy): a kind waiting on it may go.
    entry.answered = true;
    if (now !== undefined) entry.answeredAt = now;
    if (remainingSeconds === undefined) return;
    entry.remaining = remainingSeconds;
    const at = this.entries.indexOf(entry);
    if (at < 0) return;
    this.check(at);
    this.learnAround(at);
  }

  /**
   * Whether the reports read as one window. Dataverse keeps a window per web server, and requests spread
   * over several servers get reports from each: the ledger cannot follow those, and says so.
   */
  get coherent(): boolean {
    return this.contradictions.length < CONTRADICTIONS_TOLERATED;
  }

  /** Whether a cost has been learnt for this kind of request. */
  knows(kind: string): boolean {
    return this.models.has(kind);
  }

  /** Whether a request of this kind is out and not yet answered. */
  inFlight(kind: string): boolean {
    return this.entries.some((e) => e.shape.kind === kind && !e.answered);
  }

  /** The charges a request sent now would meet in the window, in seconds. */
  spent(now: number): number {
    this.forget(now);
    let sum = 0;
    for (const entry of this.entries) if (entry.sentAt + this.keepMs > now) sum += this.costOf(entry);
    return sum;
  }

  /**
   * When a request sent now would find `limitSeconds` spent: the time enough charges have left the window
   * for one more to be admitted. Undefined while there is room.
   */
  fullUntil(now: number, limitSeconds: number): number | undefined {
    let sum = this.spent(now);
    if (sum < limitSeconds) return undefined;
    for (const entry of this.entries) {
      const leaves = entry.sentAt + this.keepMs;
      if (leaves <= now) continue;
      sum -= this.costOf(entry);
      if (sum < limitSeconds) return leaves;
    }
    return now + this.keepMs;
  }

  /** Requests whose charges the ledger reckons still in the window at `now`. */
  countIn(now: number): number {
    this.forget(now);
    return this.entries.reduce((n, entry) => n + (entry.sentAt + this.keepMs > now ? 1 : 0), 0);
  }

  /** When the ledger reckons the oldest charge in the window at `now` leaves it; undefined if none is in. */
  oldestLeaves(now: number): number | undefined {
    for (const entry of this.entries) if (entry.sentAt + this.keepMs > now) return entry.sentAt + this.keepMs;
    return undefined;
  }

  /**
   * As fullUntil, counting requests instead of seconds (each request one unit): when a request sent now
   * would find `limit` requests in the window, the time the oldest leaves; undefined while there is room.
   */
  countFullUntil(now: number, limit: number): number | undefined {
    let count = this.countIn(now);
    if (count < limit) return undefined;
    for (const entry of this.entries) {
      const leaves = entry.sentAt + this.keepMs;
      if (leaves <= now) continue;
      count -= 1;
      if (count < limit) return leaves;
    }
    return now + this.keepMs;
  }

  /** A request's cost: worked out, else estimated from its kind, else from the dearest kind. */
  private costOf(entry: BudgetEntry): number {
    if (entry.cost !== undefined) return entry.cost;
    const estimate = this.models.get(entry.shape.kind)?.estimate(entry.shape.weight, this.fixed);
    return estimate ?? this.fixed + this.dearestRate * entry.shape.weight;
  }

  /**
   * Works out costs from a run of answered requests sent one after another. A report is taken when its
   * request arrives, own charge included, so while nothing leaves the window the reports fall in the order
   * the requests arrived, whatever order they were sent in: sorted, each step is a request's cost. When
   * charges do leave meanwhile, only pairs sent apart are used, with what left between them given back.
   */
  private learnAround(at: number): void {
    let first = at;
    let last = at;
    // Bounded: a long answered run says nothing more than its neighbourhood does.
    while (first > 0 && at - first < RUN_REACH && this.entries[first - 1]!.remaining !== undefined)
      first -= 1;
    while (
      last + 1 < this.entries.length &&
      last - at < RUN_REACH &&
      this.entries[last + 1]!.remaining !== undefined
    )
      last += 1;
    // Unanswered neighbours may have arrived inside the run: leave out the requests sent near them.
    const before = this.entries[first - 1];
    const after = this.entries[last + 1];
    const run = this.entries
      .slice(first, last + 1)
      .filter(
        (e) =>
          (!before || e.sentAt - before.sentAt >= REORDER_MS) &&
          (!after || after.sentAt - e.sentAt >= REORDER_MS),
      );
    if (run.length < 2) return;
    if (this.leaving(run[0]!.sentAt - this.slack, run[run.length - 1]!.sentAt + this.slack) === 0) {
      const byArrival = [...run].sort((x, y) => (y.remaining ?? 0) - (x.remaining ?? 0));
      for (let i = 1; i < byArrival.length; i += 1) {
        const entry = byArrival[i]!;
        if (entry.cost === undefined)
          this.consider(entry, (byArrival[i - 1]!.remaining ?? 0) - (entry.remaining ?? 0));
      }
      return;
    }
    for (let i = 1; i < run.length; i += 1) {
      const [prev, entry] = [run[i - 1]!, run[i]!];
      if (entry.cost !== undefined || entry.sentAt - prev.sentAt < REORDER_MS) continue;
      if ((prev.remaining ?? 0) <= REPORT_FLOOR) continue;
      this.consider(
        entry,
        (prev.remaining ?? 0) - (entry.remaining ?? 0) + this.leaving(prev.sentAt, entry.sentAt),
      );
    }
  }

  /**
   * Counts a report that a single window cannot explain: more room later than every charge that may have left
   * meanwhile gives back. Each request reached the service somewhere between its send and its answer, and on a
   * busy host a burst's last body arrives most of a second after its send (traced): a check on send times
   * alone took those reports for contradictions, and the ledger stopped pacing for two windows.
   */
  private check(at: number): void {
    const entry = this.entries[at]!;
    for (let i = at - 1; i >= 0 && at - i <= RUN_REACH; i -= 1) {
      const earlier = this.entries[i]!;
      if (earlier.remaining === undefined) continue;
      if (entry.sentAt - earlier.sentAt < SURELY_AFTER_MS) continue;
      const mayHaveLeft = this.mayLeave(
        earlier.sentAt - this.slack,
        entry.answeredAt ?? entry.sentAt + this.slack,
      );
      const gained = entry.remaining! - earlier.remaining;
      if (gained > mayHaveLeft * (1 + OUTLIER_SHARE) + REPORT_FLOOR) this.contradictions.push(entry.sentAt);
      return;
    }
  }

  /**
   * The most that can have left the window between two times: the charges of requests whose arrival (between
   * their send and their answer, or any time after their send while unanswered) plus the window falls in it.
   */
  private mayLeave(from: number, to: number): number {
    let sum = 0;
    for (const old of this.entries) {
      const earliest = old.sentAt + this.windowMs;
      if (earliest > to) break;
      const latest = (old.answeredAt ?? Number.POSITIVE_INFINITY) + this.slack + this.windowMs;
      if (latest >= from) sum += this.costOf(old);
    }
    return sum;
  }

  /** The requests whose charges leave the window between two times (sent a window before them). */
  private leavers(from: number, to: number): BudgetEntry[] {
    return this.entries.filter(
      (old) => old.sentAt + this.windowMs > from && old.sentAt + this.windowMs <= to,
    );
  }

  /** What the ledger says left the window between two times. */
  private leaving(from: number, to: number): number {
    return this.leavers(from, to).reduce((sum, old) => sum + this.costOf(old), 0);
  }

  /** Learns a worked-out cost unless it cannot be trusted. */
  private consider(entry: BudgetEntry, cost: number): void {
    // A report at the floor may hide an overdraft (the service admits while under the limit and never
    // reports below zero), so the step into it is not a cost.
    if ((entry.remaining ?? 0) <= REPORT_FLOOR || !(cost >= 0)) return;
    const model = this.models.get(entry.shape.kind);
    const expected = model?.estimate(entry.shape.weight, this.fixed);
    // Far from what others of its kind cost: a pair that crossed on the way after all, unless every recent
    // one says so.
    if (
      model &&
      expected !== undefined &&
      expected > 0 &&
      Math.abs(cost - expected) > expected * OUTLIER_SHARE
    ) {
      // A request counts once, though each answer near it works its cost out again.
      if (entry.doubted) return;
      entry.doubted = true;
      model.outliersInARow += 1;
      if (model.outliersInARow < OUTLIERS_BELIEVED) return;
      // Believed as a sample of its kind, so an estimate that is wrong moves once most samples say so; the
      // request itself keeps the estimate, since one far cost is as likely a pair that crossed (a burst's
      // arrivals reorder by more than REORDER_MS on a busy host), and pinned it stayed in the window as
      // charges the service never made (traced: a 2.07 s write held at 14.08 s, an identity paced 20 s
      // short of its window).
      this.learn(entry, cost, false);
      return;
    }
    this.learn(entry, cost);
  }

  /**
   * Records a request's cost as the client measured it (its round trip, the sharing ledger's unit): trusted as
   * it stands, since no report has to be unpicked from others' charges.
   */
  measured(entry: BudgetEntry, cost: number): void {
    entry.answered = true;
    if (!(cost >= 0) || !this.entries.includes(entry)) return;
    this.learn(entry, cost);
  }

  /** Adds a request's cost to its kind's model and, when `pin`, takes it as that request's charge. */
  private learn(entry: BudgetEntry, cost: number, pin = true): void {
    const fixed = this.fixed;
    if (pin) entry.cost = cost;
    const { kind, weight } = entry.shape;
    if (weight === 0) {
      this.fixed = Math.min(...keepLast(this.bodiless, cost));
    } else if (pin) {
      this.dearestRate = Math.max(this.dearestRate, Math.max(0, cost - fixed) / weight);
    }
    let model = this.models.get(kind);
    if (!model) {
      model = new CostModel();
      this.models.set(kind, model);
    }
    model.add(weight, cost, this.fixed);
  }

  /** How long after its send a charge may still be arriving. */
  private get slack(): number {
    return this.keepMs - this.windowMs;
  }

  private forget(now: number): void {
    // Kept a window longer than they count, so they can still explain the reports of later requests.
    let drop = 0;
    while (drop < this.entries.length && this.entries[drop]!.sentAt + 2 * this.keepMs <= now) drop += 1;
    if (drop > 0) this.entries = this.entries.slice(drop);
    if (this.contradictions.length > 0)
      this.contradictions = this.contradictions.filter((at) => at + 2 * this.keepMs > now);
  }
}
