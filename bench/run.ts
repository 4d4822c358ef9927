// `npm run bench`: every benchmark, each in its own process. Each prints JSON; the results land in
// bench/results/<name>.json and a short table is printed at the end. BENCHMARKS.md records the figures
// with the date, machine and command.
//   npm run bench [-- --only import,extract] [-- --quick] [-- --one-at-a-time]
//
// Sharing the 2 cores: the 1 GB memory run is CPU-bound for minutes and measures memory, not speed, so
// it runs in the background while the peers' strategies run, which wait on the emulator's limits, not
// on the CPU. Whatever measures speed has the machine to itself: benchmarks marked `quiet` pause the
// background run (SIGSTOP to its process group) from start to end; the import and extract benchmarks
// ask for it around our own strategies (bench/lib/quiet.ts). `--one-at-a-time` runs everything in turn.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/app/package-root.js';
import { isQuietMessage } from './lib/quiet.js';

interface Bench {
  readonly name: string;
  readonly script: string;
  readonly args: readonly string[];
  /** A smaller run for a quick look (`--quick`). */
  readonly quickArgs: readonly string[];
  /**
   * quiet: the whole run has the machine to itself; asks: it says when it needs it (its own strategies);
   * background: runs alongside the others, paused while they need the machine.
   */
  readonly sharing: 'quiet' | 'asks' | 'background';
}

const benches: readonly Bench[] = [
  {
    name: 'import-rss',
    script: 'bench/import-rss.ts',
    // The capped run is the goal's figure; the uncapped one (V8's lazy defaults) doubles the time.
    args: ['--skip-uncapped'],
    quickArgs: ['--megabytes', '64'],
    sharing: 'background',
  },
  { name: 'emulator', script: 'bench/emulator-throughput.ts', args: [], quickArgs: [], sharing: 'quiet' },
  {
    name: 'mapping',
    script: 'bench/mapping.ts',
    args: [],
    quickArgs: ['--rows', '50000', '--runs', '1'],
    sharing: 'quiet',
  },
  {
    name: 'import',
    script: 'bench/import.ts',
    args: ['--out', 'bench/results/import.json'],
    quickArgs: ['--rows', '10000', '--out', 'bench/results/import.json'],
    sharing: 'asks',
  },
  {
    name: 'elastic',
    script: 'bench/elastic.ts',
    args: ['--out', 'bench/results/elastic.json'],
    quickArgs: ['--rows', '10000', '--out', 'bench/results/elastic.json'],
    sharing: 'quiet',
  },
  {
    name: 'client',
    script: 'bench/client.ts',
    // Its seed loop (45 s) repeats what the import benchmark measures side by side with the pipeline.
    args: ['--windows', '3', '--seed-windows', '0'],
    quickArgs: ['--windows', '3', '--seed-windows', '0'],
    sharing: 'quiet',
  },
  {
    name: 'signals',
    script: 'bench/signals.ts',
    // Documented signals only (issue 17): without rate-limit headers and over 4 web servers, side by side.
    args: [],
    quickArgs: ['--runs', 'headers,no-headers,4-servers'],
    sharing: 'quiet',
  },
  {
    name: 'extract',
    script: 'bench/extract.ts',
    args: ['--out', 'bench/results/extract.json'],
    quickArgs: ['--rows', '30000', '--scale-rows', '100000', '--out', 'bench/results/extract.json'],
    sharing: 'asks',
  },
  {
    name: 'parquet',
    script: 'bench/parquet.ts',
    // The capped pair on 200,000 rows keeps the suite near its 10 minutes (seeding 1,000,000 rows
    // alone takes minutes); BENCHMARKS.md records the 1,000,000-row runs of bench/parquet.ts alone.
    args: ['--rows', '200000', '--heap-mb', '128', '--out', 'bench/results/parquet.json'],
    quickArgs: ['--rows', '100000', '--out', 'bench/results/parquet.json'],
    sharing: 'quiet',
  },
  // report.html of a 1,000,000-row run: its size and Chromium's time to open it.
  { name: 'report', script: 'bench/report.ts', args: [], quickArgs: ['--rows', '100000'], sharing: 'quiet' },
  // report.html of a 1,000,000-row extract (52 workers: the most partitions): size and time to open.
  {
    name: 'extract-report',
    script: 'bench/extract-report.ts',
    args: ['--workers', '52'],
    quickArgs: ['--rows', '100000'],
    sharing: 'quiet',
  },
  {
    name: 'fleet',
    script: 'bench/fleet.ts',
    // Local Functions hosts in processes of their own, one Azurite, one emulator: CPU-bound, so alone.
    args: ['--identities', '1,3,5', '--hosts', '1,4', '--rows', '60000', '--out', 'bench/results/fleet.json'],
    quickArgs: [
      '--identities',
      '1,3',
      '--hosts',
      '1,2',
      '--rows',
      '20000',
      '--out',
      'bench/results/fleet.json',
    ],
    sharing: 'quiet',
  },
];

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'one-at-a-time': { type: 'boolean', default: false },
  },
});
const only = values.only ? new Set(values.only.split(',')) : undefined;
const root = packageRoot();
await mkdir(join(root, 'bench', 'results'), { recursive: true });
console.error(
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GB, Node ${process.versions.node}`,
);

interface Outcome {
  readonly name: string;
  readonly seconds: number;
  readonly ok: boolean;
  readonly pausedSeconds?: number;
}

/** The background run: paused while a benchmark needs the machine to itself. */
class Background {
  private child: ChildProcess | undefined;
  private pausedAt: number | undefined;
  pausedSeconds = 0;

  start(child: ChildProcess): void {
    this.child = child;
    child.once('exit', () => (this.child = undefined));
  }

  pause(): void {
    if (!this.child || this.pausedAt !== undefined) return;
    // Its own process group: the CLI under GNU time and the emulator it talks to stop together.
    this.signal('SIGSTOP');
    this.pausedAt = performance.now();
  }

  resume(): void {
    if (this.pausedAt === undefined) return;
    this.pausedSeconds += (performance.now() - this.pausedAt) / 1000;
    this.pausedAt = undefined;
    this.signal('SIGCONT');
  }

  /** On the way out, never leave a stopped process group behind. */
  stop(): void {
    this.signal('SIGCONT');
    this.signal('SIGTERM');
  }

  private signal(signal: NodeJS.Signals): void {
    if (!this.child?.pid) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch (error) {
      // The group ended between its last process's exit and our 'exit' event: nothing to signal.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

const background = new Background();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    background.stop();
    process.exit(130);
  });
}

const selected = benches.filter((b) => !only || only.has(b.name));
const alongside = values['one-at-a-time'] ? undefined : selected.find((b) => b.sharing === 'background');
const behind = alongside ? runBench(alongside, true) : undefined;
const summary: Outcome[] = [];
for (const bench of selected) {
  if (bench === alongside) continue;
  if (bench.sharing === 'quiet') background.pause();
  summary.push(await runBench(bench, false));
  background.resume();
}
if (behind) summary.unshift(await behind);
console.error('\n== done');
for (const s of summary) {
  const paused = s.pausedSeconds ? ` (${s.pausedSeconds.toFixed(0)} s of it paused)` : '';
  console.error(`  ${s.name.padEnd(11)} ${s.ok ? 'ok    ' : 'FAILED'} ${s.seconds.toFixed(0)} s${paused}`);
}
process.exitCode = summary.every((s) => s.ok) ? 0 : 1;

async function runBench(bench: Bench, inBackground: boolean): Promise<Outcome> {
  const args = values.quick ? bench.quickArgs : bench.args;
  const started = performance.now();
  console.error(
    `\n== ${bench.name}${inBackground ? ' (in the background)' : ''}: npx tsx ${bench.script} ${args.join(' ')}`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, bench.script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    detached: inBackground,
  });
  if (inBackground) background.start(child);
  child.on('message', (message: unknown) => {
    if (!isQuietMessage(message)) return;
    if (message.bench === 'quiet') background.pause();
    if (message.bench === 'shared') background.resume();
    child.send({ bench: `${message.bench}-ok` });
  });
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (!inBackground) process.stdout.write(chunk);
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const seconds = (performance.now() - started) / 1000;
  const pausedSeconds = inBackground ? background.pausedSeconds : undefined;
  if (code === 0 && stdout.trim() && !bench.args.includes('--out')) {
    // Benches that write their own --out file keep it; the others' stdout JSON is saved here.
    const saved = inBackground
      ? `${JSON.stringify({ ...(JSON.parse(stdout) as object), ranInBackground: { seconds, pausedSeconds } }, null, 2)}\n`
      : stdout;
    await writeFile(join(root, 'bench', 'results', `${bench.name}.json`), saved);
  }
  if (inBackground) process.stdout.write(stdout);
  return { name: bench.name, seconds, ok: code === 0, ...(pausedSeconds ? { pausedSeconds } : {}) };
}
