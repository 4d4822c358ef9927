// OData $batch: multipart/mixed requests with optional change sets (atomic groups), and their responses.
import { randomUUID } from 'node:crypto';
import { resolveUrl, type ApiSender } from './api.js';
import { ClientCodes, DataverseError, errorFromResponse } from './errors.js';

/** At most this many operations per $batch request (Dataverse limit). */
export const maxBatchOperations = 1000;

export interface BatchRequest {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** Relative to the API root (`accounts(…)`) or absolute. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  /** Consecutive requests with the same value form one change set: all succeed or none. */
  readonly changeSet?: string;
}

export interface BatchResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Parsed JSON when the part has a JSON body, the text otherwise, undefined when empty. */
  readonly body?: unknown;
  /** Set for failed parts (status ≥ 400, or 0 when the server stopped before this part). */
  readonly error?: DataverseError;
  /**
   * An earlier attempt of the whole batch went unanswered, so the server may have done this part then:
   * a delete that now finds nothing, for one, has done its work.
   */
  readonly ambiguous?: boolean;
}

export interface ParsedPart {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly contentId?: string;
  /** Parts of a change set response, in order. */
  readonly changeSet?: readonly ParsedPart[];
}

const CRLF = '\r\n';

/** Groups requests into top-level items: single requests and change sets (consecutive same `changeSet`). */
export function groupBatch(requests: readonly BatchRequest[]): BatchRequest[][] {
  const groups: BatchRequest[][] = [];
  for (const r of requests) {
    const last = groups.at(-1);
    if (r.changeSet !== undefined && last && last[0]?.changeSet === r.changeSet) last.push(r);
    else groups.push([r]);
  }
  return groups;
}

function httpPart(apiRoot: string, r: BatchRequest, contentId?: number): string {
  const lines = ['Content-Type: application/http', 'Content-Transfer-Encoding: binary'];
  if (contentId !== undefined) lines.push(`Content-ID: ${contentId}`);
  const url = r.path.startsWith('$') ? r.path : resolveUrl(apiRoot, r.path);
  lines.push('', `${r.method} ${url} HTTP/1.1`);
  const headers: Record<string, string> = { ...r.headers };
  const body =
    r.body === undefined ? undefined : typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
    headers['Content-Type'] = 'application/json; type=entry';
  }
  if (r.method === 'GET' && !Object.keys(headers).some((h) => h.toLowerCase() === 'accept')) {
    headers['Accept'] = 'application/json';
  }
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  lines.push('', body ?? '');
  return lines.join(CRLF);
}

/** The multipart body of a $batch request (CRLF line endings throughout). */
export function buildBatchBody(
  apiRoot: string,
  requests: readonly BatchRequest[],
  boundary: string,
  newId: () => string = randomUUID,
): string {
  const out: string[] = [];
  for (const group of groupBatch(requests)) {
    out.push(`--${boundary}`);
    if (group[0]?.changeSet === undefined) {
      out.push(httpPart(apiRoot, group[0]!));
      continue;
    }
    const cs = `changeset_${newId()}`;
    out.push(`Content-Type: multipart/mixed; boundary=${cs}`, '');
    group.forEach((r, i) => {
      out.push(`--${cs}`, httpPart(apiRoot, r, i + 1));
    });
    out.push(`--${cs}--`);
  }
  out.push(`--${boundary}--`, '');
  return out.join(CRLF);
}

export function boundaryOf(contentType: string | undefined): string | undefined {
  const m = /boundary=("?)([^";,\s]+)\1/i.exec(contentType ?? '');
  return m?.[2];
}

function splitHead(text: string): { head: string; rest: string } {
  const m = /\r?\n\r?\n/.exec(text);
  if (!m) return { head: text, rest: '' };
  return { head: text.slice(0, m.index), rest: text.slice(m.index + m[0].length) };
}

function parseHeaderLines(head: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of head.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return headers;
}

/** Parses a multipart/mixed $batch response into parts in order; change sets become nested parts. */
export function parseBatchResponse(contentType: string | undefined, body: string): ParsedPart[] {
  const boundary = boundaryOf(contentType);
  if (!boundary) throw new Error(`Not a multipart response: ${contentType ?? '(no content type)'}`);
  const delimiter = `--${boundary}`;
  const parts: ParsedPart[] = [];
  const chunks = body.split(delimiter).slice(1);
  for (const chunk of chunks) {
    if (chunk.startsWith('--')) break;
    const text = chunk.replace(/^\r?\n/, '').replace(/\r?\n$/, '');
    const { head, rest } = splitHead(text);
    const mime = parseHeaderLines(head);
    const contentId = mime['content-id'];
    if (/^multipart\/mixed/i.test(mime['content-type'] ?? '')) {
      parts.push({
        status: 0,
        headers: mime,
        body: '',
        changeSet: parseBatchResponse(mime['content-type'], rest),
      });
      continue;
    }
    const http = splitHead(rest);
    const [statusLine = '', ...headerLines] = http.head.split(/\r?\n/);
    const status = Number(/^HTTP\/\d(?:\.\d)?\s+(\d{3})/.exec(statusLine)?.[1] ?? 0);
    parts.push({
      status,
      headers: parseHeaderLines(headerLines.join('\n')),
      body: http.rest.replace(/\r?\n$/, ''),
      ...(contentId !== undefined ? { contentId } : {}),
    });
  }
  return parts;
}

function toResponse(part: ParsedPart): BatchResponse {
  let body: unknown;
  if (part.body.trim()) {
    try {
      body = JSON.parse(part.body);
    } catch {
      body = part.body;
    }
  }
  return {
    status: part.status,
    headers: part.headers,
    ...(body !== undefined ? { body } : {}),
    ...(part.status >= 400 ? { error: errorFromResponse(part.status, part.body) } : {}),
  };
}

const notExecuted: BatchResponse = {
  status: 0,
  headers: {},
  error: new DataverseError({
    status: 0,
    code: ClientCodes.missingResponse,
    message: 'Not executed: the batch stopped at an earlier failure',
  }),
};

/**
 * One response per request, in request order. A failed change set answers with only its failing operation:
 * every operation of that set gets the failure (none of them was applied). Items the server never reached
 * (it stops at the first failure without continue-on-error) get status 0.
 */
export function matchBatchResponses(
  requests: readonly BatchRequest[],
  parts: readonly ParsedPart[],
): BatchResponse[] {
  const out: BatchResponse[] = [];
  let p = 0;
  for (const group of groupBatch(requests)) {
    const part = parts[p++];
    if (!part) {
      for (let i = 0; i < group.length; i++) out.push(notExecuted);
      continue;
    }
    if (group[0]?.changeSet === undefined) {
      out.push(toResponse(part));
      continue;
    }
    const inner = part.changeSet ?? [part];
    const failed = inner.find((x) => x.status >= 400);
    if (failed || inner.length !== group.length) {
      const response = toResponse(failed ?? inner[0] ?? part);
      for (let i = 0; i < group.length; i++) out.push(response);
      continue;
    }
    for (const x of inner) out.push(toResponse(x));
  }
  return out;
}

export async function executeBatch(
  api: ApiSender,
  requests: readonly BatchRequest[],
  options: { continueOnError?: boolean; idempotent?: boolean; signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<BatchResponse[]> {
  if (requests.length === 0) return [];
  if (requests.length > maxBatchOperations) {
    throw new Error(`A $batch holds at most ${maxBatchOperations} operations, got ${requests.length}`);
  }
  const boundary = `batch_${randomUUID()}`;
  // Without an explicit flag, only a batch of reads, updates and deletes may be repeated safely.
  const idempotent = options.idempotent ?? requests.every((r) => r.method !== 'POST');
  const res = await api.send({
    method: 'POST',
    path: '$batch',
    raw: buildBatchBody(
      api.apiRoot,
      api.partHeaders
        ? requests.map((r) => ({ ...r, headers: { ...api.partHeaders, ...r.headers } }))
        : requests,
      boundary,
    ),
    headers: { 'content-type': `multipart/mixed; boundary=${boundary}` },
    prefer: options.continueOnError ? ['odata.continue-on-error'] : [],
    idempotent,
    multipartAnyStatus: true,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
  const responses = matchBatchResponses(requests, parseBatchResponse(res.headers['content-type'], res.body));
  return res.ambiguous ? responses.map((response) => ({ ...response, ambiguous: true })) : responses;
}
