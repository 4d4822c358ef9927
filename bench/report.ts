// report.html of a 1,000,000-row run: its size and how long headless Chromium takes to open it.
//   npx tsx bench/report.ts [--rows 1000000] [--failed-share 0.01] [--opens 5]
// The run is synthesised in a local run store (200 chunks of 5,000 rows, each with the request trace a
// real chunk keeps: a lookup, five CreateMultiple of 1,000, 429s on some) and errors.csv holds the failed
// rows; the report is then built by the product's own code (writeImportReport), as the fan-in does.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatCsvHeader, formatCsvLines } from '../src/csv/writer.js';
import { resultFiles, runPaths } from '../src/imports/paths.js';
import type { RequestTrace } from '../src/imports/request-trace.js';
import type { ChunkResult, RunManifest, RunSummary } from '../src/imports/types.js';
import { writeImportReport } from '../src/reports/write-report.js';
import { FileObjectStore } from '../src/storage/file-store.js';
import { putJson } from '../src/storage/object-store.js';
import { timeReportOpens } from './lib/open-report.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    'failed-share': { type: 'string', default: '0.01' },
    opens: { type: 'string', default: '5' },
  },
});
const rows = Number(values.rows);
const failedShare = Number(values['failed-share']);
const opens = Number(values.opens);
const chunkSize = 5_000;
const chunkCount = Math.ceil(rows / chunkSize);
const runId = 'rbench';
const start = Date.parse('2026-12-03T00:00:00.000Z');
// 1,000,000 rows in about 400 s: the order of the import benchmark's rate against the realistic profile.
const chunkMs = 400_000 / chunkCount;
const planMs = 20_000;

// A small deterministic generator, so every run of the bench builds the same report.
let seed = 7;
const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
const codes = ['StringTooLong', 'LookupNotFound', 'BadDate', 'BadChoice', 'MissingKey', '0x80040237'];
const columnsOf: Record<string, string> = {
  StringTooLong: 'Last Name',
  LookupNotFound: 'Company',
  BadDate: 'Birthday',
  BadChoice: 'Contact Method',
  MissingKey: 'Email',
  '0x80040237': '',
};
const header = ['Email', 'First Name', 'Last Name', 'Company', 'Contact Method', 'Birthday'];

const dir = await mkdtemp(join(tmpdir(), 'dvp-bench-report-'));
try {
  const runs = new FileObjectStore(join(dir, 'runs'));
  const results = new FileObjectStore(join(dir, 'results'));
  const manifest: RunManifest = {
    runId,
    input: { job: 'contacts', name: 'contacts-1m.csv', url: 'file:///contacts-1m.csv', etag: 'e' },
    job: { name: 'contacts' },
    jobName: 'contacts',
    header,
    chunkCount,
    chunkSize,
    totalRows: rows,
    planFailures: 0,
    dryRun: false,
    startedAt: new Date(start).toISOString(),
    plannedAt: new Date(start + planMs).toISOString(),
    planCounters: { requests: 3, retries: 0, throttled: 0 },
    resultsPrefix: `contacts/contacts-1m.csv/${runId}/`,
  };
  await putJson(runs, runPaths.manifest(runId), manifest);

  let failedRows = 0;
  let throttled = 0;
  let requests = 3;
  const errorColumns = [...header, 'row', 'code', 'message', 'column'];
  const errorLines: string[] = [formatCsvHeader({ columns: errorColumns, bom: true })];
  for (let chunk = 0; chunk < chunkCount; chunk += 1) {
    // Four chunks write at once, so each takes four slots' time.
    const t0 = start + planMs + chunk * chunkMs;
    const requestsOfChunk: [number, number, number, 0 | 1][] = [[0, 150, 200, 0]];
    const rowsOfChunk: [number, number, number][] = [];
    let at = 160;
    let failedHere = 0;
    for (let bulk = 0; bulk < chunkSize / 1000; bulk += 1) {
      if (random() < 0.05) {
        requestsOfChunk.push([at, 40, 429, 1]);
        throttled += 1;
        at += 1_000;
      }
      const took = 4 * chunkMs * (0.15 + random() * 0.05);
      requestsOfChunk.push([at, Math.round(took), 200, 1]);
      let failed = 0;
      for (let i = 0; i < 1000; i += 1) if (random() < failedShare) failed += 1;
      at += took;
      rowsOfChunk.push([Math.round(at), 1000, failed]);
      failedHere += failed;
    }
    const lines: string[][] = [];
    for (let i = 0; i < failedHere; i += 1) {
      const code = codes[Math.floor(random() * codes.length)]!;
      const row = 2 + chunk * chunkSize + Math.floor(random() * chunkSize);
      lines.push([
        `p${row}@example.com`,
        `First${row}`,
        `Last${row}`,
        'ACC-1',
        'Email',
        '1990-01-01',
        String(row),
        code,
        `${code} in row ${row}`,
        columnsOf[code]!,
      ]);
    }
    errorLines.push(formatCsvLines(lines, { columns: errorColumns }));
    failedRows += failedHere;
    requests += requestsOfChunk.length;
    const trace: RequestTrace = { t0, requests: requestsOfChunk, rows: rowsOfChunk };
    const result: ChunkResult = {
      runId,
      chunk,
      counters: {
        requests: requestsOfChunk.length,
        retries: requestsOfChunk.filter((r) => r[2] === 429).length,
        throttled: requestsOfChunk.filter((r) => r[2] === 429).length,
      },
      durationMs: Math.round(at),
      completedAt: new Date(t0 + at).toISOString(),
      lines: {
        records: '',
        errors: '',
        tally: {
          succeeded: chunkSize - failedHere,
          failed: failedHere,
          byStatus: {
            created: chunkSize - failedHere,
            updated: 0,
            upserted: 0,
            deleted: 0,
            unchanged: 0,
            superseded: 0,
            associated: 0,
            disassociated: 0,
          },
        },
      },
      trace,
    };
    await putJson(runs, runPaths.chunkResult(runId, chunk), result, { compact: true });
  }
  await results.put(manifest.resultsPrefix + resultFiles.errors, errorLines.join(''));
  const finishedAt = start + planMs + chunkCount * chunkMs + 4 * chunkMs + 2_000;
  const summary: RunSummary = {
    runId,
    job: 'contacts',
    status: failedRows > 0 ? 'completedWithErrors' : 'succeeded',
    input: { name: manifest.input.name, url: manifest.input.url, etag: 'e' },
    dryRun: false,
    rows: {
      total: rows,
      succeeded: rows - failedRows,
      failed: failedRows,
      created: rows - failedRows,
      updated: 0,
      upserted: 0,
      deleted: 0,
      unchanged: 0,
      superseded: 0,
    },
    chunks: chunkCount,
    durationMs: finishedAt - start,
    requests,
    retries: throttled,
    throttled,
    startedAt: manifest.startedAt,
    finishedAt: new Date(finishedAt).toISOString(),
    errorsFile: manifest.resultsPrefix + resultFiles.errors,
    recordsFile: manifest.resultsPrefix + resultFiles.records,
  };
  await putJson(results, manifest.resultsPrefix + resultFiles.summary, summary);

  const buildStarted = performance.now();
  const { bytes } = await writeImportReport({ runs, results, cellValues: false }, runId);
  const buildMs = performance.now() - buildStarted;
  const file = join(dir, 'results', manifest.resultsPrefix, resultFiles.report);
  if ((await stat(file)).size !== bytes) throw new Error('report.html was not written where expected');

  const times = await timeReportOpens(file, opens);
  console.log(
    JSON.stringify(
      {
        bench: 'report',
        rows,
        failedRows,
        throttled,
        chunks: chunkCount,
        reportBytes: bytes,
        buildMs: Math.round(buildMs),
        ...times,
        goal: 'reportBytes < 2 MB and openMs.median < 2000',
        peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      },
      null,
      2,
    ),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
