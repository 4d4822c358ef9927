import type { RequestTrace } from './request-trace.js';
import type { ResultLines } from './result-lines.js';
import type { ForecastReport } from './forecast.js';

/** What happened to one input row. Every row of every run ends in exactly one of these. */
/**
 * `superseded`: deliberately not written because a later row of the same file has the same key and was
 * written instead (`duplicateKeys: lastWins`). Not an error to fix: it counts as succeeded and stays out
 * of errors.csv, so dropping errors.csv back in can never write it over the row that won.
 */
export type RowStatus =
  | 'created'
  | 'updated'
  | 'upserted'
  | 'deleted'
  | 'unchanged'
  | 'superseded'
  /** associate / disassociate: the pair was linked or unlinked (an existing link is `unchanged`). */
  | 'associated'
  | 'disassociated'
  | 'failed';

export interface RowOutcome {
  /** Spreadsheet row number: header = 1, first record = 2. */
  readonly row: number;
  readonly status: RowStatus;
  readonly id?: string;
  /** Failed rows: a stable code (`StringTooLong`, `0x80044331`, ...), the column and a message. */
  readonly code?: string;
  readonly column?: string;
  readonly message?: string;
}

export function isSuccess(outcome: RowOutcome): boolean {
  return outcome.status !== 'failed';
}

/** Where the input came from. `etag` identifies the version, so a re-delivered event maps to the same run. */
export interface InputRef {
  readonly job: string;
  /** Name as users see it, relative to the job folder: `contacts-2026-11.csv`. */
  readonly name: string;
  /** Blob URL or absolute file path. */
  readonly url: string;
  readonly etag: string;
  readonly size?: number;
}

export interface RequestCounters {
  readonly requests: number;
  readonly retries: number;
  readonly throttled: number;
}

export const zeroCounters: RequestCounters = { requests: 0, retries: 0, throttled: 0 };

export function addCounters(a: RequestCounters, b: RequestCounters): RequestCounters {
  return {
    requests: a.requests + b.requests,
    retries: a.retries + b.retries,
    throttled: a.throttled + b.throttled,
  };
}

/** Written last by the planner: its existence means the plan is complete. */
export interface RunManifest {
  readonly runId: string;
  readonly input: InputRef;
  /** The job definition as it was when the run started, so edits mid-run change nothing. */
  readonly job: unknown;
  readonly jobName: string;
  readonly header: readonly string[];
  readonly chunkCount: number;
  readonly chunkSize: number;
  readonly totalRows: number;
  /** Rows failed during planning (ragged rows, bad bytes, duplicate keys under failAll). */
  readonly planFailures: number;
  /** Rows the plan took out of the write because a later row has their key (lastWins); absent in older runs. */
  readonly planSuperseded?: number;
  readonly dryRun: boolean;
  readonly startedAt: string;
  readonly plannedAt: string;
  readonly planCounters: RequestCounters;
  /** Where summary.json / errors.csv / records.csv go, relative to the results store. */
  readonly resultsPrefix: string;
}

/** One line of a chunk file: the row number and the cells in header order. */
export interface ChunkRow {
  readonly row: number;
  readonly cells: readonly string[];
}

export interface ChunkMessage {
  readonly runId: string;
  readonly chunk: number;
}

/** The plan's failures in one chunk's row range (see `runPaths.chunkPlanFailures`). */
export interface PlanFailures {
  readonly outcomes: readonly RowOutcome[];
  /** What could be read of failed rows that no chunk holds (unreadable rows). */
  readonly cells: Readonly<Record<string, readonly string[]>>;
}

/** What a chunk worker stores when its chunk is done (or poisoned): the chunk's part of the run's results. */
export interface ChunkResult {
  readonly runId: string;
  readonly chunk: number;
  readonly counters: RequestCounters;
  readonly durationMs: number;
  readonly completedAt: string;
  /** Set when the whole chunk failed (poisoned): every row carries the same reason. */
  readonly chunkError?: string;
  /**
   * The chunk's lines of records.csv and errors.csv (its rows and the plan's failures in its row range,
   * in row order) with their tallies. The fan-in appends them in chunk order.
   */
  readonly lines: ResultLines;
  /** Its requests and rows over time, for the run's report (absent in older runs and poisoned chunks). */
  readonly trace?: RequestTrace;
}

/**
 * What the planner stores: its requests (the preflight's metadata reads) and the rows it failed that
 * no chunk's range holds (all of them when the file had no readable row; else none, see `PlanFailures`).
 */
export interface StoredPlanResult {
  readonly runId: string;
  readonly chunk: 'plan';
  readonly outcomes: readonly RowOutcome[];
  /** What could be read of rows no chunk holds (unreadable rows), for errors.csv. */
  readonly cells: Readonly<Record<string, readonly string[]>>;
  readonly counters: RequestCounters;
  readonly durationMs: number;
  readonly completedAt: string;
  /** The preflight's requests over time, for the run's report. */
  readonly trace?: RequestTrace;
}

export type RunStatus = 'succeeded' | 'completedWithErrors' | 'failed';

/** summary.json: the DESIGN.md contract fields plus detail. */
export interface RunSummary {
  readonly runId: string;
  readonly job: string;
  readonly status: RunStatus;
  readonly input: { readonly name: string; readonly url: string; readonly etag: string };
  readonly dryRun: boolean;
  readonly rows: {
    readonly total: number;
    readonly succeeded: number;
    readonly failed: number;
    readonly created: number;
    readonly updated: number;
    readonly upserted: number;
    readonly deleted: number;
    readonly unchanged: number;
    /** Counted in `succeeded`: rows a later row with the same key replaced (see `RowStatus`). */
    readonly superseded: number;
    /** associate / disassociate runs only. */
    readonly associated?: number;
    readonly disassociated?: number;
  };
  readonly chunks: number;
  readonly durationMs: number;
  readonly requests: number;
  readonly retries: number;
  readonly throttled: number;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly errorsFile: string;
  readonly recordsFile: string;
  /** When the file could not be processed at all (bad header, unknown job). */
  readonly error?: { readonly code: string; readonly message: string };
  /**
   * Duration and cost against Dataverse's limits for the configured identities (src/imports/forecast.ts):
   * in a dry run the forecast of the real run, in a real run the forecast for its work next to what happened.
   */
  readonly forecast?: ForecastReport;
}
