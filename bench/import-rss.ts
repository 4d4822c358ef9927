// Peak RSS of the import pipeline on a 1 GB CSV (issue 4 goal: at most 256 MB). The file is read,
// planned into chunks, mapped and validated, and the result files are written, in a dry run: the
// pipeline's memory is what is measured, not the emulator holding millions of records.
// Runs twice: with the V8 heap capped (--max-old-space-size, as recommended for big files on small
// machines) and without (V8 then lets garbage accumulate up to its own limit before collecting).
//   npx tsx bench/import-rss.ts [--megabytes 1024] [--heap-mb 192] [--scratch /dev/shm]
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/app/package-root.js';
import { startEmulatorProcess } from './lib/emulator-process.js';
import { benchJob, writeBenchCsv } from './lib/import-data.js';

const { values } = parseArgs({
  options: {
    megabytes: { type: 'string', default: '1024' },
    'heap-mb': { type: 'string', default: '192' },
    'skip-uncapped': { type: 'boolean', default: false },
    scratch: { type: 'string' },
  },
});
// The run's chunk files, key index and result files come to about 4 GB. On tmpfs they cost no disk
// writeback, which would otherwise go on while `npm run bench` measures other benchmarks beside it.
const scratch = values.scratch ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
const megabytes = Number(values.megabytes);
// About 79 bytes per row in the bench's contacts file.
const rows = Math.ceil((megabytes * 1024 * 1024) / 79);
const csv = join(tmpdir(), `dvp-bench-${megabytes}mb.csv`);
if (!existsSync(csv) || statSync(csv).size < megabytes * 1024 * 1024 * 0.95) await writeBenchCsv(csv, rows);
const size = statSync(csv).size;

const emulator = await startEmulatorProcess(['--profile', 'fast']);
const out = await mkdtemp(join(scratch, 'dvp-bench-rss-'));
try {
  const job = join(out, 'job.json');
  await writeFile(job, JSON.stringify(benchJob));
  const capped = await measure([`--max-old-space-size=${values['heap-mb']}`], job, join(out, 'capped'));
  const uncapped = values['skip-uncapped'] ? undefined : await measure([], job, join(out, 'uncapped'));
  const result = {
    benchmark: 'import-rss',
    date: new Date().toISOString(),
    fileBytes: size,
    rows,
    goalMb: 256,
    capped: { nodeFlags: `--max-old-space-size=${values['heap-mb']}`, ...capped },
    ...(uncapped ? { uncapped: { nodeFlags: '', ...uncapped } } : {}),
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  await emulator.stop();
  await rm(out, { recursive: true, force: true });
}

/** One dry-run import of the file through the compiled CLI (what `npx dvpipe` runs) under GNU time. */
async function measure(nodeFlags: readonly string[], job: string, results: string) {
  const cli = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
  const started = performance.now();
  const child = spawn(
    '/usr/bin/time',
    [
      '-f',
      '%M',
      process.execPath,
      ...nodeFlags,
      cli,
      'import',
      csv,
      '--job',
      job,
      '--url',
      emulator.url,
      '--out',
      results,
      '--dry-run',
      '--quiet',
    ],
    // TMPDIR: where the pipeline indexes the keys of a large file for its duplicate check.
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: scratch } },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0 && code !== 1) throw new Error(`import exited with ${code}: ${stderr}`);
  // GNU time's last line: the child's own peak resident set in kB.
  const peakKb = Number(stderr.trim().split('\n').at(-1));
  return {
    seconds,
    rowsPerSecond: rows / seconds,
    peakRssMb: peakKb / 1024,
    summary: stdout.trim().split('\n')[0],
  };
}
