// report.html of a 1,000,000-row extract: its size and how long headless Chromium takes to open it.
//   npx tsx bench/extract-report.ts [--rows 1000000] [--workers 8] [--page-size 5000] [--opens 5]
// The run is replayed into the product's own TimelineRecorder on a simulated clock: guided createdon
// slices (guidedCuts, as the planner cuts them, over an even density) read by `workers` workers, a full
// page taking about 775 ms and 3% of pages answered 429 first (a 1 s wait). The report is then built and
// rendered by the product's code (buildExtractReport, renderExtractReportHtml), as the runner does.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { timeReportOpens, type OpenTimes } from './lib/open-report.js';
import { guidedCuts } from '../src/extracts/partitions.js';
import { TimelineRecorder } from '../src/extracts/timeline.js';
import { renderExtractReportHtml } from '../src/reports/extract-html.js';
import { buildExtractReport, type ExtractRunFacts } from '../src/reports/extract-report.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    workers: { type: 'string', default: '8' },
    'page-size': { type: 'string', default: '5000' },
    opens: { type: 'string', default: '5' },
  },
});
const rows = Number(values.rows);
const workers = Number(values.workers);
const pageSize = Number(values['page-size']);
const opens = Number(values.opens);

let seed = 3;
const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;

// Partition sizes in rows: guided cuts over an even density, then the (empty) slice of rows without createdon.
const cuts = [0, ...guidedCuts(rows, workers), rows];
const sizes = [...cuts.slice(1).map((cut, i) => cut - cuts[i]!), 0];

// Simulate: each partition goes to the worker free first; its pages follow one another.
type Event = {
  at: number;
  kind: 'start' | 'page' | 'end';
  partition: number;
  rows: number;
  throttled: boolean;
};
const events: Event[] = [];
const free = Array.from({ length: workers }, () => 2_000); // metadata and the plan's two edge reads
let throttled = 0;
let requests = 3;
sizes.forEach((size, i) => {
  const worker = free.indexOf(Math.min(...free));
  let at = free[worker]!;
  events.push({ at, kind: 'start', partition: i + 1, rows: 0, throttled: false });
  let left = size;
  do {
    const pageRows = Math.min(pageSize, left);
    const hit = random() < 0.03;
    if (hit) {
      throttled += 1;
      requests += 1;
      at += 1_000;
    }
    at += 75 + (700 * pageRows) / pageSize + random() * 100;
    requests += 1;
    events.push({ at, kind: 'page', partition: i + 1, rows: pageRows, throttled: hit });
    left -= pageRows;
  } while (left > 0);
  events.push({ at, kind: 'end', partition: i + 1, rows: 0, throttled: false });
  free[worker] = at;
});
events.sort((a, b) => a.at - b.at);
const durationMs = Math.round(Math.max(...free) + 500);

const buildStarted = performance.now();
let now = 0;
const counters = { throttled: 0, retries: 0 };
const timeline = new TimelineRecorder(
  () => now,
  0,
  () => counters,
);
for (const event of events) {
  now = event.at;
  if (event.kind === 'start') timeline.partitionStarted(event.partition, `slice ${event.partition}`);
  else if (event.kind === 'end') timeline.partitionEnded(event.partition, 'read');
  else {
    if (event.throttled) {
      counters.throttled += 1;
      counters.retries += 1;
    }
    timeline.pageRead(event.partition, event.rows);
  }
}
now = durationMs;
const facts: ExtractRunFacts = {
  job: 'contacts-nightly',
  table: 'contact',
  runId: 'xbench',
  trigger: 'timer',
  status: 'succeeded',
  mode: 'full',
  format: 'csv',
  path: 'contacts-nightly/contacts.csv',
  manifestPath: 'contacts-nightly/contacts.manifest.json',
  rows,
  deletedRows: 0,
  bytes: rows * 180,
  partitions: sizes.length,
  startedAt: new Date(0).toISOString(),
  finishedAt: new Date(durationMs).toISOString(),
  durationMs,
  requests,
  retries: throttled,
  throttled,
};
const html = renderExtractReportHtml(buildExtractReport(facts, timeline.snapshot()));
const buildMs = performance.now() - buildStarted;
const reportBytes = Buffer.byteLength(html);

const dir = await mkdtemp(join(tmpdir(), 'dvp-bench-extract-report-'));
let times: OpenTimes;
try {
  const file = join(dir, 'contacts.report.html');
  await writeFile(file, html);
  times = await timeReportOpens(file, opens);
} finally {
  await rm(dir, { recursive: true, force: true });
}
console.log(
  JSON.stringify(
    {
      bench: 'extract-report',
      rows,
      workers,
      partitions: sizes.length,
      pages: events.filter((e) => e.kind === 'page').length,
      throttled,
      simulatedSeconds: durationMs / 1000,
      reportBytes,
      buildMs: Math.round(buildMs),
      ...times,
      goal: 'reportBytes < 2 MB and openMs.median < 2000',
    },
    null,
    2,
  ),
);
