/**
 * Soak mode of the reliability suite (issue 9), outside CI:
 *
 *   npx tsx bench/soak.ts [--rows 1000000] [--faults 429=0.05,503=0.02,drop=0.01,slow=0.005]
 *                         [--big-gb 2] [--skip-big] [--skip-rows]
 *
 * 1. A CSV of --rows contacts (one bad row per 1,000) through the real pipeline (`runLocalImport`,
 *    the same planner, chunk writer and fan-in as the functions) against the emulator in a child
 *    process with faults on and a client timeout shorter than the `slow` answers. Checks that every
 *    row is accounted for and every good row is in the emulator exactly once.
 * 2. Two 2 GB bad inputs (an unclosed quote near the top; one line with no line end): each must be
 *    refused with a clear error in summary.json, in bounded memory.
 *
 * Prints one JSON line per phase and a final verdict; exit 0 only if every check held.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { tokenProvidersFor } from '../src/app/dataverse.js';
import { parseImportJob, type ImportJob } from '../src/config/job.js';
import { createDataverseClient } from '../src/dataverse/index.js';
import { runLocalImport, type LocalImportResult } from '../src/imports/local-run.js';
import { RequestMeter } from '../src/imports/request-meter.js';
import { errorMessage, type Logger } from '../src/logging.js';

interface SoakOptions {
  rows: number;
  faults: string;
  bigGb: number;
  skipBig: boolean;
  skipRows: boolean;
  keep: boolean;
}

const options = new Command('soak')
  .option('--rows <n>', 'rows in the faulted import', (v) => Number(v), 1_000_000)
  .option('--faults <spec>', 'emulator faults', '429=0.05,503=0.02,drop=0.01,slow=0.005')
  .option('--big-gb <n>', 'size of each oversized bad input, GB', (v) => Number(v), 2)
  .option('--skip-big', 'skip the oversized bad inputs', false)
  .option('--skip-rows', 'skip the faulted import', false)
  .option('--keep', 'keep the temporary folder', false)
  .parse()
  .opts<SoakOptions>();

const job: ImportJob = parseImportJob(
  {
    name: 'soak',
    table: 'contact',
    operation: 'upsert',
    key: ['emailaddress1'],
    columns: { Email: 'emailaddress1', 'First Name': 'firstname', 'Last Name': 'lastname' },
  },
  'soak job',
);
const BAD_EVERY = 1_000;
const CLIENT_TIMEOUT_MS = 2_000;
const SLOW_MS = 3_000;

const quietLog: Logger = {
  info: () => {},
  warn: () => {},
  error: (message, properties) =>
    process.stderr.write(`error: ${message} ${JSON.stringify(properties ?? {})}\n`),
};

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 250);
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

async function writeFileFrom(path: string, parts: () => Generator<string>): Promise<number> {
  const out = createWriteStream(path);
  let bytes = 0;
  for (const part of parts()) {
    bytes += Buffer.byteLength(part);
    if (!out.write(part)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return bytes;
}

async function startEmulatorProcess(faults: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ['bin/dvpipe.js', 'emulator', '--port', '0', '--profile', 'fast', '--time-scale', '0.01'].concat([
      '--faults',
      faults,
      '--slow-ms',
      String(SLOW_MS),
    ]),
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let seen = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /http:\/\/127\.0\.0\.1:\d+/.exec(seen);
      if (match) resolve(match[0]);
    });
    child.once('exit', (code) => reject(new Error(`emulator exited (${code}): ${seen}`)));
  });
  return { url, child };
}

async function control<T>(url: string, path: string): Promise<T> {
  const response = await fetch(`${url}/_emulator/${path}`);
  return (await response.json()) as T;
}

async function importFile(url: string, file: string, outDir: string): Promise<LocalImportResult> {
  const meter = new RequestMeter();
  const client = createDataverseClient({
    url,
    tokenProviders: tokenProvidersFor(url, ['soak']),
    timeoutMs: CLIENT_TIMEOUT_MS,
    onEvent: meter.onEvent,
  });
  try {
    return await runLocalImport({
      file,
      job,
      client,
      environment: url,
      meter,
      outDir,
      log: quietLog,
      defaultChunkSize: 5_000,
    });
  } finally {
    await client.close();
  }
}

async function faultedImport(dir: string): Promise<boolean> {
  const file = join(dir, 'soak.csv');
  let bad = 0;
  const bytes = await writeFileFrom(file, function* () {
    yield 'Email,First Name,Last Name\n';
    for (let i = 0; i < options.rows; i += 1) {
      const isBad = i % BAD_EVERY === BAD_EVERY - 1;
      if (isBad) bad += 1;
      yield `soak${i}@example.com,F${i},${isBad ? 'x'.repeat(60) : `L${i}`}\n`;
    }
  });
  const emulator = await startEmulatorProcess(options.faults);
  const started = Date.now();
  try {
    const result = await importFile(emulator.url, file, join(dir, 'out'));
    const seconds = (Date.now() - started) / 1000;
    const stats = await control<{ faults: Record<string, number>; requests: number }>(emulator.url, 'stats');
    const tables = await control<{ table: string; count: number }[]>(emulator.url, 'tables');
    const stored = tables.find((t) => t.table === 'contact')?.count ?? -1;
    const { rows } = result.summary;
    const checks = {
      finished: result.kind === 'finished',
      everyRowAccountedFor: rows.total === options.rows && rows.succeeded + rows.failed === rows.total,
      badRowsFailed: rows.failed === bad,
      goodRowsOnceInDataverse: stored === options.rows - bad,
    };
    console.log(
      JSON.stringify({
        phase: 'faulted import',
        rows: options.rows,
        fileMb: mb(bytes),
        faults: options.faults,
        clientTimeoutMs: CLIENT_TIMEOUT_MS,
        slowMs: SLOW_MS,
        summary: {
          ...rows,
          requests: result.summary.requests,
          retries: result.summary.retries,
          throttled: result.summary.throttled,
        },
        injected: stats.faults,
        emulatorRequests: stats.requests,
        stored,
        seconds,
        rowsPerSecond: Math.round(options.rows / seconds),
        peakRssMb: mb(peakRss),
        checks,
      }),
    );
    return Object.values(checks).every(Boolean);
  } finally {
    emulator.child.kill('SIGTERM');
  }
}

async function oversized(dir: string): Promise<boolean> {
  const target = options.bigGb * 1024 ** 3;
  const filler = `${'z'.repeat(1023)}\n`;
  const variants: { name: string; head: string; line: string; expect: RegExp }[] = [
    {
      name: 'unclosed-quote.csv',
      head: 'Email,First Name,Last Name\nok@example.com,Ok,Row\nbad@example.com,"never closed,Row\n',
      line: filler,
      expect: /UnclosedQuote|RecordTooLarge/,
    },
    {
      name: 'no-line-end.csv',
      head: 'Email',
      line: 'z'.repeat(1024),
      expect: /RecordTooLarge|Unreadable|MissingColumns/,
    },
  ];
  const emulator = await startEmulatorProcess('');
  let ok = true;
  try {
    for (const variant of variants) {
      const file = join(dir, variant.name);
      const bytes = await writeFileFrom(file, function* () {
        yield variant.head;
        for (let written = variant.head.length; written < target; written += variant.line.length)
          yield variant.line;
      });
      const rssBefore = process.memoryUsage().rss;
      peakRss = rssBefore;
      const started = Date.now();
      const result = await importFile(emulator.url, file, join(dir, `out-${variant.name}`)).catch(
        (error: unknown) => ({ kind: 'crashed' as const, message: errorMessage(error) }),
      );
      const error = 'summary' in result ? result.summary.error : undefined;
      const held = result.kind === 'rejected' && variant.expect.test(error?.code ?? '');
      ok &&= held;
      console.log(
        JSON.stringify({
          phase: 'oversized bad input',
          file: variant.name,
          sizeMb: mb(bytes),
          outcome: result.kind,
          error,
          seconds: (Date.now() - started) / 1000,
          peakRssMb: mb(peakRss),
          held,
        }),
      );
      await rm(file, { force: true });
    }
  } finally {
    emulator.child.kill('SIGTERM');
  }
  return ok;
}

const dir = await mkdtemp(join(tmpdir(), 'dvpipe-soak-'));
let passed = true;
try {
  if (!options.skipRows) passed = (await faultedImport(dir)) && passed;
  if (!options.skipBig) passed = (await oversized(dir)) && passed;
} finally {
  clearInterval(sampler);
  if (!options.keep) await rm(dir, { recursive: true, force: true });
}
console.log(JSON.stringify({ soak: passed ? 'passed' : 'FAILED', finishedAt: new Date().toISOString() }));
process.exit(passed ? 0 : 1);
