// Parquet against CSV (issue 20): the same extract of the same rows, written once as CSV and once as
// Parquet, side by side in one run, each in its own child process so its peak RSS is its own. The
// emulator runs the fast profile in another process: no service-protection waits, so the run is bound
// by this client's CPU and what differs between the two runs is the cost of the output format. Each
// pair runs without a heap cap (V8's lazy defaults) and with one (the live set: bounded memory).
// Prints JSON.
//
//   npx tsx bench/parquet.ts [--rows 1000000] [--partitions 8] [--heap-mb none,128] [--out file]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { selectedColumnCount } from './lib/extract-columns.js';
import type { WorkerResult } from './lib/extract-worker.js';
import { startExtractHost } from './lib/extract-host.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    partitions: { type: 'string', default: '8' },
    'heap-mb': { type: 'string', default: 'none,128' },
    out: { type: 'string' },
  },
});
const rows = Number(values.rows);
const partitions = Number(values.partitions);
const heaps = values['heap-mb'].split(',').map((h) => (h === 'none' ? undefined : Number(h)));

const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const tsxArgs = ['--import', 'tsx'];
const log = (text: string) => process.stderr.write(`${text}\n`);

async function runWorker(format: string, url: string, user: string, heapMb?: number): Promise<WorkerResult> {
  const child = spawn(
    process.execPath,
    [
      ...(heapMb ? [`--max-old-space-size=${heapMb}`] : []),
      ...tsxArgs,
      here('./lib/extract-worker.ts'),
      'ours',
      url,
      user,
      String(partitions),
      format,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${format} extract exited with ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as WorkerResult;
}

const host = await startExtractHost();
try {
  log(`seeding ${rows} contacts ...`);
  await host.call({ type: 'seed', rows });
  const runs: FormatRun[] = [];
  let user = 0;
  for (const heapMb of heaps) {
    for (const format of ['csv', 'parquet']) {
      log(`${format}${heapMb ? `, heap cap ${heapMb} MB` : ''}: extracting ${rows} rows ...`);
      const worker = await runWorker(format, host.url, `bench-format-${(user += 1)}`, heapMb);
      runs.push({
        format,
        heapCapMb: heapMb ?? null,
        rows: worker.rows,
        complete: worker.rows === rows,
        seconds: round(worker.seconds, 2),
        rowsPerSecond: Math.round(worker.rows / worker.seconds),
        cpuSeconds: round(worker.cpuSeconds, 2),
        peakRssMb: worker.peakRssMb,
        fileMb: worker.bytes === undefined ? undefined : round(worker.bytes / 2 ** 20, 1),
      });
    }
  }
  const pairs = heaps.map((heapMb) => {
    const of = (format: string) => runs.find((r) => r.format === format && r.heapCapMb === (heapMb ?? null));
    const csv = of('csv');
    const parquet = of('parquet');
    return {
      heapCapMb: heapMb ?? null,
      parquetRowsPerSecondVsCsv:
        csv && parquet ? round(parquet.rowsPerSecond / csv.rowsPerSecond, 2) : undefined,
      parquetPeakRssVsCsv: csv && parquet ? round(parquet.peakRssMb / csv.peakRssMb, 2) : undefined,
      parquetSizeVsCsv: csv?.fileMb && parquet?.fileMb ? round(parquet.fileMb / csv.fileMb, 2) : undefined,
    };
  });
  const report = {
    benchmark: 'parquet',
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGb: round(totalmem() / 2 ** 30, 1),
      node: process.version,
    },
    command: `npx tsx bench/parquet.ts --rows ${rows} --partitions ${partitions} --heap-mb ${values['heap-mb']}`,
    profile: 'fast',
    columns: selectedColumnCount,
    rowGroupRows: 50_000,
    runs,
    pairs,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  if (values.out) await writeFile(values.out, `${JSON.stringify(report, null, 2)}\n`);
} finally {
  await host.call({ type: 'close' }).catch(() => {});
}

interface FormatRun {
  readonly format: string;
  readonly heapCapMb: number | null;
  readonly rows: number;
  readonly complete: boolean;
  readonly seconds: number;
  readonly rowsPerSecond: number;
  readonly cpuSeconds: number;
  readonly peakRssMb: number;
  readonly fileMb: number | undefined;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
