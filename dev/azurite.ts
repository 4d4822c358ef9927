import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { names } from '../src/app/runtime.js';

/** Azurite's well-known development account (public, documented; not a secret). */
export const DEV_ACCOUNT = 'devstoreaccount1';
const DEV_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface RunningAzurite {
  readonly blobEndpoint: string;
  readonly queueEndpoint: string;
  readonly tableEndpoint: string;
  /** A connection string for @azure/storage-blob and @azure/storage-queue. */
  readonly connectionString: string;
  stop(): Promise<void>;
}

const LISTENING = /Azurite (Blob|Queue|Table) service is successfully listening at (http:\/\/[^\s]+)/;

/**
 * Starts Azurite in memory on free loopback ports as a child process and resolves once all three
 * services listen. Uses the Node binary running this process, which npm scripts make Node 22.
 */
export async function startAzurite(options: { readonly timeoutMs?: number } = {}): Promise<RunningAzurite> {
  const require = createRequire(import.meta.url);
  const cli = join(dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'azurite.js');
  const child = spawn(
    process.execPath,
    [
      cli,
      '--inMemoryPersistence',
      '--skipApiVersionCheck',
      '--disableTelemetry',
      '--loose',
      '--blobHost',
      '127.0.0.1',
      '--queueHost',
      '127.0.0.1',
      '--tableHost',
      '127.0.0.1',
      '--blobPort',
      '0',
      '--queuePort',
      '0',
      '--tablePort',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const endpoints = await waitForEndpoints(child, options.timeoutMs ?? 30_000);
  const blobEndpoint = `${endpoints.Blob}/${DEV_ACCOUNT}`;
  const queueEndpoint = `${endpoints.Queue}/${DEV_ACCOUNT}`;
  const tableEndpoint = `${endpoints.Table}/${DEV_ACCOUNT}`;
  return {
    blobEndpoint,
    queueEndpoint,
    tableEndpoint,
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_ACCOUNT_KEY};` +
      `BlobEndpoint=${blobEndpoint};QueueEndpoint=${queueEndpoint};TableEndpoint=${tableEndpoint};`,
    stop: () => stopChild(child),
  };
}

function waitForEndpoints(child: ChildProcess, timeoutMs: number): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const found: Record<string, string> = {};
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Azurite did not start within ${timeoutMs} ms. Output:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        const match = LISTENING.exec(line);
        if (match?.[1] && match[2]) found[match[1]] = match[2].replace(/\/$/, '');
      }
      if (found.Blob && found.Queue && found.Table) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve(found);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with code ${code} before listening. Output:\n${output}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
  });
}

/**
 * Creates in Azurite the containers and queues the Bicep template creates in Azure (the host makes the
 * `-poison` queue itself in Azure; it is created here too so a local run can watch it from the start).
 */
export async function createAppStorage(
  connectionString: string,
): Promise<{ blobs: BlobServiceClient; queues: QueueServiceClient }> {
  const blobs = BlobServiceClient.fromConnectionString(connectionString);
  const queues = QueueServiceClient.fromConnectionString(connectionString);
  for (const name of [names.incoming, names.runs, names.results, names.extracts, names.jobs])
    await blobs.getContainerClient(name).createIfNotExists();
  for (const name of [names.importEvents, names.importChunks, `${names.importChunks}-poison`])
    await queues.getQueueClient(name).createIfNotExists();
  return { blobs, queues };
}
