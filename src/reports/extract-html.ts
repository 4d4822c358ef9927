// The HTML of an extract run's report: like an import's, one self-contained file with finished SVG, no
// script and a policy that forbids every fetch. It holds counts, times and ranges, never a cell value.
import { partitionsChart, readingChart, rowsReadChart } from './charts.js';
import type { ExtractReport } from './extract-report.js';
import { dataTable, details, escapeHtml, figure, number, phasesFigure, seconds, STYLE } from './html.js';

/** Partitions drawn in the chart at most (the table below it lists every one). */
export const MAX_CHARTED_PARTITIONS = 200;

const basename = (path: string) => path.split('/').at(-1) ?? path;

const modeText: Record<ExtractReport['facts']['mode'], string> = {
  full: 'full (every row)',
  watermark: 'delta (rows changed since the stored watermark)',
  changeTracking: 'delta (changes since the stored delta token)',
};

export function renderExtractReportHtml(report: ExtractReport): string {
  const { facts } = report;
  const duration = facts.durationMs / 1000;
  const rate = facts.durationMs > 0 ? Math.round((facts.rows * 1000) / facts.durationMs) : facts.rows;
  const summaryRows: [string, string | number][] = [
    ['Table', facts.table],
    ['Format', facts.format],
    ['Read', `${modeText[facts.mode]}${facts.fullReason ? `: ${facts.fullReason}` : ''}`],
    ['Rows', facts.rows],
    ...(facts.deletedRows ? [['Deleted rows', facts.deletedRows] as [string, number]] : []),
    ['Files written', facts.status === 'succeeded' ? 1 + (facts.deletesPath ? 1 : 0) : 0],
    ...(facts.bytes !== undefined ? [['Bytes', facts.bytes] as [string, number]] : []),
    ['Partitions', facts.partitions],
    ['Duration', seconds(facts.durationMs)],
    ['Rows per second', rate],
    ['Requests', facts.requests],
    ['Retries', facts.retries],
    ['429 answers', facts.throttled],
    ...(facts.watermark
      ? ([
          ['Watermark column', facts.watermark.column],
          ['Watermark from', facts.watermark.from ?? '(none: first run)'],
          ['Watermark to', facts.watermark.to ?? '(no row read)'],
        ] as [string, string][])
      : []),
    ...(facts.deltaToken
      ? ([
          [
            'Delta token',
            facts.deltaToken.used ? 'the stored one was used' : 'none stored: whole table read',
          ],
        ] as [string, string][])
      : []),
  ];
  const files = [
    ...(facts.status === 'succeeded'
      ? [
          {
            label: `${basename(facts.path)} (the ${facts.format.toUpperCase()} file)`,
            href: basename(facts.path),
          },
        ]
      : []),
    ...(facts.status === 'succeeded' && facts.deletesPath
      ? [{ label: `${basename(facts.deletesPath)} (deleted record ids)`, href: basename(facts.deletesPath) }]
      : []),
    ...(facts.manifestPath
      ? [{ label: `${basename(facts.manifestPath)} (the manifest)`, href: basename(facts.manifestPath) }]
      : []),
  ];
  const fileList = files.length
    ? `<ul id="files">${files.map((f) => `<li><a href="${escapeHtml(f.href)}">${escapeHtml(f.label)}</a></li>`).join('')}</ul>`
    : '<p id="files" class="muted">The run failed: nothing was published (the output is committed only when every partition was read).</p>';

  const partitions = report.partitions;
  const charted = partitions.slice(0, MAX_CHARTED_PARTITIONS);
  const throttledText =
    facts.throttled === 1 ? '1 answer was 429' : `${number(facts.throttled)} answers were 429`;
  const charts = [
    figure(
      1,
      'Rows read from Dataverse over time (cumulative)',
      rowsReadChart(report.rowsOverTime, duration),
      details('Data', dataTable(['s', 'rows read'], report.rowsOverTime)),
    ),
    figure(
      2,
      `Partitions being read at once over time; ${throttledText} (triangles, with their number)`,
      readingChart(report.reading, report.throttles, duration),
      details(
        'Data',
        dataTable(['s', 'partitions reading'], report.reading) +
          (report.throttles.length ? dataTable(['s', '429s'], report.throttles) : ''),
      ),
    ),
    figure(
      3,
      partitions.length > charted.length
        ? `The first ${number(charted.length)} of ${number(partitions.length)} partitions: when each was read and its rows`
        : 'Partitions: when each was read and its rows',
      partitionsChart(
        charted.map(([index, , rows, , startS, secs, status]) => ({
          label: `#${index}`,
          startS,
          seconds: secs,
          rows,
          failed: status === 'failed',
        })),
        duration,
      ),
      '',
    ),
    phasesFigure(4, 'Time per phase', report.phases),
  ];
  const partitionTable = dataTable(
    ['#', 'range', 'rows', 'pages', 'started (s)', 'took (s)', 'status'],
    partitions,
  ).replace('<table>', '<table id="partitions">');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(`${facts.job}: extract of ${facts.table} (${facts.runId})`)}</title>
<style>${STYLE}
#partitions td:nth-child(2){text-align:left}#partitions td{text-align:right}.read{color:#2e7d32}.reading{color:#b26a00}td.failed{color:#c62828;font-weight:600}</style></head>
<body data-run-id="${escapeHtml(facts.runId)}" data-kind="extract" data-job="${escapeHtml(facts.job)}" data-table="${escapeHtml(facts.table)}" data-status="${escapeHtml(facts.status)}" data-mode="${escapeHtml(facts.mode)}" data-format="${escapeHtml(facts.format)}" data-started="${escapeHtml(facts.startedAt)}" data-rows="${facts.rows}" data-duration-ms="${facts.durationMs}">
<h1>Extract of ${escapeHtml(facts.table)} with job ${escapeHtml(facts.job)}</h1>
<p><span id="status" class="status ${escapeHtml(facts.status)}">${escapeHtml(facts.status)}</span>
<span class="muted">run ${escapeHtml(facts.runId)} (${escapeHtml(facts.trigger)}), ${escapeHtml(facts.startedAt)} to ${escapeHtml(facts.finishedAt)}</span></p>
${facts.error ? `<p id="run-error"><strong>${escapeHtml(facts.error.code)}</strong>: ${escapeHtml(facts.error.message)}</p>` : ''}
<h2>Summary</h2>
${dataTable([], summaryRows).replace('<table>', '<table id="summary">')}
<h2>Files</h2>
${fileList}
<h2>Over time</h2>
${charts.join('\n')}
<h2>Partitions</h2>
${statusCells(partitionTable)}
<h2>Failures and retries</h2>
${failuresSection(report)}
</body></html>
`;
}

/** The status cell of each partition row gets its status as a class, so failed ones stand out. */
function statusCells(table: string): string {
  return table.replace(/<td>(read|reading|failed)<\/td><\/tr>/g, '<td class="$1">$1</td></tr>');
}

function failuresSection(report: ExtractReport): string {
  const { facts } = report;
  const failed = report.partitions.filter((p) => p[6] !== 'read');
  if (!facts.error && failed.length === 0 && facts.retries === 0 && facts.throttled === 0) {
    return '<p id="no-failures">No request failed or was retried, and no partition failed.</p>';
  }
  const parts: string[] = [];
  if (facts.error) {
    parts.push(
      `<p>The run failed with <strong>${escapeHtml(facts.error.code)}</strong>. Nothing was published and the stored position did not move: run it again.</p>`,
    );
  }
  if (failed.length > 0) {
    parts.push(
      dataTable(
        ['#', 'range', 'rows read', 'status'],
        failed.map((p) => [p[0], p[1], p[2], p[6] === 'reading' ? 'stopped (the run failed)' : p[6]]),
      ).replace('<table>', '<table id="failed-partitions">'),
    );
  }
  parts.push(
    `<p id="retries">Dataverse answered 429 (Too Many Requests) ${number(facts.throttled)} ${facts.throttled === 1 ? 'time' : 'times'}; the client retried ${number(facts.retries)} ${facts.retries === 1 ? 'request' : 'requests'}.</p>`,
  );
  if (report.retries.length > 0)
    parts.push(details('Retries over time', dataTable(['s', 'retries'], report.retries)));
  return parts.join('\n');
}

/** What the runs page lists of an extract run. */
export interface ExtractRunView {
  readonly runId: string;
  readonly job: string;
  readonly table: string;
  /** `running` while its progress record moves; `interrupted` when it stopped moving with no end written. */
  readonly status: 'succeeded' | 'failed' | 'running' | 'interrupted';
  /** How it read (full, watermark, changeTracking); empty while it runs (decided as it reads). */
  readonly mode: string;
  readonly format: string;
  readonly startedAt: string;
  /** Rows written, or read so far while it runs. */
  readonly rows: number;
  /** Time it took, or has taken until its last progress record. */
  readonly durationMs: number;
  /** Paths in the extracts container; none until the run has ended. */
  readonly reportPath?: string;
  readonly manifestPath?: string;
  /** While it runs: partitions finished of those planned so far. */
  readonly partitions?: { readonly done: number; readonly planned: number };
}

/**
 * A run that failed has no manifest; its report's body carries what the runs page lists (it writes
 * them there). Undefined for any other page.
 */
export function extractRunOfReport(html: string, reportPath: string): ExtractRunView | undefined {
  const body = /<body ([^>]*)>/.exec(html)?.[1] ?? '';
  const attributes = new Map(
    [...body.matchAll(/data-([a-z-]+)="([^"]*)"/g)].map((m) => [m[1]!, unescapeHtml(m[2]!)]),
  );
  const status = attributes.get('status');
  if (attributes.get('kind') !== 'extract' || (status !== 'succeeded' && status !== 'failed'))
    return undefined;
  return {
    runId: attributes.get('run-id') ?? '',
    job: attributes.get('job') ?? '',
    table: attributes.get('table') ?? '',
    status,
    mode: attributes.get('mode') ?? '',
    format: attributes.get('format') ?? '',
    startedAt: attributes.get('started') ?? '',
    rows: Number(attributes.get('rows') ?? 0),
    durationMs: Number(attributes.get('duration-ms') ?? 0),
    reportPath,
  };
}

function unescapeHtml(text: string): string {
  return text.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
}
