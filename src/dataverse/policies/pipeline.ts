// Small composable policies around the transport, in the style of azure-sdk-for-js core-rest-pipeline.
import type { Lane } from '../identity-pool.js';
import type { HttpResponse, HttpSender } from '../transport.js';

/** State shared by the policies for one logical request (all of its attempts). */
export interface RequestContext {
  /** 0 for the first attempt. */
  attempt: number;
  /** An earlier attempt may have been executed by the server (dropped connection, timeout, 5xx). */
  ambiguous: boolean;
  /** The identity carrying the current attempt; set by the throttle policy. */
  lane?: Lane;
}

export interface PipelineRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body?: string | Uint8Array;
  /** Safe to send twice: repeats leave the same state (upserts, updates, deletes, creates with an id). */
  readonly idempotent: boolean;
  /** Pins the request to this identity of the pool (the throttle policy otherwise picks one). */
  readonly identity?: string;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  readonly context: RequestContext;
}

export type SendNext = (request: PipelineRequest) => Promise<HttpResponse>;

export interface Policy {
  readonly name: string;
  send(request: PipelineRequest, next: SendNext): Promise<HttpResponse>;
}

/** Policies run outermost first; the last one calls the transport. */
export function composePolicies(policies: readonly Policy[], transport: HttpSender): SendNext {
  let next: SendNext = (request) =>
    transport({
      method: request.method,
      url: request.url,
      headers: request.headers,
      ...(request.body !== undefined ? { body: request.body } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
      ...(request.timeoutMs !== undefined ? { timeoutMs: request.timeoutMs } : {}),
    });
  for (const policy of [...policies].reverse()) {
    const inner = next;
    next = (request) => policy.send(request, inner);
  }
  return next;
}
