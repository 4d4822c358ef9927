// The HTML of a run's report: one self-contained file (inline CSS and SVG, no script, a policy that
// forbids every fetch), so it opens the same from a blob, a disk or an e-mail attachment.
import type { FailureGroup, ImportReport } from './import-report.js';
import { barsChart, requestsChart, rowsChart } from './charts.js';
import { bindingText, fasterThanForecast } from '../imports/forecast.js';

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export const number = (n: number) => n.toLocaleString('en-US');
export const seconds = (ms: number) =>
  `${(ms / 1000).toLocaleString('en-US', { maximumFractionDigits: 1 })} s`;

/**
 * ECharts names its SVG definitions `zr0-...` in every chart; several charts in one document would
 * share clip paths, so each chart gets its own prefix.
 */
export function figure(index: number, caption: string, svg: string, data: string): string {
  const own = svg.replace(/zr\d+-/g, `chart${index}-`);
  return `<figure data-chart="${index}"><div role="img" aria-label="${escapeHtml(caption)}">${own}</div>
<figcaption>${escapeHtml(caption)}</figcaption>${data}</figure>`;
}

export function dataTable(
  headers: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): string {
  const head = headers.length
    ? `<thead><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>`
    : '';
  const body = rows
    .map(
      (r) =>
        `<tr>${r.map((c) => `<td>${escapeHtml(typeof c === 'number' ? number(c) : c)}</td>`).join('')}</tr>`,
    )
    .join('\n');
  return `<table>${head}<tbody>\n${body}\n</tbody></table>`;
}

function failureTable(
  id: string,
  title: string,
  keyName: string,
  groups: readonly FailureGroup[],
  cellValues: boolean,
) {
  if (groups.length === 0) return '';
  const rows = groups
    .map((g) => {
      const examples = g.examples
        .map((e) => {
          const detail = cellValues
            ? ` ${escapeHtml(e.message ?? '')}${e.cells ? ` <code>${escapeHtml(JSON.stringify(e.cells))}</code>` : ''}`
            : '';
          return `<li>row ${number(e.row)}${e.column ? ` (${escapeHtml(e.column)})` : ''}${detail}</li>`;
        })
        .join('');
      return `<tr><td class="key">${escapeHtml(g.key)}</td><td class="count">${number(g.count)}</td><td><ul>${examples}</ul></td></tr>`;
    })
    .join('\n');
  return `<h3>${escapeHtml(title)}</h3><table id="${id}"><thead><tr><th>${escapeHtml(keyName)}</th><th>rows</th><th>examples</th></tr></thead><tbody>
${rows}
</tbody></table>`;
}

export const STYLE = `body{font-family:system-ui,sans-serif;margin:24px auto;max-width:960px;color:#222;padding:0 12px}
h1{font-size:1.4em;margin-bottom:4px}h2{font-size:1.15em;margin-top:32px;border-bottom:1px solid #ddd}
.status{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}
.succeeded{background:#2e7d32}.completedWithErrors{background:#b26a00}.failed{background:#c62828}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
td.count,#summary td{text-align:right}ul{margin:0;padding-left:18px}figure{margin:16px 0}
figcaption{font-size:.9em;color:#555}details{margin:4px 0}.muted{color:#666;font-size:.9em}`;

export interface ReportLinks {
  /** Result files beside the report, by label: relative links, so the folder can move. */
  readonly files: readonly { readonly label: string; readonly href: string }[];
}

export function renderImportReportHtml(report: ImportReport, links: ReportLinks): string {
  const { summary } = report;
  const { rows } = summary;
  const rate = summary.durationMs > 0 ? Math.round((rows.total * 1000) / summary.durationMs) : rows.total;
  const summaryRows: [string, string | number][] = [
    ['Rows in the file', rows.total],
    ['Succeeded', rows.succeeded],
    ['Failed', rows.failed],
    ['Created', rows.created],
    ['Updated', rows.updated],
    ['Upserted', rows.upserted],
    ['Deleted', rows.deleted],
    ['Unchanged', rows.unchanged],
    ['Superseded', rows.superseded],
    // Association runs only: their counts are absent elsewhere.
    ...(rows.associated ? [['Associated', rows.associated] as [string, number]] : []),
    ...(rows.disassociated ? [['Disassociated', rows.disassociated] as [string, number]] : []),
    ['Duration', seconds(summary.durationMs)],
    ['Rows per second', rate],
    ['Requests', summary.requests],
    ['Retries', summary.retries],
    ['429 answers', summary.throttled],
    ['Chunks', summary.chunks],
  ];
  const charts = [
    figure(
      1,
      'Rows written and refused by Dataverse over time (cumulative)',
      rowsChart(report.rowsOverTime, summary.durationMs / 1000),
      details('Data', dataTable(['s', 'rows written', 'rows refused'], report.rowsOverTime)),
    ),
    figure(
      2,
      `Requests in flight over time; ${summary.throttled === 1 ? '1 answer was' : `${number(summary.throttled)} answers were`} 429 (triangles)`,
      requestsChart(report.inFlight, report.throttles, summary.durationMs / 1000),
      details('Data', dataTable(['s', 'in flight'], report.inFlight)),
    ),
    phasesFigure(
      3,
      'Time per phase (lookups and writes: time with at least one request open)',
      report.phases,
    ),
  ];
  const failures =
    rows.failed === 0
      ? '<p id="no-failures">No row failed.</p>'
      : [
          report.cellValues
            ? ''
            : '<p class="muted">Messages and cell values are left out (they may hold personal data); set LOG_CELL_VALUES=true to include them. errors.csv has every failed row.</p>',
          failureTable('failures-by-code', 'By code', 'code', report.failuresByCode, report.cellValues),
          failureTable(
            'failures-by-column',
            'By column',
            'column',
            report.failuresByColumn,
            report.cellValues,
          ),
        ].join('\n');
  const fileLinks = links.files
    .map((f) => `<li><a href="${escapeHtml(f.href)}">${escapeHtml(f.label)}</a></li>`)
    .join('');
  const error = summary.error
    ? `<p id="run-error"><strong>${escapeHtml(summary.error.code)}</strong>: ${escapeHtml(summary.error.message)}</p>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(`${summary.job}: ${summary.input.name} (${summary.runId})`)}</title>
<style>${STYLE}</style></head>
<body data-run-id="${escapeHtml(summary.runId)}">
<h1>Import of ${escapeHtml(summary.input.name)} with job ${escapeHtml(summary.job)}</h1>
<p><span id="status" class="status ${escapeHtml(summary.status)}">${escapeHtml(summary.status)}</span>
${summary.dryRun ? ' <strong>dry run: nothing was written</strong>' : ''}
<span class="muted">run ${escapeHtml(summary.runId)}, ${escapeHtml(summary.startedAt)} to ${escapeHtml(summary.finishedAt)}</span></p>
${error}
<h2>Summary</h2>
${dataTable([], summaryRows).replace('<table>', '<table id="summary">')}
${forecastSection(summary)}
<h2>Result files</h2><ul id="files">${fileLinks}</ul>
<h2>Over time</h2>
${charts.join('\n')}
<h2>Failures</h2>
${failures}
<h2>Chunks</h2>
${details(`${number(report.chunks.length)} chunks`, dataTable(['chunk', 'rows', 's', 'requests', '429s'], report.chunks))}
</body></html>
`;
}

/** The run's pace against the forecast's, and why when it beat the forecast (`fasterThanForecast`). */
export function paceText(speedOfLimits: number): string {
  if (!fasterThanForecast(speedOfLimits))
    return `The run went at ${Math.round(speedOfLimits * 100)}% of the pace the limits allow.`;
  return (
    `The run went ${speedOfLimits.toFixed(1)} times as fast as the forecast: the server took less time per ` +
    'record than the documented costs the forecast is made of.'
  );
}

/** The forecast (from the table's documented costs) beside what the run did, when the summary has one. */
function forecastSection(summary: ImportReport['summary']): string {
  const f = summary.forecast;
  if (!f) return '';
  const who = `${f.identities} ${f.identities === 1 ? 'identity' : 'identities'}`;
  const rows: [string, string | number, string | number][] = [
    [
      'Duration',
      `${f.durationSeconds.toFixed(1)} s at the limits (${bindingText(f.binding)})`,
      f.actual ? `${f.actual.durationSeconds.toFixed(1)} s` : '-',
    ],
    ['Requests', f.requests, f.actual ? f.actual.requests : '-'],
    ['Dataverse execution time', `${Math.round(f.executionSeconds)} s`, '-'],
    ['Power Platform requests (daily entitlement)', f.entitlementRequests, '-'],
  ];
  const pace = f.actual ? `<p id="forecast-pace">${paceText(f.actual.speedOfLimits)}</p>` : '';
  return `<h2>Forecast and actual</h2>
<p class="muted">Forecast for ${escapeHtml(who)} from the documented per-record costs (summary.json's forecast).</p>
${dataTable(['', 'forecast', 'actual'], rows).replace('<table>', '<table id="forecast">')}
${pace}`;
}

/** A run's time per phase: bars, with the figures in a table below. */
export function phasesFigure(
  index: number,
  caption: string,
  phases: readonly { readonly phase: string; readonly ms: number }[],
): string {
  return figure(
    index,
    caption,
    barsChart(
      'Time per phase',
      'ms',
      phases.map((p) => ({ label: p.phase, value: p.ms })),
    ),
    details(
      'Data',
      dataTable(
        ['phase', 'ms'],
        phases.map((p) => [p.phase, p.ms]),
      ),
    ),
  );
}

export function details(summary: string, body: string): string {
  return `<details><summary>${escapeHtml(summary)}</summary>${body}</details>`;
}
