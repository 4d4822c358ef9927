// HTTP over undici: keep-alive pooling sized to the concurrency, timeouts, cancellation, gzip for reads.
import { Agent, interceptors, type Dispatcher } from 'undici';
import { ClientCodes, DataverseError, redactHeaders, type RedactedRequest } from './errors.js';

export interface HttpRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Text, or bytes (file column uploads). */
  readonly body?: string | Uint8Array;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

export interface HttpResponse {
  readonly status: number;
  /** Lower-case names; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export type HttpSender = (request: HttpRequest) => Promise<HttpResponse>;

export interface Transport {
  readonly send: HttpSender;
  close(): Promise<void>;
}

/** Headers every Web API call carries. The throttle policy adds a pinned lane's ARRAffinity cookie. */
export function odataHeaders(options: { read: boolean; hasBody: boolean }): Record<string, string> {
  const headers: Record<string, string> = {
    accept: 'application/json',
    'odata-maxversion': '4.0',
    'odata-version': '4.0',
  };
  if (options.read) headers['accept-encoding'] = 'gzip';
  if (options.hasBody) headers['content-type'] = 'application/json; charset=utf-8';
  return headers;
}

export interface TransportOptions {
  /** Injected dispatcher (tests, MockAgent); otherwise an Agent with `connections` sockets per origin. */
  readonly dispatcher?: Dispatcher;
  readonly connections?: number;
  readonly timeoutMs?: number;
}

export function createTransport(options: TransportOptions = {}): Transport {
  const timeoutMs = options.timeoutMs ?? 300_000;
  const owned = options.dispatcher
    ? undefined
    : new Agent({
        connections: options.connections ?? 16,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 120_000,
        headersTimeout: 0,
        bodyTimeout: 0,
        pipelining: 1,
      });
  const dispatcher = (options.dispatcher ?? owned!).compose(interceptors.decompress());

  const send: HttpSender = async (request) => {
    const limit = request.timeoutMs ?? timeoutMs;
    const timeout = AbortSignal.timeout(limit);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    const url = new URL(request.url);
    try {
      const res = await dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: request.method as Dispatcher.HttpMethod,
        headers: request.headers,
        body: request.body,
        signal,
      });
      const body = await res.body.text();
      return { status: res.statusCode, headers: normalizeHeaders(res.headers), body };
    } catch (e) {
      throw transportError(e, request, {
        timedOut: timeout.aborted,
        callerAborted: !!request.signal?.aborted,
        limit,
      });
    }
  };

  return {
    send,
    close: async () => {
      await owned?.close();
    },
  };
}

function normalizeHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function transportError(
  e: unknown,
  request: HttpRequest,
  state: { timedOut: boolean; callerAborted: boolean; limit: number },
): DataverseError {
  const redacted = { method: request.method, url: request.url, headers: redactHeaders(request.headers) };
  if (state.callerAborted) {
    return new DataverseError({
      status: 0,
      code: ClientCodes.aborted,
      message: 'Request aborted by the caller',
      request: redacted,
      cause: e,
    });
  }
  if (state.timedOut) {
    return new DataverseError({
      status: 0,
      code: ClientCodes.timeout,
      message: `No answer within ${state.limit} ms`,
      retryable: true,
      request: redacted,
      cause: e,
    });
  }
  const unreachable = unreachableError(new URL(request.url).origin, e, {
    retryable: true,
    request: redacted,
  });
  if (unreachable) return unreachable;
  const detail = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return new DataverseError({
    status: 0,
    code: ClientCodes.network,
    message: `Connection failed: ${detail}`,
    retryable: true,
    request: redacted,
    cause: e,
  });
}

/**
 * The error for a connection no server took (refused, name not resolved, no route), or undefined when
 * `e` is another failure. Shared by the transport and the sign-in, which meets a mistyped host first.
 */
export function unreachableError(
  origin: string,
  e: unknown,
  options: { retryable: boolean; request?: RedactedRequest },
): DataverseError | undefined {
  const unreachable = unreachableReason(e);
  if (!unreachable) return undefined;
  return new DataverseError({
    status: 0,
    code: ClientCodes.unreachable,
    message: `Cannot reach ${origin}: ${unreachable}. Check the URL, and that the environment (or the emulator) is running and reachable from here.`,
    retryable: options.retryable,
    ...(options.request ? { request: options.request } : {}),
    cause: e,
  });
}

/** Socket error codes meaning no server took the connection: nothing was sent, so nothing was done. */
const unreachableCodes: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'the connection was refused (ECONNREFUSED)',
  ENOTFOUND: 'the host name does not resolve (ENOTFOUND)',
  EAI_AGAIN: 'the host name could not be resolved (EAI_AGAIN)',
  EHOSTUNREACH: 'no route to the host (EHOSTUNREACH)',
  ENETUNREACH: 'the network is unreachable (ENETUNREACH)',
};

/** Why the connection could not be made, when it could not; undici may wrap the socket error (cause, AggregateError). */
function unreachableReason(e: unknown, depth = 0): string | undefined {
  if (depth > 3 || typeof e !== 'object' || e === null) return undefined;
  const code = 'code' in e && typeof e.code === 'string' ? e.code : undefined;
  if (code && code in unreachableCodes) return unreachableCodes[code];
  const nested = [
    ...('cause' in e ? [e.cause] : []),
    ...(e instanceof AggregateError ? (e.errors as unknown[]) : []),
  ];
  for (const inner of nested) {
    const reason = unreachableReason(inner, depth + 1);
    if (reason) return reason;
  }
  return undefined;
}
