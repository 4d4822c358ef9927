import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../../emulator/index.js';

// Plain HTTP helpers for the emulator's conformance tests (no product client involved).

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly json: any;
}

export interface CallOptions {
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  readonly user?: string | null;
}

export const JSON_TYPE = 'application/json; odata.metadata=minimal';

export async function call(
  emu: RunningEmulator,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Reply> {
  const headers: Record<string, string> = {
    Accept: 'application/json',
    'OData-Version': '4.0',
    ...options.headers,
  };
  if (options.user !== null) headers.Authorization = `Bearer emulator:${options.user ?? 'tester'}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['Content-Type'] ??= 'application/json';
  }
  const url = path.startsWith('http') ? path : `${emu.apiRoot}${path}`;
  const res = await fetch(url, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export function startFast(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  return startEmulator({ profile: 'fast', ...options });
}

export function idFrom(entityId: string | null): string {
  const m = /\(([0-9a-f-]{36})\)$/.exec(entityId ?? '');
  if (!m) throw new Error(`no id in ${entityId}`);
  return m[1]!;
}
