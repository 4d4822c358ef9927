// How long a run takes and what it costs against Dataverse's limits, before (a dry run) and after (the
// summary, next to what happened). The service protection limits, not the client, set the pace of a large
// import: per identity 1,200 s of server execution time and 6,000 requests per 5-minute window
// (dataverse-webapi.md §8): beyond one window's budget, a run needs at least its execution time / (4 s per
// s × identities) and its requests / (20 per s × identities); within it, the budget can be spent at once,
// but no faster than the longest single message, which the server processes as one request. The messages
// are the ones the client sends: of the bulk size while much is left, smaller when a few fill every slot.
// Costs per record are the documented ones (dataverse-performance.md §3.3: 35 ms per request plus 6.5 ms
// per CreateMultiple record, 20 ms per UpdateMultiple record, 60 ms per UpsertMultiple-by-key record, 40 ms
// per $batch operation, 35 ms per read request + 0.1 ms per row).

import { plannedMessageSize } from '../dataverse/bulk.js';
import { DEFAULT_MAX_CONCURRENCY } from '../dataverse/client.js';

/** Records to write by the message that writes them, and the read requests (key and lookup queries). */
export interface RunWork {
  readonly createMultiple: number;
  readonly updateMultiple: number;
  readonly upsertMultipleByKey: number;
  /** Operations sent in $batch (deletes). */
  readonly batchOperations: number;
  readonly readRequests: number;
}

export interface ForecastOptions {
  /** Identities (application users) sharing the work. */
  readonly identities: number;
  /** Records per bulk message at most (`DATAVERSE_BULK_SIZE`). */
  readonly bulkSize: number;
  /** Requests in flight per identity (`DATAVERSE_MAX_CONCURRENCY`, `--concurrency`); the client's default if absent. */
  readonly concurrency?: number;
}

export interface Forecast {
  readonly identities: number;
  /** Web API requests: bulk messages, $batch requests and reads. */
  readonly requests: number;
  /** Server execution time the requests are charged, in seconds (what the 1,200 s per 5 min limit meters). */
  readonly executionSeconds: number;
  /** The shortest time the limits allow with these identities, and no shorter than the longest message. */
  readonly durationSeconds: number;
  /**
   * What sets that time: a limit, or (`message`) the server's time for the longest single message, when the
   * whole run fits in one window's budget and is spread over the concurrent slots faster than that.
   */
  readonly binding: 'execution-time' | 'requests' | 'message';
  /** Power Platform requests against the tenant's daily entitlement: each record of a bulk message counts. */
  readonly entitlementRequests: number;
  /** Share of one 5-minute window per identity, at full speed: execution time and requests. */
  readonly perWindow: { readonly executionShare: number; readonly requestShare: number };
}

const WINDOW_SECONDS = 300;
const EXECUTION_SECONDS_PER_WINDOW = 1_200;
const REQUESTS_PER_WINDOW = 6_000;
/** Concurrent requests per identity (per web server). */
const CONCURRENT = 52;
const REQUEST_MS = 35;
const PER_RECORD_MS = {
  createMultiple: 6.5,
  updateMultiple: 20,
  upsertMultipleByKey: 60,
  batch: 40,
} as const;
const BATCH_OPERATIONS = 100;
/** A key lookup page: up to a few hundred keys (one `In` query); reads are charged about 0.1 ms per row. */
const READ_MS = 35 + 0.1 * 250;

/**
 * The shortest time a sliding-window limit allows for `amount`: within one window's budget it can all go at
 * once (execution time then spread over the concurrent slots); beyond it, the budget per window is the rate.
 */
function atLimit(amount: number, perWindow: number, lanes: number): number {
  if (amount <= perWindow) return lanes === Number.POSITIVE_INFINITY ? 0 : amount / lanes;
  return (amount / perWindow) * WINDOW_SECONDS;
}

/** How one kind of record goes: the number of messages and the records in the largest. */
interface Messages {
  readonly count: number;
  readonly largest: number;
}

/**
 * The messages the client sends for `records` of one kind, sized as the client sizes them: while many are
 * left, messages of `bulk`; fewer than fill every slot, spread over the slots. So a small file goes as many
 * small messages at once, not as a few large ones one slot each.
 */
function messagesOf(records: number, bulk: number, slots: number): Messages {
  if (records <= 0) return { count: 0, largest: 0 };
  const size = plannedMessageSize(records, slots, bulk);
  return { count: Math.ceil(records / size), largest: Math.min(records, size) };
}

/**
 * A run well above the limits' pace (10% leaves room for rounding and timing) was not set by the limits:
 * the server took less time per record than the documented costs the forecast is made of.
 */
export function fasterThanForecast(speedOfLimits: number): boolean {
  return speedOfLimits > 1.1;
}

/** What sets a forecast's duration, in words. */
export function bindingText(binding: Forecast['binding']): string {
  if (binding === 'message') return 'the longest message binds: the work fits in one window';
  return `${binding} binds`;
}

export function forecastRun(work: RunWork, options: ForecastOptions): Forecast {
  const identities = Math.max(1, options.identities);
  const bulk = Math.max(1, options.bulkSize);
  const slots = identities * Math.max(1, options.concurrency ?? DEFAULT_MAX_CONCURRENCY);
  const kinds: readonly (readonly [Messages, number])[] = [
    [messagesOf(work.createMultiple, bulk, slots), PER_RECORD_MS.createMultiple],
    [messagesOf(work.updateMultiple, bulk, slots), PER_RECORD_MS.updateMultiple],
    [messagesOf(work.upsertMultipleByKey, bulk, slots), PER_RECORD_MS.upsertMultipleByKey],
    [
      {
        count: Math.ceil(work.batchOperations / BATCH_OPERATIONS),
        largest: Math.min(work.batchOperations, BATCH_OPERATIONS),
      },
      PER_RECORD_MS.batch,
    ],
  ];
  const writes = kinds.reduce((sum, [messages]) => sum + messages.count, 0);
  const requests = writes + work.readRequests;
  const records = work.createMultiple + work.updateMultiple + work.upsertMultipleByKey + work.batchOperations;
  const executionMs =
    writes * REQUEST_MS +
    work.createMultiple * PER_RECORD_MS.createMultiple +
    work.updateMultiple * PER_RECORD_MS.updateMultiple +
    work.upsertMultipleByKey * PER_RECORD_MS.upsertMultipleByKey +
    work.batchOperations * PER_RECORD_MS.batch +
    work.readRequests * READ_MS;
  const executionSeconds = executionMs / 1000;
  const byTime = atLimit(
    executionSeconds,
    EXECUTION_SECONDS_PER_WINDOW * identities,
    CONCURRENT * identities,
  );
  const byRequests = atLimit(requests, REQUESTS_PER_WINDOW * identities, Number.POSITIVE_INFINITY);
  // A message is processed as one request: no number of slots brings the run below its longest one.
  const byMessage =
    Math.max(
      work.readRequests > 0 ? READ_MS : 0,
      ...kinds.map(([messages, perRecordMs]) =>
        messages.count > 0 ? REQUEST_MS + messages.largest * perRecordMs : 0,
      ),
    ) / 1000;
  return {
    identities,
    requests,
    executionSeconds,
    durationSeconds: Math.max(byTime, byRequests, byMessage),
    binding:
      byMessage > byTime && byMessage > byRequests
        ? 'message'
        : byTime >= byRequests
          ? 'execution-time'
          : 'requests',
    entitlementRequests: records + work.readRequests,
    perWindow: {
      executionShare: executionSeconds / identities / EXECUTION_SECONDS_PER_WINDOW,
      requestShare: requests / identities / REQUESTS_PER_WINDOW,
    },
  };
}

/** Rows by what happened to them (or would have, in a dry run), and how the job writes. */
export interface WorkCounts {
  readonly created: number;
  readonly updated: number;
  readonly upserted: number;
  readonly deleted: number;
  readonly readRequests: number;
}

/** The messages the pipeline sends for these outcomes (README "How upserts are written"). */
export function workOf(counts: WorkCounts): RunWork {
  return {
    createMultiple: counts.created,
    updateMultiple: counts.updated,
    upsertMultipleByKey: counts.upserted,
    batchOperations: counts.deleted,
    readRequests: counts.readRequests,
  };
}

/** The summary's forecast: the forecast for the run's work, and for a real run what happened against it. */
export interface ForecastReport extends Forecast {
  /** A real run: how long it took and how many requests it sent, against the forecast. */
  readonly actual?: {
    readonly durationSeconds: number;
    readonly requests: number;
    /** Forecast duration / actual duration: 1 means the run went as fast as the limits allow. */
    readonly speedOfLimits: number;
  };
}

export function forecastReport(
  counts: WorkCounts,
  options: ForecastOptions,
  actual?: { durationMs: number; requests: number },
): ForecastReport {
  const forecast = forecastRun(workOf(counts), options);
  if (!actual) return forecast;
  const durationSeconds = actual.durationMs / 1000;
  return {
    ...forecast,
    actual: {
      durationSeconds,
      requests: actual.requests,
      speedOfLimits: durationSeconds > 0 ? forecast.durationSeconds / durationSeconds : 0,
    },
  };
}
