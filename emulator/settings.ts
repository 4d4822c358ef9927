/**
 * Every constant of the cost model and the service-protection limits. Figures and their sources:
 * reference/dataverse-performance.md §3 (cost model) and dataverse-webapi.md §8 (limits); the figure
 * ids (A1, B1, C2, E1, ...) are cited in docs/emulator.md.
 */
export interface EmulatorSettings {
  /** Enforce the per-user request, execution-time and concurrency limits. */
  readonly limitsEnabled: boolean;
  /** Hold responses for network + server time. */
  readonly latencyEnabled: boolean;
  /** Multiplies every cost and window length (0.01 runs a 300 s window in 3 s). */
  readonly timeScale: number;

  /** Network time per request, not counted toward execution time (§3.1). */
  readonly networkMs: number;
  /** Body transfer rate, not counted (§3.1). */
  readonly transferBytesPerSecond: number;
  /** Fixed server cost of every request, counted (§3.1). */
  readonly fixedServerMs: number;

  /** Single-request server totals, fixed cost included (§3.2, §3.5). */
  readonly createMs: number;
  readonly updateMs: number;
  readonly upsertByIdMs: number;
  readonly upsertByKeyMs: number;
  readonly deleteMs: number;
  readonly retrieveMs: number;
  /** Per operation inside $batch, plus one fixed cost per $batch (§3.2). */
  readonly batchItemMs: number;
  /** Per record of bulk messages, plus one fixed cost per request (§3.3). */
  readonly createMultipleMs: number;
  readonly updateMultipleMs: number;
  readonly upsertMultipleByIdMs: number;
  readonly upsertMultipleByKeyMs: number;
  /** Reads: fixed + readRowMs × rows × max(1, columns / readColumnsUnit) per page (§3.5). */
  readonly readRowMs: number;
  readonly readColumnsUnit: number;

  /** x-ms-dop-hint; above it observed latency × (inflight / hint)^congestionExponent (§3.6). */
  readonly dopHint: number;
  readonly congestionExponent: number;

  /** Service protection per user (E1). */
  readonly windowSeconds: number;
  readonly maxRequests: number;
  readonly maxExecutionMs: number;
  readonly maxConcurrent: number;

  /**
   * Web servers behind the environment's load balancer, each with its own per-user limits; an
   * `ARRAffinity` cookie pins a client to one (reference §13). 1 is a trial environment.
   */
  readonly webServers: number;
  /** Send x-ms-ratelimit-* headers (Learn: "for debugging only"; a client must work without them). */
  readonly rateLimitHeaders: boolean;
  /** Send x-ms-dop-hint. */
  readonly dopHintHeader: boolean;
  /** Where x-ms-ratelimit-burst-remaining-xrm-requests starts: observed near 8,000, not the limit (§13). */
  readonly reportedRequestAllowance: number;

  /** Query limits (reference §5). */
  readonly maxPageSize: number;
  readonly maxCount: number;
  readonly maxBatchParts: number;

  /**
   * Days a change-tracking delta token stays valid (Organization.ExpireChangeTrackingInDays, 0-365;
   * default 7: reference §13). Scaled by timeScale like every other model time.
   */
  readonly changeTrackingDays: number;

  /** Retry-After (seconds, before time scaling) sent with an injected 429 fault. */
  readonly faultRetryAfterSeconds: number;
  /** Bytes per record the ceiling assumes for transfer time. */
  readonly ceilingBytesPerRecord: number;
}

export const REALISTIC: EmulatorSettings = {
  limitsEnabled: true,
  latencyEnabled: true,
  timeScale: 1,
  networkMs: 40,
  transferBytesPerSecond: 10_000_000,
  fixedServerMs: 35,
  createMs: 80,
  updateMs: 100,
  upsertByIdMs: 100,
  upsertByKeyMs: 140,
  deleteMs: 90,
  retrieveMs: 45,
  batchItemMs: 40,
  createMultipleMs: 6.5,
  updateMultipleMs: 20,
  upsertMultipleByIdMs: 25,
  upsertMultipleByKeyMs: 60,
  readRowMs: 0.1,
  readColumnsUnit: 10,
  dopHint: 4,
  congestionExponent: 0.6,
  windowSeconds: 300,
  maxRequests: 6000,
  maxExecutionMs: 1_200_000,
  maxConcurrent: 52,
  webServers: 1,
  rateLimitHeaders: true,
  dopHintHeader: true,
  reportedRequestAllowance: 8000,
  maxPageSize: 5000,
  maxCount: 5000,
  maxBatchParts: 1000,
  changeTrackingDays: 7,
  faultRetryAfterSeconds: 1,
  ceilingBytesPerRecord: 300,
};

/** Same constants (stats and headers still count), but no limits and no artificial latency. */
export const FAST: EmulatorSettings = { ...REALISTIC, limitsEnabled: false, latencyEnabled: false };

export type Profile = 'fast' | 'realistic';

/** Real milliseconds a delta token stays valid. */
export function deltaTokenLifetimeMs(s: EmulatorSettings): number {
  return s.changeTrackingDays * 86_400_000 * s.timeScale;
}

export function profileSettings(profile: Profile): EmulatorSettings {
  return profile === 'realistic' ? REALISTIC : FAST;
}

export type CeilingOperation =
  | 'create'
  | 'update'
  | 'upsert-id'
  | 'upsert-key'
  | 'delete'
  | 'retrieve'
  | 'batch'
  | 'create-multiple'
  | 'update-multiple'
  | 'upsert-multiple-id'
  | 'upsert-multiple-key'
  | 'read';

export interface CeilingQuery {
  readonly operation: CeilingOperation;
  /** Records per request (bulk, $batch) or rows per page (read). Default 1, or 5,000 for read. */
  readonly batchSize?: number;
  /** Length of the run in real (time-scaled) seconds. */
  readonly runSeconds: number;
  /** Users in parallel, each with its own limits. Default 1. */
  readonly users?: number;
  /** Columns per row for 'read'. Default 10. */
  readonly columns?: number;
  /**
   * Bytes each record adds to a request or answer, for the transfer time. Default
   * `ceilingBytesPerRecord`; pass what a run really moved (its user's `transferBytes` ÷ `rowsRead` for
   * reads), since the emulator charges transfer by the bytes it sends and a ceiling must assume the same.
   */
  readonly bytesPerRecord?: number;
}

export type CeilingLimit = 'requests' | 'execution-time' | 'concurrency';

export interface CeilingAnswer {
  /** Records (or rows) per real second that the binding limit allows. */
  readonly recordsPerSecond: number;
  readonly binding: CeilingLimit;
  /** Every limit's figure, records per real second. */
  readonly limits: Readonly<Record<CeilingLimit, number>>;
  /** Counted server time per request (model ms) and observed latency at full concurrency (model ms). */
  readonly countedMsPerRequest: number;
  readonly observedMsAtConcurrency: number;
  readonly recordsPerRequest: number;
}

/** Counted (server) milliseconds of one request carrying `n` records of `operation`. */
export function countedMs(s: EmulatorSettings, operation: CeilingOperation, n: number, columns = 10): number {
  switch (operation) {
    case 'create':
      return s.createMs;
    case 'update':
      return s.updateMs;
    case 'upsert-id':
      return s.upsertByIdMs;
    case 'upsert-key':
      return s.upsertByKeyMs;
    case 'delete':
      return s.deleteMs;
    case 'retrieve':
      return s.retrieveMs;
    case 'batch':
      return s.fixedServerMs + s.batchItemMs * n;
    case 'create-multiple':
      return s.fixedServerMs + s.createMultipleMs * n;
    case 'update-multiple':
      return s.fixedServerMs + s.updateMultipleMs * n;
    case 'upsert-multiple-id':
      return s.fixedServerMs + s.upsertMultipleByIdMs * n;
    case 'upsert-multiple-key':
      return s.fixedServerMs + s.upsertMultipleByKeyMs * n;
    case 'read':
      return readMs(s, n, columns);
  }
}

export function readMs(s: EmulatorSettings, rows: number, columns: number): number {
  return s.fixedServerMs + s.readRowMs * rows * Math.max(1, columns / s.readColumnsUnit);
}

/** Observed latency multiplier with `inflight` requests of one user in flight. */
export function congestion(s: EmulatorSettings, inflight: number): number {
  return inflight > s.dopHint ? (inflight / s.dopHint) ** s.congestionExponent : 1;
}

/**
 * The records/s the limits allow one user (× users) over a run of `runSeconds` real seconds, burst
 * included. With a budget L per sliding window W, a run shorter than W can spend one whole budget
 * (the burst); a longer run can spend L per W of its length, L × T / W, the sustained rate. (Budget
 * that frees in the run's last partial window cannot finish work inside the run, so it is not
 * counted: counting it would make the ceiling jump at each window boundary.) See docs/emulator.md.
 */
export function ceiling(s: EmulatorSettings, q: CeilingQuery): CeilingAnswer {
  const isSingle = ['create', 'update', 'upsert-id', 'upsert-key', 'delete', 'retrieve'].includes(
    q.operation,
  );
  const n = isSingle ? 1 : Math.max(1, q.batchSize ?? (q.operation === 'read' ? s.maxPageSize : 1));
  const users = Math.max(1, q.users ?? 1);
  const scale = s.timeScale;
  const modelSeconds = q.runSeconds / scale;
  const burst = Math.max(1, modelSeconds / s.windowSeconds);
  const counted = countedMs(s, q.operation, n, q.columns ?? 10);
  const byRequests = (s.maxRequests * burst * n) / modelSeconds;
  const byTime = (((s.maxExecutionMs * burst) / counted) * n) / modelSeconds;
  const transferMs = ((n * (q.bytesPerRecord ?? s.ceilingBytesPerRecord)) / s.transferBytesPerSecond) * 1000;
  const observed = (s.networkMs + transferMs + counted) * congestion(s, s.maxConcurrent);
  const byConcurrency = (s.maxConcurrent * n) / (observed / 1000);
  // Model records per model second -> per real second.
  const perReal = (x: number) => (x * users) / scale;
  const limits: Record<CeilingLimit, number> = {
    requests: perReal(byRequests),
    'execution-time': perReal(byTime),
    concurrency: perReal(byConcurrency),
  };
  let binding: CeilingLimit = 'requests';
  for (const k of ['execution-time', 'concurrency'] as const) if (limits[k] < limits[binding]) binding = k;
  return {
    recordsPerSecond: limits[binding],
    binding,
    limits,
    countedMsPerRequest: counted,
    observedMsAtConcurrency: observed,
    recordsPerRequest: n,
  };
}
