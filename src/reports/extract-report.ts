// What an extract run's report shows, from the run's facts (its manifest, or what is known of a run
// that failed) and the timeline the runner kept. Pure: the runner hands both in.
import type { ExtractManifest, ExtractMode, ExtractTrigger } from '../extracts/manifest.js';
import type { ExtractTimeline, PartitionStatus } from '../extracts/timeline.js';
import type { PhaseTime } from './import-report.js';

/** The run as the report's summary shows it: a finished run's manifest, or what a failed run knew. */
export interface ExtractRunFacts {
  readonly job: string;
  readonly table: string;
  readonly runId: string;
  readonly trigger: ExtractTrigger;
  readonly status: 'succeeded' | 'failed';
  readonly mode: ExtractMode;
  readonly fullReason?: string;
  readonly format: 'csv' | 'parquet';
  /** The output file, relative to the sink (its folder is the report's). */
  readonly path: string;
  readonly deletesPath?: string;
  /** Only when the run completed: the manifest is its completion marker. */
  readonly manifestPath?: string;
  readonly rows: number;
  readonly deletedRows: number;
  readonly bytes?: number;
  readonly partitions: number;
  readonly watermark?: { readonly column: string; readonly from?: string; readonly to?: string };
  /** Whether a stored delta token was used, and whether the run got the next one (tokens themselves stay out). */
  readonly deltaToken?: { readonly used: boolean; readonly next: boolean };
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly requests: number;
  readonly retries: number;
  readonly throttled: number;
  readonly error?: { readonly code: string; readonly message: string };
}

export function factsOfManifest(manifest: ExtractManifest, manifestPath: string): ExtractRunFacts {
  return {
    job: manifest.job,
    table: manifest.table,
    runId: manifest.runId,
    trigger: manifest.trigger,
    status: 'succeeded',
    mode: manifest.mode,
    ...(manifest.fullReason ? { fullReason: manifest.fullReason } : {}),
    format: manifest.format,
    path: manifest.path,
    ...(manifest.deletesPath ? { deletesPath: manifest.deletesPath } : {}),
    manifestPath,
    rows: manifest.rows,
    deletedRows: manifest.deletedRows,
    bytes: manifest.bytes,
    partitions: manifest.partitions,
    ...(manifest.watermark ? { watermark: manifest.watermark } : {}),
    ...(manifest.deltaToken
      ? { deltaToken: { used: Boolean(manifest.deltaToken.used), next: Boolean(manifest.deltaToken.next) } }
      : {}),
    startedAt: manifest.startedAt,
    finishedAt: manifest.finishedAt,
    durationMs: manifest.durationMs,
    requests: manifest.requests,
    retries: manifest.retries,
    throttled: manifest.throttled,
  };
}

/** A partition's row in the report: index, range, rows, pages, started (s), seconds, status. */
export type PartitionRow = readonly [number, string, number, number, number, number, PartitionStatus];

export interface ExtractReport {
  readonly kind: 'extract';
  readonly facts: ExtractRunFacts;
  /** Seconds since the run started and rows read so far (cumulative), one point per time bucket. */
  readonly rowsOverTime: readonly (readonly [number, number])[];
  /** Seconds since the run started and the most partitions being read at once in that bucket. */
  readonly reading: readonly (readonly [number, number])[];
  /** Seconds since the run started (a bucket's middle) and the 429 answers seen in that bucket. */
  readonly throttles: readonly (readonly [number, number])[];
  /** Seconds since the run started (a bucket's middle) and the retries the client made in that bucket. */
  readonly retries: readonly (readonly [number, number])[];
  readonly phases: readonly PhaseTime[];
  readonly partitions: readonly PartitionRow[];
}

export function buildExtractReport(facts: ExtractRunFacts, timeline: ExtractTimeline): ExtractReport {
  const { bucketMs, buckets } = timeline;
  const end = (i: number) => round(Math.min((i + 1) * bucketMs, Math.max(facts.durationMs, 1)) / 1000);
  const middle = (i: number) => round(Math.min((i + 0.5) * bucketMs, Math.max(facts.durationMs, 1)) / 1000);
  // Buckets past the run's end (the report is built a moment after it) fold into its last point.
  const gap = (0.6 * bucketMs) / 1000;
  const rowsOverTime: [number, number][] = [[0, 0]];
  let rows = 0;
  buckets.forEach(([read], i) => {
    rows += read;
    at(rowsOverTime, end(i), rows, gap);
  });
  const reading: [number, number][] = [];
  buckets.forEach(([, , open], i) =>
    at(reading, round(Math.min(i * bucketMs, Math.max(facts.durationMs, 1)) / 1000), open, gap),
  );
  if (reading.length > 0) at(reading, end(buckets.length - 1), reading.at(-1)![1], gap);
  const marks = (column: 3 | 4): [number, number][] =>
    buckets.flatMap((b, i): [number, number][] => (b[column] > 0 ? [[middle(i), b[column]]] : []));

  // A partition still reading when the run failed was reading until the end.
  const lastEnd = Math.max(0, ...timeline.partitions.map((p) => p.endMs ?? facts.durationMs));
  const planned = timeline.plannedMs ?? 0;
  const phases: PhaseTime[] = [
    { phase: 'Metadata and plan', ms: Math.round(Math.min(planned, facts.durationMs)) },
    { phase: 'Reading partitions', ms: Math.round(Math.max(0, lastEnd - planned)) },
    {
      phase: facts.status === 'succeeded' ? 'Commit and manifest' : 'Until the failure',
      ms: Math.round(Math.max(0, facts.durationMs - Math.max(planned, lastEnd))),
    },
    { phase: 'Whole run', ms: facts.durationMs },
  ];
  return {
    kind: 'extract',
    facts,
    rowsOverTime,
    reading,
    throttles: marks(3),
    retries: marks(4),
    phases,
    partitions: timeline.partitions.map((p) => [
      p.index,
      p.range,
      p.rows,
      p.pages,
      round(p.startMs / 1000),
      round(((p.endMs ?? facts.durationMs) - p.startMs) / 1000),
      p.status,
    ]),
  };
}

/**
 * Appends a point, or replaces the last one when it is less than `gap` seconds earlier: the point at the
 * run's end can fall a sliver after the bucket before it, too close for the chart to draw both.
 */
function at(series: [number, number][], t: number, value: number, gap: number): void {
  const last = series.at(-1);
  if (last && series.length > 1 && t - last[0] < gap) {
    last[0] = t;
    last[1] = value;
  } else series.push([t, value]);
}

/** A partition's condition as a person reads it: `createdon ge 2026-01-01T00:00:00Z and ...` -> a range. */
export function describeRange(filter: string | undefined): string {
  if (filter === undefined) return 'whole table';
  const lower = /\b(\w+) ge ([^ )]+)/.exec(filter);
  const upper = /\b(\w+) lt ([^ )]+)/.exec(filter);
  const column = lower?.[1] ?? upper?.[1];
  if (column && (lower || upper)) {
    return `${column} ${lower ? `from ${lower[2]}` : 'from the start'} ${upper ? `to before ${upper[2]}` : 'to the end'}`;
  }
  const nulls = /^(\w+) eq null$/.exec(filter);
  if (nulls) return `${nulls[1]} empty`;
  const open = /^(\w+) ne null$/.exec(filter);
  if (open) return `${open[1]} from the start to the end`;
  return filter;
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
