// Adaptive concurrency for one (org, identity): how many requests may be in flight right now.
// Slow start from x-ms-dop-hint (or 4), additive increase while healthy, multiplicative decrease on 429,
// and a pause for every request of the identity while a Retry-After runs.

export const defaultStartConcurrency = 4;
/** Dataverse refuses a 53rd concurrent request per user and server. */
export const serviceConcurrencyLimit = 52;

export interface GovernorOptions {
  /** Upper bound (≤ 52). */
  readonly max: number;
  readonly initial?: number;
  readonly min?: number;
  /** Multiplier applied on a 429 (0 < f < 1). */
  readonly decreaseFactor?: number;
  /** Stop growing when the remaining execution time or request budget falls below this share of its peak. */
  readonly lowBudgetShare?: number;
}

export interface RateLimitHeaders {
  readonly dopHint?: number;
  readonly burstRemaining?: number;
  readonly timeRemainingSeconds?: number;
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
  return {
    ...(dop !== undefined && dop > 0 ? { dopHint: Math.floor(dop) } : {}),
    ...(burst !== undefined ? { burstRemaining: burst } : {}),
    ...(time !== undefined ? { timeRemainingSeconds: time } : {}),
  };
}

export class Governor {
  readonly max: number;
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

  constructor(options: GovernorOptions) {
    this.max = Math.max(1, Math.min(serviceConcurrencyLimit, Math.floor(options.max)));
    this.min = Math.max(1, Math.min(this.max, options.min ?? 1));
    this.decreaseFactor = options.decreaseFactor ?? 0.5;
    this.lowBudgetShare = options.lowBudgetShare ?? 0.1;
    this.window = this.clamp(options.initial ?? defaultStartConcurrency);
    this.threshold = this.max;
  }

  /** Requests that may be in flight at once now. */
  get limit(): number {
    return Math.floor(this.window);
  }

  get inFlight(): number {
    return this.running;
  }

  get pausedUntil(): number {
    return this.pauseEnd;
  }

  get rateLimits(): RateLimitHeaders {
    return this.last;
  }

  isPaused(now: number): boolean {
    return now < this.pauseEnd;
  }

  /** Free slots now (0 while paused). */
  free(now: number): number {
    return this.isPaused(now) ? 0 : Math.max(0, this.limit - this.running);
  }

  start(): Ticket {
    this.running++;
    this.started++;
    return { epoch: this.epochValue, saturated: this.running >= this.limit };
  }

  /** Records a finished request: frees its slot and adapts the limit and the pause to the answer. */
  finish(ticket: Ticket, outcome: Outcome): void {
    this.running = Math.max(0, this.running - 1);
    const rate = outcome.headers ? readRateLimitHeaders(outcome.headers) : {};
    this.observe(rate);
    if (outcome.status === 429 && !outcome.concurrencyLimited) this.budgetBound = true;
    if (outcome.status === 429) {
      this.pauseEnd = Math.max(this.pauseEnd, outcome.now + (outcome.retryAfterMs ?? 1000));
      // One decrease per round: 429s from requests that started before the last decrease are the same event.
      if (ticket.epoch === this.epochValue) {
        // Too many requests in flight: a plain multiplicative cut. A spent request or time budget is waited out
        // by the pause instead, so that cut stops at the server's recommended parallelism: fewer slots would
        // leave budget unused once the window frees it.
        const floor = outcome.concurrencyLimited ? this.min : Math.min(this.window, this.hint ?? this.min);
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
    if (this.budgetBound && this.window >= (this.hint ?? defaultStartConcurrency)) return;
    // Slow start doubles per round trip until the first 429; afterwards grow by one per round trip.
    this.window = this.clamp(this.window < this.threshold ? this.window + 1 : this.window + 1 / this.window);
  }

  private observe(rate: RateLimitHeaders): void {
    if (rate.dopHint !== undefined && this.hint === undefined) {
      if (this.epochValue === 0) this.window = this.clamp(rate.dopHint);
    }
    if (rate.dopHint !== undefined) this.hint = rate.dopHint;
    if (rate.burstRemaining !== undefined) this.peakBurst = Math.max(this.peakBurst, rate.burstRemaining);
    if (rate.timeRemainingSeconds !== undefined) {
      this.peakTime = Math.max(this.peakTime, rate.timeRemainingSeconds);
      this.learnCost(rate.timeRemainingSeconds);
    }
    this.last = { ...this.last, ...rate };
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
    if (this.cost === undefined || remaining === undefined || this.cost <= 0) return undefined;
    return Math.floor(remaining / this.cost);
  }

  private budgetLow(): boolean {
    const { burstRemaining, timeRemainingSeconds } = this.last;
    const low = (value: number | undefined, peak: number) =>
      value !== undefined && peak > 0 && value < peak * this.lowBudgetShare;
    return low(burstRemaining, this.peakBurst) || low(timeRemainingSeconds, this.peakTime);
  }

  private clamp(value: number): number {
    return Math.max(this.min, Math.min(this.max, value));
  }
}
