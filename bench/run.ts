// `npm run bench`: every benchmark, one after another (they must not compete for the 2 cores), each
// in its own process. Each prints JSON; the results land in bench/results/<name>.json and a short
// table is printed at the end. BENCHMARKS.md records the figures with the date, machine and command.
//   npm run bench [-- --only import,extract] [-- --quick]
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/app/package-root.js';

interface Bench {
  readonly name: string;
  readonly script: string;
  readonly args: readonly string[];
  /** A smaller run for a quick look (`--quick`). */
  readonly quickArgs: readonly string[];
}

const benches: readonly Bench[] = [
  { name: 'emulator', script: 'bench/emulator-throughput.ts', args: [], quickArgs: [] },
  { name: 'mapping', script: 'bench/mapping.ts', args: [], quickArgs: ['--rows', '50000', '--runs', '1'] },
  {
    name: 'import',
    script: 'bench/import.ts',
    args: ['--out', 'bench/results/import.json'],
    quickArgs: ['--rows', '10000', '--out', 'bench/results/import.json'],
  },
  { name: 'client', script: 'bench/client.ts', args: ['--windows', '3'], quickArgs: ['--windows', '3'] },
  {
    name: 'extract',
    script: 'bench/extract.ts',
    args: ['--out', 'bench/results/extract.json'],
    quickArgs: ['--rows', '30000', '--scale-rows', '100000', '--out', 'bench/results/extract.json'],
  },
  {
    name: 'import-rss',
    script: 'bench/import-rss.ts',
    // The capped run is the goal's figure; the uncapped one (V8's lazy defaults) doubles the time.
    args: ['--skip-uncapped'],
    quickArgs: ['--megabytes', '64'],
  },
];

const { values } = parseArgs({
  options: { only: { type: 'string' }, quick: { type: 'boolean', default: false } },
});
const only = values.only ? new Set(values.only.split(',')) : undefined;
const root = packageRoot();
await mkdir(join(root, 'bench', 'results'), { recursive: true });
console.error(
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GB, Node ${process.versions.node}`,
);

const summary: { name: string; seconds: number; ok: boolean }[] = [];
for (const bench of benches) {
  if (only && !only.has(bench.name)) continue;
  const started = performance.now();
  console.error(
    `\n== ${bench.name}: npx tsx ${bench.script} ${(values.quick ? bench.quickArgs : bench.args).join(' ')}`,
  );
  const { code, stdout } = await run(bench.script, values.quick ? bench.quickArgs : bench.args);
  const seconds = (performance.now() - started) / 1000;
  summary.push({ name: bench.name, seconds, ok: code === 0 });
  if (code === 0 && stdout.trim()) {
    // Benches that write their own --out file keep it; the others' stdout JSON is saved here.
    if (!bench.args.includes('--out'))
      await writeFile(join(root, 'bench', 'results', `${bench.name}.json`), stdout);
  }
}
console.error('\n== done');
for (const s of summary)
  console.error(`  ${s.name.padEnd(11)} ${s.ok ? 'ok    ' : 'FAILED'} ${s.seconds.toFixed(0)} s`);
process.exitCode = summary.every((s) => s.ok) ? 0 : 1;

function run(script: string, args: readonly string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, script), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      process.stdout.write(chunk);
    });
    child.once('exit', (code) => resolve({ code, stdout }));
  });
}
