// Output path template rendering ({job}/{yyyy}/... placeholders of the job's output.path) and the
// paths of the files that travel with an extract.

export interface PathValues {
  readonly job: string;
  /** The run's scheduled time: the date parts are its UTC calendar fields. */
  readonly now: Date;
  readonly runId: string;
  readonly partition?: string;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** `20260126T020000Z`: sortable, and free of characters that blob tools or file systems dislike. */
export function compactTimestamp(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

export function renderPath(template: string, values: PathValues): string {
  const d = values.now;
  const parts: Record<string, string> = {
    job: values.job,
    yyyy: pad(d.getUTCFullYear(), 4),
    MM: pad(d.getUTCMonth() + 1),
    dd: pad(d.getUTCDate()),
    HH: pad(d.getUTCHours()),
    mm: pad(d.getUTCMinutes()),
    ss: pad(d.getUTCSeconds()),
    timestamp: compactTimestamp(d),
    runId: values.runId,
    partition: values.partition ?? '',
  };
  return template.replace(/\{([^}]*)\}/g, (whole, name: string) => parts[name] ?? whole).replace(/^\/+/, '');
}

/** The template's `.csv` / `.parquet` ending made to match the format (a run in another format than the job's). */
export function withExtension(template: string, format: 'csv' | 'parquet'): string {
  return template.replace(/\.(csv|parquet)$/i, `.${format}`);
}

/**
 * What the companion files are named after: `a/b/x.csv` -> `a/b/x`, but `a/b/x.parquet` -> `a/b/x.parquet`.
 * A CSV extract and a Parquet extract of one name can share a folder (two jobs, or one job run in both
 * formats), so their manifests and reports must not be one file. CSV keeps the names it always had
 * (`x.manifest.json`, `x.report.html`: scripts wait for them); Parquet, the newer format, carries its
 * extension in them (`x.parquet.manifest.json`), which still ends in the suffixes the runs page lists by.
 */
function base(path: string): string {
  const extension = /\.csv$/i.exec(path);
  return extension ? path.slice(0, extension.index) : path;
}

/** How an extract's manifest and report end: the runs page finds runs by them. */
export const EXTRACT_MANIFEST_SUFFIX = '.manifest.json';
export const EXTRACT_REPORT_SUFFIX = '.report.html';

/** The manifest beside the file; written last, so its presence means the extract is complete. */
export function manifestPathOf(csvPath: string): string {
  return `${base(csvPath)}${EXTRACT_MANIFEST_SUFFIX}`;
}

/** Deleted record ids when the job reports deletes in a separate file. */
export function deletesPathOf(csvPath: string): string {
  return `${base(csvPath)}.deletes.csv`;
}

/** Where a job's incremental state (watermark, delta link) lives in the state store. */
export function statePathOf(job: string): string {
  return `extract-state/${job}.json`;
}

/** The run's report.html beside its file: `a/b/x.csv` -> `a/b/x.report.html` (runs can share a folder). */
export function reportPathOf(csvPath: string): string {
  return `${base(csvPath)}${EXTRACT_REPORT_SUFFIX}`;
}

/**
 * A failed run's report: a name of its own, so a failure at a path that already holds a finished run
 * (the CLI's fixed --out) leaves that run's report as it was.
 */
export function failedReportPathOf(csvPath: string): string {
  return `${base(csvPath)}.failed${EXTRACT_REPORT_SUFFIX}`;
}
