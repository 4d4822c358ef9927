import { DataverseError } from './errors.js';
import type { EmulatorSettings } from './settings.js';

/** A queue of timestamped amounts with a running sum, pruned from the front. */
class Window {
  private times: number[] = [];
  private amounts: number[] = [];
  private head = 0;
  sum = 0;
  /** Entries ever pushed. */
  admitted = 0;

  push(t: number, amount: number): void {
    this.admitted += 1;
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

/** One user's windows on one web server: Dataverse keeps its limits per user per server (reference §13). */
interface Slot {
  readonly requests: Window;
  readonly execution: Window;
  inflight: number;
}

interface Usage {
  readonly servers: Map<number, Slot>;
  totalRequests: number;
  totalCountedMs: number;
  transferBytes: number;
  rowsRead: number;
  throttled: number;
}

export interface UserUsage {
  readonly user: string;
  /** Summed over the web servers. */
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
  /** Requests admitted by each web server, in server order. */
  readonly requestsByServer: readonly number[];
}

const grouped = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/**
 * Per-user service protection (reference §8, performance §2 and §3.6): sliding windows of requests
 * and counted execution time checked lazily at admission, concurrency checked immediately; each kept
 * per user per web server (§13).
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
        servers: new Map(),
        totalRequests: 0,
        totalCountedMs: 0,
        transferBytes: 0,
        rowsRead: 0,
        throttled: 0,
      };
      this.users.set(user, u);
    }
    return u;
  }

  private slot(u: Usage, server: number): Slot {
    let slot = u.servers.get(server);
    if (!slot) {
      slot = { requests: new Window(), execution: new Window(), inflight: 0 };
      u.servers.set(server, slot);
    }
    const before = this.now() - this.settings().windowSeconds * 1000;
    slot.requests.prune(before);
    slot.execution.prune(before);
    return slot;
  }

  private throttle(u: Usage, code: string, message: string, waitModelMs: number): DataverseError {
    u.throttled += 1;
    const realMs = Math.max(1, Math.ceil(waitModelMs * this.settings().timeScale));
    return new DataverseError(429, code, message, {
      'Retry-After': String(Math.max(1, Math.ceil(realMs / 1000))),
      'x-ms-emulator-retry-after-ms': String(realMs),
    });
  }

  /** Admits a request on a web server or returns the 429 it gets. Admitted requests must be released. */
  admit(user: string, server = 0): DataverseError | undefined {
    const s = this.settings();
    const u = this.usage(user);
    const slot = this.slot(u, server);
    if (s.limitsEnabled) {
      const window = s.windowSeconds * 1000;
      const now = this.now();
      if (slot.inflight >= s.maxConcurrent) {
        return this.throttle(
          u,
          '0x80072326',
          `Number of concurrent requests exceeded the limit of ${s.maxConcurrent}.`,
          1000,
        );
      }
      if (slot.requests.count >= s.maxRequests) {
        const t = slot.requests.timeWhenAtMost(s.maxRequests - 1) ?? now;
        return this.throttle(
          u,
          '0x80072322',
          `Number of requests exceeded the limit of ${s.maxRequests} over time window of ${s.windowSeconds} seconds.`,
          t + window - now,
        );
      }
      if (slot.execution.sum >= s.maxExecutionMs) {
        const t = slot.execution.timeWhenAtMost(s.maxExecutionMs - 1) ?? now;
        return this.throttle(
          u,
          '0x80072321',
          `Combined execution time of incoming requests exceeded limit of ${grouped(s.maxExecutionMs)}  milliseconds over time window of ${s.windowSeconds} seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.`,
          t + window - now,
        );
      }
    }
    slot.requests.push(this.now(), 1);
    slot.inflight += 1;
    u.totalRequests += 1;
    return undefined;
  }

  /** Counts server time of an admitted request (model ms). */
  charge(user: string, countedMs: number, server = 0): void {
    const u = this.usage(user);
    this.slot(u, server).execution.push(this.now(), countedMs);
    u.totalCountedMs += countedMs;
  }

  /** What an admitted request and its answer carried: bytes, and rows when it was a read. */
  moved(user: string, bytes: number, rowsRead: number): void {
    const u = this.usage(user);
    u.transferBytes += bytes;
    u.rowsRead += rowsRead;
  }

  release(user: string, server = 0): void {
    const slot = this.users.get(user)?.servers.get(server);
    if (slot && slot.inflight > 0) slot.inflight -= 1;
  }

  inflight(user: string, server = 0): number {
    return this.users.get(user)?.servers.get(server)?.inflight ?? 0;
  }

  /** Requests in flight on a web server, all users together: what a load balancer balances. */
  serverLoad(server: number): number {
    let n = 0;
    for (const u of this.users.values()) n += u.servers.get(server)?.inflight ?? 0;
    return n;
  }

  /**
   * x-ms-ratelimit-* headers as the service sends them (reference §13): for this user on this web server,
   * the request count starting near 8,000 (`reportedRequestAllowance`, not the enforced limit) and the
   * time remaining in model seconds formatted like `1,200.00`; none at all with `rateLimitHeaders` off.
   * With limits off no request can be refused for its execution time, so that budget reads as full (a
   * client pacing itself by it would otherwise wait for nothing); requests are still counted. With limits
   * on, the emulator also says how long its window is in real milliseconds (`x-ms-emulator-window-ms`,
   * next to its millisecond Retry-After): a time-scaled window is not Dataverse's documented 300 s.
   */
  headers(user: string, server = 0): Record<string, string> {
    const s = this.settings();
    const slot = this.slot(this.usage(user), server);
    const executionMs = s.limitsEnabled ? slot.execution.sum : 0;
    return {
      ...(s.rateLimitHeaders
        ? {
            'x-ms-ratelimit-burst-remaining-xrm-requests': String(
              Math.max(0, s.reportedRequestAllowance - slot.requests.count),
            ),
            'x-ms-ratelimit-time-remaining-xrm-requests': grouped(
              Math.max(0, s.maxExecutionMs - executionMs) / 1000,
              2,
            ),
          }
        : {}),
      ...(s.dopHintHeader ? { 'x-ms-dop-hint': String(s.dopHint) } : {}),
      ...(s.limitsEnabled
        ? { 'x-ms-emulator-window-ms': String(Math.round(s.windowSeconds * 1000 * s.timeScale)) }
        : {}),
    };
  }

  snapshot(): UserUsage[] {
    const servers = this.settings().webServers;
    return [...this.users.keys()].map((user) => {
      const u = this.usage(user);
      const slots = [...u.servers.keys()].map((server) => this.slot(u, server));
      const sum = (f: (slot: Slot) => number) => slots.reduce((n, slot) => n + f(slot), 0);
      const requestsByServer = Array.from({ length: Math.max(servers, u.servers.size) }, () => 0);
      for (const [server, slot] of u.servers) requestsByServer[server] = slot.requests.admitted;
      return {
        user,
        requestsInWindow: sum((slot) => slot.requests.count),
        executionMsInWindow: sum((slot) => slot.execution.sum),
        inflight: sum((slot) => slot.inflight),
        totalRequests: u.totalRequests,
        totalCountedMs: u.totalCountedMs,
        transferBytes: u.transferBytes,
        rowsRead: u.rowsRead,
        throttled: u.throttled,
        requestsByServer,
      };
    });
  }

  reset(): void {
    this.users.clear();
  }
}
