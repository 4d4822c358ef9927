// The request layer every operation uses: URL building, OData headers, the policy pipeline, error mapping.
import { ClientCodes, DataverseError, errorFromResponse, isDataverseError, redactHeaders } from './errors.js';
import type { SendNext } from './policies/pipeline.js';
import { odataHeaders, type HttpResponse } from './transport.js';

export type Row = Record<string, unknown>;

export interface ApiRequest {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** Relative to the API root (`accounts(…)`), or an absolute URL (a nextLink). */
  readonly path: string;
  /** OData options, already in their final form (`$select` → `name,accountnumber`). */
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly headers?: Readonly<Record<string, string>>;
  /** JSON body. */
  readonly json?: unknown;
  /** Raw body with its own content type in `headers` ($batch). */
  readonly raw?: string | Uint8Array;
  readonly prefer?: readonly string[];
  readonly idempotent: boolean;
  readonly table?: string;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  /**
   * Return a 4xx/5xx answer whose body is multipart/mixed instead of throwing: a `$batch` without
   * continue-on-error answers 400 with the multipart body holding the failed item (reference §13).
   */
  readonly multipartAnyStatus?: boolean;
  /** Send as this identity of the pool only (a per-identity check), not the least-loaded one. */
  readonly identity?: string;
}

export interface ApiResponse extends HttpResponse {
  /** An earlier attempt of this request may have been executed (its answer never arrived). */
  readonly ambiguous: boolean;
}

export interface ApiSender {
  readonly apiRoot: string;
  /** Headers each part of a $batch carries too (a view made by the client's `withHeaders`). */
  readonly partHeaders?: Readonly<Record<string, string>>;
  /**
   * Sends and returns 2xx/3xx answers (and multipart answers of any status when asked); throws
   * DataverseError for anything else after the retries.
   */
  send(request: ApiRequest): Promise<ApiResponse>;
}

/** `$select=a,b&$filter=…`: values percent-encoded, option names kept literal. */
export function buildQueryString(query: Readonly<Record<string, string | undefined>>): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    parts.push(`${name}=${encodeURIComponent(value)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

export function resolveUrl(
  apiRoot: string,
  path: string,
  query?: Readonly<Record<string, string | undefined>>,
): string {
  const base = /^https?:\/\//i.test(path) ? path : apiRoot + path.replace(/^\//, '');
  const qs = query ? buildQueryString(query) : '';
  if (!qs) return base;
  return base.includes('?') ? `${base}&${qs.slice(1)}` : base + qs;
}

export function createApiSender(
  apiRoot: string,
  pipeline: SendNext,
  onFailure: (error: DataverseError) => void = () => {},
): ApiSender {
  const origin = new URL(apiRoot).origin;
  return {
    apiRoot,
    async send(request) {
      const url = resolveUrl(apiRoot, request.path, request.query);
      // nextLink and deltaLink URLs come from answers and stored state: the bearer token goes to the org only.
      if (new URL(url).origin !== origin) {
        throw new DataverseError({
          status: 0,
          code: ClientCodes.foreignOrigin,
          message: `Refused to send a request to ${new URL(url).origin}: links are followed only within ${origin}`,
        });
      }
      const body = request.raw ?? (request.json === undefined ? undefined : JSON.stringify(request.json));
      const headers: Record<string, string> = {
        ...odataHeaders({ read: request.method === 'GET', hasBody: body !== undefined }),
        ...(request.prefer?.length ? { prefer: request.prefer.join(',') } : {}),
        ...request.headers,
      };
      const context = { attempt: 0, ambiguous: false };
      const response = await pipeline({
        method: request.method,
        url,
        headers,
        ...(body !== undefined ? { body } : {}),
        idempotent: request.idempotent,
        ...(request.identity !== undefined ? { identity: request.identity } : {}),
        ...(request.signal ? { signal: request.signal } : {}),
        ...(request.timeoutMs !== undefined ? { timeoutMs: request.timeoutMs } : {}),
        context,
      }).catch((e: unknown) => {
        if (isDataverseError(e)) onFailure(e);
        throw e;
      });
      const multipart = /^multipart\/mixed/i.test(response.headers['content-type'] ?? '');
      if (response.status >= 400 && !(request.multipartAnyStatus && multipart)) {
        const error = errorFromResponse(response.status, response.body, {
          method: request.method,
          url,
          headers: redactHeaders(headers),
        });
        const final = error.with({
          ...(request.table ? { table: request.table } : {}),
          ...(context.ambiguous ? { ambiguous: true } : {}),
        });
        onFailure(final);
        throw final;
      }
      return { ...response, ambiguous: context.ambiguous };
    },
  };
}

/** Parses a JSON body; empty bodies (204) give undefined. */
export function parseJson<T>(response: HttpResponse): T | undefined {
  if (!response.body) return undefined;
  return JSON.parse(response.body) as T;
}

/** The GUID in `OData-EntityId: …/accounts(<guid>)`, when the URL uses the primary key. */
export function idFromEntityUrl(entityUrl: string | undefined): string | undefined {
  if (!entityUrl) return undefined;
  const m = /\(([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\)\s*$/.exec(
    entityUrl,
  );
  return m?.[1]?.toLowerCase();
}
