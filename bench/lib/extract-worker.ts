// Child process: one extract strategy against the emulator, alone in its process so that its peak
// RSS (the kernel's max resident set) is its own. Prints one JSON line.
//   sequential  the seed approach: one GET after another along @odata.nextLink, rows kept in memory
//   retrieveAll dynamics-web-api's retrieveAll, configured as its README shows
//   ours        runExtract: createdon partitions in parallel, streamed to a CSV file (or a Parquet file
//               when the fifth argument is `parquet`)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { DynamicsWebApi } from 'dynamics-web-api';
import { createClient } from '../../src/app/dataverse.js';
import { extractJobSchema } from '../../src/config/job.js';
import { runExtract } from '../../src/extracts/index.js';
import { FileBlockSink } from '../../src/storage/file-block-sink.js';
import { FileObjectStore } from '../../src/storage/file-store.js';
import { benchColumns } from './extract-columns.js';

export interface WorkerResult {
  readonly strategy: string;
  readonly rows: number;
  readonly seconds: number;
  readonly requests: number;
  readonly throttled: number;
  readonly peakRssMb: number;
  readonly cpuSeconds: number;
  /** Size of the file ours wrote. */
  readonly bytes?: number;
}

const [strategy = 'ours', url = '', user = 'bench', partitionsText = '48', format = 'csv'] =
  process.argv.slice(2);
if (format !== 'csv' && format !== 'parquet') throw new Error(`unknown format ${format}`);
const select = ['contactid', ...benchColumns];

async function sequential(): Promise<{ rows: number; requests: number; throttled: number }> {
  const all: unknown[] = [];
  let next: string | undefined = `${url}/api/data/v9.2/contacts?$select=${select.join(',')}`;
  let requests = 0;
  let throttled = 0;
  while (next) {
    const res = await request(next, {
      headers: {
        authorization: `Bearer emulator:${user}`,
        accept: 'application/json',
        prefer: 'odata.maxpagesize=5000',
      },
    });
    requests += 1;
    if (res.statusCode === 429) {
      // The seed has no Retry-After handling: it stops, and the rows after this page are lost.
      throttled += 1;
      await res.body.dump();
      break;
    }
    const page = (await res.body.json()) as { value: unknown[]; '@odata.nextLink'?: string };
    all.push(...page.value);
    next = page['@odata.nextLink'];
  }
  return { rows: all.length, requests, throttled };
}

async function retrieveAll(): Promise<{ rows: number; requests: number; throttled: number }> {
  const api = new DynamicsWebApi({
    serverUrl: url,
    dataApi: { version: '9.2' },
    onTokenRefresh: async () => `emulator:${user}`,
  });
  const result = await api.retrieveAll({ collection: 'contacts', select, maxPageSize: 5000 });
  // Requests and 429s are counted by the emulator (per user); the library does not report them.
  return { rows: result.value.length, requests: 0, throttled: 0 };
}

async function ours(): Promise<{ rows: number; requests: number; throttled: number; bytes: number }> {
  const partitions = Number(partitionsText);
  const dir = await mkdtemp(join(tmpdir(), 'bench-extract-'));
  const client = createClient({ url, identities: [user], maxConcurrency: 52 });
  try {
    const job = extractJobSchema.parse({
      name: 'bench',
      table: 'contact',
      columns: select,
      partitions: Math.min(52, partitions),
      format,
    });
    const { manifest } = await runExtract(
      { client, sink: new FileBlockSink(dir), state: new FileObjectStore(join(dir, 'state')) },
      job,
      { path: `contacts.${format}`, concurrency: partitions },
    );
    return {
      rows: manifest.rows,
      requests: manifest.requests,
      throttled: manifest.throttled,
      bytes: manifest.bytes,
    };
  } finally {
    await client.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const run = { sequential, retrieveAll, ours }[strategy as 'sequential' | 'retrieveAll' | 'ours'];
if (!run) throw new Error(`unknown strategy ${strategy}`);
const started = performance.now();
const outcome = await run();
const seconds = (performance.now() - started) / 1000;
const usage = process.resourceUsage();
const result: WorkerResult = {
  strategy,
  ...outcome,
  seconds,
  peakRssMb: Math.round(usage.maxRSS / 1024),
  cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
