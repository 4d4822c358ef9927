// Writes report.html beside a finished import run's summary.json, from what the run stored.
import { parse } from 'csv-parse';
import { resultFiles, runPaths } from '../imports/paths.js';
import type { ChunkResult, RunManifest, RunSummary, StoredPlanResult } from '../imports/types.js';
import { getJson, type ObjectStore } from '../storage/object-store.js';
import { buildImportReport, FailureGrouper } from './import-report.js';
import { renderImportReportHtml } from './html.js';

export interface ReportDeps {
  readonly runs: ObjectStore;
  readonly results: ObjectStore;
  /** Failure messages and cells appear only when LOG_CELL_VALUES allows, as in the logs. */
  readonly cellValues: boolean;
}

/** Builds the report of a finished run and stores it as `<results prefix>report.html`; returns its size. */
/** What writing a report found: its size and the run's failed rows per code (for the run's metrics). */
export interface WrittenReport {
  readonly bytes: number;
  readonly failuresByCode: Readonly<Record<string, number>>;
}

export async function writeImportReport(deps: ReportDeps, runId: string): Promise<WrittenReport> {
  const manifest = await getJson<RunManifest>(deps.runs, runPaths.manifest(runId));
  if (!manifest) throw new Error(`Run ${runId} has no manifest`);
  const summary = await getJson<RunSummary>(deps.results, manifest.resultsPrefix + resultFiles.summary);
  if (!summary) throw new Error(`Run ${runId} has no summary yet`);
  const { html, failuresByCode } = await importReport(deps, manifest, summary);
  await deps.results.put(manifest.resultsPrefix + resultFiles.report, html, {
    contentType: 'text/html; charset=utf-8',
  });
  return { bytes: Buffer.byteLength(html), failuresByCode };
}

async function importReport(
  deps: ReportDeps,
  manifest: RunManifest,
  summary: RunSummary,
): Promise<{ html: string; failuresByCode: Record<string, number> }> {
  const chunks: ChunkResult[] = [];
  for (let chunk = 0; chunk < manifest.chunkCount; chunk += 1) {
    const result = await getJson<ChunkResult>(deps.runs, runPaths.chunkResult(manifest.runId, chunk));
    // Only the tallies and the trace are needed: the lines (as big as the chunk) are dropped at once.
    if (result) chunks.push({ ...result, lines: { records: '', errors: '', tally: result.lines.tally } });
  }
  const plan = await getJson<StoredPlanResult>(deps.runs, runPaths.planResult(manifest.runId));
  const failures = new FailureGrouper(deps.cellValues);
  const errors = await deps.results.getStream(manifest.resultsPrefix + resultFiles.errors);
  if (errors) {
    let header: string[] | undefined;
    for await (const record of errors.pipe(parse({ bom: true, relax_column_count: true }))) {
      const cells = record as string[];
      if (!header) {
        header = cells;
        continue;
      }
      // errors.csv ends with row, code, message, column (see result-lines.ts).
      const n = cells.length;
      const named: Record<string, string> = {};
      header.slice(0, -4).forEach((name, i) => (named[name] = cells[i] ?? ''));
      failures.add({
        row: Number(cells[n - 4]),
        code: cells[n - 3] ?? '',
        message: cells[n - 2] ?? '',
        column: cells[n - 1] ?? '',
        cells: named,
      });
    }
  }
  const report = buildImportReport({
    manifest,
    summary,
    chunks,
    ...(plan?.trace ? { planTrace: plan.trace } : {}),
    failures: failures.groups(),
    cellValues: deps.cellValues,
  });
  const failuresByCode = Object.fromEntries(report.failuresByCode.map((g) => [g.key, g.count]));
  const html = renderImportReportHtml(report, {
    files: [
      { label: 'summary.json', href: resultFiles.summary },
      ...(summary.rows.failed > 0
        ? [{ label: 'errors.csv (the failed rows, to fix and drop back in)', href: resultFiles.errors }]
        : []),
      { label: 'records.csv (every row and its record id)', href: resultFiles.records },
    ],
  });
  return { html, failuresByCode };
}

/**
 * The hook the fan-in calls: writes the report once (a later caller finds it) and never fails the run,
 * whose results are complete without it. Says whether this call was the first after the run ended.
 */
export async function ensureImportReport(
  deps: ReportDeps & { readonly log: { warn(message: string, properties?: Record<string, unknown>): void } },
  runId: string,
): Promise<{
  readonly state: 'written' | 'existed' | 'failed';
  readonly failuresByCode?: Record<string, number>;
}> {
  try {
    const manifest = await getJson<RunManifest>(deps.runs, runPaths.manifest(runId));
    if (!manifest || (await deps.results.exists(manifest.resultsPrefix + resultFiles.report)))
      return { state: 'existed' };
    const written = await writeImportReport(deps, runId);
    return { state: 'written', failuresByCode: { ...written.failuresByCode } };
  } catch (error) {
    deps.log.warn('The run report could not be written', {
      runId,
      reason: error instanceof Error ? error.message : String(error),
    });
    return { state: 'failed' };
  }
}
