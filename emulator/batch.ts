import { randomUUID } from 'node:crypto';
import { DataverseError, errors } from './errors.js';
import { errorResponse, parsePrefer, STATUS_TEXT, type ApiRequest, type ApiResponse } from './http.js';
import { apiRootOf, type Api, type CallContext } from './api.js';
import type { Store } from './store.js';

// $batch (reference §6): multipart/mixed parsing, change sets (atomic), Content-ID references,
// stop at first error unless Prefer: odata.continue-on-error, batchresponse_/changesetresponse_.
// Outer status (§13 "$batch outer status"): without continue-on-error a failing item or change set makes
// the whole answer 400, its multipart body holding the failure; with it, 200 and an answer per item.

interface Part {
  readonly headers: Map<string, string>;
  readonly body: string;
}

interface InnerRequest {
  readonly contentId?: string;
  readonly method: string;
  readonly target: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

type Item = { kind: 'request'; request: InnerRequest } | { kind: 'changeset'; requests: InnerRequest[] };

export function boundaryOf(contentType: string | undefined): string | undefined {
  const m = /boundary=("?)([^";]+)\1/i.exec(contentType ?? '');
  return m?.[2];
}

function splitHead(text: string): { head: string; body: string } {
  const m = /\r?\n\r?\n/.exec(text);
  if (!m) return { head: text, body: '' };
  return { head: text.slice(0, m.index), body: text.slice(m.index + m[0].length) };
}

function parseHeaders(lines: readonly string[]): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

export function parseMultipart(body: string, boundary: string): Part[] {
  const delimiter = `--${boundary}`;
  const chunks = body.split(delimiter);
  const parts: Part[] = [];
  for (let i = 1; i < chunks.length; i += 1) {
    let chunk = chunks[i]!;
    if (chunk.startsWith('--')) break;
    chunk = chunk.replace(/^[ \t]*\r?\n/, '');
    // The line break before the next delimiter belongs to the delimiter.
    chunk = chunk.replace(/\r?\n$/, '');
    const { head, body: content } = splitHead(chunk);
    parts.push({ headers: parseHeaders(head.split(/\r?\n/)), body: content });
  }
  return parts;
}

function parseInner(part: Part): InnerRequest {
  const { head, body } = splitHead(part.body.replace(/^\s+/, ''));
  const [requestLine = '', ...headerLines] = head.split(/\r?\n/);
  const m = /^([A-Z]+)\s+(\S+)(?:\s+HTTP\/1\.[01])?$/.exec(requestLine.trim());
  if (!m) throw errors.uri(`The request line '${requestLine}' in the batch is not valid.`);
  const headers: Record<string, string> = {};
  for (const [k, v] of parseHeaders(headerLines)) headers[k] = v;
  const contentId = part.headers.get('content-id');
  return { ...(contentId !== undefined ? { contentId } : {}), method: m[1]!, target: m[2]!, headers, body };
}

export function parseBatch(body: string, boundary: string): Item[] {
  const items: Item[] = [];
  for (const part of parseMultipart(body, boundary)) {
    const type = part.headers.get('content-type') ?? '';
    if (/^multipart\/mixed/i.test(type)) {
      const inner = boundaryOf(type);
      if (!inner) throw errors.uri('A change set has no boundary.');
      items.push({ kind: 'changeset', requests: parseMultipart(part.body, inner).map(parseInner) });
    } else {
      items.push({ kind: 'request', request: parseInner(part) });
    }
  }
  return items;
}

function renderPart(response: ApiResponse, contentId: string | undefined): string {
  const lines = ['Content-Type: application/http', 'Content-Transfer-Encoding: binary'];
  if (contentId !== undefined) lines.push(`Content-ID: ${contentId}`);
  lines.push('', `HTTP/1.1 ${response.status} ${STATUS_TEXT[response.status] ?? ''}`.trimEnd());
  for (const [k, v] of Object.entries(response.headers)) lines.push(`${k}: ${v}`);
  lines.push('', response.body ?? '');
  return lines.join('\r\n');
}

class ChangeSetFailed extends Error {
  constructor(
    readonly response: ApiResponse,
    readonly contentId: string | undefined,
  ) {
    super('change set failed');
  }
}

export interface BatchResult {
  readonly response: ApiResponse;
  readonly operations: number;
  readonly recordsWritten: number;
}

/** Runs a $batch request: each operation through `api`, change sets atomically in `store`. */
export function runBatch(
  api: Api,
  store: Store,
  req: ApiRequest,
  ctx: CallContext,
  maxParts: number,
): BatchResult {
  const boundary = boundaryOf(req.headers['content-type']);
  if (!boundary || !/^multipart\/mixed/i.test(req.headers['content-type'] ?? '')) {
    throw errors.uri('The $batch request must have Content-Type multipart/mixed with a boundary.');
  }
  const items = parseBatch(req.body, boundary);
  const total = items.reduce((n, item) => n + (item.kind === 'request' ? 1 : item.requests.length), 0);
  if (total > maxParts) {
    throw new DataverseError(
      400,
      '0x80040203',
      `The number of requests in the batch (${total}) exceeds the limit of ${maxParts}.`,
    );
  }
  const continueOnError = parsePrefer(req.headers.prefer).some(
    (p) => p.toLowerCase() === 'odata.continue-on-error',
  );
  const apiRoot = apiRootOf(req.url);
  const outer = `batchresponse_${randomUUID()}`;
  const out: string[] = [];
  let operations = 0;
  let recordsWritten = 0;
  let stopped = false;

  const run = (inner: InnerRequest, contentIds: Map<string, string> | undefined): ApiResponse => {
    operations += 1;
    let target = inner.target;
    if (target.startsWith('$') && contentIds) {
      const m = /^(\$[^/?]+)(.*)$/.exec(target)!;
      const resolved = contentIds.get(m[1]!);
      if (!resolved) {
        return errorResponse(
          400,
          '0x80060888',
          `Content-ID Reference: '${m[1]}' does not exist in the batch context.`,
        );
      }
      target = resolved + m[2];
    }
    const url = /^https?:\/\//i.test(target)
      ? new URL(target)
      : new URL(target.startsWith('/') ? target : apiRoot + target, apiRoot);
    const headers = { ...inner.headers };
    if (headers.authorization === undefined && req.headers.authorization)
      headers.authorization = req.headers.authorization;
    const { response, work } = api.handle(
      { method: inner.method, url, headers, body: inner.body },
      { ...ctx, ...(contentIds ? { contentIds } : {}) },
    );
    recordsWritten += work.recordsWritten;
    const entity = response.headers['OData-EntityId'];
    if (entity) response.headers.Location = entity;
    if (contentIds && inner.contentId !== undefined && entity) contentIds.set(`$${inner.contentId}`, entity);
    return response;
  };

  for (const item of items) {
    if (item.kind === 'request') {
      const response = run(item.request, undefined);
      out.push(`--${outer}\r\n${renderPart(response, item.request.contentId)}`);
      if (response.status >= 400 && !continueOnError) {
        stopped = true;
        break;
      }
      continue;
    }
    const changeset = `changesetresponse_${randomUUID()}`;
    const contentIds = new Map<string, string>();
    const parts: string[] = [];
    let failed = false;
    const before = recordsWritten;
    try {
      store.atomically(() => {
        for (const inner of item.requests) {
          const response =
            inner.method === 'GET'
              ? errorResponse(400, '0x80060888', 'GET requests are not allowed inside a change set.')
              : run(inner, contentIds);
          if (response.status >= 400) throw new ChangeSetFailed(response, inner.contentId);
          parts.push(renderPart(response, inner.contentId));
        }
      });
    } catch (error) {
      if (!(error instanceof ChangeSetFailed)) throw error;
      failed = true;
      recordsWritten = before;
      parts.length = 0;
      parts.push(renderPart(error.response, error.contentId));
    }
    const body = parts.map((p) => `--${changeset}\r\n${p}`).join('\r\n') + `\r\n--${changeset}--`;
    out.push(`--${outer}\r\nContent-Type: multipart/mixed; boundary=${changeset}\r\n\r\n${body}`);
    if (failed && !continueOnError) {
      stopped = true;
      break;
    }
  }
  const body = out.join('\r\n') + `\r\n--${outer}--\r\n`;
  return {
    response: {
      status: stopped ? 400 : 200,
      headers: { 'Content-Type': `multipart/mixed; boundary=${outer}`, 'OData-Version': '4.0' },
      body,
    },
    operations,
    recordsWritten,
  };
}
