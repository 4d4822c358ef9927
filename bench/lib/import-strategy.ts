// One import strategy in its own process (so its peak RSS and CPU are its own). Prints one JSON line.
//   node --import tsx bench/lib/import-strategy.ts <strategy> <emulator url> <csv> <user> <rows>
import { readFile } from 'node:fs/promises';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import pMap from 'p-map';
import { Agent, request } from 'undici';
import { DynamicsWebApi } from 'dynamics-web-api';
import { createClient } from '../../src/app/dataverse.js';
import { parseImportJob } from '../../src/config/job.js';
import { runLocalImport } from '../../src/imports/local-run.js';
import { RequestMeter } from '../../src/imports/request-meter.js';
import { silentLogger } from '../../src/logging.js';
import { benchJob } from './import-data.js';

export interface StrategyResult {
  readonly strategy: string;
  /** Ours only: seconds spent before the first write (read + plan) and after the last (result files). */
  readonly phases?: {
    readonly planSeconds: number;
    readonly writeSeconds: number;
    readonly finishSeconds: number;
  };
  readonly rowsReportedOk: number;
  readonly requests: number;
  readonly throttled: number;
  readonly otherErrors: number;
  readonly durationMs: number;
  readonly cpuSeconds: number;
  readonly peakRssMb: number;
}

const [strategy, url, csvPath, user] = process.argv.slice(2) as [string, string, string, string];
const apiRoot = `${url}/api/data/v9.2/`;
const token = `emulator:${user}`;

interface Counters {
  ok: number;
  requests: number;
  throttled: number;
  otherErrors: number;
}

async function readRows(): Promise<string[][]> {
  return parse(await readFile(csvPath), { from_line: 2 }) as string[][];
}

const METHOD: Record<string, number> = { Any: 1, Email: 2, Phone: 3, Fax: 4, Mail: 5 };
const body = (r: string[]) => ({
  firstname: r[1],
  lastname: r[2],
  telephone1: r[3],
  jobtitle: r[4],
  preferredcontactmethodcode: METHOD[r[5] ?? 'Any'] ?? 1,
});
const keyOf = (email: string) => `emailaddress1='${email.replace(/'/g, "''")}'`;

/** The seed approach: a fixed pool of 4 workers, one request per row (PATCH = upsert by key), no retry. */
async function seed(c: Counters): Promise<void> {
  const rows = await readRows();
  const dispatcher = new Agent({ connections: 4 });
  await pMap(
    rows,
    async (r) => {
      c.requests += 1;
      const res = await request(`${apiRoot}contacts(${keyOf(r[0] ?? '')})`, {
        method: 'PATCH',
        dispatcher,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json',
          'odata-version': '4.0',
          'odata-maxversion': '4.0',
        },
        body: JSON.stringify(body(r)),
      }).catch(() => undefined);
      if (!res) return void (c.otherErrors += 1);
      await res.body.dump();
      if (res.statusCode < 300) c.ok += 1;
      else if (res.statusCode === 429) c.throttled += 1;
      else c.otherErrors += 1;
    },
    { concurrency: 4 },
  );
}

/** An error of dynamics-web-api: the HTTP status and the answer's headers, when the service answered. */
interface WebApiFailure {
  readonly status?: number;
  readonly headers?: Record<string, string>;
}

/**
 * Runs a dynamics-web-api call again on 429 (and 5xx) after the Retry-After the service sent: its
 * maintainer's advice for throttling, which the library leaves to the caller.
 */
async function withRetryAfter<T>(c: Counters, call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      c.requests += 1;
      return await call();
    } catch (error) {
      const failure = (Array.isArray(error) ? error[0] : error) as WebApiFailure;
      const status = failure.status ?? 0;
      if ((status !== 429 && status < 500) || attempt >= 10) throw error;
      if (status === 429) c.throttled += 1;
      await sleep(retryAfterMs(failure.headers ?? {}, attempt));
    }
  }
}

function webApiClients(n: number): DynamicsWebApi[] {
  return Array.from(
    { length: n },
    () =>
      new DynamicsWebApi({ serverUrl: url, dataApi: { version: '9.2' }, onTokenRefresh: async () => token }),
  );
}

/**
 * dynamics-web-api as its README shows bulk work: $batch of up to 1,000 requests, several batches in
 * parallel, each sent again after Retry-After when throttled.
 */
async function dynamicsWebApi(c: Counters): Promise<void> {
  const rows = await readRows();
  const batches: string[][][] = [];
  for (let i = 0; i < rows.length; i += 1_000) batches.push(rows.slice(i, i + 1_000));
  const concurrency = 4;
  const free = webApiClients(concurrency);
  await pMap(
    batches,
    async (batch) => {
      const api = free.pop()!;
      try {
        const results = await withRetryAfter(c, () => {
          api.startBatch();
          for (const r of batch)
            api.upsert({ collection: 'contacts', key: keyOf(r[0] ?? ''), data: body(r) });
          return api.executeBatch({ continueOnError: true }) as Promise<unknown[]>;
        });
        for (const result of results) {
          if (result instanceof Error) c.otherErrors += 1;
          else c.ok += 1;
        }
      } catch {
        c.otherErrors += batch.length;
      } finally {
        free.push(api);
      }
    },
    { concurrency },
  );
}

/** Emails of the contacts already in Dataverse, read page by page (5,000 a page). */
async function existingEmails(c: Counters, api: DynamicsWebApi): Promise<Set<string>> {
  c.requests += 1;
  const all = await api.retrieveAll<{ emailaddress1?: string }>({
    collection: 'contacts',
    select: ['emailaddress1'],
    maxPageSize: 5_000,
  });
  return new Set(all.value.map((row) => String(row.emailaddress1 ?? '').toLowerCase()));
}

/**
 * dynamics-web-api calling the bulk messages through callAction, as a competent user would: read which
 * keys exist, CreateMultiple for the new rows and UpsertMultiple by key for the rest, 1,000 a request,
 * 4 at a time (the default x-ms-dop-hint), each sent again after Retry-After when throttled.
 */
async function dynamicsWebApiBulk(c: Counters): Promise<void> {
  const rows = await readRows();
  const concurrency = 4;
  const free = webApiClients(concurrency);
  const known = await existingEmails(c, free[0]!);
  const requests = bulkRequests(rows, known);
  await pMap(
    requests,
    async ({ message, batch, targets }) => {
      const api = free.pop()!;
      try {
        await withRetryAfter(c, () =>
          api.callAction({
            collection: 'contacts',
            actionName: `Microsoft.Dynamics.CRM.${message}`,
            action: { Targets: targets },
          }),
        );
        c.ok += batch.length;
      } catch {
        c.otherErrors += batch.length;
      } finally {
        free.push(api);
      }
    },
    { concurrency },
  );
}

interface BulkRequest {
  readonly message: 'CreateMultiple' | 'UpsertMultiple';
  readonly batch: string[][];
  readonly targets: Record<string, unknown>[];
}

/** CreateMultiple for rows whose key is not in Dataverse, UpsertMultiple by key for the others; 1,000 a request. */
function bulkRequests(rows: readonly string[][], known: ReadonlySet<string>): BulkRequest[] {
  const fresh = rows.filter((r) => !known.has((r[0] ?? '').toLowerCase()));
  const existing = rows.filter((r) => known.has((r[0] ?? '').toLowerCase()));
  const out: BulkRequest[] = [];
  const type = { '@odata.type': 'Microsoft.Dynamics.CRM.contact' };
  for (let i = 0; i < fresh.length; i += 1_000) {
    const batch = fresh.slice(i, i + 1_000);
    out.push({
      message: 'CreateMultiple',
      batch,
      targets: batch.map((r) => ({ ...type, emailaddress1: r[0], ...body(r) })),
    });
  }
  for (let i = 0; i < existing.length; i += 1_000) {
    const batch = existing.slice(i, i + 1_000);
    out.push({
      message: 'UpsertMultiple',
      batch,
      targets: batch.map((r) => ({ ...type, '@odata.id': `contacts(${keyOf(r[0] ?? '')})`, ...body(r) })),
    });
  }
  return out;
}

/**
 * The .NET ServiceClient way, following Microsoft's bulk guidance fully: read x-ms-dop-hint, learn which
 * keys exist, CreateMultiple where rows are known to be new and UpsertMultiple by key for the rest, 1,000
 * a request, that many requests in parallel, and on a 429 wait Retry-After and send it again.
 */
async function dotnetStyle(c: Counters): Promise<void> {
  const rows = await readRows();
  const headers = {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'application/json',
    'odata-version': '4.0',
    'odata-maxversion': '4.0',
  };
  const probe = await request(`${apiRoot}WhoAmI`, { headers });
  await probe.body.dump();
  c.requests += 1;
  const dop = Number(probe.headers['x-ms-dop-hint'] ?? 4) || 4;
  const dispatcher = new Agent({ connections: dop });
  const known = await existingEmails(c, webApiClients(1)[0]!);
  await pMap(
    bulkRequests(rows, known),
    async ({ message, batch, targets }) => {
      const payload = JSON.stringify({ Targets: targets });
      for (let attempt = 1; attempt <= 10; attempt += 1) {
        c.requests += 1;
        const res = await request(`${apiRoot}contacts/Microsoft.Dynamics.CRM.${message}`, {
          method: 'POST',
          dispatcher,
          headers,
          body: payload,
        }).catch(() => undefined);
        if (!res) continue;
        await res.body.dump();
        if (res.statusCode < 300) return void (c.ok += batch.length);
        if (res.statusCode === 429 || res.statusCode >= 500) {
          if (res.statusCode === 429) c.throttled += 1;
          await sleep(retryAfterMs(res.headers, attempt));
          continue;
        }
        c.otherErrors += batch.length;
        return;
      }
      c.otherErrors += batch.length;
    },
    { concurrency: dop },
  );
}

/**
 * Retry-After as sent. Under a time-scaled emulator whole seconds are far too coarse, so both this
 * baseline and our client take the emulator's millisecond variant when present.
 */
function retryAfterMs(headers: Record<string, string | string[] | undefined>, attempt: number): number {
  const precise = Number(headers['x-ms-emulator-retry-after-ms']);
  if (Number.isFinite(precise) && precise > 0) return precise;
  const seconds = Number(headers['retry-after']);
  return Number.isFinite(seconds) ? seconds * 1000 : 2 ** attempt * 1000;
}

/** dataverse-pipelines: the real pipeline (plan, chunks, mapping, writes) through the governed client. */
let phases: StrategyResult['phases'];

async function ours(c: Counters): Promise<void> {
  const begun = performance.now();
  let firstWrite: number | undefined;
  let lastWrite = 0;
  const meter = new RequestMeter();
  const client = createClient({
    url,
    identities: [user],
    onEvent: (event) => {
      meter.onEvent(event);
      // BENCH_EVENTS=1: every client event on stderr, with seconds since the strategy began.
      if (process.env.BENCH_EVENTS) {
        process.stderr.write(`${((performance.now() - begun) / 1000).toFixed(3)} ${JSON.stringify(event)}\n`);
      }
      if (event.type === 'records') {
        firstWrite ??= performance.now();
        lastWrite = performance.now();
      }
    },
    ...(process.env.BENCH_BULK_SIZE ? { bulkSize: Number(process.env.BENCH_BULK_SIZE) } : {}),
    ...(process.env.BENCH_MAX_CONCURRENCY
      ? { maxConcurrency: Number(process.env.BENCH_MAX_CONCURRENCY) }
      : {}),
  });
  const outDir = await mkdtemp(join(tmpdir(), 'dvp-bench-'));
  const job = parseImportJob(benchJob, 'bench job');
  const jobPath = join(outDir, 'job.json');
  await writeFile(jobPath, JSON.stringify(benchJob));
  const result = await runLocalImport({
    file: csvPath,
    job,
    client,
    environment: url,
    meter,
    outDir,
    log: silentLogger,
    chunkConcurrency: Number(process.env.BENCH_CHUNK_CONCURRENCY ?? 4),
    ...(process.env.BENCH_CHUNK_SIZE ? { defaultChunkSize: Number(process.env.BENCH_CHUNK_SIZE) } : {}),
  });
  const ended = performance.now();
  const first = firstWrite ?? ended;
  phases = {
    planSeconds: (first - begun) / 1000,
    writeSeconds: (lastWrite - first) / 1000,
    finishSeconds: (ended - lastWrite) / 1000,
  };
  const metrics = client.metrics();
  c.ok = result.summary.rows.succeeded;
  c.otherErrors = result.summary.rows.failed;
  c.requests = metrics.requests;
  c.throttled = metrics.throttled;
  await client.close();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const strategies: Record<string, (c: Counters) => Promise<void>> = {
  seed,
  'dynamics-web-api': dynamicsWebApi,
  'dynamics-web-api-bulk': dynamicsWebApiBulk,
  'dotnet-style': dotnetStyle,
  ours,
};

const run = strategies[strategy];
if (!run) throw new Error(`unknown strategy ${strategy}`);
const counters: Counters = { ok: 0, requests: 0, throttled: 0, otherErrors: 0 };
const cpuBefore = process.cpuUsage();
const started = performance.now();
await run(counters);
const durationMs = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
const result: StrategyResult = {
  strategy,
  rowsReportedOk: counters.ok,
  requests: counters.requests,
  throttled: counters.throttled,
  otherErrors: counters.otherErrors,
  durationMs,
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  peakRssMb: process.resourceUsage().maxRSS / 1024,
  ...(phases ? { phases } : {}),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
