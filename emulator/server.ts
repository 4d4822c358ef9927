import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { z } from 'zod';
import { Api } from './api.js';
import { runBatch } from './batch.js';
import { effectiveUser, KNOWN_PRIVILEGES, writeOptions } from './caller.js';
import { isDataverseError } from './errors.js';
import { faultsSummary, type FaultKind, parseFaults, rollFault, type FaultRates } from './faults.js';
import { readableColumns, AnnotationFilter, renderRow } from './format.js';
import { errorResponse, type ApiRequest, type ApiResponse, type Work } from './http.js';
import { ServiceProtection, type UserUsage } from './limits.js';
import { Model, type Table } from './model.js';
import { Records } from './records.js';
import { DEFAULT_SCHEMA } from './schema/default.js';
import { loadSchemaFile, parseSchema, type EmulatorSchema } from './schema/format.js';
import {
  ceiling,
  congestion,
  profileSettings,
  type CeilingAnswer,
  type CeilingQuery,
  type EmulatorSettings,
  type Profile,
} from './settings.js';
import { Store } from './store.js';
import type { Row } from './values.js';

export interface RequestLogEntry {
  readonly time: string;
  readonly requestId: string;
  readonly user?: string;
  readonly method: string;
  /** Path and query; the Authorization header is never logged. */
  readonly url: string;
  readonly status: number;
  readonly code?: string;
  readonly operation?: string;
  readonly countedMs: number;
  /** Real milliseconds the answer was held (latency model, slow fault). */
  readonly heldMs: number;
  readonly records?: number;
  readonly fault?: FaultKind;
  /** The systemuserid the request ran as when it impersonated (CallerObjectId / MSCRMCallerID). */
  readonly impersonating?: string;
  /** Bypass and duplicate-detection options its headers turned on. */
  readonly options?: readonly string[];
}

export interface EmulatorOptions {
  port?: number;
  host?: string;
  schema?: string | EmulatorSchema;
  profile?: Profile;
  faults?: string;
  slowMs?: number;
  timeScale?: number;
  settings?: Partial<EmulatorSettings>;
  log?: (entry: RequestLogEntry) => void;
  /** Injectable randomness for fault injection (tests). */
  random?: () => number;
}

export interface EmulatorStats {
  readonly requests: number;
  readonly byStatus: Readonly<Record<string, number>>;
  readonly throttled: number;
  readonly faults: Readonly<Record<FaultKind, number>>;
  readonly recordsWritten: number;
  readonly bulkRecordsWritten: number;
  readonly users: readonly UserUsage[];
  readonly rows: Readonly<Record<string, number>>;
}

export const runtimeChangeSchema = z.object({
  profile: z.enum(['fast', 'realistic']).optional(),
  faults: z.string().optional(),
  slowMs: z.number().nonnegative().optional(),
  timeScale: z.number().positive().optional(),
  settings: z.record(z.string(), z.union([z.number(), z.boolean()])).optional(),
  /** Table logical name -> true to refuse CreateMultiple/UpdateMultiple/UpsertMultiple. */
  refuseBulk: z.record(z.string(), z.boolean()).optional(),
  /** Expire every delta token issued so far. */
  expireDeltaTokens: z.boolean().optional(),
  /** Forget per-user limit windows and counters. */
  resetLimits: z.boolean().optional(),
  /**
   * Privileges to give (true) or take (false) per user: an emulator user name (its token's
   * `emulator:<user>`) or a systemuserid, e.g. `{ "dvpipe": { "prvBypassCustomBusinessLogic": true } }`.
   */
  privileges: z.record(z.string(), z.record(z.string(), z.boolean())).optional(),
});
export type RuntimeChange = z.input<typeof runtimeChangeSchema>;

/** Inspection and seeding of table contents, by logical name or entity set name. */
export interface EmulatorStore {
  count(table: string): number;
  /**
   * Rows in Web API shape (all columns, lookups as `_x_value`), primary-key order; with `page`, only `top` of
   * them (default: the rest) after the first `skip`.
   */
  all(table: string, page?: { readonly skip: number; readonly top?: number }): Record<string, unknown>[];
  get(table: string, id: string): Record<string, unknown> | undefined;
  clear(table?: string): void;
  /** Creates a row from a Web API create body (validated); returns its id. */
  put(table: string, body: Record<string, unknown>): string;
  /** A file column's stored file (name and bytes). */
  file(table: string, id: string, column: string): { name: string; bytes: Buffer } | undefined;
  /** Ids associated with a record through a many-to-many navigation property, in id order. */
  related(table: string, id: string, navigationProperty: string): string[];
}

export interface RunningEmulator {
  readonly url: string;
  readonly apiRoot: string;
  readonly store: EmulatorStore;
  stats(): EmulatorStats;
  ceiling(q: CeilingQuery): CeilingAnswer;
  configure(change: RuntimeChange): void;
  /** Settings in force (after profile, options and runtime changes). */
  settings(): EmulatorSettings;
  /** The most recent request log entries (up to 1,000). */
  recentLog(): readonly RequestLogEntry[];
  close(): Promise<void>;
}

const AUTH = /^Bearer\s+emulator:(\S+)\s*$/i;
/** Longest request URL of a top-level GET (reference §12). */
const MAX_URL_LENGTH = 32_768;
const LOG_RING = 1000;

function readBytes(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function readBody(req: IncomingMessage): Promise<string> {
  return (await readBytes(req)).toString('utf8');
}

function lowerHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Starts the emulator on loopback. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const schema =
    typeof options.schema === 'string'
      ? loadSchemaFile(options.schema)
      : parseSchema(options.schema ?? DEFAULT_SCHEMA);
  const model = new Model(schema.tables, schema.manyToMany);
  const store = new Store(model);
  const records = new Records(model, store);

  let settings: EmulatorSettings = {
    ...profileSettings(options.profile ?? 'fast'),
    ...options.settings,
    ...(options.timeScale !== undefined ? { timeScale: options.timeScale } : {}),
  };
  let faults: FaultRates = parseFaults(options.faults);
  let slowMs = options.slowMs ?? 60_000;
  const random = options.random ?? Math.random;
  const limits = new ServiceProtection(() => settings);
  const api = new Api(model, store, records, () => settings);

  for (const t of schema.tables) {
    const table = model.table(t.logicalName)!;
    for (const row of t.rows ?? []) records.create(table, row);
  }

  const counters = {
    requests: 0,
    byStatus: {} as Record<string, number>,
    throttled: 0,
    faults: { '429': 0, '503': 0, drop: 0, slow: 0 } as Record<FaultKind, number>,
    recordsWritten: 0,
    bulkRecordsWritten: 0,
  };
  const ring: RequestLogEntry[] = [];
  const sockets = new Set<Socket>();

  const log = (entry: RequestLogEntry): void => {
    ring.push(entry);
    if (ring.length > LOG_RING) ring.shift();
    options.log?.(entry);
  };

  const tableOf = (name: string): Table => {
    const t = model.resolve(name);
    if (!t) throw new Error(`Unknown table '${name}'`);
    return t;
  };
  const render = (t: Table, row: Row) =>
    renderRow(model, store, t, row, readableColumns(t), AnnotationFilter.none);
  const inspect: EmulatorStore = {
    count: (name) => store.count(tableOf(name)),
    all: (name, page) => {
      const t = tableOf(name);
      const ids = store.sortedIds(t);
      // Only the page's rows are rendered: a big table is read a page at a time.
      const chosen = page
        ? ids.slice(page.skip, page.top === undefined ? undefined : page.skip + page.top)
        : ids;
      return chosen.map((id) => render(t, store.get(t, id)!));
    },
    get: (name, id) => {
      const t = tableOf(name);
      const row = store.get(t, id.toLowerCase());
      return row ? render(t, row) : undefined;
    },
    clear: (name) => {
      store.clear(name === undefined ? undefined : tableOf(name));
      if (name === undefined) api.associations.clear();
    },
    file: (name, id, column) => api.files.get(tableOf(name).logicalName, id.toLowerCase(), column),
    related: (name, id, navigationProperty) => {
      const t = tableOf(name);
      const side = model.manyToManySide(t, navigationProperty);
      if (!side) throw new Error(`Table '${t.logicalName}' has no many-to-many '${navigationProperty}'`);
      return api.associations.related(side, id.toLowerCase());
    },
    put: (name, body) => {
      try {
        return records.create(tableOf(name), body).id;
      } catch (error) {
        if (isDataverseError(error)) throw new Error(`${error.code}: ${error.message}`, { cause: error });
        throw error;
      }
    },
  };

  const stats = (): EmulatorStats => ({
    ...counters,
    byStatus: { ...counters.byStatus },
    faults: { ...counters.faults },
    users: limits.snapshot(),
    rows: Object.fromEntries(model.tables.map((t) => [t.logicalName, store.count(t)])),
  });

  const configure = (input: RuntimeChange): void => {
    const change = runtimeChangeSchema.parse(input);
    if (change.profile) settings = { ...profileSettings(change.profile), timeScale: settings.timeScale };
    if (change.settings) settings = { ...settings, ...(change.settings as Partial<EmulatorSettings>) };
    if (change.timeScale !== undefined) settings = { ...settings, timeScale: change.timeScale };
    if (change.faults !== undefined) faults = parseFaults(change.faults);
    if (change.slowMs !== undefined) slowMs = change.slowMs;
    for (const [name, refuse] of Object.entries(change.refuseBulk ?? {})) {
      const t = tableOf(name);
      if (refuse) api.refuseBulk.add(t.logicalName);
      else api.refuseBulk.delete(t.logicalName);
    }
    if (change.expireDeltaTokens) store.minDeltaVersion = store.version + 1;
    if (change.resetLimits) limits.reset();
    for (const [who, grants] of Object.entries(change.privileges ?? {})) {
      const userId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(who)
        ? who.toLowerCase()
        : records.ensureUser(who);
      if (!userId) throw new Error('This emulator schema has no systemuser table to hold privileges');
      for (const [privilege, on] of Object.entries(grants)) {
        if (!KNOWN_PRIVILEGES.includes(privilege)) {
          throw new Error(`Unknown privilege '${privilege}': use ${KNOWN_PRIVILEGES.join(', ')}`);
        }
        if (on) api.privileges.grant(userId, privilege);
        else api.privileges.revoke(userId, privilege);
      }
    }
  };

  const send = (res: ServerResponse, response: ApiResponse): void => {
    if (res.destroyed) return;
    const body = response.body ?? '';
    res.writeHead(response.status, {
      ...response.headers,
      'Content-Length': String(Buffer.byteLength(body)),
    });
    res.end(body);
  };

  const control = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const json = (status: number, value: unknown) =>
      send(res, { status, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(value) });
    const parts = url.pathname.split('/').filter(Boolean).slice(1).map(decodeURIComponent);
    const [what, name, id] = parts;
    try {
      if (what === 'tables' && req.method === 'GET' && name === undefined) {
        return json(
          200,
          model.tables.map((t) => ({
            table: t.logicalName,
            entitySetName: t.entitySetName,
            count: store.count(t),
          })),
        );
      }
      if (what === 'tables' && req.method === 'GET' && name !== undefined) {
        if (id !== undefined) {
          const row = inspect.get(name, id);
          return row ? json(200, row) : json(404, { error: `No ${name} row ${id}` });
        }
        // `skip` / `top` page a big table: one JSON body of every row stops at V8's longest string (~0.5 GB).
        const top = url.searchParams.get('top');
        const page = {
          skip: Number(url.searchParams.get('skip') ?? 0),
          ...(top === null ? {} : { top: Number(top) }),
        };
        return json(200, inspect.all(name, page));
      }
      if (what === 'tables' && req.method === 'POST' && name !== undefined) {
        const body = JSON.parse(await readBody(req)) as unknown;
        const rows = (Array.isArray(body) ? body : [body]) as Record<string, unknown>[];
        return json(200, { ids: rows.map((r) => inspect.put(name, r)) });
      }
      if (what === 'tables' && req.method === 'DELETE') {
        inspect.clear(name);
        return json(200, { cleared: name ?? 'all' });
      }
      if (what === 'stats' && req.method === 'GET') return json(200, stats());
      if (what === 'settings' && req.method === 'GET')
        return json(200, { settings, faults: faultsSummary(faults), slowMs });
      if (what === 'log' && req.method === 'GET') {
        const limit = Number(url.searchParams.get('limit') ?? LOG_RING);
        return json(200, ring.slice(-limit));
      }
      if (what === 'schema' && req.method === 'GET') return json(200, schema);
      if (what === 'ceiling' && req.method === 'GET') {
        const p = url.searchParams;
        const q: CeilingQuery = {
          operation: (p.get('operation') ?? 'create-multiple') as CeilingQuery['operation'],
          runSeconds: Number(p.get('runSeconds') ?? 300),
          ...(p.has('batchSize') ? { batchSize: Number(p.get('batchSize')) } : {}),
          ...(p.has('users') ? { users: Number(p.get('users')) } : {}),
          ...(p.has('columns') ? { columns: Number(p.get('columns')) } : {}),
          ...(p.has('bytesPerRecord') ? { bytesPerRecord: Number(p.get('bytesPerRecord')) } : {}),
        };
        return json(200, ceiling(settings, q));
      }
      if (what === 'configure' && req.method === 'POST') {
        configure(JSON.parse((await readBody(req)) || '{}') as RuntimeChange);
        return json(200, { settings, faults: faultsSummary(faults), slowMs });
      }
      if (what === 'reset' && req.method === 'POST') {
        store.clear();
        api.associations.clear();
        api.files.clear();
        limits.reset();
        api.privileges.clear();
        return json(200, { reset: true });
      }
      return json(404, { error: `Unknown emulator control endpoint ${req.method} ${url.pathname}` });
    } catch (error) {
      return json(400, { error: error instanceof Error ? error.message : String(error) });
    }
  };

  // Web servers (reference §13): each has an affinity token; a request carrying one goes to its server,
  // any other to the least-loaded server (ties in turn).
  const serverTokens: string[] = [];
  const serverToken = (server: number): string => {
    while (serverTokens.length <= server) serverTokens.push(randomBytes(32).toString('hex'));
    return serverTokens[server]!;
  };
  let nextServer = 0;
  const pickServer = (cookie: string | undefined): { server: number; pinned: boolean } => {
    const servers = Math.max(1, Math.floor(settings.webServers));
    const token = /(?:^|;\s*)ARRAffinity=([0-9a-f]+)/i.exec(cookie ?? '')?.[1]?.toLowerCase();
    const known = token === undefined ? -1 : serverTokens.indexOf(token);
    if (known >= 0 && known < servers) return { server: known, pinned: true };
    let best = 0;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (let k = 0; k < servers; k += 1) {
      const candidate = (nextServer + k) % servers;
      const load = limits.serverLoad(candidate);
      if (load < bestLoad) [best, bestLoad] = [candidate, load];
    }
    nextServer = (best + 1) % servers;
    return { server: best, pinned: false };
  };

  const handleApi = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const started = performance.now();
    const requestId = randomUUID();
    const raw = await readBytes(req);
    const body = raw.toString('utf8');
    const headers = lowerHeaders(req);
    counters.requests += 1;
    const base: Record<string, string> = {
      'x-ms-service-request-id': requestId,
      REQ_ID: requestId,
      'Cache-Control': 'no-cache',
    };
    const finish = (
      response: ApiResponse,
      entry: Omit<RequestLogEntry, 'time' | 'requestId' | 'method' | 'url' | 'status' | 'heldMs'>,
    ): void => {
      counters.byStatus[response.status] = (counters.byStatus[response.status] ?? 0) + 1;
      send(res, response);
      const code = response.status >= 400 ? /"code":"([^"]*)"/.exec(response.body ?? '')?.[1] : undefined;
      log({
        time: new Date().toISOString(),
        requestId,
        method: req.method ?? 'GET',
        url: url.pathname + url.search,
        status: response.status,
        ...(code ? { code } : {}),
        heldMs: Math.round(performance.now() - started),
        ...entry,
      });
    };

    const auth = AUTH.exec(headers.authorization ?? '');
    if (!auth) {
      return finish(
        {
          status: 401,
          headers: {
            ...base,
            'WWW-Authenticate': `Bearer authorization_uri=${url.origin}/oauth2/authorize, resource_id=${url.origin}/`,
            'OData-Version': '4.0',
          },
        },
        { countedMs: 0 },
      );
    }
    const user = auth[1]!;
    const { server, pinned } = pickServer(headers.cookie);
    // Like the load balancer's: a request without a valid affinity cookie is told which server answered.
    if (!pinned) base['Set-Cookie'] = `ARRAffinity=${serverToken(server)}; path=/; secure; HttpOnly`;

    const fault = rollFault(faults, random);
    if (fault) counters.faults[fault] += 1;
    if (fault === '429') {
      counters.throttled += 1;
      const wait = settings.faultRetryAfterSeconds;
      return finish(
        errorResponse(
          429,
          '0x80072322',
          `Number of requests exceeded the limit of ${settings.maxRequests} over time window of ${settings.windowSeconds} seconds.`,
          {
            ...base,
            ...limits.headers(user, server),
            'Retry-After': String(wait),
            'x-ms-emulator-retry-after-ms': String(Math.ceil(wait * 1000 * settings.timeScale)),
          },
        ),
        { user, countedMs: 0, fault },
      );
    }
    if (fault === '503') {
      return finish(
        errorResponse(
          503,
          '0x80040216',
          'The service is temporarily unavailable (emulator fault injection).',
          base,
        ),
        { user, countedMs: 0, fault },
      );
    }

    const rejected = limits.admit(user, server);
    if (rejected) {
      counters.throttled += 1;
      return finish(
        errorResponse(429, rejected.code, rejected.message, {
          ...base,
          ...limits.headers(user, server),
          ...rejected.headers,
        }),
        {
          user,
          countedMs: 0,
        },
      );
    }
    const inflight = limits.inflight(user, server);
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        limits.release(user, server);
      }
    };
    res.on('close', release);
    try {
      const callerId = records.ensureUser(user);
      const apiReq: ApiRequest = { method: req.method ?? 'GET', url, headers, body, raw };
      let response: ApiResponse;
      let work: Work;
      // Impersonation is the whole request's (a $batch's parts run as the user its headers name).
      let caller: ReturnType<typeof effectiveUser> | undefined;
      let refused: ApiResponse | undefined;
      try {
        caller = effectiveUser(headers, callerId, api.privileges, model, store);
      } catch (error) {
        if (!isDataverseError(error)) throw error;
        refused = errorResponse(error.status, error.code, error.message);
      }
      const userId = caller?.userId;
      const ctx = {
        user,
        ...(userId ? { userId } : {}),
        // Dataverse records who actually called beside whom it ran as (createdonbehalfby, ...).
        ...(caller?.impersonating && callerId ? { onBehalfOf: callerId } : {}),
      };
      if (refused) {
        response = refused;
        work = { countedMs: settings.fixedServerMs, recordsWritten: 0, bulkRecords: 0, operation: 'refused' };
      } else if (/\/\$batch$/.test(url.pathname)) {
        try {
          if (req.method !== 'POST') throw new Error('$batch needs POST');
          // The $batch request's own bypass headers are checked too (each part is checked on its own).
          const options = writeOptions(headers, userId, api.privileges);
          const result = runBatch(api, store, apiReq, ctx, settings.maxBatchParts);
          response = result.response;
          work = {
            countedMs: settings.fixedServerMs + settings.batchItemMs * result.operations,
            recordsWritten: result.recordsWritten,
            bulkRecords: 0,
            operation: 'batch',
            ...(options.applied.length > 0 ? { options: options.applied } : {}),
          };
        } catch (error) {
          work = { countedMs: settings.fixedServerMs, recordsWritten: 0, bulkRecords: 0, operation: 'batch' };
          response = isDataverseError(error)
            ? errorResponse(error.status, error.code, error.message)
            : errorResponse(400, '0x80060888', error instanceof Error ? error.message : String(error));
        }
      } else {
        ({ response, work } = api.handle(apiReq, ctx));
      }
      limits.charge(user, work.countedMs, server);
      const bytes = raw.length + Buffer.byteLength(response.body ?? '');
      limits.moved(user, bytes, response.status < 400 ? (work.recordsRead ?? 0) : 0);
      if (response.status < 400) {
        counters.recordsWritten += work.recordsWritten;
        counters.bulkRecordsWritten += work.bulkRecords;
      }
      response.headers = { ...base, ...limits.headers(user, server), ...response.headers };
      if (settings.latencyEnabled) {
        const transferMs = (bytes / settings.transferBytesPerSecond) * 1000;
        const modelMs = (settings.networkMs + transferMs + work.countedMs) * congestion(settings, inflight);
        // The modelled time is the whole answer's, counted from arrival: the emulator's own work is
        // part of it, not added on top (else a busy emulator would slow every client it measures).
        await sleep(Math.max(0, modelMs * settings.timeScale - (performance.now() - started)));
      }
      if (fault === 'slow') await sleep(slowMs);
      const entry = {
        user,
        ...(caller?.impersonating && caller.userId ? { impersonating: caller.userId } : {}),
        ...(work.options ? { options: work.options } : {}),
        countedMs: work.countedMs,
        operation: work.operation,
        ...(work.recordsWritten ? { records: work.recordsWritten } : {}),
        ...(fault ? { fault } : {}),
      };
      if (fault === 'drop') {
        // The operation was applied; the client never learns the outcome.
        req.socket.destroy();
        counters.byStatus.dropped = (counters.byStatus.dropped ?? 0) + 1;
        log({
          time: new Date().toISOString(),
          requestId,
          method: req.method ?? 'GET',
          url: url.pathname + url.search,
          status: 0,
          heldMs: Math.round(performance.now() - started),
          ...entry,
        });
        return;
      }
      finish(response, entry);
    } finally {
      if (res.writableEnded || res.destroyed) release();
    }
  };

  // Node's default 16 KB header limit would refuse URLs Dataverse accepts (reference §12: 32,768
  // characters for a GET); allow them, and refuse longer ones the way the service does.
  const server: Server = createServer({ maxHeaderSize: 80 * 1024 }, (req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    if ((req.url ?? '').length > MAX_URL_LENGTH) {
      send(res, { status: 414, headers: { 'Content-Type': 'text/plain' }, body: 'Request URI Too Long' });
      return;
    }
    const work = url.pathname.startsWith('/_emulator/')
      ? control(req, res, url)
      : url.pathname.startsWith('/api/data/')
        ? handleApi(req, res, url)
        : Promise.resolve(
            send(
              res,
              errorResponse(404, '0x80060888', `Resource not found for the segment '${url.pathname}'.`),
            ),
          );
    work.catch((error: unknown) => {
      if (!res.headersSent)
        send(res, errorResponse(500, '0x80040216', error instanceof Error ? error.message : String(error)));
    });
  });
  server.keepAliveTimeout = 65_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const host = options.host ?? '127.0.0.1';
  // Dev only: the control endpoints have no auth, so the emulator never listens beyond loopback.
  if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(host)) {
    throw new Error(`The emulator binds loopback addresses only (127.x.x.x, ::1, localhost), not '${host}'`);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    apiRoot: `${url}/api/data/v9.2/`,
    store: inspect,
    stats,
    ceiling: (q) => ceiling(settings, q),
    configure,
    settings: () => settings,
    recentLog: () => [...ring],
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
