// A chunk's requests and written rows over time, kept in its result so a run's report can draw what
// happened when (rows written, requests in flight, 429s) from any number of workers.
import type { ClientEvent } from '../dataverse/metrics.js';

/**
 * Compact on purpose (it is stored in every chunk result): times are milliseconds after `t0`.
 * `requests`: [start, duration, HTTP status, 1 for a write (any method but GET) or 0 for a read].
 * `rows`: [time, rows the service answered for, of which failed].
 */
export interface RequestTrace {
  readonly t0: number;
  readonly requests: readonly (readonly [number, number, number, 0 | 1])[];
  readonly rows: readonly (readonly [number, number, number])[];
}

/** Entries kept per chunk: a chunk makes tens of requests; a pathological retry storm stays bounded. */
const MAX_ENTRIES = 4_000;

export class TraceRecorder {
  readonly #t0: number;
  readonly #requests: [number, number, number, 0 | 1][] = [];
  readonly #rows: [number, number, number][] = [];

  constructor(private readonly now: () => number) {
    this.#t0 = now();
  }

  record(event: ClientEvent): void {
    const at = this.now() - this.#t0;
    if (event.type === 'request' && this.#requests.length < MAX_ENTRIES) {
      const start = Math.max(0, at - event.durationMs);
      this.#requests.push([
        start,
        Math.round(event.durationMs),
        event.status,
        event.method === 'GET' ? 0 : 1,
      ]);
    } else if (event.type === 'records' && this.#rows.length < MAX_ENTRIES) {
      this.#rows.push([at, event.succeeded + event.failed, event.failed]);
    }
  }

  trace(): RequestTrace {
    return { t0: this.#t0, requests: [...this.#requests], rows: [...this.#rows] };
  }
}

/** One trace of two (a chunk's reads done ahead and its write), on the earlier one's clock. */
export function mergeTraces(
  a: RequestTrace | undefined,
  b: RequestTrace | undefined,
): RequestTrace | undefined {
  if (!a || !b) return a ?? b;
  const t0 = Math.min(a.t0, b.t0);
  const shiftRequests = (trace: RequestTrace) =>
    trace.requests.map(([s, d, st, w]) => [s + trace.t0 - t0, d, st, w] as const);
  const shiftRows = (trace: RequestTrace) =>
    trace.rows.map(([t, n, f]) => [t + trace.t0 - t0, n, f] as const);
  return {
    t0,
    requests: [...shiftRequests(a), ...shiftRequests(b)].sort((x, y) => x[0] - y[0]),
    rows: [...shiftRows(a), ...shiftRows(b)].sort((x, y) => x[0] - y[0]),
  };
}
