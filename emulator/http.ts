/** A request as the emulator's core sees it, whether it came over HTTP or inside a $batch. */
export interface ApiRequest {
  readonly method: string;
  readonly url: URL;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The body's bytes (file column uploads); absent inside a $batch. */
  readonly raw?: Buffer;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body?: string;
}

/** What a request cost: counted server time (model ms) and records written. */
export interface Work {
  countedMs: number;
  recordsWritten: number;
  bulkRecords: number;
  /** Rows a read returned. */
  recordsRead?: number;
  operation: string;
  /** Bypass / duplicate-detection options the request's headers turned on. */
  options?: readonly string[];
}

export const JSON_TYPE = 'application/json; odata.metadata=minimal';

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  304: 'Not Modified',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

/** Splits a Prefer header at commas outside quotes. */
export function parsePrefer(header: string | undefined): string[] {
  if (!header) return [];
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const c of header) {
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      if (current.trim()) out.push(current.trim());
      current = '';
    } else current += c;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): ApiResponse {
  return {
    status,
    headers: { 'Content-Type': JSON_TYPE, 'OData-Version': '4.0', ...headers },
    body: JSON.stringify(body),
  };
}

export function errorResponse(
  status: number,
  code: string,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): ApiResponse {
  return jsonResponse(status, { error: { code, message } }, { ...headers });
}
