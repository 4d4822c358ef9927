// The facade the import and extract pipelines use: one client per org, shared by every operation in the process.
import { createApiSender, type ApiSender, type Row } from './api.js';
import * as callerInfo from './caller.js';
import type { TokenProvider } from './auth.js';
import { executeBatch, maxBatchOperations, type BatchRequest, type BatchResponse } from './batch.js';
import pMap from 'p-map';
import { ArrivalLag } from './budget.js';
import { BulkSizer, chunk, writeMultiple, type BulkContext, type RecordResult } from './bulk.js';
import { BulkTurns } from './bulk-turns.js';
import { systemClock, type Clock } from './clock.js';
import { isDataverseError, isNotFoundCode, type DataverseError } from './errors.js';
import { maxServersFollowed } from './governor.js';
import { uploadFile, type UploadSource } from './files.js';
import { IdentityPool, type ServerProbe } from './identity-pool.js';
import { entityInfo, tableMetadata } from './metadata.js';
import { MetricsRecorder, type ClientEvent, type ClientMetrics } from './metrics.js';
import type { TableMetadata } from './model.js';
import { authPolicy } from './policies/auth.js';
import { composePolicies } from './policies/pipeline.js';
import { defaultRetryOptions, retryPolicy, type RetryOptions } from './policies/retry.js';
import { throttlePolicy } from './policies/throttle.js';
import * as q from './query.js';
import * as records from './records.js';
import type { RecordTarget, UpsertMode } from './records.js';
import type { Dispatcher } from 'undici';
import { createTransport, odataHeaders } from './transport.js';
import type { BudgetShare } from './governor.js';

export interface DataverseClientOptions {
  /** Org URL, e.g. https://contoso.crm.dynamics.com */
  readonly url: string;
  /** One per identity (≥ 1); requests are spread over them. */
  readonly tokenProviders: readonly TokenProvider[];
  /** Upper bound of concurrent requests per identity (≤ 52). Default 16. */
  readonly maxConcurrency?: number;
  /** Records per bulk request. Default 1,000. */
  readonly bulkSize?: number;
  /** Per-request timeout. Default 300 s. */
  readonly timeoutMs?: number;
  /**
   * The service protection window the client keeps an execution-time ledger for, per identity, to send
   * each request when the window has room for it. Default 300 s (Dataverse's); 0 turns the ledger off.
   * A time-scaled emulator says its own window in a header, which wins.
   */
  readonly budgetWindowMs?: number;
  /**
   * When other processes send as the same identities: this process's part of each identity's window and
   * concurrency (src/fleet keeps it, through the storage account). Absent: the whole window.
   */
  readonly budgetShare?: BudgetShare;
  readonly retry?: Partial<RetryOptions>;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly dispatcher?: Dispatcher;
  readonly onEvent?: (event: ClientEvent) => void;
  /**
   * Before an identity's first request, find its web servers with a few WhoAmI requests without a cookie, and
   * give each a lane pinned by its ARRAffinity cookie (default true). False: servers are found from the
   * answers to real requests instead.
   */
  readonly discoverServers?: boolean;
}

export type QueryRequest = q.QueryOptions;

export interface BulkCallOptions {
  /** Stops waiting and sending (a Functions invocation nearing its timeout); unsent records are not reported. */
  readonly signal?: AbortSignal;
}

export interface DataverseClient {
  readonly url: string;
  metadata(table: string): Promise<TableMetadata>;
  create(table: string, data: Row, opts?: { id?: string }): Promise<{ id: string; created: boolean }>;
  update(table: string, target: RecordTarget, data: Row): Promise<void>;
  upsert(
    table: string,
    target: RecordTarget,
    data: Row,
    opts?: { mode?: UpsertMode; returnId?: boolean },
  ): Promise<{ id?: string; created?: boolean }>;
  delete(table: string, target: RecordTarget): Promise<void>;
  retrieve(table: string, target: RecordTarget, opts?: { select?: string[] }): Promise<Row | undefined>;
  createMultiple(
    table: string,
    records: readonly { id: string; data: Row }[],
    opts?: BulkCallOptions,
  ): Promise<RecordResult[]>;
  updateMultiple(
    table: string,
    records: readonly { id: string; data: Row }[],
    opts?: BulkCallOptions,
  ): Promise<RecordResult[]>;
  upsertMultiple(
    table: string,
    records: readonly { target: RecordTarget; data: Row }[],
    opts?: BulkCallOptions,
  ): Promise<RecordResult[]>;
  deleteMultiple(
    table: string,
    targets: readonly RecordTarget[],
    opts?: BulkCallOptions,
  ): Promise<RecordResult[]>;
  batch(requests: readonly BatchRequest[], opts?: { continueOnError?: boolean }): Promise<BatchResponse[]>;
  query(table: string, query?: QueryRequest): q.QueryResult;
  delta(
    deltaLink: string,
    opts?: Pick<q.QueryOptions, 'pageSize' | 'formattedValues' | 'lookupTargets' | 'signal'>,
  ): q.QueryResult;
  count(table: string, filter?: string): Promise<number>;
  /** The calling user (as its headers make it: an impersonating view answers as that user). */
  whoAmI(): Promise<callerInfo.WhoAmI>;
  /** Whether the user holds the privilege through a role or a team (RetrieveUserPrivilegeByPrivilegeName). */
  userHasPrivilege(userId: string, privilegeName: string): Promise<boolean>;
  /** Records the published duplicate detection rules match for `data` (RetrieveDuplicates). */
  retrieveDuplicates(table: string, data: Row, max?: number): Promise<Row[]>;
  /**
   * The same client (connections, identities, governor, metrics) sending these headers with every
   * request, $batch parts included: bypass, duplicate detection, impersonation (write-options.ts).
   */
  withHeaders(headers: Readonly<Record<string, string>>): DataverseClient;
  /** The pool's identities (client ids, `default`, or emulator users), in configuration order. */
  readonly identities: readonly string[];
  /**
   * The same client sending every request as this one identity of the pool: for checks that must
   * hold for each identity that writes (privileges), not for whichever one is least loaded.
   */
  asIdentity(identity: string): DataverseClient;
  /** Uploads a file or image column's data for one record (one request, or in chunks when large). */
  uploadFile(
    table: string,
    id: string,
    column: string,
    source: UploadSource,
    opts?: { singleMaxBytes?: number },
  ): Promise<{ chunks: number }>;
  metrics(): ClientMetrics;
  close(): Promise<void>;
}

export type { WhoAmI } from './caller.js';

export function apiRootOf(url: string): string {
  return `${new URL(url).origin}/api/data/v9.2/`;
}

/** Requests in flight per identity when none is configured. */
export const DEFAULT_MAX_CONCURRENCY = 16;

export function createDataverseClient(options: DataverseClientOptions): DataverseClient {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const maxConcurrency = Math.min(52, Math.max(1, options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY));
  const timeoutMs = options.timeoutMs ?? 300_000;
  const metrics = new MetricsRecorder(clock.now(), options.onEvent);
  const emit = (event: ClientEvent) => metrics.record(event, clock.now());

  const share = options.budgetShare;
  const governor = {
    max: maxConcurrency,
    budgetWindowMs: options.budgetWindowMs ?? 300_000,
    // One for the process: every lane's ledger learns from any lane's 429 (governor.ts).
    arrivalLag: new ArrivalLag(),
    ...(share ? { share: () => share.share, steadySharing: share.steady === true } : {}),
  };
  const transport = createTransport({
    ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    // Per web server: an identity may have a lane on each of up to maxServersFollowed of them.
    connections: maxConcurrency * maxServersFollowed * options.tokenProviders.length,
    timeoutMs,
  });
  const apiRoot = apiRootOf(options.url);
  // How the pool finds an identity's web servers: WhoAmI without a cookie, the cheapest request there is.
  const probe: ServerProbe = async (tokens) => {
    const token = await tokens.getToken();
    const answer = await transport.send({
      method: 'GET',
      url: `${apiRoot}WhoAmI`,
      headers: { ...odataHeaders({ read: true, hasBody: false }), authorization: `Bearer ${token}` },
      timeoutMs: 30_000,
    });
    return { status: answer.status, headers: answer.headers };
  };
  const pool = new IdentityPool(
    options.tokenProviders,
    clock,
    governor,
    (change) => {
      emit({
        type: 'concurrency',
        identity: change.identity,
        limit: change.limit,
        inFlight: change.inFlight,
      });
      if (change.addedPauseMs)
        emit({ type: 'throttle', identity: change.identity, pauseMs: change.addedPauseMs });
    },
    options.discoverServers === false ? undefined : probe,
    share?.shareFor?.bind(share),
    share?.ready,
  );
  // Sized for the identities' whole windows, not this instance's momentary part of them (src/fleet): a
  // chunk planned as a few large messages while the part was small keeps them when the part grows, and
  // the instance's backlog (counted in requests) then understates its work, so its part stays small.
  const lanes = () => (share ? Math.ceil(pool.capacity / Math.max(share.share, 0.01)) : pool.capacity);
  const turns = new BulkTurns(lanes);
  // Bulk messages not yet formed are work too: counted as the requests they would have been (bulk-turns.ts).
  share?.track(
    () => pool.backlog + turns.backlog,
    () => pool.poke(),
  );
  const pathOf = (url: string) => {
    const u = new URL(url);
    return u.pathname.slice(new URL(apiRoot).pathname.length);
  };
  const pipeline = composePolicies(
    [
      retryPolicy({ ...defaultRetryOptions, ...options.retry }, clock, random, (r) =>
        emit({
          type: 'retry',
          method: r.method,
          path: pathOf(r.url),
          reason: r.reason,
          delayMs: r.delayMs,
          attempt: r.attempt,
        }),
      ),
      throttlePolicy(pool, clock, (o) =>
        emit({
          type: 'request',
          method: o.method,
          path: pathOf(o.url),
          identity: o.identity,
          status: o.status,
          durationMs: o.durationMs,
          attempt: o.attempt,
        }),
      ),
      authPolicy(),
    ],
    transport.send,
  );
  const api = createApiSender(apiRoot, pipeline, () => metrics.requestFailed());

  const sizer = new BulkSizer(Math.max(1, Math.min(options.bulkSize ?? 1000, 1000)), timeoutMs);
  const bulk: BulkContext = {
    api,
    sizer,
    turns,
    concurrency: () => pool.maxCapacity,
    lanes,
    probing: () => pool.lanes.some((lane) => lane.governor.pacing || lane.governor.sharedPacing),
    fallbacks: new Set(),
    now: () => clock.now(),
    onRecords: (table, operation, succeeded, failed) =>
      emit({ type: 'records', table, operation, succeeded, failed }),
    onFallback: (table, operation) => emit({ type: 'fallback', table, operation, to: '$batch' }),
  };

  const single = async <T>(table: string, operation: string, run: () => Promise<T>): Promise<T> => {
    try {
      const r = await run();
      emit({ type: 'records', table, operation, succeeded: 1, failed: 0 });
      return r;
    } catch (e) {
      if (isDataverseError(e)) emit({ type: 'records', table, operation, succeeded: 0, failed: 1 });
      throw e;
    }
  };

  const facade = (api: ApiSender, bulk: BulkContext): DataverseClient => ({
    url: options.url,
    metadata: (table) => tableMetadata(api, table),
    uploadFile: async (table, id, column, source, opts) =>
      uploadFile(api, (await entityInfo(api, table)).entitySetName, id, column, source, opts),
    create: (table, data, opts = {}) => single(table, 'create', () => records.create(api, table, data, opts)),
    update: (table, target, data) => single(table, 'update', () => records.update(api, table, target, data)),
    upsert: (table, target, data, opts = {}) =>
      single(table, 'upsert', () => records.upsert(api, table, target, data, opts)),
    delete: (table, target) => single(table, 'delete', () => records.remove(api, table, target)),
    retrieve: (table, target, opts = {}) => records.retrieve(api, table, target, opts),
    createMultiple: (table, list, opts = {}) =>
      writeMultiple(
        withSignal(bulk, opts.signal),
        'CreateMultiple',
        table,
        list.map((r, index) => ({ index, id: r.id, data: r.data })),
      ),
    updateMultiple: (table, list, opts = {}) =>
      writeMultiple(
        withSignal(bulk, opts.signal),
        'UpdateMultiple',
        table,
        list.map((r, index) => ({ index, id: r.id, data: r.data })),
      ),
    upsertMultiple: (table, list, opts = {}) =>
      writeMultiple(
        withSignal(bulk, opts.signal),
        'UpsertMultiple',
        table,
        list.map((r, index) => ({ index, target: r.target, data: r.data })),
      ),
    deleteMultiple: (table, targets, opts = {}) =>
      deleteMultiple(withSignal(bulk, opts.signal), table, targets),
    batch: (requests, opts = {}) => executeBatch(api, requests, opts),
    query: (table, query = {}) => q.query(api, table, query),
    delta: (deltaLink, opts = {}) => q.delta(api, deltaLink, opts),
    count: (table, filter) => q.count(api, table, filter),
    whoAmI: () => callerInfo.whoAmI(api),
    userHasPrivilege: (userId, name) => callerInfo.userHasPrivilege(api, userId, name),
    retrieveDuplicates: (table, data, max) => callerInfo.retrieveDuplicates(api, table, data, max),
    withHeaders: (headers) => {
      const extra = { ...api.partHeaders, ...headers };
      const scoped: ApiSender = {
        apiRoot: api.apiRoot,
        partHeaders: extra,
        send: (request) => api.send({ ...request, headers: { ...extra, ...request.headers } }),
      };
      return facade(scoped, { ...bulk, api: scoped });
    },
    identities: pool.lanes.map((lane) => lane.identity),
    asIdentity: (identity) => {
      if (!pool.lanes.some((lane) => lane.identity === identity)) {
        throw new Error(`No identity '${identity}' in this client's pool`);
      }
      const pinned: ApiSender = {
        apiRoot: api.apiRoot,
        ...(api.partHeaders ? { partHeaders: api.partHeaders } : {}),
        send: (request) => api.send({ ...request, identity }),
      };
      return facade(pinned, { ...bulk, api: pinned });
    },
    metrics: () => ({
      ...metrics.snapshot(),
      // Per identity: whether any of its lanes (one per web server) paces by its ledger.
      pacing: Object.fromEntries(
        options.tokenProviders.map(({ identity }) => [
          identity,
          pool.lanes.some((lane) => lane.identity === identity && lane.governor.pacing),
        ]),
      ),
    }),
    close: async () => {
      pool.close();
      await Promise.all([transport.close(), share?.close?.()]);
    },
  });
  return facade(api, bulk);
}

function withSignal(ctx: BulkContext, signal: AbortSignal | undefined): BulkContext {
  return signal ? { ...ctx, signal } : ctx;
}

/** DeleteMultiple only exists for elastic tables, so deletes go as $batch (continue-on-error) of DELETEs. */
async function deleteMultiple(
  ctx: BulkContext,
  table: string,
  targets: readonly RecordTarget[],
): Promise<RecordResult[]> {
  const info = await entityInfo(ctx.api, table);
  const indexed = targets.map((target, index) => ({ target, index }));
  const groups = chunk(indexed, Math.min(100, maxBatchOperations));
  const out: RecordResult[] = new Array<RecordResult>(targets.length);
  await pMap(
    groups,
    async (group) => {
      let responses: BatchResponse[];
      let ambiguous = false;
      try {
        responses = await executeBatch(
          ctx.api,
          group.map((g) => ({ method: 'DELETE', path: info.entitySetName + records.formatKey(g.target) })),
          { continueOnError: true, idempotent: true, ...(ctx.signal ? { signal: ctx.signal } : {}) },
        );
      } catch (e) {
        if (!isDataverseError(e)) throw e;
        ambiguous = e.ambiguous === true;
        responses = group.map(() => ({ status: e.status, headers: {}, error: e }));
      }
      let ok = 0;
      await Promise.all(
        group.map(async (g, i) => {
          const error = responses[i]?.error;
          let result: RecordResult;
          const repeated = ambiguous || responses[i]?.ambiguous === true;
          if (!error || (repeated && error.status === 404 && isNotFoundCode(error.code))) {
            result = { index: g.index, ok: true, ...('id' in g.target ? { id: g.target.id } : {}) };
          } else if (error.retryable || error.status === 0 || error.status === 429) {
            result = await records
              .remove(ctx.api, table, g.target, ctx.signal ? { signal: ctx.signal } : {})
              .then(
                (): RecordResult => ({ index: g.index, ok: true }),
                (e: unknown): RecordResult => {
                  if (!isDataverseError(e)) throw e;
                  return { index: g.index, ok: false, error: e.forRecord(g.index, table) };
                },
              );
          } else {
            result = { index: g.index, ok: false, error: error.forRecord(g.index, table) };
          }
          if (result.ok) ok++;
          out[g.index] = result;
        }),
      );
      ctx.onRecords(table, 'delete', ok, group.length - ok);
    },
    { concurrency: ctx.concurrency() },
  );
  return out;
}

export type { DataverseError };
