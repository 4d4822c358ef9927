import type { Clock } from '../clock.js';
import { ClientCodes, isDataverseError, isRetryableStatus } from '../errors.js';
import { retryAfterFromHeaders } from '../governor.js';
import type { Policy } from './pipeline.js';

export const retryPolicyName = 'dataverseRetry';

export interface RetryOptions {
  /** Attempts after the first for transient failures (5xx, dropped connections, timeouts). */
  readonly maxRetries: number;
  /** Attempts after the first for 429s, which are routine under load. */
  readonly maxThrottleRetries: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const defaultRetryOptions: RetryOptions = {
  maxRetries: 6,
  maxThrottleRetries: 200,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
};

export interface Failure {
  /** HTTP status, or undefined when no answer arrived (dropped connection, timeout). */
  readonly status?: number;
  /** The transport judged the failure transient (not a caller abort). */
  readonly transient: boolean;
  readonly idempotent: boolean;
  /** Retries already made for this kind of failure. */
  readonly throttleRetries: number;
  readonly transientRetries: number;
  readonly retryAfterMs?: number;
  /**
   * No server took the connection (refused, name not resolved) and this endpoint has never answered:
   * a wrong URL or a stopped service, not a blip during a run. One quick retry, then the caller hears it.
   */
  readonly unreachableBeforeAnyAnswer?: boolean;
}

export type RetryDecision =
  | { readonly retry: false }
  | {
      readonly retry: true;
      readonly delayMs: number;
      readonly throttle: boolean;
      readonly ambiguous: boolean;
    };

/**
 * Whether and when to try again. A 429 was refused before any work, so it is always safe to repeat; its wait is
 * the identity-wide pause the throttle policy applies, so no extra delay here. Anything else may have been
 * executed, so only idempotent requests are repeated, after exponential backoff with jitter and a cap.
 */
export function decideRetry(failure: Failure, options: RetryOptions, random: () => number): RetryDecision {
  if (failure.status === 429) {
    if (failure.throttleRetries >= options.maxThrottleRetries) return { retry: false };
    return { retry: true, delayMs: 0, throttle: true, ambiguous: false };
  }
  const transient = failure.status === undefined ? failure.transient : isRetryableStatus(failure.status);
  const maxRetries = failure.unreachableBeforeAnyAnswer
    ? Math.min(1, options.maxRetries)
    : options.maxRetries;
  if (!transient || !failure.idempotent || failure.transientRetries >= maxRetries) return { retry: false };
  const exp = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** failure.transientRetries);
  // Equal jitter: at least half the backoff, so retries never collapse to zero, spread over the rest.
  const jittered = exp / 2 + random() * (exp / 2);
  const delayMs = Math.min(options.maxDelayMs, Math.max(jittered, failure.retryAfterMs ?? 0));
  return { retry: true, delayMs: Math.round(delayMs), throttle: false, ambiguous: true };
}

export function retryPolicy(
  options: RetryOptions,
  clock: Clock,
  random: () => number,
  onRetry: (info: {
    method: string;
    url: string;
    reason: string;
    delayMs: number;
    attempt: number;
  }) => void = () => {},
): Policy {
  // Set once the endpoint has answered anything: refused connections after that are blips to ride out.
  let answered = false;
  return {
    name: retryPolicyName,
    async send(request, next) {
      let throttleRetries = 0;
      let transientRetries = 0;
      for (;;) {
        let decision: RetryDecision;
        let reason: string;
        try {
          const response = await next(request);
          answered = true;
          if (response.status !== 429 && !isRetryableStatus(response.status)) return response;
          const retryAfterMs = retryAfterFromHeaders(response.headers, clock.now());
          const failure: Failure = {
            status: response.status,
            transient: true,
            idempotent: request.idempotent,
            throttleRetries,
            transientRetries,
            ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
          };
          reason = `HTTP ${response.status}`;
          decision = decideRetry(failure, options, random);
          if (!decision.retry) return response;
        } catch (e) {
          // Only failures without an answer are retried here; anything else is not ours to judge.
          if (!isDataverseError(e) || e.status !== 0) throw e;
          const failure: Failure = {
            transient: e.retryable,
            idempotent: request.idempotent,
            throttleRetries,
            transientRetries,
            ...(e.code === ClientCodes.unreachable && !answered ? { unreachableBeforeAnyAnswer: true } : {}),
          };
          reason = e.code;
          decision = decideRetry(failure, options, random);
          if (!decision.retry) throw e;
        }
        if (decision.ambiguous) request.context.ambiguous = true;
        if (decision.throttle) throttleRetries++;
        else transientRetries++;
        request.context.attempt++;
        onRetry({
          method: request.method,
          url: request.url,
          reason,
          delayMs: decision.delayMs,
          attempt: request.context.attempt,
        });
        await clock.sleep(decision.delayMs, request.signal);
      }
    },
  };
}
