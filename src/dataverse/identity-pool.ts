// Spreads requests over several identities and, within one, over the web servers it has found, each lane with
// its own governor; waiters are served first come, first served. Limits are kept per user per web server
// (reference §13), so an identity gets a lane per server, pinned by sending the server's ARRAffinity cookie
// back: each lane then sees one server's window, and a 429 from one server pauses only its lane.
import type { TokenProvider } from './auth.js';
import type { Clock } from './clock.js';
import { ClientCodes, DataverseError } from './errors.js';
import type { RequestShape } from './budget.js';
import { affinityOf, ServerDirectory } from './affinity.js';
import {
  Governor,
  maxServersFollowed,
  retryAfterFromHeaders,
  type GovernorOptions,
  type Outcome,
  type Ticket,
} from './governor.js';

export interface Lane {
  readonly identity: string;
  readonly tokens: TokenProvider;
  readonly governor: Governor;
  /**
   * The web server this lane is pinned to: its `ARRAffinity` token, sent back as a cookie so the load
   * balancer routes every request of the lane there. Undefined for an identity's discovery lane, whose
   * requests carry no cookie and go wherever the balancer sends them.
   */
  readonly affinity?: string;
}

export interface Lease {
  readonly lane: Lane;
  /** Reports the outcome and frees the slot. Call exactly once. */
  release(outcome: Omit<Outcome, 'now'>): void;
}

export interface PoolChange {
  readonly identity: string;
  /** Over every lane of the identity. */
  readonly limit: number;
  readonly inFlight: number;
  /** Of the lane that changed. */
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

/** One identity's lanes: a discovery lane without a cookie, and one pinned lane per web server found. */
class IdentityLanes {
  readonly discovery: Lane;
  /** Pinned lanes by affinity token, in the order their servers were found. */
  readonly servers = new Map<string, Lane>();
  /** Lanes whose server the balancer stopped routing to (it answered a pinned request from another). */
  readonly retired = new Set<Lane>();
  private readonly directory = new ServerDirectory();
  /** Discovery probes are out: requests wait for the lanes they will find rather than go unpinned. */
  probing = false;
  /** Probes have run (or none are configured). */
  probed = false;

  constructor(
    readonly tokens: TokenProvider,
    private readonly governorOptions: GovernorOptions,
  ) {
    this.discovery = { identity: tokens.identity, tokens, governor: new Governor(governorOptions) };
  }

  /** Lanes that may take requests now. */
  get active(): Lane[] {
    const pinned = [...this.servers.values()].filter((lane) => !this.retired.has(lane));
    if (this.probing) return pinned;
    // After probes, requests go unpinned only when no server was found (a service without affinity cookies).
    if (this.probed) return pinned.length === 0 ? [this.discovery] : pinned;
    return this.directory.discovering || pinned.length === 0 ? [this.discovery, ...pinned] : pinned;
  }

  get all(): Lane[] {
    return [this.discovery, ...this.servers.values()];
  }

  /**
   * Learns from an answer which server took a lane's request. Returns the pinned lane of that server when
   * the answer came from another lane (a discovery request, or a pinned one the balancer moved), so its
   * Retry-After can pause the lane that owns the server.
   */
  learn(lane: Lane, headers: Readonly<Record<string, string>> | undefined): Lane | undefined {
    const server = headers ? affinityOf(headers) : undefined;
    const step = this.directory.answered(lane.affinity, server, this.servers.size < maxServersFollowed);
    if (step.retire) {
      const old = this.servers.get(step.retire);
      if (old) this.retired.add(old);
    }
    if (!step.server) return undefined;
    let owner = this.servers.get(step.server);
    if (!owner && step.add) {
      owner = {
        identity: this.tokens.identity,
        tokens: this.tokens,
        governor: new Governor(this.governorOptions),
        affinity: step.server,
      };
      this.servers.set(step.server, owner);
    }
    return owner === lane ? undefined : owner;
  }
}

/**
 * Sends one cheap request for an identity without an affinity cookie (WhoAmI) and returns its answer's status
 * and headers: how the pool finds the identity's web servers before any real work goes out unpinned.
 */
export type ServerProbe = (
  tokens: TokenProvider,
) => Promise<{ readonly status: number; readonly headers: Readonly<Record<string, string>> }>;

/**
 * Probes sent at once per round, and rounds at most: a round that finds no new server ends discovery. With a
 * balancer choosing at random among 4 servers, 8 probes miss a given one with probability (3/4)^8 = 0.10, two
 * rounds 0.01; one choosing the least-loaded meets them all in the first round.
 */
const PROBES_PER_ROUND = 8;
const PROBE_ROUNDS = 4;
/** How much later each further web server's lane starts than the one before it (see `discover`). */
const LANE_STAGGER_MS = 500;

export class IdentityPool {
  private readonly identities: readonly IdentityLanes[];
  private readonly queue: Waiter[] = [];
  private next = 0;
  private timerUntil = 0;
  private readonly timers = new AbortController();
  private closed = false;
  /** False until the fleet share knows which identities are this process's own. */
  private shareKnown = true;

  constructor(
    providers: readonly TokenProvider[],
    private readonly clock: Clock,
    governorOptions: GovernorOptions,
    private readonly onChange: (change: PoolChange) => void = () => {},
    private readonly probe?: ServerProbe,
    /** Each identity's part for this process (src/fleet); 0: another instance's, left to pinned requests. */
    private readonly shareFor?: (identity: string) => number,
    /** Settles once `shareFor` knows this process's identities; requests wait until then. */
    shareReady?: Promise<void>,
  ) {
    if (providers.length === 0) throw new Error('At least one token provider is required');
    if (shareReady) {
      this.shareKnown = false;
      void shareReady.finally(() => {
        this.shareKnown = true;
        if (!this.closed) this.drain();
      });
    }
    this.identities = providers.map(
      (tokens) =>
        new IdentityLanes(
          tokens,
          shareFor ? { ...governorOptions, share: () => shareFor(tokens.identity) } : governorOptions,
        ),
    );
  }

  /** The identities new work may go as: this process's own (all, if it has none of its own). */
  private carriers(): readonly IdentityLanes[] {
    const shareFor = this.shareFor;
    if (!shareFor) return this.identities;
    const own = this.identities.filter((identity) => shareFor(identity.tokens.identity) > 0);
    return own.length > 0 ? own : this.identities;
  }

  /**
   * The lanes new work may take: those of this process's identities (all, if it has none of its own). By
   * identity, not lane: while an own identity's probes are out it has no lane, and its work waits for them
   * rather than going unpinned as another instance's identity.
   */
  private lanesOf(carriers: readonly IdentityLanes[]): readonly Lane[] {
    return carriers.flatMap((identity) => identity.active);
  }

  /**
   * Finds an identity's web servers with cheap probes before its first request, so that real work only ever
   * goes pinned: an unpinned request spends a server's window behind the back of that server's lane.
   */
  private discover(identity: IdentityLanes): void {
    if (!this.probe || identity.probing || identity.probed) return;
    identity.probing = true;
    const probe = this.probe;
    const run = async () => {
      for (let round = 0; round < PROBE_ROUNDS && !this.closed; round += 1) {
        const before = identity.servers.size;
        const answers = await Promise.all(
          Array.from({ length: PROBES_PER_ROUND }, () => probe(identity.tokens).catch(() => undefined)),
        );
        for (const answer of answers) {
          if (!answer) continue;
          const owner = identity.learn(identity.discovery, answer.headers);
          const wait =
            answer.status === 429 ? retryAfterFromHeaders(answer.headers, this.clock.now()) : undefined;
          if (owner && answer.status === 429) owner.governor.pauseUntil(this.clock.now() + (wait ?? 1000));
        }
        if (identity.servers.size === before) break;
      }
    };
    void run().finally(() => {
      identity.probing = false;
      identity.probed = true;
      // Each further server's lane starts a little after the one before: its first window then frees after
      // the earlier lane's has, and what a 429 there taught (the service's lateness in counting a burst,
      // shared by the lanes) reaches it first, instead of every lane meeting the same 429s at once.
      const now = this.clock.now();
      [...identity.servers.values()].forEach((lane, i) => {
        if (i > 0) lane.governor.pauseUntil(now + i * LANE_STAGGER_MS);
      });
      this.drain();
    });
  }

  /** Lanes that may take requests now, over every identity. */
  get lanes(): readonly Lane[] {
    return this.identities.flatMap((identity) => identity.active);
  }

  /** Sum of every identity's current limit. */
  get capacity(): number {
    return this.lanesOf(this.carriers()).reduce((n, l) => n + l.governor.limit, 0);
  }

  /**
   * Sum of every identity's maximum: how much work is worth keeping ready. Counted over every web server
   * an identity may yet find, so work planned before the servers answer can still use them all.
   */
  get maxCapacity(): number {
    return this.identities.reduce((n, identity) => n + identity.discovery.governor.maxPossible, 0);
  }

  /** Requests waiting for a slot or in flight, over every identity: what this process has to send. */
  get backlog(): number {
    return this.identities
      .flatMap((identity) => identity.all)
      .reduce((n, l) => n + l.governor.inFlight, this.queue.length);
  }

  /**
   * A slot for one request; `shape` lets the identity's ledger count its execution time. With
   * `identity`, only that identity's lane carries it (a check that must run as each identity in turn).
   */
  acquire(signal?: AbortSignal, shape?: RequestShape, identity?: string): Promise<Lease> {
    if (this.closed) return Promise.reject(closedError());
    signal?.throwIfAborted();
    const pinned =
      identity === undefined
        ? undefined
        : this.identities.find((known) => known.tokens.identity === identity);
    if (identity !== undefined && !pinned) {
      return Promise.reject(new Error(`No identity '${identity}' in this client's pool`));
    }
    // An identity a request is pinned to is found before it carries it, whoever's it is.
    if (pinned) this.discover(pinned);
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

  /** Something the lanes' limits depend on changed (this process's share of the window): serve who can go now. */
  poke(): void {
    if (!this.closed) this.drain();
  }

  close(): void {
    this.closed = true;
    this.timers.abort();
    for (const w of this.queue.splice(0)) w.reject(closedError());
  }

  private drain(): void {
    if (!this.shareKnown) return;
    // Each identity's servers are found before it carries new work. Another instance's identity (the fleet's
    // assignment) is left unprobed until it is lent, so a new instance does not spend the identities' windows
    // probing them all.
    const carriers = this.carriers();
    for (const identity of carriers) this.discover(identity);
    const now = this.clock.now();
    // Leases taken here add no lanes (answers do): the lanes new work may take are worked out once per drain.
    const ownLanes = this.lanesOf(carriers);
    let full = false;
    for (let i = 0; i < this.queue.length;) {
      const waiter = this.queue[i]!;
      if (waiter.identity !== undefined) {
        // A pinned waiter waits for its own lane only; the ones behind it may pass.
        // None while its probes are out.
        const own = this.lanes.find((l) => l.identity === waiter.identity);
        if (!own || own.governor.free(now) <= 0 || !own.governor.admits(waiter.shape)) {
          i += 1;
          continue;
        }
        this.queue.splice(i, 1);
        if (waiter.signal && waiter.onAbort) waiter.signal.removeEventListener('abort', waiter.onAbort);
        waiter.resolve(this.lease(own, now, waiter.shape));
        continue;
      }
      // No lane has room for unpinned work: the pinned waiters behind may still find theirs (another
      // instance's identity, which unpinned work does not take).
      if (full) {
        i += 1;
        continue;
      }
      const lane = this.pick(now, ownLanes);
      if (!lane) {
        full = true;
        i += 1;
        continue;
      }
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
  private pick(now: number, lanes: readonly Lane[]): Lane | undefined {
    let best: Lane | undefined;
    let bestFree = 0;
    const n = lanes.length;
    for (let k = 0; k < n; k++) {
      const lane = lanes[(this.next + k) % n]!;
      const free = lane.governor.free(now);
      if (free > bestFree) {
        best = lane;
        bestFree = free;
      }
    }
    if (best) this.next = (lanes.indexOf(best) + 1) % n;
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
        // The server that answered may belong to another lane: its Retry-After pauses that lane too.
        const owner = this.identityOf(lane).learn(lane, outcome.headers);
        if (owner && outcome.status === 429) {
          const ownerBefore = owner.governor.pausedUntil;
          owner.governor.pauseUntil(now + (outcome.retryAfterMs ?? 1000));
          const ownerAdded = owner.governor.pausedUntil - Math.max(ownerBefore, now);
          this.emit(owner, ownerAdded > 0 ? ownerAdded : undefined);
        }
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

  private identityOf(lane: Lane): IdentityLanes {
    return this.identities.find((identity) => identity.tokens === lane.tokens)!;
  }

  private emit(lane: Lane, addedPauseMs?: number): void {
    const lanes = this.identityOf(lane).active;
    this.onChange({
      identity: lane.identity,
      limit: lanes.reduce((n, l) => n + l.governor.limit, 0),
      inFlight: lanes.reduce((n, l) => n + l.governor.inFlight, 0),
      pausedUntil: lane.governor.pausedUntil,
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
