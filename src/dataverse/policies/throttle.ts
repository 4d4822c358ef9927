import { affinityCookie } from '../affinity.js';
import type { RequestShape } from '../budget.js';
import type { Clock } from '../clock.js';
import { retryAfterFromHeaders } from '../governor.js';
import type { IdentityPool } from '../identity-pool.js';
import type { HttpResponse } from '../transport.js';
import type { Policy } from './pipeline.js';

export const throttlePolicyName = 'dataverseThrottle';

export interface RequestObservation {
  readonly method: string;
  readonly url: string;
  readonly identity: string;
  readonly status: number;
  readonly code?: string;
  readonly durationMs: number;
  readonly attempt: number;
}

/**
 * Waits for a slot on the least-loaded lane (an identity on one web server, or its discovery lane), sends with
 * that lane's affinity cookie, and feeds the answer to the lane's governor. A 429 pauses every request of the
 * lane for Retry-After (the governor holds new acquisitions); other servers' lanes go on.
 */
export function throttlePolicy(
  pool: IdentityPool,
  clock: Clock,
  observe: (observation: RequestObservation) => void = () => {},
): Policy {
  return {
    name: throttlePolicyName,
    async send(request, next) {
      const lease = await pool.acquire(
        request.signal,
        shapeOf(request.method, request.url, request.body),
        request.identity,
      );
      request.context.lane = lease.lane;
      const affinity = lease.lane.affinity;
      // A pinned lane sends its server's affinity cookie, so the balancer routes the request there.
      const sent = affinity
        ? { ...request, headers: { ...request.headers, cookie: affinityCookie(affinity) } }
        : request;
      const started = clock.now();
      let response: HttpResponse | undefined;
      try {
        response = await next(sent);
        return response;
      } finally {
        const status = response?.status;
        const retryAfterMs =
          status === 429
            ? ((response ? retryAfterFromHeaders(response.headers, clock.now()) : undefined) ?? 1000)
            : undefined;
        const concurrencyLimited = status === 429 && /0x80072326/i.test(response?.body ?? '');
        lease.release({
          ...(concurrencyLimited ? { concurrencyLimited } : {}),
          ...(status !== undefined ? { status } : {}),
          ...(response ? { headers: response.headers } : {}),
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        });
        observe({
          method: request.method,
          url: request.url,
          identity: lease.lane.identity,
          status: status ?? 0,
          durationMs: clock.now() - started,
          attempt: request.context.attempt,
        });
      }
    },
  };
}

/** A request's kind (method and path: the same operation on the same table costs alike) and weight (body size). */
function shapeOf(method: string, url: string, body: string | Uint8Array | undefined): RequestShape {
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  return { kind: `${method} ${path}`, weight: body?.length ?? 0 };
}
