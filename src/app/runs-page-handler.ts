// The runs page and the result files it links to, read from the app's storage.
import { Readable } from 'node:stream';
import { resultFiles } from '../imports/paths.js';
import { inputTags } from '../imports/reconcile.js';
import { readRunStatus, type RunStatusView } from '../imports/status.js';
import type { RunSummary } from '../imports/types.js';
import { extractRunOfReport, type ExtractRunView } from '../reports/extract-html.js';
import { renderRunsPage } from '../reports/runs-page.js';
import type { ExtractManifest } from '../extracts/manifest.js';
import { EXTRACT_MANIFEST_SUFFIX, EXTRACT_REPORT_SUFFIX } from '../extracts/paths.js';
import { runningExtracts, staleAfterMs } from '../extracts/progress.js';
import { BlobObjectStore } from '../storage/blob-store.js';
import type { ObjectStore } from '../storage/object-store.js';
import { ensureImportReport } from '../reports/write-report.js';
import { silentLogger } from '../logging.js';
import { getJson } from '../storage/object-store.js';
import type { Runtime } from './runtime.js';

/** Summaries read at most per page: the results container keeps runs for the retention period. */
const MAX_SUMMARIES = 1_000;

interface ListedRun {
  readonly view: RunStatusView;
  /** Where its result files are in the results container; unknown while it runs. */
  readonly resultsPrefix?: string;
}

/** Runs that are working (their input's tags say so) and runs that ended (a summary in results/). */
export async function recentRuns(
  runtime: Pick<Runtime, 'containers' | 'runs' | 'results'>,
): Promise<ListedRun[]> {
  const found = new Map<string, ListedRun>();
  for await (const item of runtime.containers.incoming.listBlobsFlat({ includeTags: true })) {
    const runId = item.tags?.[inputTags.run];
    if (!runId || item.tags?.[inputTags.status] !== 'running' || found.has(runId)) continue;
    const view = await readRunStatus(runtime.runs, runtime.results, runId);
    if (view) found.set(runId, { view });
  }
  let read = 0;
  for await (const path of runtime.results.list('')) {
    if (!path.endsWith(`/${resultFiles.summary}`)) continue;
    if ((read += 1) > MAX_SUMMARIES) break;
    const summary = await getJson<RunSummary>(runtime.results, path);
    if (!summary) continue;
    const resultsPrefix = path.slice(0, -resultFiles.summary.length);
    found.set(summary.runId, { view: viewOfSummary(summary), resultsPrefix });
  }
  return [...found.values()];
}

function viewOfSummary(summary: RunSummary): RunStatusView {
  return {
    runId: summary.runId,
    job: summary.job,
    input: summary.input.name,
    state: summary.status,
    dryRun: summary.dryRun,
    chunks: { total: summary.chunks, done: summary.chunks },
    rows: {
      total: summary.rows.total,
      processed: summary.rows.total,
      succeeded: summary.rows.succeeded,
      failed: summary.rows.failed,
    },
    startedAt: summary.startedAt,
    summary,
  };
}

/**
 * Extract runs in the extracts container: finished ones from their manifest (the completion marker),
 * failed ones (a report and no manifest) from what their report says of itself; with `progress`, also
 * the ones still working, from their progress records (a run that has ended is listed as ended, even
 * in the moment its record is still there).
 */
export async function recentExtractRuns(
  extracts: ObjectStore,
  progress?: ObjectStore,
  now = new Date(),
): Promise<ExtractRunView[]> {
  const [ended, working] = await Promise.all([
    endedExtractRuns(extracts),
    progress ? workingExtractRuns(progress, now) : [],
  ]);
  const endedIds = new Set(ended.map((run) => run.runId));
  return [...ended, ...working.filter((run) => !endedIds.has(run.runId))];
}

async function workingExtractRuns(progress: ObjectStore, now: Date): Promise<ExtractRunView[]> {
  return (await runningExtracts(progress, now.getTime())).map((record) => {
    const updatedMs = Date.parse(record.updatedAt);
    return {
      runId: record.runId,
      job: record.job,
      table: record.table,
      status: now.getTime() - updatedMs > staleAfterMs ? 'interrupted' : 'running',
      mode: '',
      format: record.format,
      startedAt: record.startedAt,
      rows: record.rows,
      durationMs: Math.max(0, updatedMs - Date.parse(record.startedAt)),
      partitions: { done: record.partitionsDone, planned: record.partitions },
    };
  });
}

async function endedExtractRuns(extracts: ObjectStore): Promise<ExtractRunView[]> {
  const manifests = new Set<string>();
  const reports = new Set<string>();
  let listed = 0;
  for await (const path of extracts.list('')) {
    if (path.endsWith(EXTRACT_MANIFEST_SUFFIX)) manifests.add(path);
    else if (path.endsWith(EXTRACT_REPORT_SUFFIX)) reports.add(path);
    else continue;
    if ((listed += 1) > 2 * MAX_SUMMARIES) break;
  }
  const runs: ExtractRunView[] = [];
  for (const manifestPath of manifests) {
    const manifest = await getJson<ExtractManifest>(extracts, manifestPath);
    if (!manifest) continue;
    // From the manifest's own place: its `path` is the job's template, which may name the container.
    const reportPath = manifestPath.slice(0, -EXTRACT_MANIFEST_SUFFIX.length) + EXTRACT_REPORT_SUFFIX;
    reports.delete(reportPath);
    runs.push({
      runId: manifest.runId,
      job: manifest.job,
      table: manifest.table,
      status: 'succeeded',
      mode: manifest.mode,
      format: manifest.format,
      startedAt: manifest.startedAt,
      rows: manifest.rows,
      durationMs: manifest.durationMs,
      reportPath,
      manifestPath,
    });
  }
  for (const reportPath of reports) {
    // A report beside no manifest is a failed run's (`.failed.report.html`): a finished run writes its
    // manifest before its report.
    if (manifests.has(reportPath.slice(0, -EXTRACT_REPORT_SUFFIX.length) + EXTRACT_MANIFEST_SUFFIX)) continue;
    const html = await extracts.get(reportPath);
    const run = html ? extractRunOfReport(html.toString('utf8'), reportPath) : undefined;
    if (run?.status === 'failed') runs.push(run);
  }
  return runs;
}

/** `GET /api/runs`: the page. `query` is what the request's links must carry (a function key). */
export async function runsPageHtml(
  runtime: Pick<Runtime, 'containers' | 'runs' | 'results'>,
  linkQuery: string,
  now = new Date(),
): Promise<string> {
  const [runs, extracts] = await Promise.all([
    recentRuns(runtime),
    recentExtractRuns(new BlobObjectStore(runtime.containers.extracts), runtime.runs, now),
  ]);
  const prefixes = new Map(runs.map((run) => [run.view.runId, run.resultsPrefix]));
  const encoded = (path: string) => path.split('/').map(encodeURIComponent).join('/');
  return renderRunsPage(
    runs.map((run) => run.view),
    {
      now,
      fileHref: (runId, file) => `results/${encoded(prefixes.get(runId) ?? '')}${file}${linkQuery}`,
      extracts,
      extractHref: (path) => `extract-files/${encoded(path)}${linkQuery}`,
    },
  );
}

/**
 * `GET /api/extract-files/{*path}`: an extract run's report, manifest, deletes file or output file, from the
 * extracts container. The report's links (relative, to the files beside it) get the request's query.
 */
export async function readExtractFile(
  runtime: Pick<Runtime, 'containers'>,
  path: string,
  linkQuery: string,
): Promise<ResultFile | undefined> {
  const segments = path.split('/');
  const name = segments.at(-1) ?? '';
  const type = name.endsWith(EXTRACT_REPORT_SUFFIX)
    ? 'text/html; charset=utf-8'
    : name.endsWith(EXTRACT_MANIFEST_SUFFIX)
      ? 'application/json; charset=utf-8'
      : name.endsWith('.csv')
        ? 'text/csv; charset=utf-8'
        : name.endsWith('.parquet')
          ? 'application/vnd.apache.parquet'
          : undefined;
  if (!type || !plainSegments(segments)) return undefined;
  const extracts = new BlobObjectStore(runtime.containers.extracts);
  const headers = fileHeaders(type);
  if (name.endsWith(EXTRACT_REPORT_SUFFIX)) {
    const html = (await extracts.get(path))?.toString('utf8');
    if (html === undefined) return undefined;
    return { body: reportWithQuery(html, /href="([^"/?#:]+)"/g, linkQuery), headers };
  }
  const body = await extracts.getStream(path);
  if (!body) return undefined;
  if (!name.endsWith(EXTRACT_MANIFEST_SUFFIX))
    headers['Content-Disposition'] = `attachment; filename="${name}"`;
  return { body, headers };
}

const contentTypes: Record<string, string> = {
  [resultFiles.report]: 'text/html; charset=utf-8',
  [resultFiles.summary]: 'application/json; charset=utf-8',
  [resultFiles.errors]: 'text/csv; charset=utf-8',
  [resultFiles.records]: 'text/csv; charset=utf-8',
};

export interface ResultFile {
  readonly body: Readable;
  readonly headers: Record<string, string>;
}

/**
 * `GET /api/results/{*path}`: one of a run's result files. Only those four names, only inside the
 * results container; a report's own links to its files get the request's query (the function key).
 */
export async function readResultFile(
  runtime: Pick<Runtime, 'runs' | 'results' | 'settings'>,
  path: string,
  linkQuery: string,
): Promise<ResultFile | undefined> {
  const segments = path.split('/');
  const name = segments.at(-1) ?? '';
  const type = contentTypes[name];
  if (!type || segments.length < 4 || !plainSegments(segments)) return undefined;
  const headers = fileHeaders(type);
  if (name === resultFiles.report) {
    const html = (await runtime.results.get(path))?.toString('utf8') ?? (await reportNow(runtime, path));
    if (html === undefined) return undefined;
    return {
      body: reportWithQuery(html, /href="(summary\.json|errors\.csv|records\.csv)"/g, linkQuery),
      headers,
    };
  }
  const body = await runtime.results.getStream(path);
  if (!body) return undefined;
  if (type.startsWith('text/csv')) headers['Content-Disposition'] = `attachment; filename="${name}"`;
  return { body, headers };
}

/** No empty, `.` or `..` segment: a path cannot leave the folder it names. */
function plainSegments(segments: readonly string[]): boolean {
  return segments.every((s) => s !== '' && s !== '.' && s !== '..');
}

/** What every served file carries: its type, no sniffing, no script or fetch, no caching. */
function fileHeaders(type: string): Record<string, string> {
  return {
    'Content-Type': type,
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    'Cache-Control': 'no-store',
  };
}

/** A report whose links to the files beside it (the `href`s `links` captures) carry the request's query. */
function reportWithQuery(html: string, links: RegExp, linkQuery: string): Readable {
  const query = linkQuery.replace(/&/g, '&amp;');
  return Readable.from([Buffer.from(html.replace(links, (_, file: string) => `href="${file}${query}"`))]);
}

/**
 * A run that ended a moment ago (its summary is written just before its report), or whose report could
 * not be written at the fan-in: the report is built when asked for.
 */
async function reportNow(runtime: Pick<Runtime, 'runs' | 'results' | 'settings'>, path: string) {
  const runId = path.split('/').at(-2) ?? '';
  await ensureImportReport(
    {
      runs: runtime.runs,
      results: runtime.results,
      cellValues: runtime.settings.LOG_CELL_VALUES,
      log: silentLogger,
    },
    runId,
  );
  return (await runtime.results.get(path))?.toString('utf8');
}
