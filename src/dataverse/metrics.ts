// Counters and events for summaries and progress bars. Nothing here carries a token or a record's values.

export type ClientEvent =
  | {
      readonly type: 'request';
      readonly method: string;
      readonly path: string;
      readonly identity: string;
      readonly status: number;
      readonly code?: string;
      readonly durationMs: number;
      readonly attempt: number;
    }
  | {
      readonly type: 'retry';
      readonly method: string;
      readonly path: string;
      readonly reason: string;
      readonly delayMs: number;
      readonly attempt: number;
    }
  | { readonly type: 'throttle'; readonly identity: string; readonly pauseMs: number }
  | {
      readonly type: 'concurrency';
      readonly identity: string;
      readonly limit: number;
      readonly inFlight: number;
    }
  | {
      readonly type: 'records';
      readonly table: string;
      readonly operation: string;
      readonly succeeded: number;
      readonly failed: number;
    }
  | { readonly type: 'fallback'; readonly table: string; readonly operation: string; readonly to: string };

export interface ConcurrencySample {
  /** Milliseconds since the client was created. */
  readonly t: number;
  readonly identity: string;
  readonly limit: number;
  readonly inFlight: number;
}

export interface IdentityMetrics {
  requests: number;
  throttled: number;
  throttleWaitMs: number;
  limit: number;
  peakLimit: number;
}

export interface ClientMetrics {
  readonly requests: number;
  readonly retries: number;
  /** 429 answers. */
  readonly throttled: number;
  /** Time identities spent paused by Retry-After (summed over identities). */
  readonly throttleWaitMs: number;
  /** Requests that ended in an error after every retry. */
  readonly failedRequests: number;
  readonly recordsSucceeded: number;
  readonly recordsFailed: number;
  readonly byIdentity: Readonly<Record<string, Readonly<IdentityMetrics>>>;
  /** Limit changes over time (bounded; oldest dropped first). */
  readonly concurrency: readonly ConcurrencySample[];
  /** Per identity: whether its execution-time ledger paces requests now (absent where not known). */
  readonly pacing?: Readonly<Record<string, boolean>>;
}

const maxSamples = 10_000;

export class MetricsRecorder {
  private requests = 0;
  private retries = 0;
  private throttled = 0;
  private throttleWaitMs = 0;
  private failedRequests = 0;
  private recordsSucceeded = 0;
  private recordsFailed = 0;
  private readonly identities = new Map<string, IdentityMetrics>();
  private readonly samples: ConcurrencySample[] = [];

  constructor(
    private readonly startedAt: number,
    private readonly listener?: (event: ClientEvent) => void,
  ) {}

  record(event: ClientEvent, now: number): void {
    switch (event.type) {
      case 'request': {
        this.requests++;
        const id = this.identity(event.identity);
        id.requests++;
        if (event.status === 429) {
          this.throttled++;
          id.throttled++;
        }
        break;
      }
      case 'retry':
        this.retries++;
        break;
      case 'throttle':
        this.throttleWaitMs += event.pauseMs;
        this.identity(event.identity).throttleWaitMs += event.pauseMs;
        break;
      case 'concurrency': {
        const id = this.identity(event.identity);
        if (id.limit !== event.limit) {
          this.samples.push({
            t: now - this.startedAt,
            identity: event.identity,
            limit: event.limit,
            inFlight: event.inFlight,
          });
          if (this.samples.length > maxSamples) this.samples.splice(0, this.samples.length - maxSamples);
        }
        id.limit = event.limit;
        id.peakLimit = Math.max(id.peakLimit, event.limit);
        break;
      }
      case 'records':
        this.recordsSucceeded += event.succeeded;
        this.recordsFailed += event.failed;
        break;
      case 'fallback':
        break;
    }
    this.listener?.(event);
  }

  requestFailed(): void {
    this.failedRequests++;
  }

  snapshot(): ClientMetrics {
    const byIdentity: Record<string, IdentityMetrics> = {};
    for (const [k, v] of this.identities) byIdentity[k] = { ...v };
    return {
      requests: this.requests,
      retries: this.retries,
      throttled: this.throttled,
      throttleWaitMs: this.throttleWaitMs,
      failedRequests: this.failedRequests,
      recordsSucceeded: this.recordsSucceeded,
      recordsFailed: this.recordsFailed,
      byIdentity,
      concurrency: [...this.samples],
    };
  }

  private identity(name: string): IdentityMetrics {
    let m = this.identities.get(name);
    if (!m) {
      m = { requests: 0, throttled: 0, throttleWaitMs: 0, limit: 0, peakLimit: 0 };
      this.identities.set(name, m);
    }
    return m;
  }
}
