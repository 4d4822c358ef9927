import { AsyncLocalStorage } from 'node:async_hooks';
import type { ClientEvent } from '../dataverse/metrics.js';
import type { RequestCounters } from './types.js';

interface MutableCounters {
  requests: number;
  retries: number;
  throttled: number;
}

/**
 * Attributes the shared client's requests to the chunk that caused them. Several chunks run in
 * one process at once, so a before/after difference of global counters would mix them; the
 * async context follows each chunk's own calls instead.
 */
export class RequestMeter {
  readonly #scope = new AsyncLocalStorage<MutableCounters>();

  /** Pass to the client's `onEvent`. */
  readonly onEvent = (event: ClientEvent): void => {
    const counters = this.#scope.getStore();
    if (!counters) return;
    if (event.type === 'request') {
      counters.requests += 1;
      if (event.status === 429) counters.throttled += 1;
    } else if (event.type === 'retry') {
      counters.retries += 1;
    }
  };

  async measure<T>(work: () => Promise<T>): Promise<{ value: T; counters: RequestCounters }> {
    const counters: MutableCounters = { requests: 0, retries: 0, throttled: 0 };
    const value = await this.#scope.run(counters, work);
    return { value, counters: { ...counters } };
  }
}
