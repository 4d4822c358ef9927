// What an import run's report shows, computed from the run's own records: its manifest, its chunks'
// results (with their request traces) and errors.csv. Pure: the caller reads the stores.
import type { RequestTrace } from '../imports/request-trace.js';
import type { ChunkResult, RunManifest, RunSummary } from '../imports/types.js';

/** Points per time series: enough for a chart a page wide, few enough to keep the file small. */
export const MAX_POINTS = 400;
/** Example rows listed per failure code. */
export const EXAMPLES_PER_CODE = 3;

export interface FailureExample {
  readonly row: number;
  readonly column: string;
  /** Only when LOG_CELL_VALUES allows it: messages may quote a cell. */
  readonly message?: string;
  /** Only when LOG_CELL_VALUES allows it: the row's cells, named by the input's header. */
  readonly cells?: Readonly<Record<string, string>>;
}

export interface FailureGroup {
  readonly key: string;
  readonly count: number;
  readonly examples: readonly FailureExample[];
}

export interface PhaseTime {
  readonly phase: string;
  readonly ms: number;
}

export interface ImportReport {
  readonly kind: 'import';
  readonly summary: RunSummary;
  readonly cellValues: boolean;
  readonly phases: readonly PhaseTime[];
  /** Seconds since the run started, rows written (cumulative) and rows Dataverse refused (cumulative). */
  readonly rowsOverTime: readonly (readonly [number, number, number])[];
  /** Seconds since the run started and the most requests in flight around then. */
  readonly inFlight: readonly (readonly [number, number])[];
  /** Seconds since the run started of each 429 answer (bounded to MAX_POINTS, evenly thinned). */
  readonly throttles: readonly number[];
  readonly failuresByCode: readonly FailureGroup[];
  readonly failuresByColumn: readonly FailureGroup[];
  /** Chunks: index, rows, seconds the chunk took, requests, 429s. */
  readonly chunks: readonly (readonly [number, number, number, number, number])[];
}

/** One line of errors.csv, as the report reads it. */
export interface FailedRow {
  readonly row: number;
  readonly code: string;
  readonly column: string;
  readonly message: string;
  readonly cells: Readonly<Record<string, string>>;
}

export class FailureGrouper {
  readonly #byCode = new Map<string, { count: number; examples: FailureExample[] }>();
  readonly #byColumn = new Map<string, { count: number; examples: FailureExample[] }>();

  constructor(private readonly cellValues: boolean) {}

  add(failure: FailedRow): void {
    const example: FailureExample = {
      row: failure.row,
      column: failure.column,
      ...(this.cellValues ? { message: failure.message, cells: failure.cells } : {}),
    };
    add(this.#byCode, failure.code || '(no code)', example);
    add(this.#byColumn, failure.column || '(whole row)', example);
  }

  groups(): { byCode: FailureGroup[]; byColumn: FailureGroup[] } {
    return { byCode: sorted(this.#byCode), byColumn: sorted(this.#byColumn) };
  }
}

function add(
  into: Map<string, { count: number; examples: FailureExample[] }>,
  key: string,
  example: FailureExample,
) {
  let group = into.get(key);
  if (!group) into.set(key, (group = { count: 0, examples: [] }));
  group.count += 1;
  if (group.examples.length < EXAMPLES_PER_CODE) group.examples.push(example);
}

function sorted(groups: Map<string, { count: number; examples: FailureExample[] }>): FailureGroup[] {
  return [...groups]
    .map(([key, g]) => ({ key, count: g.count, examples: g.examples }))
    .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
}

export interface ImportReportInput {
  readonly manifest: RunManifest;
  readonly summary: RunSummary;
  readonly chunks: readonly ChunkResult[];
  /** The planner's requests (the preflight's metadata reads). */
  readonly planTrace?: RequestTrace;
  readonly failures: { byCode: FailureGroup[]; byColumn: FailureGroup[] };
  readonly cellValues: boolean;
}

export function buildImportReport(input: ImportReportInput): ImportReport {
  const { manifest, summary, chunks } = input;
  const start = Date.parse(manifest.startedAt);
  const end = Date.parse(summary.finishedAt);
  const requests: { start: number; end: number; write: boolean; status: number }[] = [];
  const rows: { at: number; rows: number; failed: number }[] = [];
  for (const trace of [input.planTrace, ...chunks.map((chunk) => chunk.trace)]) {
    if (!trace) continue;
    const base = trace.t0 - start;
    for (const [s, d, status, write] of trace.requests) {
      requests.push({ start: base + s, end: base + s + d, write: write === 1, status });
    }
    for (const [t, n, failed] of trace.rows) rows.push({ at: base + t, rows: n - failed, failed });
  }
  if (rows.length === 0) {
    // No trace (a dry run writes nothing, older runs kept none): each chunk counts when it completed.
    for (const chunk of chunks) {
      const { tally } = chunk.lines;
      rows.push({ at: Date.parse(chunk.completedAt) - start, rows: tally.succeeded, failed: tally.failed });
    }
  }
  const lastChunkDone = Math.max(start, ...chunks.map((c) => Date.parse(c.completedAt)));
  const phases: PhaseTime[] = [
    { phase: 'Read and plan', ms: Math.max(0, Date.parse(manifest.plannedAt) - start) },
    { phase: 'Lookups (busy)', ms: busyTime(requests.filter((r) => !r.write)) },
    { phase: 'Writes (busy)', ms: busyTime(requests.filter((r) => r.write)) },
    { phase: 'Result files', ms: Math.max(0, end - lastChunkDone) },
    { phase: 'Whole run', ms: summary.durationMs },
  ];
  const duration = Math.max(1, end - start);
  return {
    kind: 'import',
    summary,
    cellValues: input.cellValues,
    phases,
    rowsOverTime: cumulativeRows(rows, duration),
    inFlight: inFlightSeries(requests, duration),
    throttles: thin(
      requests.filter((r) => r.status === 429).map((r) => round(r.end / 1000)),
      MAX_POINTS,
    ).sort((a, b) => a - b),
    failuresByCode: input.failures.byCode,
    failuresByColumn: input.failures.byColumn,
    chunks: [...chunks]
      .sort((a, b) => a.chunk - b.chunk)
      .map((c) => {
        const n = c.lines.tally.succeeded + c.lines.tally.failed;
        return [c.chunk, n, round(c.durationMs / 1000), c.counters.requests, c.counters.throttled] as const;
      }),
  };
}

/** Wall-clock time during which at least one of these requests was open. */
export function busyTime(intervals: readonly { start: number; end: number }[]): number {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  let total = 0;
  let openUntil = -Infinity;
  let openFrom = 0;
  for (const { start, end } of sorted) {
    if (start > openUntil) {
      if (openUntil > -Infinity) total += openUntil - openFrom;
      openFrom = start;
      openUntil = end;
    } else openUntil = Math.max(openUntil, end);
  }
  if (openUntil > -Infinity) total += openUntil - openFrom;
  return Math.round(total);
}

/** The most requests open at once in each of up to MAX_POINTS equal slices of the run. */
export function inFlightSeries(
  intervals: readonly { start: number; end: number }[],
  durationMs: number,
): [number, number][] {
  if (intervals.length === 0) return [];
  const slices = Math.min(MAX_POINTS, Math.max(1, Math.ceil(durationMs / 50)));
  const width = durationMs / slices;
  // Opening before closing at equal times counts touching requests as overlapping.
  const edges: [number, number][] = intervals
    .flatMap((r): [number, number][] => [
      [r.start, 1],
      [r.end, -1],
    ])
    .sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const peak: number[] = [];
  let open = 0;
  let next = 0;
  for (let i = 0; i < slices; i += 1) {
    // What is open across the slice's start counts, then every change inside it.
    let most = open;
    for (const sliceEnd = (i + 1) * width; next < edges.length && edges[next]![0] < sliceEnd; next += 1) {
      open += edges[next]![1];
      most = Math.max(most, open);
    }
    peak.push(most);
  }
  return peak.map((n, i) => [round(((i + 0.5) * width) / 1000), n]);
}

function cumulativeRows(
  points: readonly { at: number; rows: number; failed: number }[],
  durationMs: number,
): [number, number, number][] {
  const sorted = [...points].sort((a, b) => a.at - b.at);
  const series: [number, number, number][] = [[0, 0, 0]];
  let written = 0;
  let failed = 0;
  const step = durationMs / MAX_POINTS;
  for (const point of sorted) {
    written += point.rows;
    failed += point.failed;
    const at = round(Math.max(0, point.at) / 1000);
    const last = series[series.length - 1]!;
    // Points closer than one slice apart merge into the later one.
    if (series.length > 1 && (at - last[0]) * 1000 < step) series[series.length - 1] = [at, written, failed];
    else series.push([at, written, failed]);
  }
  return series;
}

function thin<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  return Array.from({ length: max }, (_, i) => items[Math.floor((i * items.length) / max)]!);
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
