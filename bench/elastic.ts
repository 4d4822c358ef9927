// Import into an elastic table (issue 20) against the emulator in the realistic profile with limits on,
// as a fraction of the ceiling those limits allow for CreateMultiple at the elastic table's recommended
// 100 records per request (the emulator's /ceiling answer for this run's length).
//   npx tsx bench/elastic.ts [--rows 50000] [--time-scale 0.1] [--window 20] [--bad 0.001] [--compare]
import { writeFile, mkdtemp } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from '../src/app/dataverse.js';
import { parseImportJob } from '../src/config/job.js';
import { runLocalImport } from '../src/imports/local-run.js';
import { RequestMeter } from '../src/imports/request-meter.js';
import { silentLogger } from '../src/logging.js';
import { startEmulatorProcess } from './lib/emulator-process.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '50000' },
    'time-scale': { type: 'string', default: '0.1' },
    window: { type: 'string', default: '20' },
    // Share of rows whose id another record holds already: only the service can refuse them.
    bad: { type: 'string', default: '0.001' },
    out: { type: 'string', default: 'bench/results/elastic.json' },
    compare: { type: 'boolean', default: false },
  },
});
const rows = Number(values.rows);
const timeScale = Number(values['time-scale']);
const windowSeconds = Number(values.window);
const badEvery = Number(values.bad) > 0 ? Math.round(1 / Number(values.bad)) : 0;
// The documented limits per 300 s window, scaled to a shorter window with the same sustained rates, as
// bench/import.ts does.
const limits = {
  windowSeconds,
  maxRequests: Math.round((6_000 * windowSeconds) / 300),
  maxExecutionMs: Math.round((1_200_000 * windowSeconds) / 300),
  maxConcurrent: 52,
};

const guid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const job = {
  name: 'bench-readings',
  table: 'contoso_sensordata',
  operation: 'create',
  columns: {
    Id: 'contoso_sensordataid',
    Name: 'contoso_name',
    Device: 'contoso_deviceid',
    Type: 'contoso_sensortype',
    Value: 'contoso_value',
    'Read At': 'contoso_timestamp',
    Partition: 'partitionid',
  },
};

interface CeilingAnswer {
  recordsPerSecond: number;
  binding: string;
}

/** One import of the file into a fresh emulator: with chunks written while the plan reads, or not. */
async function measureOnce(writeAhead: boolean) {
  const emulator = await startEmulatorProcess([
    '--profile',
    'realistic',
    '--time-scale',
    String(timeScale),
    ...Object.entries(limits).flatMap(([key, value]) => ['--set', `${key}=${value}`]),
  ]);
  try {
    const dir = await mkdtemp(join(tmpdir(), 'dvp-bench-elastic-'));
    const csv = join(dir, 'readings.csv');
    const out = createWriteStream(csv);
    out.write('Id,Name,Device,Type,Value,Read At,Partition\n');
    for (let i = 0; i < rows; i += 1) {
      const device = `device-${i % 97}`;
      const at = new Date(Date.UTC(2026, 11, 1) + i * 1000).toISOString();
      if (!out.write(`${guid(i)},r${i},${device},temperature,${i % 1000},${at},${device}\n`))
        await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    const taken = badEvery
      ? Array.from({ length: Math.floor(rows / badEvery) }, (_, k) => k * badEvery + 7)
      : [];
    if (taken.length > 0) {
      await emulator.control(
        'POST',
        'tables/contoso_sensordata',
        taken.map((i) => ({ contoso_sensordataid: guid(i), contoso_name: 'taken' })),
      );
    }

    const meter = new RequestMeter();
    let firstWrite: number | undefined;
    let lastWrite = 0;
    const client = createClient({
      url: emulator.url,
      identities: ['bench-elastic'],
      onEvent: (event) => {
        meter.onEvent(event);
        // BENCH_EVENTS=1: every client event on stderr, with seconds since the process began.
        if (process.env.BENCH_EVENTS) {
          process.stderr.write(`${(performance.now() / 1000).toFixed(3)} ${JSON.stringify(event)}\n`);
        }
        if (event.type === 'records') {
          firstWrite ??= performance.now();
          lastWrite = performance.now();
        }
      },
    });
    const jobPath = join(dir, 'job.json');
    await writeFile(jobPath, JSON.stringify(job));
    const started = performance.now();
    let planned: number | undefined;
    const result = await runLocalImport({
      onPlanned: () => {
        planned = performance.now();
      },
      file: csv,
      job: parseImportJob(job, 'bench elastic job'),
      client,
      environment: emulator.url,
      meter,
      outDir: join(dir, 'out'),
      log: silentLogger,
      chunkConcurrency: 4,
      writeAhead,
    });
    const ended = performance.now();
    const seconds = (ended - started) / 1000;
    const phases = {
      planSeconds: ((firstWrite ?? ended) - started) / 1000,
      // Of which: until the plan was committed (the file read, split and checked).
      plannedSeconds: ((planned ?? ended) - started) / 1000,
      writeSeconds: (lastWrite - (firstWrite ?? ended)) / 1000,
      finishSeconds: (ended - lastWrite) / 1000,
    };
    const metrics = client.metrics();
    await client.close();

    const stats = await emulator.control<{ rows: Record<string, number> }>('GET', 'stats');
    const inTable = stats.rows.contoso_sensordata ?? 0;
    const created = inTable - taken.length;
    const ceiling = await emulator.control<CeilingAnswer>(
      'GET',
      `ceiling?operation=create-multiple&batchSize=100&runSeconds=${seconds}`,
    );
    const rowsPerSecond = created / seconds;
    const report = {
      writeAhead,
      rows,
      refusedByService: taken.length,
      created,
      summary: result.summary.rows,
      lost: rows - taken.length - created,
      seconds,
      phases,
      rowsPerSecond,
      ceilingRowsPerSecond: ceiling.recordsPerSecond,
      ceilingBinding: ceiling.binding,
      fractionOfCeiling: rowsPerSecond / ceiling.recordsPerSecond,
      requests: metrics.requests,
      throttled: metrics.throttled,
      timeScale,
      limits,
    };
    return report;
  } finally {
    await emulator.stop();
  }
}

// --compare: both ways side by side, alternating (plan first, then write ahead, twice), on one machine
// in one run; the report holds every run and the ratio of the medians.
if (values.compare) {
  const runs: Awaited<ReturnType<typeof measureOnce>>[] = [];
  for (const writeAhead of [false, true, false, true]) runs.push(await measureOnce(writeAhead));
  const median = (list: number[]) => {
    const sorted = [...list].sort((a, b) => a - b);
    return (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.ceil((sorted.length - 1) / 2)]!) / 2;
  };
  const fractionOf = (writeAhead: boolean) =>
    median(runs.filter((r) => r.writeAhead === writeAhead).map((r) => r.fractionOfCeiling));
  const report = {
    planFirst: fractionOf(false),
    writeAhead: fractionOf(true),
    runs: runs.map((r) => ({
      writeAhead: r.writeAhead,
      seconds: r.seconds,
      phases: r.phases,
      fractionOfCeiling: r.fractionOfCeiling,
      lost: r.lost,
    })),
  };
  await writeFile(values.out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report));
} else {
  const report = await measureOnce(true);
  await writeFile(values.out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report));
}
