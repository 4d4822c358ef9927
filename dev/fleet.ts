// A small fleet on one machine: one Azurite, one Dataverse emulator, several local Functions hosts (each its
// own process, running the compiled app), all sharing the same identities. Used by bench/fleet.ts and the
// fleet integration test.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { packageRoot } from '../src/app/package-root.js';
import { names } from '../src/app/runtime.js';

export interface FleetHost {
  readonly index: number;
  readonly child: ChildProcess;
  readonly url: string;
  readonly output: string[];
  /** Peak resident set (VmHWM) of the host process so far, in bytes; undefined off Linux. */
  peakRss(): Promise<number | undefined>;
  stop(): Promise<void>;
}

export interface FleetHostOptions {
  readonly index: number;
  readonly storage: string;
  readonly dataverseUrl: string;
  readonly identities: readonly string[];
  readonly chunkSize: number;
  /** Only one host emulates Event Grid (Azure sends one event per upload, whatever the instance count). */
  readonly eventGrid: boolean;
  readonly settings?: Readonly<Record<string, string>>;
}

/** Starts one local Functions host process (dev/host-cli.ts over the compiled app in dist/). */
export async function startFleetHost(options: FleetHostOptions): Promise<FleetHost> {
  const root = packageRoot();
  const settings: Record<string, string> = {
    FUNCTIONS_WORKER_RUNTIME: 'node',
    Storage: options.storage,
    DATAVERSE_URL: options.dataverseUrl,
    DATAVERSE_CLIENT_IDS: options.identities.join(','),
    IMPORT_CHUNK_SIZE: String(options.chunkSize),
    // Timers that would only add noise to a measurement: far in the future.
    NIGHTLY_EXTRACT_SCHEDULE: '0 0 0 1 1 *',
    RECONCILE_SCHEDULE: '0 0 0 1 1 *',
    AzureFunctionsJobHost__extensions__queues__maxPollingInterval: '00:00:00.200',
    ...options.settings,
  };
  // Azure starts the Node worker with `languageWorkers__node__arguments` (a heap cap, say); the local host
  // runs the functions in its own process, so they become that process's arguments.
  const workerArguments = (settings.languageWorkers__node__arguments ?? '').split(/\s+/).filter(Boolean);
  const args = [
    ...workerArguments,
    '--import',
    'tsx',
    `${root}/dev/host-cli.ts`,
    '--app',
    root,
    '--storage',
    options.storage,
  ];
  args.push('--log-format', 'json', '--event-grid-poll-ms', '200', '--stop-timeout-ms', '10000');
  if (!options.eventGrid) args.push('--no-event-grid');
  for (const [name, value] of Object.entries(settings)) args.push('--setting', `${name}=${value}`);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: root });
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      output.push(...lines);
      // Bounded: a long run logs every invocation.
      if (output.length > 5_000) output.splice(0, output.length - 5_000);
    });
  }
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const ready = output.map((l) => /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(l)?.[1]).find(Boolean);
      if (ready) {
        clearInterval(timer);
        resolve(ready);
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`host ${options.index} exited before ready:\n${output.join('\n')}`));
      }
    }, 50);
  });
  return {
    index: options.index,
    child,
    url,
    output,
    async peakRss() {
      try {
        const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
        const kb = /VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1];
        return kb ? Number(kb) * 1024 : undefined;
      } catch {
        return undefined;
      }
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Creates the containers and queues the app expects (the Bicep template does this in Azure). */
export async function provisionStorage(connectionString: string): Promise<BlobServiceClient> {
  const blobs = BlobServiceClient.fromConnectionString(connectionString);
  const queues = QueueServiceClient.fromConnectionString(connectionString);
  for (const name of [names.incoming, names.runs, names.results, names.extracts, names.jobs])
    await blobs.getContainerClient(name).createIfNotExists();
  for (const name of [names.importEvents, names.importChunks])
    await queues.getQueueClient(name).createIfNotExists();
  return blobs;
}

/** Waits for the run's summary.json under results/<job>/<name>/ and returns it with the folder it is in. */
export async function waitForSummary(
  blobs: BlobServiceClient,
  job: string,
  name: string,
  timeoutMs: number,
  isAlive: () => boolean = () => true,
): Promise<{ folder: string; summary: Record<string, unknown> }> {
  const results = blobs.getContainerClient(names.results);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for await (const blob of results.listBlobsFlat({ prefix: `${job}/${name}/` })) {
      if (blob.name.endsWith('/summary.json')) {
        const body = await results.getBlobClient(blob.name).downloadToBuffer();
        return {
          folder: blob.name.slice(0, -'summary.json'.length),
          summary: JSON.parse(body.toString('utf8')) as Record<string, unknown>,
        };
      }
    }
    if (!isAlive()) throw new Error('a host exited while the run was going');
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no summary for ${job}/${name} within ${timeoutMs} ms`);
}

export async function readResultText(blobs: BlobServiceClient, path: string): Promise<string> {
  const body = await blobs.getContainerClient(names.results).getBlobClient(path).downloadToBuffer();
  return body.toString('utf8');
}
