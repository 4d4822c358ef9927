// Adaptive concurrency for one (org, identity): how many requests may be in flight right now.
// Slow start from x-ms-dop-hint (or 4), additive increase while healthy, multiplicative decrease on 429,
// and a pause for every request of the identity while a Retry-After runs: Retry-After and x-ms-dop-hint
// are the supported signals (reference §13). When the optional x-ms-ratelimit-* headers show execution
// time being spent and read as one window, a ledger of it (budget.ts) decides instead when the next
// request may go: the window is spent as it frees, with fewer 429s. Without those headers, a budget 429
// whose Retry-After matches the ledger's oldest request lets the ledger pace by count. Limits are kept per web server
// (§13): the identity pool gives each web server a lane with its own governor (identity-pool.ts); a governor whose
// requests the balancer spreads (an identity's discovery lane) counts the servers from the answers' affinity
// cookies and scales its bounds with them.
import { affinityOf } from './affinity.js';
import {
  ExecutionBudget,
  maxLatenessShare,
  type ArrivalLag,
  type BudgetEntry,
  type RequestShape,
} from './budget.js';

export const defaultStartConcurrency = 4;
/**
 * While the ledger paces, requests with a body leave at least this far apart: they then reach the service
 * about when they were sent, as the ledger assumes. A burst of large bodies would queue on the way.
 */
const SEND_SPACING_MS = 8;
/**
 * Dataverse allows a user 1,200 s of combined execution time per 300 s window (reference §8): four seconds of
 * it for each second of the window, whatever the window's length (a time-scaled emulator keeps the ratio).
 */
export const executionSecondsPerWindowSecond = 1_200 / 300;
/**
 * The ledger of a process's own time (while instances share an identity) holds its part of the window's rate over
 * a quarter of the window rather than over the whole: spending a whole window's part at once would crowd the
 * service (every answer slower, so dearer in round trips) and then leave it idle while the burst leaves.
 */
const OWN_TIME_SPANS_PER_WINDOW = 4;
/** Dataverse refuses a 53rd concurrent request per user and server. */
export const serviceConcurrencyLimit = 52;
/**
 * Most web servers the governor scales its limits over. Our own bound: an environment's server count is
 * not published, and a count that only grows must not let a long run's recycled servers inflate it.
 */
export const maxServersFollowed = 8;

export { affinityOf } from './affinity.js';

export interface GovernorOptions {
  /** Upper bound per web server seen (≤ 52, the service's concurrency limit per user and server). */
  readonly max: number;
  readonly initial?: number;
  readonly min?: number;
  /** Multiplier applied on a 429 (0 < f < 1). */
  readonly decreaseFactor?: number;
  /** Stop growing when the remaining execution time or request budget falls below this share of its peak. */
  readonly lowBudgetShare?: number;
  /** The service protection window to keep an execution-time ledger for (0 or absent: none). */
  readonly budgetWindowMs?: number;
  /**
   * Lateness of the service's charges learnt from budget 429s (budget.ts). Give every governor of a process
   * the same one: one lane's 429 then moves every lane's ledger, before their own windows free at the same
   * moment and meet the same 429.
   */
  readonly arrivalLag?: ArrivalLag;
  /**
   * This process's part (0, 1] of the identity's window and concurrency, when other processes send as the
   * same identity (src/fleet). Default 1: the whole window.
   */
  readonly share?: () => number;
  /**
   * While shared, pace on this process's own time at its part of the window's sustained rate (`sharedPacing`)
   * instead of spending a fresh window as fast as the server takes it. Default false.
   */
  readonly steadySharing?: boolean;
}

/** A process's part of each identity's budget, set by whatever coordinates the instances (src/fleet). */
export interface BudgetShare {
  /** The fraction (0, 1] of each identity's window and concurrency this process may use now. */
  readonly share: number;
  /** Pace on this process's own time at its part of the sustained rate (`Governor.sharedPacing`). */
  readonly steady?: boolean;
  /**
   * This process's part of one identity's window while the instances are given identities of their own: 1 for
   * its own, 0 for another instance's (new work goes to its own). Absent: `share` for every identity.
   */
  shareFor?(identity: string): number;
  /**
   * How to read this process's backlog (requests waiting or in flight), which the share is sized by, and whom to
   * tell when the share changes (requests a smaller share held back may go at once).
   */
  track(backlog: () => number, changed?: () => void): void;
  /**
   * Settles once `shareFor` knows which identities are this process's (its first look at the others, after
   * `track`): until then requests wait, rather than go as, and probe, every identity.
   */
  readonly ready?: Promise<void>;
  /** The client is closing: stop, and give the share back to the others. */
  close?(): Promise<void>;
}

export interface RateLimitHeaders {
  readonly dopHint?: number;
  readonly burstRemaining?: number;
  readonly timeRemainingSeconds?: number;
  /** The window's length, when the service says (the emulator's `x-ms-emulator-window-ms`). */
  readonly windowMs?: number;
}

/** What the governor learns from one finished request. */
export interface Outcome {
  readonly now: number;
  /** HTTP status; undefined when no response arrived. */
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** For a 429: how long every request of this identity must wait. */
  readonly retryAfterMs?: number;
  /** The 429 was for too many concurrent requests (0x80072326), not for the request or time budget. */
  readonly concurrencyLimited?: boolean;
}

export interface Ticket {
  readonly epoch: number;
  /** The governor was at its limit when this request started, so its outcome says something about the limit. */
  readonly saturated: boolean;
  /** The request's line in the execution-time ledger. */
  readonly entry?: BudgetEntry;
  /** The ledger paced when this request was admitted: its window had room for it. */
  readonly paced?: boolean;
  /** The lateness (ms) the ledger allowed for when it admitted this request. */
  readonly lagMs?: number;
  /** The request's line in the ledger of this process's own time (see `sharedPacing`). */
  readonly ownEntry?: BudgetEntry;
}

/** Parses Dataverse's rate-limit numbers: `1,200.00` (thousands separator, two decimals) or `5999`. */
export function parseRateLimitNumber(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const cleaned = value.trim().replace(/,/g, '');
  if (!/^-?\d+(\.\d+)?$/.test(cleaned)) return undefined;
  return Number(cleaned);
}

/** Retry-After as milliseconds: delta-seconds (integer or decimal) or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Millisecond-precision variants some services send next to Retry-After (Azure's `x-ms-retry-after-ms` …). */
const preciseRetryAfterHeaders = ['retry-after-ms', 'x-ms-retry-after-ms', 'x-ms-emulator-retry-after-ms'];

/** How long a 429/503 asks us to wait, preferring a millisecond header over whole-second Retry-After. */
export function retryAfterFromHeaders(
  headers: Readonly<Record<string, string>>,
  now: number,
): number | undefined {
  for (const name of preciseRetryAfterHeaders) {
    const v = parseRateLimitNumber(headers[name]);
    if (v !== undefined && v >= 0) return Math.round(v);
  }
  return parseRetryAfter(headers['retry-after'], now);
}

export function readRateLimitHeaders(headers: Readonly<Record<string, string>>): RateLimitHeaders {
  const dop = parseRateLimitNumber(headers['x-ms-dop-hint']);
  const burst = parseRateLimitNumber(headers['x-ms-ratelimit-burst-remaining-xrm-requests']);
  const time = parseRateLimitNumber(headers['x-ms-ratelimit-time-remaining-xrm-requests']);
  const window = parseRateLimitNumber(headers['x-ms-emulator-window-ms']);
  return {
    ...(window !== undefined && window > 0 ? { windowMs: window } : {}),
    ...(dop !== undefined && dop > 0 ? { dopHint: Math.floor(dop) } : {}),
    ...(burst !== undefined ? { burstRemaining: burst } : {}),
    ...(time !== undefined ? { timeRemainingSeconds: time } : {}),
  };
}

export class Governor {
  /** The bound per web server. */
  private readonly maxPerServer: number;
  /** Affinity tokens of the web servers that have answered. */
  private readonly servers = new Set<string>();
  readonly min: number;
  private readonly decreaseFactor: number;
  private readonly lowBudgetShare: number;
  /** Fractional, so additive increase can add 1/limit per response. */
  private window: number;
  private threshold: number;
  private epochValue = 0;
  private hint: number | undefined;
  private running = 0;
  private pauseEnd = 0;
  private peakBurst = 0;
  private peakTime = 0;
  private started = 0;
  private lastTime: number | undefined;
  /** Execution seconds (header units) one request costs, learnt while the budget only went down. */
  private cost: number | undefined;
  private costSettled = false;
  private last: RateLimitHeaders = {};
  /** A 429 for the request or time budget has been seen. */
  private budgetBound = false;
  private readonly budget: ExecutionBudget | undefined;
  /**
   * The same requests with their round trips as costs: what this process alone spent of a window, which the
   * service's reports cannot say while other processes send as the same identity (see `sharedPacing`).
   */
  private readonly ownTime: ExecutionBudget | undefined;
  private readonly shareOf: () => number;
  private readonly steadySharing: boolean;
  private lastSend = Number.NEGATIVE_INFINITY;
  /**
   * When the ledger, at the last `free`, said its window frees. Kept apart from Retry-After pauses and worked out
   * afresh each time, since the share it depends on may grow meanwhile (another instance went idle).
   */
  private heldUntil = Number.NEGATIVE_INFINITY;
  /** The latest time the governor has been told of (start, finish, free). */
  private lastNow = Number.NEGATIVE_INFINITY;
  /** Until when requests sent while the identity was shared may still be in the service's window. */
  private sharedUntil = Number.NEGATIVE_INFINITY;
  /** A report below the peak: the service charges execution time (an emulator without limits does not). */
  private charged = false;
  /**
   * Without reports of the execution time (no x-ms-ratelimit-* headers): how many of this governor's requests
   * the window held when the service last refused one for its budget. The ledger then paces by count.
   */
  private countLimit: number | undefined;

  constructor(options: GovernorOptions) {
    this.maxPerServer = Math.max(1, Math.min(serviceConcurrencyLimit, Math.floor(options.max)));
    this.min = Math.max(1, Math.min(this.maxPerServer, options.min ?? 1));
    this.decreaseFactor = options.decreaseFactor ?? 0.5;
    this.lowBudgetShare = options.lowBudgetShare ?? 0.1;
    this.window = this.clamp(options.initial ?? defaultStartConcurrency);
    this.threshold = Number.POSITIVE_INFINITY;
    this.shareOf = options.share ?? (() => 1);
    this.steadySharing = options.steadySharing ?? false;
    this.budget = options.budgetWindowMs
      ? new ExecutionBudget({
          windowMs: options.budgetWindowMs,
          ...(options.arrivalLag ? { lag: options.arrivalLag } : {}),
        })
      : undefined;
    // Kept only for steady pacing: bursting, nothing reads it, and every request would pay for a second line.
    this.ownTime =
      this.budget && this.steadySharing
        ? new ExecutionBudget({
            windowMs: this.budget.window / OWN_TIME_SPANS_PER_WINDOW,
            lag: this.budget.lag,
          })
        : undefined;
  }

  /**
   * Upper bound now: the per-server bound times the web servers seen answering. Limits are kept per user
   * per server (reference §13), so spread requests may be that many more.
   */
  get max(): number {
    return this.maxPerServer * this.serverCount;
  }

  /** The most `max` can become, once every server it follows has answered. */
  get maxPossible(): number {
    return this.maxPerServer * maxServersFollowed;
  }

  /** Web servers seen answering (1 when the answers name none). */
  get serverCount(): number {
    return Math.max(1, Math.min(maxServersFollowed, this.servers.size));
  }

  /** Requests that may be in flight at once now. */
  get limit(): number {
    // While a ledger paces, the window's budget bounds the work in flight, not a count.
    if (this.pacing) return this.scaled(this.max);
    // Shared, this process's part of the recommended parallelism, rounded up (its ledger keeps the average to
    // the part): more in flight makes every answer slower, and a slower answer costs more in its own time.
    if (this.sharedPacing)
      return Math.min(this.scaled(this.max), Math.max(1, Math.ceil(this.recommended * this.share)));
    return this.scaled(Math.floor(this.window));
  }

  /** The process's share of each identity's budget (1 unless instances share identities). */
  get share(): number {
    const share = this.shareOf();
    return share > 0 && share < 1 ? share : 1;
  }

  /** A count scaled to this process's share, at least one. */
  private scaled(count: number): number {
    const share = this.share;
    return share === 1 ? count : Math.max(1, Math.round(count * share));
  }

  get inFlight(): number {
    return this.running;
  }

  /** Until when no request goes: a Retry-After pause, or the time the ledger last said its window frees. */
  get pausedUntil(): number {
    return Math.max(this.pauseEnd, this.heldUntil);
  }

  get rateLimits(): RateLimitHeaders {
    return this.last;
  }

  /** Holds every request of this governor until `until` (a 429 for its server answered to another lane). */
  pauseUntil(until: number): void {
    this.pauseEnd = Math.max(this.pauseEnd, until);
  }

  isPaused(now: number): boolean {
    return now < this.pauseEnd;
  }

  /** Free slots now (0 while paused, or while the execution-time window is full). */
  free(now: number): number {
    this.tick(now);
    if (this.isPaused(now)) return 0;
    this.heldUntil = Number.NEGATIVE_INFINITY;
    if (this.countPacing) {
      // A window the service called full frees one request at a time, as its oldest charges leave.
      const limit = this.countLimit ?? 0;
      const full = this.budget?.countFullUntil(now, limit);
      if (full !== undefined) {
        this.heldUntil = full;
        return 0;
      }
      const room = limit - (this.budget?.countIn(now) ?? 0);
      return Math.max(0, Math.min(room, this.limit - this.running));
    }
    const paced = this.pacedBy;
    if (!paced) return Math.max(0, this.limit - this.running);
    // Right after a request with a body, nothing goes for a moment (see SEND_SPACING_MS).
    if (now < this.lastSend + SEND_SPACING_MS) {
      this.heldUntil = this.lastSend + SEND_SPACING_MS;
      return 0;
    }
    // The ledger says when the window has room again; up to the maximum may be in flight meanwhile.
    const full = paced.ledger.fullUntil(now, paced.limitSeconds);
    if (full !== undefined) {
      this.heldUntil = full;
      return 0;
    }
    return Math.max(0, this.limit - this.running);
  }

  /**
   * Whether a request of this shape may start now, given a free slot: while the ledger paces, a kind of
   * write whose cost it has not learnt goes one at a time, so one answer teaches it before more are sent.
   */
  admits(shape: RequestShape | undefined): boolean {
    const ledger = this.pacedBy?.ledger;
    // Reads are let through: they cost little next to the window, and a page of an extract is slow to answer.
    if (!ledger || !shape || shape.weight === 0) return true;
    return ledger.knows(shape.kind) || !ledger.inFlight(shape.kind);
  }

  /** The ledger that paces now and the seconds of the window it may fill, if one does. */
  private get pacedBy(): { ledger: ExecutionBudget; limitSeconds: number } | undefined {
    if (this.pacing && this.budget) return { ledger: this.budget, limitSeconds: this.peakTime };
    if (this.sharedPacing && this.ownTime) {
      const windowSeconds = this.ownTime.window / 1000;
      return {
        ledger: this.ownTime,
        limitSeconds: executionSecondsPerWindowSecond * windowSeconds * this.share * this.serverCount,
      };
    }
    return undefined;
  }

  start(shape?: RequestShape, now = 0): Ticket {
    this.tick(now);
    this.running++;
    this.started++;
    // Every request goes in the ledger from the first: the ones sent before the service is seen charging are
    // charged too, and a ledger without them admits that many too many once it paces.
    const entry = this.budget && shape ? this.budget.sent(now, shape) : undefined;
    const ownEntry = this.ownTime && shape ? this.ownTime.sent(now, shape) : undefined;
    const paced = this.pacing || this.countPacing;
    if ((paced || this.sharedPacing) && shape && shape.weight > 0) this.lastSend = now;
    return {
      epoch: this.epochValue,
      saturated: this.running >= this.limit,
      ...(entry ? { entry } : {}),
      ...(ownEntry ? { ownEntry } : {}),
      ...(paced && this.budget ? { paced, lagMs: this.budget.lag.ms } : {}),
    };
  }

  /**
   * The ledger paces: a window is configured, the service has been seen charging execution time, and its
   * reports read as one window (else the governor's own limits apply, as without a ledger).
   */
  get pacing(): boolean {
    // While other instances send as this identity, every report includes their charges too: the ledger cannot
    // tell what its own requests cost (it learns them several times dearer, and pacing on that measured 28% of
    // the ceiling with 4 hosts). The share of the concurrency divides the window between them instead.
    if (this.shared) return false;
    return this.budget !== undefined && this.charged && this.budget.coherent && this.oneServer;
  }

  /**
   * With `steadySharing`, while other instances send as this identity, this process paces on its own time:
   * each of its requests costs its round trip (the service cannot spend more of its execution time on a request
   * than passes between its sending and its answer), and its requests may fill its share of the window's
   * execution time (1,200 s per 300 s, reference §8) over a quarter of the window. Nothing is compared between
   * instances and no 429 is needed to start: the shares of the live members add up to one window, and each
   * member's charges stay under its part. The price: a fresh window's budget is spent at the sustained rate,
   * not in a burst (congested answers would cost a burst far more round trip than charge). Not against a
   * service whose reports show it charging nothing (an emulator without limits).
   */
  get sharedPacing(): boolean {
    if (!this.steadySharing || !this.shared || this.ownTime === undefined) return false;
    return this.charged || this.peakTime === 0;
  }

  /**
   * Other instances send as this identity, or did within a window: the service's window may still hold
   * requests this process sent while shared, whose costs the reports could not teach the ledger, and the
   * others' charges, which its reports include.
   */
  private get shared(): boolean {
    if (!this.steadySharing) return this.share < 1;
    return this.share < 1 || this.lastNow < this.sharedUntil;
  }

  /** Notes the time, and while the identity is shared, how long that will matter. */
  private tick(now: number): void {
    this.lastNow = Math.max(this.lastNow, now);
    if (this.share < 1 && this.budget) this.sharedUntil = this.lastNow + this.budget.keepMs;
  }

  /**
   * Without execution-time reports, the ledger paces by count once a budget 429 has said how many of the
   * requests it holds fill the window: each request as dear as the others, which holds for a bulk load's
   * requests of one kind and size. Not while instances share the identity (their requests are not in it).
   */
  get countPacing(): boolean {
    return !this.pacing && this.countLimit !== undefined && !this.shared && this.oneServer;
  }

  /**
   * Only one web server has answered. The rate-limit headers describe the server that answered (reference
   * §13), so once several share the work no one report describes the identity's budget: the ledger, the
   * one-step growth and the low-budget stop then rest on them no longer, and Retry-After governs.
   */
  private get oneServer(): boolean {
    return this.servers.size <= 1;
  }

  /** Records a finished request: frees its slot and adapts the limit and the pause to the answer. */
  finish(ticket: Ticket, outcome: Outcome): void {
    this.tick(outcome.now);
    this.running = Math.max(0, this.running - 1);
    const rate = outcome.headers ? readRateLimitHeaders(outcome.headers) : {};
    const server = outcome.headers ? affinityOf(outcome.headers) : undefined;
    if (server !== undefined && this.servers.size < maxServersFollowed) this.servers.add(server);
    this.observe(rate);
    const charged = outcome.status !== undefined && outcome.status !== 429;
    if (ticket.entry) {
      // A refused request (429) or one that never reached the service was not charged. Pacing steadily while
      // others share the identity, the reports include their charges: nothing is learnt from them about ours.
      if (!charged) this.budget?.refused(ticket.entry);
      else
        this.budget?.answered(
          ticket.entry,
          this.steadySharing && this.shared ? undefined : rate.timeRemainingSeconds,
          outcome.now,
        );
    }
    if (charged && this.running === 0) this.sizeWindow(outcome.now, rate.timeRemainingSeconds);
    if (ticket.ownEntry) {
      if (!charged) this.ownTime?.refused(ticket.ownEntry);
      else this.ownTime?.measured(ticket.ownEntry, (outcome.now - ticket.ownEntry.sentAt) / 1000);
    }
    if (outcome.status === 429 && !outcome.concurrencyLimited) {
      this.budgetBound = true;
      // The ledger admitted it, so the window held charges the ledger counted gone: they leave later than it
      // reckons, by at least the wait the service asks for.
      if (ticket.paced && ticket.entry && this.budget && outcome.retryAfterMs !== undefined)
        this.budget.lag.refusedAfterAdmit(outcome.retryAfterMs, ticket.lagMs ?? 0, this.budget.window);
      if (!this.charged && this.budget && ticket.entry) this.countWindow(outcome.now, outcome.retryAfterMs);
    }
    if (outcome.status === 429) {
      this.pauseEnd = Math.max(this.pauseEnd, outcome.now + (outcome.retryAfterMs ?? 1000));
      // One decrease per round: 429s from requests that started before the last decrease are the same event.
      if (ticket.epoch === this.epochValue) {
        // Too many requests in flight: a plain multiplicative cut. A spent request or time budget is waited out
        // by the pause instead, so that cut stops at the server's recommended parallelism: fewer slots would
        // leave budget unused once the window frees it.
        // Without a hint (no header sent), the default start stands in for it.
        const floor = outcome.concurrencyLimited ? this.min : Math.min(this.window, this.recommended);
        this.window = this.clamp(Math.max(floor, this.window * this.decreaseFactor));
        this.threshold = this.window;
        this.epochValue++;
      }
      return;
    }
    const healthy = outcome.status !== undefined && outcome.status < 500;
    if (!healthy || !ticket.saturated) return;
    // A fresh identity's whole window of execution budget: take it now rather than a slot per round trip.
    // Only before the first 429: re-spending each freed window in a burst ends every window in 429s for the
    // same throughput (import bench: 82% of the ceiling either way, 115 429s against 28).
    const affordable = this.epochValue === 0 ? this.affordable() : undefined;
    if (affordable !== undefined && this.running + affordable > this.window) {
      this.window = this.clamp(this.running + affordable);
      return;
    }
    if (this.budgetLow()) return;
    // Once a budget (not concurrency) 429 has shown the limits bind, grow no further than the hint: it
    // spends about the sustained rate, where more in flight only meets the next 429 sooner.
    if (this.budgetBound && this.window >= this.recommended) return;
    // Slow start doubles per round trip until the first 429; afterwards grow by one per round trip.
    this.window = this.clamp(this.window < this.threshold ? this.window + 1 : this.window + 1 / this.window);
  }

  /**
   * A budget 429 without execution-time reports: the window holds what the ledger counts in it now (the
   * refused request already out of it), if Retry-After agrees that the window frees when the oldest of them
   * leaves (give or take the lateness the ledger may learn). A wait that does not match (a short one in a
   * long window, as from a 429 the service sends for another reason) says nothing about this ledger's count,
   * and the governor goes on without counting.
   */
  private countWindow(now: number, retryAfterMs: number | undefined): void {
    const budget = this.budget!;
    const oldest = budget.oldestLeaves(now);
    const count = budget.countIn(now);
    const late = oldest !== undefined && retryAfterMs !== undefined ? now + retryAfterMs - oldest : undefined;
    if (late === undefined || count === 0 || Math.abs(late) > budget.window * maxLatenessShare) {
      this.countLimit = undefined;
      return;
    }
    if (late > 0) budget.lag.observed(budget.lag.ms + late, budget.window);
    this.countLimit = count;
  }

  /** The recommended parallelism over every server seen: x-ms-dop-hint, or the default start, per server. */
  private get recommended(): number {
    return (this.hint ?? defaultStartConcurrency) * this.serverCount;
  }

  private observe(rate: RateLimitHeaders): void {
    if (rate.dopHint !== undefined && this.hint === undefined) {
      if (this.epochValue === 0) this.window = this.clamp(rate.dopHint);
    }
    if (rate.dopHint !== undefined) this.hint = rate.dopHint;
    if (rate.windowMs !== undefined) {
      this.budget?.setWindow(rate.windowMs);
      this.ownTime?.setWindow(rate.windowMs / OWN_TIME_SPANS_PER_WINDOW);
    }
    if (rate.burstRemaining !== undefined) this.peakBurst = Math.max(this.peakBurst, rate.burstRemaining);
    if (rate.timeRemainingSeconds !== undefined) {
      this.peakTime = Math.max(this.peakTime, rate.timeRemainingSeconds);
      if (rate.timeRemainingSeconds < this.peakTime) this.charged = true;
      this.learnCost(rate.timeRemainingSeconds);
    }
    this.last = { ...this.last, ...rate };
  }

  /**
   * The window's size, read when nothing is in flight: the remaining time reported plus what the ledger holds in
   * the window, every request of it answered. The largest remaining time ever reported (`peakTime`) says less
   * when the window was never empty as this process looked, as for an identity another instance used just
   * before it (their charges were in every report), and pacing on that left the difference unused in every
   * window. Never above the documented 1,200 s per 300 s.
   */
  private sizeWindow(now: number, remaining: number | undefined): void {
    if (remaining === undefined || !this.budget || !this.pacing) return;
    const documented = (executionSecondsPerWindowSecond * this.budget.window) / 1000;
    this.peakTime = Math.max(this.peakTime, Math.min(documented, remaining + this.budget.spent(now)));
  }

  /**
   * Until the remaining execution time first goes up (old requests leaving the window), everything spent is ours:
   * spent / started is the cost of one request in the header's own units, whatever the clock scale.
   */
  private learnCost(remaining: number): void {
    if (this.costSettled) return;
    if (this.lastTime !== undefined && remaining > this.lastTime) {
      this.costSettled = true;
      return;
    }
    this.lastTime = remaining;
    const spent = this.peakTime - remaining;
    if (spent > 0 && this.started > 0) this.cost = spent / this.started;
  }

  /** Requests the remaining execution time pays for, when the cost of one is known. */
  private affordable(): number | undefined {
    const remaining = this.last.timeRemainingSeconds;
    if (!this.oneServer) return undefined;
    if (this.cost === undefined || remaining === undefined || this.cost <= 0) return undefined;
    return Math.floor(remaining / this.cost);
  }

  private budgetLow(): boolean {
    const { burstRemaining, timeRemainingSeconds } = this.last;
    if (!this.oneServer) return false;
    const low = (value: number | undefined, peak: number) =>
      value !== undefined && peak > 0 && value < peak * this.lowBudgetShare;
    return low(burstRemaining, this.peakBurst) || low(timeRemainingSeconds, this.peakTime);
  }

  private clamp(value: number): number {
    return Math.max(this.min, Math.min(this.max, value));
  }
}
