// A fleet of local Functions hosts importing one file with several identities, against the realistic,
// time-scaled emulator: how close N identities and H hosts get to the N-identity ceiling.
//   npx tsx bench/fleet.ts [--identities 1,3,5] [--hosts 1,4] [--rows 60000] [--time-scale 1]
//                          [--window 20] [--chunk-size 2500] [--sharing on|off|both] [--refresh-ms 1000]
//                          [--pacing burst|steady|both] [--partition] [--queue-batch <n>]
//                          [--web-servers 1] [--host-heap-mb 0] [--emulator-log] [--host-logs <dir>] [--out <file.json>]
// Time scale 1 (modelled time = real time) by default: a smaller scale asks the machine for proportionally
// more rows per real second, and on a shared 2-core machine the CPU, not the coordination, then decides.
// Prints one JSON object (and writes it to --out): per combination rows/s, the ceiling for that identity
// count (times the web servers: limits are per user per server), the fraction, 429s, rows lost and duplicated, the modelled and real time, each host's peak RSS.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';
import { startAzurite } from '../dev/azurite.js';
import { names } from '../src/app/runtime.js';
import { startEmulatorProcess, type EmulatorProcess } from './lib/emulator-process.js';
import { benchJob, benchRow, importHeader, methodLabel } from './lib/import-data.js';
import {
  provisionStorage,
  readResultText,
  startFleetHost,
  waitForSummary,
  type FleetHost,
} from '../dev/fleet.js';

const { values } = parseArgs({
  options: {
    identities: { type: 'string', default: '1,3,5' },
    hosts: { type: 'string', default: '1,4' },
    rows: { type: 'string', default: '60000' },
    'time-scale': { type: 'string', default: '1' },
    window: { type: 'string', default: '20' },
    'chunk-size': { type: 'string', default: '2500' },
    sharing: { type: 'string', default: 'on' },
    'refresh-ms': { type: 'string', default: '1000' },
    // DATAVERSE_FLEET_PACING of the hosts: how shared instances spend each window (both: one run of each).
    pacing: { type: 'string', default: 'burst' },
    // Each host its own identities (host h those whose index modulo the host count is h), none shared: how
    // far instances that never share a window get (an experiment; needs at least as many identities as hosts).
    partition: { type: 'boolean', default: false },
    // Chunk messages a host takes at once (host.json's queues batchSize; newBatchThreshold then half of it).
    'queue-batch': { type: 'string' },
    'web-servers': { type: 'string', default: '1' },
    // Each host's V8 heap cap in MB, as the app's `languageWorkers__node__arguments` sets it in Azure (0: none).
    'host-heap-mb': { type: 'string', default: '0' },
    // One JSON line per emulator request on stderr, to see when the 429s come (time, user, status).
    'emulator-log': { type: 'boolean', default: false },
    // Each host's log lines (JSON) written to <dir>/<combination>-host<i>.log after the run.
    'host-logs': { type: 'string' },
    out: { type: 'string', default: 'bench/results/fleet.json' },
  },
});
const identityCounts = values.identities.split(',').map(Number);
const hostCounts = values.hosts.split(',').map(Number);
const rows = Number(values.rows);
const timeScale = Number(values['time-scale']);
const windowSeconds = Number(values.window);
const chunkSize = Number(values['chunk-size']);
const webServers = Number(values['web-servers']);
if (!Number.isInteger(webServers) || webServers < 1)
  throw new Error('--web-servers must be a whole number ≥ 1');
const hostHeapMb = Number(values['host-heap-mb']);
const sharingModes = values.sharing === 'both' ? [true, false] : [values.sharing !== 'off'];
const pacingModes: readonly Pacing[] =
  values.pacing === 'both' ? ['burst', 'steady'] : [values.pacing === 'steady' ? 'steady' : 'burst'];
type Pacing = 'burst' | 'steady';
/** Rows read back from the emulator per request, to check what landed. */
const PAGE_ROWS = 100_000;

// The documented limits per 300 s window scaled to a shorter one with the same sustained rates, as in
// bench/import.ts, so a run spans several windows.
const limits = {
  windowSeconds,
  maxRequests: Math.round((6_000 * windowSeconds) / 300),
  maxExecutionMs: Math.round((1_200_000 * windowSeconds) / 300),
  maxConcurrent: 52,
  webServers,
};

interface Stats {
  byStatus: Record<string, number>;
  users: { user: string; throttled: number; totalRequests: number }[];
}
interface CeilingAnswer {
  recordsPerSecond: number;
}

export interface FleetResult {
  readonly identities: number;
  readonly hosts: number;
  readonly webServers: number;
  readonly sharing: boolean;
  readonly pacing: Pacing;
  readonly rows: number;
  readonly rowsPerSecond: number;
  readonly rowsPerModelledHour: number;
  readonly ceilingRowsPerSecond: number;
  readonly fraction: number;
  readonly throttled: number;
  readonly requests: number;
  readonly lost: number;
  readonly duplicated: number;
  /** Rows whose line is missing from records.csv and errors.csv, or there more than once. */
  readonly unreported: number;
  readonly realSeconds: number;
  readonly modelledSeconds: number;
  readonly peakRssMb: readonly number[];
  readonly summaryStatus: unknown;
}

function csvBody(count: number): string {
  const lines = [importHeader.join(',')];
  for (let i = 0; i < count; i += 1) {
    const r = benchRow(i);
    lines.push(
      `${r.email},${r.firstname},${r.lastname},${r.telephone1},${r.jobtitle},${methodLabel(r.method)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function runCombination(
  emulator: EmulatorProcess,
  storage: string,
  body: string,
  identities: number,
  hosts: number,
  sharing: boolean,
  pacing: Pacing,
): Promise<FleetResult> {
  await emulator.control('POST', 'reset');
  const tag = `i${identities}-h${hosts}-${sharing ? 's' : 'n'}-${Date.now().toString(36)}`;
  const users = Array.from({ length: identities }, (_, i) => `fleet-${tag}-${i + 1}`);
  const blobs = await provisionStorage(storage);
  const started: FleetHost[] = [];
  try {
    for (let h = 0; h < hosts; h += 1) {
      started.push(
        await startFleetHost({
          index: h,
          storage,
          dataverseUrl: emulator.url,
          identities:
            values.partition && identities >= hosts ? users.filter((_, i) => i % hosts === h) : users,
          chunkSize,
          eventGrid: h === 0,
          settings: {
            DATAVERSE_FLEET_SHARING: sharing ? 'true' : 'false',
            DATAVERSE_FLEET_REFRESH_MS: values['refresh-ms'],
            DATAVERSE_FLEET_PACING: pacing,
            ...(values['queue-batch']
              ? {
                  AzureFunctionsJobHost__extensions__queues__batchSize: values['queue-batch'],
                  AzureFunctionsJobHost__extensions__queues__newBatchThreshold: String(
                    Math.floor(Number(values['queue-batch']) / 2),
                  ),
                }
              : {}),
            ...(hostHeapMb > 0
              ? { languageWorkers__node__arguments: `--max-old-space-size=${hostHeapMb}` }
              : {}),
          },
        }),
      );
    }
    const name = `fleet-${tag}.csv`;
    const upload = Date.now();
    await blobs
      .getContainerClient(names.incoming)
      .getBlockBlobClient(`${benchJob.name}/${name}`)
      .upload(body, Buffer.byteLength(body));
    const { folder, summary } = await waitForSummary(blobs, benchJob.name, name, 30 * 60_000, () =>
      started.every((h) => h.child.exitCode === null),
    );
    const realSeconds = (Date.now() - upload) / 1000;
    const peakRssMb = await Promise.all(
      started.map(async (h) => Math.round(((await h.peakRss()) ?? 0) / 1e6)),
    );

    // What landed: every row once, with the file's values.
    // In pages: one body of every row stops at V8's longest string past about 500,000 contacts.
    const stored: Record<string, unknown>[] = [];
    for (;;) {
      const page = await emulator.control<Record<string, unknown>[]>(
        'GET',
        `tables/contact?skip=${stored.length}&top=${PAGE_ROWS}`,
      );
      for (const row of page) stored.push(row);
      if (page.length < PAGE_ROWS) break;
    }
    const seen = new Map<string, number>();
    let good = 0;
    for (const row of stored) {
      const email = String(row.emailaddress1);
      seen.set(email, (seen.get(email) ?? 0) + 1);
      const i = Number(/^u(\d+)@/.exec(email)?.[1] ?? -1);
      const expected = i >= 0 && i < rows ? benchRow(i) : undefined;
      if (
        expected &&
        seen.get(email) === 1 &&
        row.lastname === expected.lastname &&
        row.firstname === expected.firstname &&
        row.jobtitle === expected.jobtitle
      )
        good += 1;
    }
    const duplicated = [...seen.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
    const lost = rows - good;
    const reported = new Map<number, number>();
    for (const file of ['records.csv', 'errors.csv']) {
      const text = await readResultText(blobs, `${folder}${file}`).catch(() => '');
      if (!text) continue;
      const parsed = parse(text, { columns: true, bom: true }) as Record<string, string>[];
      for (const line of parsed) {
        // records.csv lists failed rows too (status failed): count each row once, from records.csv, and
        // errors.csv's rows only when records.csv lacks them.
        if (file === 'errors.csv' && reported.has(Number(line.row))) continue;
        reported.set(Number(line.row), (reported.get(Number(line.row)) ?? 0) + 1);
      }
    }
    let unreported = 0;
    for (let row = 2; row < rows + 2; row += 1) if (reported.get(row) !== 1) unreported += 1;

    const stats = await emulator.control<Stats>('GET', 'stats');
    const mine = stats.users.filter((u) => users.includes(u.user));
    const ceiling = await emulator.control<CeilingAnswer>(
      'GET',
      `ceiling?operation=create-multiple&batchSize=1000&runSeconds=${realSeconds}&users=${identities}`,
    );
    // The emulator's ceiling is for one web server; each keeps its own windows, so N allow N times as much.
    const ceilingRowsPerSecond = ceiling.recordsPerSecond * webServers;
    const rowsPerSecond = good / realSeconds;
    return {
      identities,
      hosts,
      webServers,
      sharing,
      pacing,
      rows,
      rowsPerSecond,
      rowsPerModelledHour: rowsPerSecond * timeScale * 3600,
      ceilingRowsPerSecond,
      fraction: rowsPerSecond / ceilingRowsPerSecond,
      throttled: mine.reduce((n, u) => n + u.throttled, 0),
      requests: mine.reduce((n, u) => n + u.totalRequests, 0),
      lost,
      duplicated,
      unreported,
      realSeconds,
      modelledSeconds: realSeconds / timeScale,
      peakRssMb,
      summaryStatus: summary.status,
    };
  } finally {
    await Promise.all(started.map((h) => h.stop()));
    const logs = values['host-logs'];
    if (logs) {
      await mkdir(logs, { recursive: true });
      for (const h of started)
        await writeFile(`${logs}/${tag}-host${h.index}.log`, `${h.output.join('\n')}\n`);
    }
  }
}

const azurite = await startAzurite();
const emulator = await startEmulatorProcess([
  '--profile',
  'realistic',
  '--time-scale',
  String(timeScale),
  ...Object.entries(limits).flatMap(([key, value]) => ['--set', `${key}=${value}`]),
  ...(values['emulator-log'] ? ['--log'] : []),
]);
try {
  const blobs = await provisionStorage(azurite.connectionString);
  const jobBody = JSON.stringify(benchJob);
  await blobs
    .getContainerClient(names.jobs)
    .getBlockBlobClient(`${benchJob.name}.json`)
    .upload(jobBody, Buffer.byteLength(jobBody));
  const body = csvBody(rows);
  const results: FleetResult[] = [];
  const load = loadavg()[0];
  console.error(
    `fleet bench: ${rows} rows, identities ${identityCounts.join('/')}, hosts ${hostCounts.join('/')}, time scale ${timeScale}, ` +
      `window ${windowSeconds} s modelled, ${webServers} web server(s), chunk ${chunkSize}${hostHeapMb > 0 ? `, host heap cap ${hostHeapMb} MB` : ''}; load average ${load?.toFixed(1)} on ${cpus().length} cores`,
  );
  for (const identities of identityCounts) {
    for (const hosts of hostCounts) {
      for (const sharing of sharingModes) {
        for (const pacing of sharing && hosts > 1 ? pacingModes : pacingModes.slice(0, 1)) {
          const r = await runCombination(
            emulator,
            azurite.connectionString,
            body,
            identities,
            hosts,
            sharing,
            pacing,
          );
          results.push(r);
          console.error(
            `  ${identities} identities x ${hosts} hosts${webServers > 1 ? ` x ${webServers} web servers` : ''}${sharing ? (hosts > 1 ? `, ${pacing} pacing` : '') : ' (no sharing)'}: ${r.rowsPerSecond.toFixed(0)} rows/s = ` +
              `${(r.rowsPerModelledHour / 1e6).toFixed(2)} M rows per modelled hour, ${(r.fraction * 100).toFixed(1)}% of ceiling ` +
              `${r.ceilingRowsPerSecond.toFixed(0)}; ${r.throttled} 429s, ${r.requests} requests, lost ${r.lost}, duplicated ${r.duplicated}, ` +
              `unreported ${r.unreported}; ${r.realSeconds.toFixed(1)} s real = ${r.modelledSeconds.toFixed(0)} s modelled; peak RSS ${r.peakRssMb.join('/')} MB`,
          );
        }
      }
    }
  }
  const report = {
    benchmark: 'fleet',
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model,
      memoryGb: Math.round(totalmem() / 1e9),
      loadAverageAtStart: load,
      loadAverageAtEnd: loadavg()[0],
    },
    settings: { rows, timeScale, limits, chunkSize, hostHeapMb },
    results,
  };
  await mkdir(dirname(values.out), { recursive: true });
  await writeFile(values.out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report));
} finally {
  await emulator.stop();
  await azurite.stop();
}
