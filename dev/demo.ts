// `npm start`: the whole product on this machine. Azurite, the Dataverse emulator (realistic profile,
// time-scaled) and the local Functions host running the compiled app; the sample CSVs go into
// incoming/, their runs are followed to the end, the nightly extract runs once, then new files keep
// being picked up until Ctrl+C.
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEmulator, type RunningEmulator } from '../emulator/index.js';
import { names } from '../src/app/runtime.js';
import { packageRoot } from '../src/app/package-root.js';
import { readRunStatus } from '../src/imports/status.js';
import { blobRunKey, runIdFor } from '../src/imports/run-id.js';
import type { RunSummary } from '../src/imports/types.js';
import { BlobObjectStore } from '../src/storage/blob-store.js';
import { createProgress } from '../src/cli/progress.js';
import type { BlobServiceClient } from '@azure/storage-blob';
import { createAppStorage, startAzurite, type RunningAzurite } from './azurite.js';
import { startLocalHost, type RunningLocalHost } from './host.js';

export interface DemoOptions {
  /** Multiplies the emulator's costs and windows: 0.05 runs a 5-minute window in 15 s. */
  readonly timeScale: number;
  /** Stop after the samples and the extract instead of watching for new files. */
  readonly once: boolean;
  readonly httpPort: number;
  /** Where copies of the result files go. */
  readonly outDir: string;
}

const SAMPLES = [
  // Accounts first: contacts look their company up by account number.
  { job: 'accounts', file: 'accounts.csv' },
  { job: 'contacts', file: 'contacts.csv' },
];

export async function runDemo(options: DemoOptions): Promise<number> {
  const root = packageRoot();
  // Relative to the project (npm start runs there); an absolute --out is used as it is.
  const out = resolve(root, options.outDir);
  await mkdir(out, { recursive: true });
  const hostLog = createWriteStream(join(out, 'host.log'));
  const say = (line = '') => process.stdout.write(`${line}\n`);
  let azurite: RunningAzurite | undefined;
  let emulator: RunningEmulator | undefined;
  let host: RunningLocalHost | undefined;
  const stop = async () => {
    await host?.stop().catch(() => undefined);
    // The app ran in this process: end its runtime as the module instance the host loaded it from.
    if (host) {
      const runtime = pathToFileURL(join(root, 'dist', 'src', 'app', 'runtime.js')).href;
      await import(runtime)
        .then((module: { closeRuntime?: () => Promise<void> }) => module.closeRuntime?.())
        .catch(() => undefined);
    }
    await emulator?.close().catch(() => undefined);
    await azurite?.stop().catch(() => undefined);
    hostLog.end();
  };

  try {
    say('dataverse-pipelines demo: everything runs on this machine, nothing in Azure.');
    azurite = await startAzurite();
    say(`  Azurite (storage emulator)      ${azurite.blobEndpoint}`);
    emulator = await startEmulator({ profile: 'realistic', timeScale: options.timeScale });
    const limits = emulator.settings();
    say(`  Dataverse emulator (realistic)  ${emulator.url}`);
    say(
      `    service protection per user: ${limits.maxRequests} requests, ${limits.maxExecutionMs / 1000} s of server` +
        ` time, ${limits.maxConcurrent} concurrent per ${limits.windowSeconds} s window, all times x${options.timeScale}`,
    );

    const settings = {
      FUNCTIONS_WORKER_RUNTIME: 'node',
      AzureWebJobsStorage: azurite.connectionString,
      Storage: azurite.connectionString,
      DATAVERSE_URL: emulator.url,
      IMPORT_CHUNK_SIZE: '500',
      NIGHTLY_EXTRACT_SCHEDULE: '0 0 2 * * *',
      RECONCILE_SCHEDULE: '0 */10 * * * *',
    };
    const { blobs, queues } = await createAppStorage(azurite.connectionString);
    for (const queue of [names.importEvents, names.importChunks, `${names.importChunks}-poison`]) {
      await queues.getQueueClient(queue).createIfNotExists();
    }

    host = await startLocalHost({
      appRoot: root,
      settings,
      httpPort: options.httpPort,
      eventGrid: {
        container: names.incoming,
        queue: names.importEvents,
        includeExisting: false,
        pollIntervalMs: 500,
      },
      log: (entry) => hostLog.write(`${JSON.stringify(entry)}\n`),
    });
    say(`  Functions host                  ${host.httpUrl} (${host.functions.join(', ')})`);
    say(`  host log                        ${shown(join(out, 'host.log'))}`);
    say(`  Runs page (open in a browser)   ${host.httpUrl}/api/runs?code=${host.functionKey}`);
    say();

    const runs = new BlobObjectStore(blobs.getContainerClient(names.runs));
    const results = new BlobObjectStore(blobs.getContainerClient(names.results));
    const incoming = blobs.getContainerClient(names.incoming);
    for (const sample of SAMPLES) {
      const body = await readFile(join(root, 'samples', sample.file));
      const blob = incoming.getBlockBlobClient(`${sample.job}/${sample.file}`);
      const uploaded = await blob.upload(body, body.length);
      say(`Dropped samples/${sample.file} into incoming/${sample.job}/ (${count(body.length)} bytes)`);
      const runId = runIdFor(
        blobRunKey({ url: blob.url, etag: uploaded.etag ?? '', job: sample.job }, emulator.url),
      );
      const summary = await follow(runs, results, runId);
      await report(summary, results, out, say, host, emulator);
    }

    say('Running the nightly extract now (the timer normally fires at 02:00 UTC)...');
    await host.fireTimer('nightlyExtract');
    await reportExtracts(blobs, say);
    say();
    printNextSteps(say, host, azurite.connectionString);
    if (options.once) return 0;

    say('Watching incoming/ for new files (upload to incoming/<job>/<file>.csv in Azurite). Ctrl+C to stop.');
    await watch(results, out, say, host, emulator);
    return 0;
  } finally {
    await stop();
  }
}

/** Polls the run's status and shows a progress bar until the summary exists. */
async function follow(runs: BlobObjectStore, results: BlobObjectStore, runId: string): Promise<RunSummary> {
  const progress = createProgress();
  let started = false;
  for (;;) {
    const status = await readRunStatus(runs, results, runId);
    if (status?.summary) {
      if (started) {
        progress.update(status.rows.total);
        progress.stop();
      }
      return status.summary;
    }
    if (status) {
      if (!started) progress.start(`  run ${runId}`, status.rows.total);
      started = true;
      progress.update(status.rows.processed, {
        'chunks written': status.chunks.done,
        'chunks in all': status.chunks.total,
      });
    }
    await sleep(300);
  }
}

async function report(
  summary: RunSummary,
  results: BlobObjectStore,
  out: string,
  say: (line?: string) => void,
  host: RunningLocalHost,
  emulator: RunningEmulator,
): Promise<void> {
  const { rows } = summary;
  if (summary.error) {
    say(`  ${summary.job}: the file was rejected: ${summary.error.message}`);
  } else {
    say(
      `  ${summary.job}: ${count(rows.succeeded)} of ${count(rows.total)} rows written` +
        ` (${count(rows.created)} created, ${count(rows.updated)} updated), ${count(rows.failed)} failed, in ${(summary.durationMs / 1000).toFixed(1)} s` +
        ` with ${count(summary.requests)} requests, ${count(summary.throttled)} throttled`,
    );
  }
  const folder = join(out, summary.job);
  await mkdir(folder, { recursive: true });
  for (const [name, path] of [
    ['summary.json', summary.errorsFile.replace(/errors\.csv$/, 'summary.json')],
    ['errors.csv', summary.errorsFile],
    ['records.csv', summary.recordsFile],
    ['report.html', summary.errorsFile.replace(/errors\.csv$/, 'report.html')],
  ] as const) {
    const body = await results.get(path);
    if (body) await writeFile(join(folder, name), body);
  }
  say(`    results: results/${summary.errorsFile.replace(/errors\.csv$/, '')} (copied to ${shown(folder)}/)`);
  say(`    status:  ${host.httpUrl}/api/runs/${summary.runId}?code=${host.functionKey}`);
  say(
    `    report:  ${host.httpUrl}/api/results/${summary.errorsFile.replace(/errors\.csv$/, 'report.html')}?code=${host.functionKey}`,
  );
  if (rows.failed > 0) {
    const errors = (await results.get(summary.errorsFile))?.toString('utf8').split(/\r?\n/).slice(1, 6) ?? [];
    say(`    first errors (errors.csv):`);
    for (const line of errors.filter((l) => l.length > 0))
      say(`      ${line.length > 150 ? `${line.slice(0, 150)}…` : line}`);
  }
  const table = jobTable(summary.job);
  if (table) say(`    Dataverse now holds ${count(emulator.store.count(table))} ${table} records`);
  say();
}

async function reportExtracts(blobs: BlobServiceClient, say: (line?: string) => void): Promise<void> {
  const container = blobs.getContainerClient(names.extracts);
  for await (const blob of container.listBlobsFlat()) {
    if (!blob.name.endsWith('.manifest.json')) continue;
    const manifest = JSON.parse(
      (await container.getBlobClient(blob.name).downloadToBuffer()).toString('utf8'),
    ) as {
      job: string;
      path: string;
      rows: number;
      mode: string;
    };
    say(`  extract ${manifest.job}: ${count(manifest.rows)} rows (${manifest.mode}) -> ${manifest.path}`);
  }
}

/** Prints the summary of every run that finishes after the samples. */
async function watch(
  results: BlobObjectStore,
  out: string,
  say: (line?: string) => void,
  host: RunningLocalHost,
  emulator: RunningEmulator,
): Promise<void> {
  const seen = new Set<string>();
  for await (const path of results.list('')) seen.add(path);
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  while (!interrupted) {
    for await (const path of results.list('')) {
      if (seen.has(path) || !path.endsWith('summary.json')) continue;
      seen.add(path);
      const body = await results.get(path);
      if (body)
        await report(JSON.parse(body.toString('utf8')) as RunSummary, results, out, say, host, emulator);
    }
    await sleep(1_000);
  }
  say('Stopping...');
}

function printNextSteps(say: (line?: string) => void, host: RunningLocalHost, storage: string): void {
  say('Next steps');
  // Azurite's account key is the well-known development key, not a secret.
  say(`  - Smoke test, as after deploying: npx dvpipe smoke --connection-string "${storage}"`);
  say(`  - Runs page:              ${host.httpUrl}/api/runs?code=${host.functionKey}`);
  say(`  - Run status over HTTP:   curl "${host.httpUrl}/api/runs/<runId>?code=${host.functionKey}"`);
  say(
    '  - Same pipeline, local file: npx dvpipe import samples/accounts.csv --job jobs/accounts.json --url <org> --out out/accounts/',
  );
  say('  - Real Dataverse and storage: set DATAVERSE_URL=https://<org>.crm.dynamics.com and');
  say(
    '    Storage=<connection string> (or Storage__blobServiceUri/__queueServiceUri with a managed identity),',
  );
  say(
    '    sign in with `az login` (DefaultAzureCredential), and run the same host: see README "Deploy" and docs/deploy.md.',
  );
  say('  - Deploy to your tenant: azd up');
}

/** The table a bundled job writes (jobs/<job>.json), for the count after each run. */
function jobTable(job: string): string | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(packageRoot(), 'jobs', `${job}.json`), 'utf8')) as {
      table?: unknown;
    };
    return typeof parsed.table === 'string' ? parsed.table : undefined;
  } catch {
    return undefined;
  }
}

/** Numbers as the CLI prints them: 2,000, not 2000. */
function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** A path as the user would type it: relative to the current folder when below it, else absolute. */
function shown(path: string): string {
  const rel = relative(process.cwd(), resolve(path));
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : resolve(path);
}
