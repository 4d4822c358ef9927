// Peak RSS of the import pipeline on a 1 GB CSV (issue 4 goal: at most 256 MB). The file is read,
// planned into chunks, mapped and validated, and the result files are written, in a dry run: the
// pipeline's memory is what is measured, not the emulator holding millions of records.
//   npx tsx bench/import-rss.ts [--megabytes 1024]
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/app/package-root.js';
import { startEmulatorProcess } from './lib/emulator-process.js';
import { benchJob, writeBenchCsv } from './lib/import-data.js';

const { values } = parseArgs({ options: { megabytes: { type: 'string', default: '1024' } } });
const megabytes = Number(values.megabytes);
// About 79 bytes per row in the bench's contacts file.
const rows = Math.ceil((megabytes * 1024 * 1024) / 79);
const csv = join(tmpdir(), `dvp-bench-${megabytes}mb.csv`);
if (!existsSync(csv) || statSync(csv).size < megabytes * 1024 * 1024 * 0.95) await writeBenchCsv(csv, rows);
const size = statSync(csv).size;

const emulator = await startEmulatorProcess(['--profile', 'fast']);
const out = await mkdtemp(join(tmpdir(), 'dvp-bench-rss-'));
try {
  const job = join(out, 'job.json');
  await writeFile(job, JSON.stringify(benchJob));
  const started = performance.now();
  // GNU time reports the child's own peak resident set (kB), whatever the runtime does inside.
  const child = spawn(
    '/usr/bin/time',
    [
      '-f',
      '%M',
      process.execPath,
      '--import',
      'tsx',
      join(packageRoot(), 'src/cli/main.ts'),
      'import',
      csv,
      '--job',
      job,
      '--url',
      emulator.url,
      '--out',
      join(out, 'results'),
      '--dry-run',
      '--quiet',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const seconds = (performance.now() - started) / 1000;
  const peakKb = Number(stderr.trim().split('\n').at(-1));
  if (code !== 0 && code !== 1) throw new Error(`import exited with ${code}: ${stderr}`);
  const result = {
    benchmark: 'import-rss',
    date: new Date().toISOString(),
    fileBytes: size,
    rows,
    seconds,
    rowsPerSecond: rows / seconds,
    peakRssMb: peakKb / 1024,
    goalMb: 256,
    summary: stdout.trim().split('\n')[0],
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  await emulator.stop();
  await rm(out, { recursive: true, force: true });
}
