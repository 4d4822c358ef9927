// Spreads requests over several identities, each with its own governor; waiters are served first come, first served.
import type { TokenProvider } from './auth.js';
import type { Clock } from './clock.js';
import { ClientCodes, DataverseError } from './errors.js';
import type { RequestShape } from './budget.js';
import { Governor, type GovernorOptions, type Outcome, type Ticket } from './governor.js';

export interface Lane {
  readonly identity: string;
  readonly tokens: TokenProvider;
  readonly governor: Governor;
}

export interface Lease {
  readonly lane: Lane;
  /** Reports the outcome and frees the slot. Call exactly once. */
  release(outcome: Omit<Outcome, 'now'>): void;
}

export interface PoolChange {
  readonly identity: string;
  readonly limit: number;
  readonly inFlight: number;
  readonly pausedUntil: number;
  /** Set when this change started (or extended) a throttle pause: the added pause in ms. */
  readonly addedPauseMs?: number;
}

interface Waiter {
  readonly shape?: RequestShape;
  /** Only this identity's lane may carry the request. */
  readonly identity?: string;
  resolve(lease: Lease): void;
  reject(e: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class IdentityPool {
  readonly lanes: readonly Lane[];
  private readonly queue: Waiter[] = [];
  private next = 0;
  private timerUntil = 0;
  private readonly timers = new AbortController();
  private closed = false;

  constructor(
    providers: readonly TokenProvider[],
    private readonly clock: Clock,
    governorOptions: GovernorOptions,
    private readonly onChange: (change: PoolChange) => void = () => {},
  ) {
    if (providers.length === 0) throw new Error('At least one token provider is required');
    this.lanes = providers.map((tokens) => ({
      identity: tokens.identity,
      tokens,
      governor: new Governor(governorOptions),
    }));
  }

  /** Sum of every identity's current limit. */
  get capacity(): number {
    return this.lanes.reduce((n, l) => n + l.governor.limit, 0);
  }

  /**
   * Sum of every identity's maximum: how much work is worth keeping ready. Counted over every web server
   * the governors may yet see, so work planned before the servers answer can still use them all.
   */
  get maxCapacity(): number {
    return this.lanes.reduce((n, l) => n + l.governor.maxPossible, 0);
  }

  /** Requests waiting for a slot or in flight, over every identity: what this process has to send. */
  get backlog(): number {
    return this.lanes.reduce((n, l) => n + l.governor.inFlight, this.queue.length);
  }

  /**
   * A slot for one request; `shape` lets the identity's ledger count its execution time. With
   * `identity`, only that identity's lane carries it (a check that must run as each identity in turn).
   */
  acquire(signal?: AbortSignal, shape?: RequestShape, identity?: string): Promise<Lease> {
    if (this.closed) return Promise.reject(closedError());
    signal?.throwIfAborted();
    if (identity !== undefined && !this.lanes.some((lane) => lane.identity === identity)) {
      return Promise.reject(new Error(`No identity '${identity}' in this client's pool`));
    }
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        ...(shape ? { shape } : {}),
        ...(identity !== undefined ? { identity } : {}),
      };
      if (signal) {
        waiter.signal = signal;
        waiter.onAbort = () => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      this.drain();
    });
  }

  close(): void {
    this.closed = true;
    this.timers.abort();
    for (const w of this.queue.splice(0)) w.reject(closedError());
  }

  private drain(): void {
    const now = this.clock.now();
    for (let i = 0; i < this.queue.length;) {
      const waiter = this.queue[i]!;
      if (waiter.identity !== undefined) {
        // A pinned waiter waits for its own lane only; the ones behind it may pass.
        const own = this.lanes.find((l) => l.identity === waiter.identity)!;
        if (own.governor.free(now) <= 0 || !own.governor.admits(waiter.shape)) {
          i += 1;
          continue;
        }
        this.queue.splice(i, 1);
        if (waiter.signal && waiter.onAbort) waiter.signal.removeEventListener('abort', waiter.onAbort);
        waiter.resolve(this.lease(own, now, waiter.shape));
        continue;
      }
      const lane = this.pick(now);
      if (!lane) break;
      // A waiter its lane's ledger holds back (an unlearnt kind already out) lets the ones behind it pass.
      if (!lane.governor.admits(waiter.shape)) {
        i += 1;
        continue;
      }
      this.queue.splice(i, 1);
      if (waiter.signal && waiter.onAbort) waiter.signal.removeEventListener('abort', waiter.onAbort);
      waiter.resolve(this.lease(lane, now, waiter.shape));
    }
    if (this.queue.length > 0) this.wakeAfterPause(now);
  }

  /** The lane with the most free slots; ties rotate so identities share load evenly. */
  private pick(now: number): Lane | undefined {
    let best: Lane | undefined;
    let bestFree = 0;
    const n = this.lanes.length;
    for (let k = 0; k < n; k++) {
      const lane = this.lanes[(this.next + k) % n]!;
      const free = lane.governor.free(now);
      if (free > bestFree) {
        best = lane;
        bestFree = free;
      }
    }
    if (best) this.next = (this.lanes.indexOf(best) + 1) % n;
    return best;
  }

  private lease(lane: Lane, now: number, shape: RequestShape | undefined): Lease {
    const ticket: Ticket = lane.governor.start(shape, now);
    this.emit(lane);
    let released = false;
    return {
      lane,
      release: (outcome) => {
        if (released) return;
        released = true;
        const now = this.clock.now();
        const before = lane.governor.pausedUntil;
        lane.governor.finish(ticket, { ...outcome, now });
        const after = lane.governor.pausedUntil;
        const added = after > before ? after - Math.max(before, now) : 0;
        this.emit(lane, added > 0 ? added : undefined);
        this.drain();
      },
    };
  }

  /** While every identity is paused, wake up when the first pause ends. */
  private wakeAfterPause(now: number): void {
    const ends = this.lanes.map((l) => l.governor.pausedUntil).filter((t) => t > now);
    if (ends.length === 0) return;
    const until = Math.min(...ends);
    if (this.timerUntil > now && this.timerUntil <= until) return;
    this.timerUntil = until;
    this.clock.sleep(until - now, this.timers.signal).then(
      () => {
        if (this.timerUntil === until) this.timerUntil = 0;
        this.drain();
      },
      () => {},
    );
  }

  private emit(lane: Lane, addedPauseMs?: number): void {
    const g = lane.governor;
    this.onChange({
      identity: lane.identity,
      limit: g.limit,
      inFlight: g.inFlight,
      pausedUntil: g.pausedUntil,
      ...(addedPauseMs !== undefined ? { addedPauseMs } : {}),
    });
  }
}

function closedError(): DataverseError {
  return new DataverseError({
    status: 0,
    code: ClientCodes.aborted,
    message: 'The Dataverse client is closed',
  });
}
