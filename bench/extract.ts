// Extract benchmark (issue 8, extract part): on the emulator's realistic profile, time-scaled, in one
// run: sequential nextLink paging (the seed approach), dynamics-web-api's retrieveAll, and ours
// (partitioned, parallel, streamed to CSV). Each strategy runs in its own child process as a fresh
// emulator user; rows/s is compared with the emulator's computed read ceiling for a run of that
// length. Then ours extracts a larger table alone twice: at full parallelism, for the fraction of the
// read ceiling a long run reaches, and with few partitions under a heap cap, for its peak RSS.
// Prints JSON.
//
//   npx tsx bench/extract.ts [--rows 100000] [--scale-rows 1000000] [--time-scale 2] [--partitions 52]
//     [--memory-partitions 8] [--memory-heap-mb 128] [--strategies a,b] [--out file]
//
// Why a long run for the ceiling: at full parallelism one page takes ~7 s (time scale 2) and the
// ceiling is ~36,000 rows/s, so 100,000 rows are less than one round of pages; no client can come near
// the ceiling in a run shorter than a few page latencies (see docs/extracts.md).
//
// Why the time scale is above 1 by default: reads are cheap for Dataverse, so the read ceiling is
// high (52 requests in flight); scaled down, it would exceed what one client core can parse and
// write, and the run would measure this machine's CPU instead of the strategies.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { CeilingAnswer, EmulatorStats } from '../emulator/index.js';
import { renderProgressChart, sampled } from './lib/progress-chart.js';
import { quietly } from './lib/quiet.js';
import { selectedColumnCount } from './lib/extract-columns.js';
import { startExtractHost } from './lib/extract-host.js';
import type { WorkerResult } from './lib/extract-worker.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    'scale-rows': { type: 'string', default: '1000000' },
    'time-scale': { type: 'string', default: '2' },
    partitions: { type: 'string', default: '52' },
    'memory-partitions': { type: 'string', default: '8' },
    'memory-heap-mb': { type: 'string', default: '128' },
    strategies: { type: 'string', default: 'sequential,retrieveAll,ours' },
    out: { type: 'string' },
  },
});
const rows = Number(values.rows);
const scaleRows = Number(values['scale-rows']);
const timeScale = Number(values['time-scale']);
const partitions = Number(values.partitions);

const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const tsxArgs = ['--import', 'tsx'];

async function runWorker(
  strategy: string,
  url: string,
  user: string,
  partitions: number,
  heapMb?: number,
): Promise<WorkerResult> {
  const child = spawn(
    process.execPath,
    [
      ...(heapMb ? [`--max-old-space-size=${heapMb}`] : []),
      ...tsxArgs,
      here('./lib/extract-worker.ts'),
      strategy,
      url,
      user,
      String(partitions),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${strategy} exited with ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as WorkerResult;
}

const host = await startExtractHost();
const log = (text: string) => process.stderr.write(`${text}\n`);
try {
  log(`seeding ${rows} contacts ...`);
  await host.call({ type: 'seed', rows });
  const settings = await host.call<Record<string, unknown>>({ type: 'realistic', timeScale });
  log(`realistic profile, time scale ${timeScale}`);

  const measure = async (
    strategy: string,
    user: string,
    expected: number,
    workers = partitions,
    heapMb?: number,
  ) => {
    log(`${strategy}: extracting ${expected} rows ...`);
    const usageOf = async () =>
      (await host.call<EmulatorStats>({ type: 'stats' })).users.find((u) => u.user === user);
    const progress = async () => {
      const now = await usageOf();
      return { done: now?.rowsRead ?? 0, inflight: now?.inflight ?? 0 };
    };
    const { value: worker, samples } = await sampled(progress, () =>
      runWorker(strategy, host.url, user, workers, heapMb),
    );
    const usage = await usageOf();
    // The emulator charges each page's transfer by the bytes it sent, so the ceiling assumes the same
    // bytes per row as this run's answers carried (its metadata reads are a rounding error in them).
    const bytesPerRow = usage?.rowsRead ? usage.transferBytes / usage.rowsRead : undefined;
    const ceiling = await host.call<CeilingAnswer>({
      type: 'ceiling',
      query: {
        operation: 'read',
        runSeconds: worker.seconds,
        columns: selectedColumnCount,
        ...(bytesPerRow ? { bytesPerRecord: bytesPerRow } : {}),
      },
    });
    const rowsPerSecond = worker.rows / worker.seconds;
    return {
      strategy,
      rows: worker.rows,
      complete: worker.rows === expected,
      seconds: round(worker.seconds, 2),
      rowsPerSecond: Math.round(rowsPerSecond),
      ceilingRowsPerSecond: Math.round(ceiling.recordsPerSecond),
      ceilingBinding: ceiling.binding,
      bytesPerRow: bytesPerRow ? Math.round(bytesPerRow) : undefined,
      fractionOfCeiling: round(rowsPerSecond / ceiling.recordsPerSecond, 3),
      requests: usage?.totalRequests ?? worker.requests,
      throttled: usage?.throttled ?? worker.throttled,
      peakRssMb: worker.peakRssMb,
      cpuSeconds: round(worker.cpuSeconds, 2),
      samples,
    };
  };

  const results = [];
  for (const strategy of values.strategies.split(',')) {
    // Ours is measured with the machine to itself; sequential paging and retrieveAll wait on the
    // emulator, so `npm run bench` lets its background memory run share the CPU with them.
    const run = () => measure(strategy, `bench-${strategy}`, rows);
    results.push(strategy === 'ours' ? await quietly(run) : await run());
  }
  const sequential = results.find((r) => r.strategy === 'sequential');
  const ours = results.find((r) => r.strategy === 'ours');

  let scale;
  let memory;
  if (scaleRows > rows) {
    log(`seeding up to ${scaleRows} contacts for the long runs ...`);
    await host.call({ type: 'seed', rows: scaleRows - rows });
    await host.call({ type: 'realistic', timeScale });
    scale = await quietly(() => measure('ours', 'bench-ours-scale', scaleRows));
    // Its figure is memory, which sharing the CPU does not change.
    memory = await measure(
      'ours',
      'bench-ours-memory',
      scaleRows,
      Number(values['memory-partitions']),
      Number(values['memory-heap-mb']),
    );
  }

  const report = {
    benchmark: 'extract',
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGb: round(totalmem() / 2 ** 30, 1),
      node: process.version,
    },
    command: `npx tsx bench/extract.ts --rows ${rows} --scale-rows ${scaleRows} --time-scale ${timeScale} --partitions ${partitions} --memory-partitions ${values['memory-partitions']} --memory-heap-mb ${values['memory-heap-mb']}`,
    profile: 'realistic',
    timeScale,
    limits: {
      windowSeconds: settings.windowSeconds,
      maxRequests: settings.maxRequests,
      maxExecutionMs: settings.maxExecutionMs,
      maxConcurrent: settings.maxConcurrent,
      dopHint: settings.dopHint,
    },
    columns: selectedColumnCount,
    pageSize: 5000,
    results,
    oursVsSequential:
      ours && sequential ? round(ours.rowsPerSecond / sequential.rowsPerSecond, 2) : undefined,
    scale: scale ? { partitions, run: scale } : undefined,
    memory: memory
      ? {
          rows: memory.rows,
          complete: memory.complete,
          peakRssMb: memory.peakRssMb,
          goalMb: 256,
          partitions: Number(values['memory-partitions']),
          // A hard V8 heap cap: finishing under it shows the live set is bounded; without it V8 lets
          // garbage pile up while memory is plentiful (see the comparison runs' peakRssMb).
          nodeFlags: `--max-old-space-size=${values['memory-heap-mb']}`,
          run: memory,
        }
      : undefined,
    goals: { fractionOfCeiling: 0.9, peakRssMb: 256 },
  };
  // Samples of the side-by-side runs go to the --out file and its chart; the printed report leaves them out.
  const unsampled = <T extends { samples?: unknown }>({ samples: _samples, ...rest }: T) => rest;
  const printed = {
    ...report,
    results: results.map(unsampled),
    scale: scale ? { partitions, run: unsampled(scale) } : undefined,
    memory: report.memory ? { ...report.memory, run: unsampled(report.memory.run) } : undefined,
  };
  process.stdout.write(`${JSON.stringify(printed, null, 2)}\n`);
  if (values.out) {
    const saved = { ...printed, results };
    await writeFile(values.out, `${JSON.stringify(saved, null, 2)}\n`);
    const chart = values.out.replace(/\.json$/, '.svg');
    if (chart !== values.out)
      await writeFile(
        chart,
        renderProgressChart(
          `Extract of ${rows.toLocaleString('en-US')} rows against the realistic emulator (time scale ${timeScale})`,
          'Rows read so far (pages of 5,000)',
          'rows',
          results,
        ),
      );
  }
} finally {
  await host.call({ type: 'close' }).catch(() => {});
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
