import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RpcHttpCookie, RpcHttpData, RpcInvocationResponse, RpcTypedData } from './core-api.js';
import { bindingOption, type HostedFunction } from './function-app.js';
import type { HostLogger } from './log.js';

/** A compiled route template such as `runs/{runId}`, `files/{*path}` or `items/{id:int?}`. */
export interface RouteMatcher {
  readonly template: string;
  match(path: string): Record<string, string> | undefined;
}

const CONSTRAINTS: Readonly<Record<string, string>> = {
  int: '-?\\d+',
  long: '-?\\d+',
  alpha: '[A-Za-z]+',
  bool: '(?:true|false)',
  guid: '[0-9A-Fa-f]{8}-?(?:[0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}',
};

/** Compiles an ASP.NET-style route template (case-insensitive literals, typed and optional parameters). */
export function compileRoute(template: string): RouteMatcher {
  const names: string[] = [];
  const segments = template.replace(/^\/+|\/+$/g, '').split('/');
  let pattern = '';
  for (const segment of segments) {
    const optional = /^\{[^}]+\?\}$/.test(segment);
    const body = segment.replace(
      /\{([^}]+)\}|([^{]+)/g,
      (_, parameter: string | undefined, literal: string) => {
        if (literal !== undefined) return escapeRegExp(literal);
        const catchAll = parameter?.startsWith('*') ?? false;
        const [name = '', constraint] = (parameter ?? '').replace(/^\*+/, '').replace(/\?$/, '').split(':');
        names.push(name);
        if (catchAll) return '(.*)';
        return `(${(constraint && CONSTRAINTS[constraint.toLowerCase()]) || '[^/]+?'})`;
      },
    );
    pattern += optional ? `(?:/${body})?` : `/${body}`;
  }
  const regex = new RegExp(`^${pattern}/?$`, 'i');
  return {
    template,
    match(path) {
      const found = regex.exec(path);
      if (!found) return undefined;
      const params: Record<string, string> = {};
      names.forEach((name, index) => {
        const value = found[index + 1];
        if (value !== undefined) params[name] = decodeURIComponent(value);
      });
      return params;
    },
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

interface HttpRoute {
  readonly fn: HostedFunction;
  readonly matcher: RouteMatcher;
  readonly methods: readonly string[] | undefined;
  readonly needsKey: boolean;
}

export interface HttpTriggerServerOptions {
  readonly functions: readonly HostedFunction[];
  readonly routePrefix: string;
  readonly functionKey: string;
  readonly logger: HostLogger;
  /** Runs the function with the request as RPC http data; resolves with the worker's response. */
  readonly invoke: (fn: HostedFunction, request: RpcHttpData) => Promise<RpcInvocationResponse>;
}

/** Serves HTTP-triggered functions at `/<routePrefix>/<route>` on a loopback port. */
export class HttpTriggerServer {
  readonly #options: HttpTriggerServerOptions;
  readonly #routes: HttpRoute[];
  readonly #server: Server;
  #url = '';

  constructor(options: HttpTriggerServerOptions) {
    this.#options = options;
    this.#routes = options.functions
      .filter((fn) => fn.trigger.type.toLowerCase() === 'httptrigger')
      .map((fn) => {
        const route = bindingOption(fn.trigger, 'route') ?? fn.name;
        const prefix = options.routePrefix.replace(/^\/+|\/+$/g, '');
        const methods = fn.trigger.methods;
        const authLevel = (bindingOption(fn.trigger, 'authLevel') ?? 'anonymous').toLowerCase();
        return {
          fn,
          matcher: compileRoute(prefix ? `${prefix}/${route.replace(/^\/+/, '')}` : route),
          methods: Array.isArray(methods) ? methods.map((m) => String(m).toUpperCase()) : undefined,
          needsKey: authLevel !== 'anonymous',
        };
      });
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        options.logger.host(
          'error',
          `HTTP request failed: ${error instanceof Error ? error.message : String(error)}`,
        );
        if (!response.headersSent) response.writeHead(500);
        response.end();
      });
    });
  }

  get url(): string {
    return this.#url;
  }

  async listen(port: number): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.#url;
  }

  /** Stops accepting connections; requests in progress finish (see forceClose). */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    return closed;
  }

  /** Drops every connection, answered or not: the end of a stop that timed out. */
  forceClose(): void {
    this.#server.closeAllConnections();
  }

  routes(): { name: string; url: string; methods: readonly string[] | undefined }[] {
    return this.#routes.map((r) => ({
      name: r.fn.name,
      url: `${this.#url}/${r.matcher.template}`,
      methods: r.methods,
    }));
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.#url);
    const method = (request.method ?? 'GET').toUpperCase();
    let params: Record<string, string> | undefined;
    const route = this.#routes.find((r) => {
      if (r.methods && !r.methods.includes(method)) return false;
      params = r.matcher.match(url.pathname);
      return params !== undefined;
    });
    if (!route || !params) {
      response.writeHead(404).end();
      return;
    }
    if (route.needsKey && !keyMatches(this.#options.functionKey, presentedKey(request, url))) {
      response.writeHead(401).end();
      return;
    }
    const body = await readBody(request);
    const rpcRequest: RpcHttpData = {
      method,
      url: url.href,
      headers: flattenHeaders(request),
      query: Object.fromEntries(url.searchParams),
      params,
      ...(body.length > 0 ? { body: { bytes: body } } : {}),
    };
    const result = await this.#options.invoke(route.fn, rpcRequest).catch((error: unknown) => {
      this.#options.logger.host('error', `Function failed: ${String(error)}`, route.fn.name);
      return undefined;
    });
    if (!result) {
      response.writeHead(500).end();
      return;
    }
    writeHttpResponse(response, httpOutput(route.fn, result));
  }
}

/** The HTTP output: the `$return` value, or the named http output binding's value. */
function httpOutput(fn: HostedFunction, response: RpcInvocationResponse): RpcHttpData | undefined {
  for (const [name, binding] of fn.outputs) {
    if (binding.type?.toLowerCase() !== 'http') continue;
    const data =
      name === '$return' ? response.returnValue : response.outputData?.find((o) => o.name === name)?.data;
    if (data?.http) return data.http;
  }
  return undefined;
}

export function writeHttpResponse(response: ServerResponse, http: RpcHttpData | undefined): void {
  if (!http) {
    response.writeHead(204).end();
    return;
  }
  const status = Number(http.statusCode ?? '200');
  for (const [name, value] of Object.entries(http.headers ?? {})) response.setHeader(name, value);
  const cookies = (http.cookies ?? []).map(serializeCookie);
  if (cookies.length > 0) response.setHeader('set-cookie', cookies);
  response.writeHead(Number.isInteger(status) ? status : 200);
  response.end(typedDataBytes(http.body));
}

function typedDataBytes(data: RpcTypedData | null | undefined): Buffer {
  if (!data) return Buffer.alloc(0);
  if (data.bytes != null) return Buffer.from(data.bytes);
  if (data.string != null) return Buffer.from(data.string);
  if (data.json != null) return Buffer.from(data.json);
  if (data.int != null) return Buffer.from(String(data.int));
  if (data.double != null) return Buffer.from(String(data.double));
  return Buffer.alloc(0);
}

function serializeCookie(cookie: RpcHttpCookie): string {
  const parts = [`${cookie.name ?? ''}=${cookie.value ?? ''}`];
  if (cookie.domain?.value) parts.push(`Domain=${cookie.domain.value}`);
  if (cookie.path?.value) parts.push(`Path=${cookie.path.value}`);
  const expires = cookie.expires?.value?.seconds;
  if (expires != null) parts.push(`Expires=${new Date(Number(expires) * 1000).toUTCString()}`);
  if (cookie.maxAge?.value != null) parts.push(`Max-Age=${cookie.maxAge.value}`);
  if (cookie.secure?.value) parts.push('Secure');
  if (cookie.httpOnly?.value) parts.push('HttpOnly');
  const sameSite = { lax: 'Lax', strict: 'Strict', explicitNone: 'None' }[String(cookie.sameSite)];
  if (sameSite) parts.push(`SameSite=${sameSite}`);
  return parts.join('; ');
}

function presentedKey(request: IncomingMessage, url: URL): string | undefined {
  const header = request.headers['x-functions-key'];
  return (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('code') ?? undefined;
}

/** Compares digests so neither the key's content nor its length leaks through timing. */
function keyMatches(expected: string, presented: string | undefined): boolean {
  if (!presented) return false;
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(expected), digest(presented));
}

function flattenHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
