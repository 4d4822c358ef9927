// The runs page: recent runs per job, their state and progress, and links to each run's report and
// result files. Plain HTML with no script; while a run works the page reloads itself.
import type { RunStatusView } from '../imports/status.js';
import { resultFiles } from '../imports/paths.js';
import type { ExtractRunView } from './extract-html.js';
import { escapeHtml, seconds } from './html.js';

/** Seconds between reloads while a run works. */
export const REFRESH_SECONDS = 5;

export interface RunsPageOptions {
  /** The link to one of a run's files (report.html, summary.json, errors.csv, records.csv). */
  readonly fileHref: (runId: string, file: string) => string;
  readonly now: Date;
  /** Runs shown per job, newest first. */
  readonly perJob?: number;
  /** Extract runs (working, finished or failed), and the link to a file of theirs in the extracts container. */
  readonly extracts?: readonly ExtractRunView[];
  readonly extractHref?: (path: string) => string;
}

const number = (n: number) => n.toLocaleString('en-US');

/** Runs grouped by job (jobs in name order), newest first, `perJob` at most each. */
function byJobOf<T extends { readonly job: string; readonly startedAt: string }>(
  runs: readonly T[],
  perJob: number,
): [string, T[]][] {
  const byJob = new Map<string, T[]>();
  for (const run of [...runs].sort((a, b) => b.startedAt.localeCompare(a.startedAt))) {
    const list = byJob.get(run.job) ?? [];
    if (list.length < perJob) list.push(run);
    byJob.set(run.job, list);
  }
  return [...byJob].sort(([a], [b]) => a.localeCompare(b));
}

export function renderRunsPage(runs: readonly RunStatusView[], options: RunsPageOptions): string {
  const perJob = options.perJob ?? 20;
  const running =
    runs.some((run) => run.state === 'running') ||
    (options.extracts ?? []).some((run) => run.status === 'running');
  const sections = byJobOf(runs, perJob)
    .map(([job, list]) => {
      const rows = list.map((run) => row(run, options)).join('\n');
      return `<section data-job="${escapeHtml(job)}"><h3>${escapeHtml(job)}</h3>
<table><thead><tr><th>started (UTC)</th><th>input</th><th>state</th><th>progress</th><th>succeeded</th><th>failed</th><th>files</th></tr></thead>
<tbody>
${rows}
</tbody></table></section>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
${running ? `<meta http-equiv="refresh" content="${REFRESH_SECONDS}">` : ''}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dataverse-pipelines: runs</title>
<style>body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 12px}
h1{font-size:1.4em}h2{font-size:1.25em;margin-top:32px;border-bottom:1px solid #ddd}h3{font-size:1.1em;margin-top:20px}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}td.n{text-align:right}
.state{padding:1px 8px;border-radius:9px;color:#fff;font-size:.9em}.running{background:#1565c0}
.succeeded{background:#2e7d32}.completedWithErrors{background:#b26a00}.failed{background:#c62828}.interrupted{background:#6d4c41}
progress{width:140px}.muted{color:#666;font-size:.9em}</style></head>
<body>
<h1>Runs</h1>
<p class="muted">${escapeHtml(options.now.toISOString().replace('T', ' ').slice(0, 19))} UTC${
    running ? ` · a run is working: this page reloads every ${REFRESH_SECONDS} s` : ''
  }</p>
<h2 id="imports">Imports</h2>
${sections || '<p id="no-runs">No imports yet: drop a CSV file into incoming/&lt;job&gt;/.</p>'}
${extractSections(options.extracts ?? [], perJob, options.extractHref ?? ((path) => path))}
</body></html>
`;
}

function row(run: RunStatusView, options: RunsPageOptions): string {
  const { rows } = run;
  const percent = rows.total > 0 ? Math.floor((rows.processed * 100) / rows.total) : 100;
  const links =
    run.state === 'running'
      ? '<span class="muted">when it ends</span>'
      : [
          ...(run.summary?.error ? [] : [resultFiles.report]),
          resultFiles.summary,
          ...(rows.failed > 0 ? [resultFiles.errors] : []),
          ...(run.summary?.error ? [] : [resultFiles.records]),
        ]
          .map((file) => `<a href="${escapeHtml(options.fileHref(run.runId, file))}">${escapeHtml(file)}</a>`)
          .join(' · ');
  return `<tr data-run-id="${escapeHtml(run.runId)}"><td>${escapeHtml(run.startedAt.replace('T', ' ').slice(0, 19))}</td>
<td>${escapeHtml(run.input)}${run.dryRun ? ' <span class="muted">(dry run)</span>' : ''}</td>
<td><span class="state ${escapeHtml(run.state)}">${escapeHtml(run.state)}</span>${
    run.summary?.error
      ? `<div class="muted run-error">${escapeHtml(run.summary.error.code)}: ${escapeHtml(run.summary.error.message)}</div>`
      : ''
  }</td>
<td><progress max="${rows.total}" value="${rows.processed}"></progress> <span class="progress">${number(rows.processed)} of ${number(rows.total)} (${percent}%)</span></td>
<td class="n succeeded-count">${number(rows.succeeded)}</td><td class="n failed-count">${number(rows.failed)}</td><td>${links}</td></tr>`;
}

function extractSections(
  runs: readonly ExtractRunView[],
  perJob: number,
  href: (path: string) => string,
): string {
  if (runs.length === 0) return '';
  const link = (path: string, label: string) =>
    `<a href="${escapeHtml(href(path))}">${escapeHtml(label)}</a>`;
  const files = (run: ExtractRunView) =>
    run.status === 'running'
      ? '<span class="muted">when it ends</span>'
      : run.status === 'interrupted'
        ? '<span class="muted">none: the run stopped without ending (run it again)</span>'
        : [
            ...(run.reportPath ? [link(run.reportPath, 'report.html')] : []),
            ...(run.manifestPath ? [link(run.manifestPath, 'manifest.json')] : []),
          ].join(' · ');
  // While it works: how many of the partitions planned so far are done (the plan may still split).
  const partitions = (run: ExtractRunView) =>
    run.partitions && run.status === 'running'
      ? `<div class="muted partitions">partitions ${number(run.partitions.done)} of ${number(run.partitions.planned)} read</div>`
      : '';
  const sections = byJobOf(runs, perJob).map(([job, list]) => {
    const rows = list
      .map(
        (
          run,
        ) => `<tr data-run-id="${escapeHtml(run.runId)}"><td>${escapeHtml(run.startedAt.replace('T', ' ').slice(0, 19))}</td>
<td>${escapeHtml(run.table)}</td><td>${escapeHtml(run.mode || '…')}</td><td>${escapeHtml(run.format)}</td>
<td><span class="state ${escapeHtml(run.status)}">${escapeHtml(run.status)}</span>${partitions(run)}</td>
<td class="n rows">${number(run.rows)}</td><td class="n">${escapeHtml(seconds(run.durationMs))}</td>
<td>${files(run)}</td></tr>`,
      )
      .join('\n');
    return `<section data-extract-job="${escapeHtml(job)}"><h3>${escapeHtml(job)}</h3>
<table><thead><tr><th>started (UTC)</th><th>table</th><th>read</th><th>format</th><th>state</th><th>rows</th><th>duration</th><th>files</th></tr></thead>
<tbody>
${rows}
</tbody></table></section>`;
  });
  return `<h2 id="extracts">Extracts</h2>\n${sections.join('\n')}`;
}
