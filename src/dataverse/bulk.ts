// CreateMultiple / UpdateMultiple / UpsertMultiple with automatic sizing, bisection of failed requests so each
// failure lands on its own record, and a remembered fallback to $batch for tables that refuse bulk messages.
import pMap from 'p-map';
import type { ApiSender, Row } from './api.js';
import { executeBatch, maxBatchOperations, type BatchRequest } from './batch.js';
import type { BulkTurns } from './bulk-turns.js';
import { DataverseError, idTakenError, isDataverseError, isDuplicateCode } from './errors.js';
import { entityInfo, type EntityInfo } from './metadata.js';
import * as records from './records.js';
import type { RecordTarget } from './records.js';

export type BulkOperation = 'CreateMultiple' | 'UpdateMultiple' | 'UpsertMultiple';

export type RecordResult =
  | { readonly index: number; readonly ok: true; readonly id?: string; readonly created?: boolean }
  | { readonly index: number; readonly ok: false; readonly error: DataverseError };

export interface BulkItem {
  readonly index: number;
  readonly data: Row;
  /** Create / Update: the record id. */
  readonly id?: string;
  /** Upsert: the record to write. */
  readonly target?: RecordTarget;
}

/** Records in the first message of a (table, operation) while the governor's ledger paces. */
const PROBE_RECORDS = 10;
/** Elastic tables: Learn's recommended records per bulk request (reference §7, §13: about 100, in parallel). */
export const ELASTIC_BULK_SIZE = 100;
/** Asks an elastic table for its per-record outcome when some records of a bulk message fail. */
const ELASTIC_PREFER = 'odata.include-annotations="Microsoft.PowerApps.CDS.ErrorDetails.*"';

export function isElastic(info: Pick<EntityInfo, 'tableType'>): boolean {
  return info.tableType?.toLowerCase() === 'elastic';
}

/** Splits `items` into consecutive chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const n = Math.max(1, Math.floor(size));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}

/** The two halves a failed bulk request is retried as; undefined for a single record (nothing to split). */
export function bisect<T>(items: readonly T[]): [T[], T[]] | undefined {
  if (items.length < 2) return undefined;
  const mid = Math.ceil(items.length / 2);
  return [items.slice(0, mid), items.slice(mid)];
}

/**
 * Records per request for one (table, operation). Starts at the configured size, spreads small jobs over the
 * available concurrency, and shrinks when requests come close to the client timeout.
 */
export class BulkSizer {
  private readonly sizes = new Map<string, number>();
  private readonly started = new Set<string>();

  constructor(
    private readonly maxSize: number,
    private readonly timeoutMs: number,
    private readonly minSize = 1,
  ) {}

  size(key: string): number {
    return this.sizes.get(key) ?? this.maxSize;
  }

  /** True the first time it is asked for a (table, operation), false after. */
  firstOf(key: string): boolean {
    if (this.started.has(key)) return false;
    this.started.add(key);
    return true;
  }

  /**
   * Size for `total` records with `lanes` requests allowed in flight: a job's whole size when it is planned
   * at once, or the work left behind the next message when messages are formed as their turn comes.
   */
  plan(key: string, total: number, lanes: number): number {
    return plannedMessageSize(total, lanes, this.size(key));
  }

  /** Learns from a successful request of `count` records that took `durationMs`. */
  observe(key: string, count: number, durationMs: number): void {
    const target = this.timeoutMs / 4;
    const current = this.size(key);
    if (durationMs > target && count > this.minSize) {
      const next = Math.max(this.minSize, Math.floor((count * target) / durationMs));
      this.sizes.set(key, Math.min(current, next));
    } else if (durationMs < target / 4 && count >= current && current < this.maxSize) {
      this.sizes.set(key, Math.min(this.maxSize, current * 2));
    }
  }

  /** After a request too large to send (413) or too slow to answer. */
  shrink(key: string, count: number): void {
    this.sizes.set(key, Math.max(this.minSize, Math.min(this.size(key), Math.floor(count / 2))));
  }
}

/**
 * Records per message for `total` records over `lanes` slots, at most `size`: spread over the slots, but not
 * below 100 a message (each pays the request's fixed cost). The forecast sizes messages with it too.
 */
export function plannedMessageSize(total: number, lanes: number, size: number): number {
  const spread = Math.ceil(total / Math.max(1, lanes));
  return Math.max(1, Math.min(size, Math.max(spread, Math.min(size, 100))));
}

/** The table refuses this bulk message (it is not enabled for it): use $batch instead. */
export function isBulkUnsupported(e: unknown): boolean {
  if (!isDataverseError(e)) return false;
  if (e.code.toLowerCase() === '0x80040800') return true;
  return (
    [400, 404, 405, 501].includes(e.status) &&
    /(does not support entities|not (yet )?(been )?implemented|is not supported|Resource not found for the segment '?Microsoft\.Dynamics\.CRM\.\w+Multiple)/i.test(
      e.message,
    )
  );
}

/** A failure one of the records caused (so splitting the request can isolate it), not the service or the call. */
export function isRecordLevel(e: DataverseError): boolean {
  if (e.status === 0 || e.retryable) return false;
  if ([401, 403, 408, 413, 429].includes(e.status)) return false;
  return e.status >= 400 && e.status < 600;
}

export interface BulkContext {
  readonly api: ApiSender;
  readonly sizer: BulkSizer;
  /** When each message is formed, over every write of the client (bulk-turns.ts). */
  readonly turns: BulkTurns;
  /** Requests worth keeping ready (sum of identities' maxima). */
  readonly concurrency: () => number;
  /** Current allowed in-flight requests (sum of identities' limits). */
  readonly lanes: () => number;
  /** An execution-time ledger paces the requests, and wants a small first message of each kind. */
  readonly probing: () => boolean;
  /** Tables that refused a bulk message, by `table|operation`. */
  readonly fallbacks: Set<string>;
  readonly now: () => number;
  readonly onRecords: (table: string, operation: string, succeeded: number, failed: number) => void;
  readonly onFallback: (table: string, operation: string) => void;
  readonly signal?: AbortSignal;
}

function targetsOf(info: EntityInfo, operation: BulkOperation, items: readonly BulkItem[]): Row[] {
  const type = `Microsoft.Dynamics.CRM.${info.logicalName}`;
  return items.map((item) => {
    if (operation === 'UpsertMultiple') {
      const target = item.target!;
      const body: Row = { '@odata.type': type, '@odata.id': info.entitySetName + records.formatKey(target) };
      // Key columns stay out of the body: the @odata.id carries them (a repeated key can fail the create path).
      const keyNames = 'key' in target ? new Set(Object.keys(target.key)) : new Set<string>();
      for (const [k, v] of Object.entries(item.data)) if (!keyNames.has(k)) body[k] = v;
      if ('id' in target) body[info.primaryIdAttribute] = target.id.toLowerCase();
      return body;
    }
    return { '@odata.type': type, ...item.data, [info.primaryIdAttribute]: item.id!.toLowerCase() };
  });
}

function okResult(operation: BulkOperation, item: BulkItem, created?: boolean): RecordResult {
  const id =
    item.id?.toLowerCase() ?? (item.target && 'id' in item.target ? item.target.id.toLowerCase() : undefined);
  const c =
    created ?? (operation === 'CreateMultiple' ? true : operation === 'UpdateMultiple' ? false : undefined);
  return { index: item.index, ok: true, ...(id ? { id } : {}), ...(c !== undefined ? { created: c } : {}) };
}

function failResult(item: BulkItem, error: DataverseError, table: string): RecordResult {
  return { index: item.index, ok: false, error: error.forRecord(item.index, table) };
}

/** Ids among `ids` that already exist (so a repeated create of them is already done). */
async function existingIds(ctx: BulkContext, info: EntityInfo, ids: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  // Filters stay well under the 32 KB URL limit at 100 ids each.
  for (const group of chunk(ids, 100)) {
    const filter = group.map((id) => `${info.primaryIdAttribute} eq ${id}`).join(' or ');
    const res = await ctx.api.send({
      method: 'GET',
      path: info.entitySetName,
      query: { $select: info.primaryIdAttribute, $filter: filter },
      idempotent: true,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    const rows = (JSON.parse(res.body) as { value: Row[] }).value;
    for (const row of rows) {
      const id = row[info.primaryIdAttribute];
      if (typeof id === 'string') found.add(id.toLowerCase());
    }
  }
  return found;
}

export async function writeMultiple(
  ctx: BulkContext,
  operation: BulkOperation,
  table: string,
  items: readonly BulkItem[],
): Promise<RecordResult[]> {
  const results: RecordResult[] = new Array<RecordResult>(items.length);
  if (items.length === 0) return results;
  const info = await entityInfo(ctx.api, table);
  const elastic = isElastic(info);
  const key = `${table}|${operation}`;
  const position = new Map<number, number>(items.map((item, i) => [item.index, i]));
  const settle = (batch: readonly RecordResult[]) => {
    let ok = 0;
    for (const r of batch) {
      results[position.get(r.index)!] = r;
      if (r.ok) ok++;
    }
    ctx.onRecords(table, operation, ok, batch.length - ok);
  };

  const viaBatch = async (group: readonly BulkItem[]) =>
    settle(await writeViaBatch(ctx, info, operation, table, group));

  const viaBulk = async (group: readonly BulkItem[]): Promise<void> => {
    if (ctx.fallbacks.has(key)) return runFallback(group);
    const started = ctx.now();
    try {
      await ctx.api.send({
        method: 'POST',
        path: `${info.entitySetName}/Microsoft.Dynamics.CRM.${operation}`,
        json: { Targets: targetsOf(info, operation, group) },
        // Every target carries its id or key, so a repeat writes the same records again, never new ones.
        idempotent: true,
        table,
        ...(elastic ? { prefer: [ELASTIC_PREFER] } : {}),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
      ctx.sizer.observe(key, group.length, ctx.now() - started);
      settle(group.map((item) => okResult(operation, item)));
    } catch (e) {
      if (!isDataverseError(e)) throw e;
      await recover(group, e);
    }
  };

  const runFallback = async (group: readonly BulkItem[]) => {
    await pMap(chunk(group, Math.min(100, maxBatchOperations)), viaBatch, { concurrency: ctx.concurrency() });
  };

  const recover = async (group: readonly BulkItem[], e: DataverseError): Promise<void> => {
    if (isBulkUnsupported(e)) {
      if (!ctx.fallbacks.has(key)) {
        ctx.fallbacks.add(key);
        ctx.onFallback(table, operation);
      }
      return runFallback(group);
    }
    if (e.status === 413 || (e.status === 0 && e.code === 'TIMEOUT')) {
      ctx.sizer.shrink(key, group.length);
      const halves = bisect(group);
      if (halves) {
        await Promise.all(halves.map(viaBulk));
        return;
      }
    }
    if (elastic && e.recordStatuses) {
      // An elastic table wrote the records it could and says which failed: the others are done. A
      // failed record goes again alone, so its row gets its own error message (the details carry only
      // a status code), or succeeds if its failure was passing.
      const failed = new Set(e.recordStatuses.filter((r) => r.status >= 400).map((r) => r.index));
      settle(group.filter((_, i) => !failed.has(i)).map((item) => okResult(operation, item)));
      const retried = await pMap(
        group.filter((_, i) => failed.has(i)),
        (item) => single(ctx, operation, table, item),
        { concurrency: ctx.concurrency() },
      );
      if (retried.length > 0) settle(retried);
      return;
    }
    if (operation === 'CreateMultiple' && isDuplicateCode(e.code)) {
      // Some of these ids exist: written by an unanswered earlier attempt of ours, an earlier delivery or
      // another writer. This request wrote none of them, so they are reported as taken, never as done:
      // the caller knows whether the id can only be its own (a create) or its row must update (an upsert).
      const existing = await existingIds(
        ctx,
        info,
        group.map((item) => item.id!.toLowerCase()),
      );
      if (existing.size > 0) {
        settle(
          group
            .filter((item) => existing.has(item.id!.toLowerCase()))
            .map((item) => failResult(item, idTakenError(table, item.id!, e.ambiguous), table)),
        );
        const rest = group.filter((item) => !existing.has(item.id!.toLowerCase()));
        if (rest.length > 0) await viaBulk(rest);
        return;
      }
    }
    if (!isRecordLevel(e)) {
      settle(group.map((item) => failResult(item, e, table)));
      return;
    }
    const halves = bisect(group);
    if (!halves) {
      settle([failResult(group[0]!, e, table)]);
      return;
    }
    await Promise.all(halves.map(viaBulk));
  };

  let rest = items;
  if (ctx.probing() && items.length > PROBE_RECORDS * 2 && ctx.sizer.firstOf(key)) {
    // While a ledger paces the governor, the first message of a kind is small and goes alone: its answer
    // teaches the ledger what such a message costs before full ones are sent, for one short round trip.
    await viaBulk(items.slice(0, PROBE_RECORDS));
    rest = items.slice(PROBE_RECORDS);
  }
  // Each message takes its records when its turn comes, sized by what is left behind it then (bulk-turns.ts).
  const sizeFor = (unformed: number) => {
    const planned = ctx.sizer.plan(key, unformed, ctx.lanes());
    return elastic ? Math.min(planned, ELASTIC_BULK_SIZE) : planned;
  };
  const job = ctx.turns.open(rest.length, sizeFor(rest.length));
  const send = async (): Promise<void> => {
    for (let turn = await job.next(sizeFor); turn; turn = await job.next(sizeFor)) {
      try {
        await viaBulk(rest.slice(turn.start, turn.end));
      } finally {
        turn.done();
      }
    }
  };
  // Enough workers for every message the records could make at the smallest size (`sizeFor(0)`).
  const workers = Math.max(1, Math.min(ctx.concurrency(), Math.ceil(rest.length / sizeFor(0))));
  try {
    await Promise.all(Array.from({ length: workers }, send));
  } finally {
    job.close();
  }
  return results;
}

function batchRequestFor(info: EntityInfo, operation: BulkOperation, item: BulkItem): BatchRequest {
  if (operation === 'CreateMultiple') {
    return {
      method: 'POST',
      path: info.entitySetName,
      body: { ...item.data, [info.primaryIdAttribute]: item.id!.toLowerCase() },
    };
  }
  if (operation === 'UpdateMultiple') {
    return {
      method: 'PATCH',
      path: info.entitySetName + records.formatKey({ id: item.id! }),
      body: item.data,
      headers: { 'If-Match': '*' },
    };
  }
  return { method: 'PATCH', path: info.entitySetName + records.formatKey(item.target!), body: item.data };
}

/** The fallback: one $batch (continue-on-error) of single operations; each part answers for its record. */
async function writeViaBatch(
  ctx: BulkContext,
  info: EntityInfo,
  operation: BulkOperation,
  table: string,
  group: readonly BulkItem[],
): Promise<RecordResult[]> {
  const responses = await executeBatch(
    ctx.api,
    group.map((item) => batchRequestFor(info, operation, item)),
    { continueOnError: true, idempotent: true, ...(ctx.signal ? { signal: ctx.signal } : {}) },
  ).catch((e: unknown) => {
    if (!isDataverseError(e)) throw e;
    return group.map(() => ({ status: e.status, headers: {}, error: e }));
  });
  return Promise.all(
    group.map(async (item, i): Promise<RecordResult> => {
      const res = responses[i];
      if (res && !res.error) return okResult(operation, item);
      const error =
        res?.error ?? new DataverseError({ status: 0, code: 'MISSING_RESPONSE', message: 'No answer' });
      // Parts refused for load or lost in transit go again on their own, with the full retry policy.
      if (error.retryable || error.status === 0 || error.status === 429 || isDuplicateCode(error.code)) {
        return single(ctx, operation, table, item);
      }
      return failResult(item, error, table);
    }),
  );
}

async function single(
  ctx: BulkContext,
  operation: BulkOperation,
  table: string,
  item: BulkItem,
): Promise<RecordResult> {
  const options = ctx.signal ? { signal: ctx.signal } : {};
  try {
    if (operation === 'CreateMultiple') {
      const r = await records.create(ctx.api, table, item.data, { ...options, id: item.id! });
      return r.created ? okResult(operation, item) : failResult(item, idTakenError(table, r.id), table);
    }
    if (operation === 'UpdateMultiple') {
      await records.update(ctx.api, table, { id: item.id! }, item.data, options);
      return okResult(operation, item);
    }
    const r = await records.upsert(ctx.api, table, item.target!, item.data, options);
    return { ...okResult(operation, item), ...(r.id ? { id: r.id } : {}) };
  } catch (e) {
    if (!isDataverseError(e)) throw e;
    return failResult(item, e, table);
  }
}
