// The lines of a run's records.csv and errors.csv. Each chunk formats its own rows when it is written,
// so the fan-in only appends text in chunk order, whatever the size of the run.
import { formatCsvHeader, formatCsvLines } from '../csv/writer.js';
import { isSuccess, type RowOutcome, type RowStatus, type RunManifest } from './types.js';

const RESULT_COLUMNS = ['row', 'code', 'message', 'column'] as const;

/** What a run's result files count, per chunk and in all. */
export interface RowTally {
  succeeded: number;
  failed: number;
  byStatus: Record<Exclude<RowStatus, 'failed'>, number>;
}

export interface ResultLines {
  /** records.csv lines: every row, in row order. */
  readonly records: string;
  /** errors.csv lines: the failed rows, in row order. */
  readonly errors: string;
  readonly tally: RowTally;
}

export function emptyTally(): RowTally {
  return {
    succeeded: 0,
    failed: 0,
    byStatus: {
      created: 0,
      updated: 0,
      upserted: 0,
      deleted: 0,
      unchanged: 0,
      superseded: 0,
      associated: 0,
      disassociated: 0,
    },
  };
}

export function addTally(into: RowTally, more: RowTally): void {
  into.succeeded += more.succeeded;
  into.failed += more.failed;
  for (const key of Object.keys(into.byStatus) as (keyof RowTally['byStatus'])[]) {
    // Results stored before a status existed lack its count.
    into.byStatus[key] += more.byStatus[key] ?? 0;
  }
}

/**
 * Positions of the input columns that errors.csv and records.csv repeat. A fixed errors.csv dropped
 * back in carries the last run's `row`, `code`, `message` and `column`; unless the job maps them,
 * they are not repeated, so the new file has one set of them, this run's.
 */
export function echoedColumns(manifest: Pick<RunManifest, 'job' | 'header'>): number[] {
  const job = manifest.job as { columns?: Record<string, unknown> } | undefined;
  const mapped = new Set(Object.keys(job?.columns ?? {}));
  const ours = new Set<string>(RESULT_COLUMNS);
  return manifest.header.flatMap((name, i) => (ours.has(name) && !mapped.has(name) ? [] : [i]));
}

/** The input columns both files repeat (positions and names) and each file's columns. */
function resultColumns(manifest: Pick<RunManifest, 'job' | 'header'>) {
  const echoed = echoedColumns(manifest);
  const names = echoed.map((i) => manifest.header[i] ?? '');
  return { echoed, records: ['row', 'status', 'id', ...names], errors: [...names, ...RESULT_COLUMNS] };
}

/** The header lines (with a BOM, so Excel reads UTF-8) of errors.csv and records.csv. */
export function resultHeaders(manifest: Pick<RunManifest, 'job' | 'header'>): {
  readonly records: string;
  readonly errors: string;
} {
  const columns = resultColumns(manifest);
  return {
    records: formatCsvHeader({ columns: columns.records, bom: true }),
    errors: formatCsvHeader({ columns: columns.errors, bom: true }),
  };
}

/**
 * The result lines of these outcomes (sorted by row), echoing each row's input cells. errors.csv keeps
 * cells exactly as the user sent them (no formula prefixing), so fixing the rows and dropping the file
 * back in imports the same values; records.csv does the same, so it lines up with the input.
 */
export function resultLines(
  manifest: Pick<RunManifest, 'job' | 'header'>,
  outcomes: readonly RowOutcome[],
  cellsOf: (row: number) => readonly string[] | undefined,
): ResultLines {
  const columns = resultColumns(manifest);
  const tally = emptyTally();
  const records: string[][] = [];
  const errors: string[][] = [];
  for (const outcome of outcomes) {
    const cells = cellsOf(outcome.row);
    const padded = columns.echoed.map((i) => cells?.[i] ?? '');
    if (isSuccess(outcome)) {
      tally.succeeded += 1;
      if (outcome.status !== 'failed') tally.byStatus[outcome.status] += 1;
      records.push([String(outcome.row), outcome.status, outcome.id ?? '', ...padded]);
    } else {
      tally.failed += 1;
      errors.push([
        ...padded,
        String(outcome.row),
        outcome.code ?? 'Failed',
        outcome.message ?? '',
        outcome.column ?? '',
      ]);
      records.push([String(outcome.row), 'failed', '', ...padded]);
    }
  }
  return {
    records: formatCsvLines(records, { columns: columns.records, neutraliseFormulas: false }),
    errors: formatCsvLines(errors, { columns: columns.errors, neutraliseFormulas: false }),
    tally,
  };
}
