import { DataverseError } from './errors.js';
import type { EmulatorSettings } from './settings.js';

/** A queue of timestamped amounts with a running sum, pruned from the front. */
class Window {
  private times: number[] = [];
  private amounts: number[] = [];
  private head = 0;
  sum = 0;

  push(t: number, amount: number): void {
    this.times.push(t);
    this.amounts.push(amount);
    this.sum += amount;
  }

  prune(before: number): void {
    while (this.head < this.times.length && this.times[this.head]! <= before) {
      this.sum -= this.amounts[this.head]!;
      this.head += 1;
    }
    if (this.head > 4096 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.amounts = this.amounts.slice(this.head);
      this.head = 0;
    }
    if (this.head === this.times.length) this.sum = 0;
  }

  get count(): number {
    return this.times.length - this.head;
  }

  /** Time at which the sum drops to `target` or below as entries leave the window. */
  timeWhenAtMost(target: number): number | undefined {
    let sum = this.sum;
    for (let i = this.head; i < this.times.length; i += 1) {
      sum -= this.amounts[i]!;
      if (sum <= target) return this.times[i]!;
    }
    return undefined;
  }
}

interface Usage {
  readonly requests: Window;
  readonly execution: Window;
  inflight: number;
  totalRequests: number;
  totalCountedMs: number;
  transferBytes: number;
  rowsRead: number;
  throttled: number;
}

export interface UserUsage {
  readonly user: string;
  readonly requestsInWindow: number;
  readonly executionMsInWindow: number;
  readonly inflight: number;
  readonly totalRequests: number;
  readonly totalCountedMs: number;
  /** Request and answer bodies of the admitted requests, in bytes: what transfer time is charged on. */
  readonly transferBytes: number;
  /** Rows the user's reads returned. */
  readonly rowsRead: number;
  readonly throttled: number;
}

const grouped = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/**
 * Per-user service protection (reference §8, performance §2 and §3.6): sliding windows of requests
 * and counted execution time checked lazily at admission, concurrency checked immediately.
 * All bookkeeping is in model time = real time / timeScale.
 */
export class ServiceProtection {
  private readonly users = new Map<string, Usage>();

  constructor(
    private readonly settings: () => EmulatorSettings,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  private now(): number {
    return this.clock() / this.settings().timeScale;
  }

  private usage(user: string): Usage {
    let u = this.users.get(user);
    if (!u) {
      u = {
        requests: new Window(),
        execution: new Window(),
        inflight: 0,
        totalRequests: 0,
        totalCountedMs: 0,
        transferBytes: 0,
        rowsRead: 0,
        throttled: 0,
      };
      this.users.set(user, u);
    }
    const s = this.settings();
    const before = this.now() - s.windowSeconds * 1000;
    u.requests.prune(before);
    u.execution.prune(before);
    return u;
  }

  private throttle(u: Usage, code: string, message: string, waitModelMs: number): DataverseError {
    u.throttled += 1;
    const realMs = Math.max(1, Math.ceil(waitModelMs * this.settings().timeScale));
    return new DataverseError(429, code, message, {
      'Retry-After': String(Math.max(1, Math.ceil(realMs / 1000))),
      'x-ms-emulator-retry-after-ms': String(realMs),
    });
  }

  /** Admits a request or returns the 429 it gets. Admitted requests must be released. */
  admit(user: string): DataverseError | undefined {
    const s = this.settings();
    const u = this.usage(user);
    if (s.limitsEnabled) {
      const window = s.windowSeconds * 1000;
      const now = this.now();
      if (u.inflight >= s.maxConcurrent) {
        return this.throttle(
          u,
          '0x80072326',
          `Number of concurrent requests exceeded the limit of ${s.maxConcurrent}.`,
          1000,
        );
      }
      if (u.requests.count >= s.maxRequests) {
        const t = u.requests.timeWhenAtMost(s.maxRequests - 1) ?? now;
        return this.throttle(
          u,
          '0x80072322',
          `Number of requests exceeded the limit of ${s.maxRequests} over time window of ${s.windowSeconds} seconds.`,
          t + window - now,
        );
      }
      if (u.execution.sum >= s.maxExecutionMs) {
        const t = u.execution.timeWhenAtMost(s.maxExecutionMs - 1) ?? now;
        return this.throttle(
          u,
          '0x80072321',
          `Combined execution time of incoming requests exceeded limit of ${grouped(s.maxExecutionMs)}  milliseconds over time window of ${s.windowSeconds} seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.`,
          t + window - now,
        );
      }
    }
    u.requests.push(this.now(), 1);
    u.inflight += 1;
    u.totalRequests += 1;
    return undefined;
  }

  /** Counts server time of an admitted request (model ms). */
  charge(user: string, countedMs: number): void {
    const u = this.usage(user);
    u.execution.push(this.now(), countedMs);
    u.totalCountedMs += countedMs;
  }

  /** What an admitted request and its answer carried: bytes, and rows when it was a read. */
  moved(user: string, bytes: number, rowsRead: number): void {
    const u = this.usage(user);
    u.transferBytes += bytes;
    u.rowsRead += rowsRead;
  }

  release(user: string): void {
    const u = this.users.get(user);
    if (u && u.inflight > 0) u.inflight -= 1;
  }

  inflight(user: string): number {
    return this.users.get(user)?.inflight ?? 0;
  }

  /**
   * x-ms-ratelimit-* headers; time remaining is in model seconds formatted like `1,200.00`. With limits
   * off no request can be refused for its execution time, so that budget reads as full (a client pacing
   * itself by it would otherwise wait for nothing); requests are still counted. With limits on, the
   * emulator also says how long its window is in real milliseconds (`x-ms-emulator-window-ms`, next to
   * its millisecond Retry-After): a time-scaled window is not Dataverse's documented 300 s.
   */
  headers(user: string): Record<string, string> {
    const s = this.settings();
    const u = this.usage(user);
    const executionMs = s.limitsEnabled ? u.execution.sum : 0;
    return {
      'x-ms-ratelimit-burst-remaining-xrm-requests': String(Math.max(0, s.maxRequests - u.requests.count)),
      'x-ms-ratelimit-time-remaining-xrm-requests': grouped(
        Math.max(0, s.maxExecutionMs - executionMs) / 1000,
        2,
      ),
      'x-ms-dop-hint': String(s.dopHint),
      ...(s.limitsEnabled
        ? { 'x-ms-emulator-window-ms': String(Math.round(s.windowSeconds * 1000 * s.timeScale)) }
        : {}),
    };
  }

  snapshot(): UserUsage[] {
    return [...this.users.keys()].map((user) => {
      const u = this.usage(user);
      return {
        user,
        requestsInWindow: u.requests.count,
        executionMsInWindow: u.execution.sum,
        inflight: u.inflight,
        totalRequests: u.totalRequests,
        totalCountedMs: u.totalCountedMs,
        transferBytes: u.transferBytes,
        rowsRead: u.rowsRead,
        throttled: u.throttled,
      };
    });
  }

  reset(): void {
    this.users.clear();
  }
}
