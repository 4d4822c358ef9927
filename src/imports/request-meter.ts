import { AsyncLocalStorage } from 'node:async_hooks';
import type { ClientEvent } from '../dataverse/metrics.js';
import { TraceRecorder, type RequestTrace } from './request-trace.js';
import type { RequestCounters } from './types.js';

interface Scope {
  readonly counters: { requests: number; retries: number; throttled: number };
  readonly trace: TraceRecorder;
}

/**
 * Attributes the shared client's requests to the chunk that caused them. Several chunks run in
 * one process at once, so a before/after difference of global counters would mix them; the
 * async context follows each chunk's own calls instead.
 */
export class RequestMeter {
  readonly #scope = new AsyncLocalStorage<Scope>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Pass to the client's `onEvent`. */
  readonly onEvent = (event: ClientEvent): void => {
    const scope = this.#scope.getStore();
    if (!scope) return;
    const { counters } = scope;
    if (event.type === 'request') {
      counters.requests += 1;
      if (event.status === 429) counters.throttled += 1;
    } else if (event.type === 'retry') {
      counters.retries += 1;
    }
    scope.trace.record(event);
  };

  async measure<T>(
    work: () => Promise<T>,
  ): Promise<{ value: T; counters: RequestCounters; trace: RequestTrace }> {
    const scope: Scope = {
      counters: { requests: 0, retries: 0, throttled: 0 },
      trace: new TraceRecorder(this.now),
    };
    const value = await this.#scope.run(scope, work);
    return { value, counters: { ...scope.counters }, trace: scope.trace.trace() };
  }
}
