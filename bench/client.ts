// Throughput of upsertMultiple through the governor against the emulator's realistic profile, as a fraction of
// the emulator's computed ceiling for the same run length, next to the seed approach (4 workers, one POST per
// row, no retry) in the same invocation. Prints one JSON document.
//
//   npx tsx bench/client.ts [--time-scale 0.02] [--windows 3,6,12] [--batch 1000] [--max-concurrency 16]
//                           [--key id|alternate] [--seed-time-scale 0.05] [--seed-windows 3 (0: no seed loop)]
//
// Rates are reported per real second and per "Dataverse second" (real rate × time scale), the unit in which runs
// at different time scales compare. The seed loop runs at a coarser time scale: at fine scales this machine
// cannot send single requests fast enough to reach the request limit it would hit against the real service.
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { startEmulator, type RunningEmulator } from '../emulator/index.js';
import { createDataverseClient, emulatorTokenProvider, type RecordTarget } from '../src/dataverse/index.js';
import { upsertForWindow } from './lib/write-window.js';

const { values } = parseArgs({
  options: {
    'time-scale': { type: 'string', default: '0.02' },
    'seed-time-scale': { type: 'string', default: '0.05' },
    'seed-windows': { type: 'string', default: '3' },
    windows: { type: 'string', default: '3,6,12' },
    batch: { type: 'string', default: '1000' },
    'max-concurrency': { type: 'string', default: '16' },
    key: { type: 'string', default: 'alternate' },
  },
});
const timeScale = Number(values['time-scale']);
const windowsList = values.windows.split(',').map(Number);
const batchSize = Number(values.batch);
const maxConcurrency = Number(values['max-concurrency']);
const byKey = values.key !== 'id';
const seedTimeScale = Number(values['seed-time-scale']);
const seedWindows = Number(values['seed-windows']);

function target(i: number, run: number): RecordTarget {
  if (byKey) return { key: { emailaddress1: `r${run}.u${i}@example.com` } };
  const hex = (run * 10_000_000 + i).toString(16).padStart(12, '0');
  return { id: `00000000-0000-4000-8000-${hex}` };
}

async function governorRun(emu: RunningEmulator, runSeconds: number, run: number) {
  const ceiling = emu.ceiling({
    operation: byKey ? 'upsert-multiple-key' : 'upsert-multiple-id',
    batchSize,
    runSeconds,
  });
  // More records than the ceiling allows, so the client is never starved; the run stops at the deadline.
  const total = Math.ceil(ceiling.recordsPerSecond * runSeconds * 1.3) + batchSize;
  const records = Array.from({ length: total }, (_, i) => ({
    target: target(i, run),
    data: { lastname: `Last ${i}`, firstname: 'Bench' },
  }));
  let done = 0;
  let deadline = Infinity;
  const client = createDataverseClient({
    url: emu.url,
    tokenProviders: [emulatorTokenProvider(emu.url, `bench-governor-${run}`)],
    maxConcurrency,
    bulkSize: batchSize,
    onEvent: (e) => {
      if (e.type === 'records' && performance.now() <= deadline) done += e.succeeded;
    },
  });
  deadline = performance.now() + runSeconds * 1000;
  const writtenAtDeadline = await upsertForWindow(client, emu, records, runSeconds);
  const m = client.metrics();
  await client.close();
  // How much of the execution-time budget the run spent: what the emulator charged against the ceiling's budget.
  const s = emu.settings();
  const usage = emu.stats().users.find((u) => u.user === `bench-governor-${run}`);
  const budgetMs = s.maxExecutionMs * (1 + runSeconds / timeScale / s.windowSeconds);
  const recordsPerSecond = done / runSeconds;
  return {
    records: done,
    recordsPerSecond: Math.round(recordsPerSecond),
    dataverseRecordsPerSecond: Number((recordsPerSecond * timeScale).toFixed(1)),
    writtenInWindow: writtenAtDeadline,
    writtenPerSecond: Math.round(writtenAtDeadline / runSeconds),
    writtenFractionOfCeiling: Number((writtenAtDeadline / runSeconds / ceiling.recordsPerSecond).toFixed(3)),
    ceilingRecordsPerSecond: Math.round(ceiling.recordsPerSecond),
    ceilingBinding: ceiling.binding,
    fractionOfCeiling: Number((recordsPerSecond / ceiling.recordsPerSecond).toFixed(3)),
    requests: m.requests,
    throttled: m.throttled,
    retries: m.retries,
    throttleWaitMs: Math.round(m.throttleWaitMs),
    peakConcurrency: Math.max(0, ...Object.values(m.byIdentity).map((i) => i.peakLimit)),
    budgetCharged: Number(((usage?.totalCountedMs ?? 0) / budgetMs).toFixed(3)),
  };
}

/** The seed approach: 4 workers, one POST per row, no retry, no backoff; a 429 loses the row. */
async function seedRun(emu: RunningEmulator, runSeconds: number, run: number) {
  const ceiling = emu.ceiling({ operation: 'create', runSeconds });
  const dispatcher = new Agent({ connections: 4 });
  const headers = {
    authorization: `Bearer emulator:bench-seed-${run}`,
    'content-type': 'application/json',
    accept: 'application/json',
    'odata-version': '4.0',
    'odata-maxversion': '4.0',
  };
  const deadline = performance.now() + runSeconds * 1000;
  let next = 0;
  const counts = { attempted: 0, written: 0, lostTo429: 0, otherErrors: 0 };
  const worker = async () => {
    while (performance.now() < deadline) {
      const i = next++;
      counts.attempted++;
      try {
        const res = await request(`${emu.apiRoot}contacts`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ lastname: `Seed ${i}`, emailaddress1: `seed${run}.${i}@example.com` }),
          dispatcher,
        });
        await res.body.dump();
        if (performance.now() > deadline) break;
        if (res.statusCode < 300) counts.written++;
        else if (res.statusCode === 429) counts.lostTo429++;
        else counts.otherErrors++;
      } catch {
        counts.otherErrors++;
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  await dispatcher.close();
  return {
    ...counts,
    recordsPerSecond: Math.round(counts.written / runSeconds),
    dataverseRecordsPerSecond: Number(((counts.written / runSeconds) * seedTimeScale).toFixed(1)),
    singleCreateCeilingFraction: Number((counts.written / runSeconds / ceiling.recordsPerSecond).toFixed(3)),
  };
}

const runs = [];
for (const [run, windows] of windowsList.entries()) {
  // A fresh emulator per run, so no run inherits another's spent budget.
  const emu = await startEmulator({ profile: 'realistic', timeScale });
  const runSeconds = emu.settings().windowSeconds * timeScale * windows;
  const governor = await governorRun(emu, runSeconds, run);
  await emu.close();
  runs.push({ windows, runSeconds, governor });
}
// `--seed-windows 0` leaves the seed loop out (`npm run bench` does: the import benchmark runs the seed
// approach side by side with the whole pipeline).
let seed:
  | ({ windows: number; timeScale: number; runSeconds: number } & Awaited<ReturnType<typeof seedRun>>)
  | undefined;
if (seedWindows > 0) {
  const seedEmu = await startEmulator({ profile: 'realistic', timeScale: seedTimeScale });
  const seedSeconds = seedEmu.settings().windowSeconds * seedTimeScale * seedWindows;
  seed = {
    windows: seedWindows,
    timeScale: seedTimeScale,
    runSeconds: seedSeconds,
    ...(await seedRun(seedEmu, seedSeconds, 0)),
  };
  await seedEmu.close();
}

console.log(
  JSON.stringify(
    {
      bench: 'dataverse-client',
      profile: 'realistic',
      timeScale,
      windowSeconds: 300 * timeScale,
      operation: byKey ? 'UpsertMultiple (alternate key)' : 'UpsertMultiple (id)',
      batchSize,
      maxConcurrency,
      runs: runs.map((r) => ({
        ...r,
        ...(seed
          ? {
              speedupOverSeed: Number(
                (
                  r.governor.dataverseRecordsPerSecond / Math.max(0.1, seed.dataverseRecordsPerSecond)
                ).toFixed(1),
              ),
            }
          : {}),
      })),
      seed,
    },
    null,
    2,
  ),
);
