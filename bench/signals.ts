// The client on documented signals only (issue 17): UpsertMultiple through the governor against the
// realistic profile, side by side in one invocation, each run against a fresh emulator:
//   headers       one web server, x-ms-ratelimit-* and x-ms-dop-hint sent (the reference run)
//   no-headers    one web server, neither sent: Retry-After is all the client learns
//   4-servers     four web servers, headers sent; the client finds the servers (WhoAmI without a cookie)
//                 and keeps a governor lane per server, pinned by its ARRAffinity cookie
//   4-servers-no-headers  both at once
// Ratios: no-headers ÷ headers (goal ≥ 0.9), and 4-servers ÷ (4 × one server's ceiling) (goal ≥ 0.9),
// with 429s next to each. Prints one JSON document.
//
// The multi-server runs use a time scale N times coarser (N servers), so they ask the same records per
// real second of this machine as the one-server runs: on a shared 2-core machine the emulator and the
// client, in one process, would otherwise measure the CPU instead of the client. Fractions of the
// ceiling compare across time scales (the ceiling scales with them).
//
//   npx tsx bench/signals.ts [--time-scale 0.02] [--windows 3] [--batch 1000] [--max-concurrency 16]
//                            [--runs headers,no-headers,4-servers,4-servers-no-headers]
import { parseArgs } from 'node:util';
import { startEmulator, type EmulatorSettings, type RunningEmulator } from '../emulator/index.js';
import { createDataverseClient, emulatorTokenProvider } from '../src/dataverse/index.js';
import { upsertForWindow } from './lib/write-window.js';

const { values } = parseArgs({
  options: {
    'time-scale': { type: 'string', default: '0.02' },
    windows: { type: 'string', default: '3' },
    batch: { type: 'string', default: '1000' },
    'max-concurrency': { type: 'string', default: '16' },
    runs: { type: 'string', default: 'headers,no-headers,4-servers,4-servers-no-headers' },
  },
});
const timeScale = Number(values['time-scale']);
const windows = Number(values.windows);
const batchSize = Number(values.batch);
const maxConcurrency = Number(values['max-concurrency']);

interface RunSpec {
  readonly name: string;
  readonly settings: Partial<EmulatorSettings>;
}

const specs: readonly RunSpec[] = [
  { name: 'headers', settings: {} },
  { name: 'no-headers', settings: { rateLimitHeaders: false, dopHintHeader: false } },
  { name: '4-servers', settings: { webServers: 4 } },
  {
    name: '4-servers-no-headers',
    settings: { webServers: 4, rateLimitHeaders: false, dopHintHeader: false },
  },
];
const wanted = new Set(values.runs.split(','));

async function governorRun(emu: RunningEmulator, spec: RunSpec, runSeconds: number, run: number) {
  const servers = emu.settings().webServers;
  const oneServer = emu.ceiling({ operation: 'upsert-multiple-key', batchSize, runSeconds });
  const ceiling = oneServer.recordsPerSecond * servers;
  // More records than the ceiling allows, so the client is never starved; the run stops at the deadline.
  const total = Math.ceil(ceiling * runSeconds * 1.3) + batchSize;
  const user = `bench-signals-${run}`;
  const records = Array.from({ length: total }, (_, i) => ({
    target: { key: { emailaddress1: `s${run}.u${i}@example.com` } },
    data: { lastname: `Last ${i}`, firstname: 'Bench' },
  }));
  const client = createDataverseClient({
    url: emu.url,
    tokenProviders: [emulatorTokenProvider(emu.url, user)],
    maxConcurrency,
    bulkSize: batchSize,
  });
  const written = await upsertForWindow(client, emu, records, runSeconds);
  const m = client.metrics();
  await client.close();
  const usage = emu.stats().users.find((u) => u.user === user);
  const perSecond = written / runSeconds;
  return {
    run: spec.name,
    servers,
    timeScale: emu.settings().timeScale,
    runSeconds,
    settings: spec.settings,
    writtenInWindow: written,
    recordsPerSecond: Math.round(perSecond),
    oneServerCeilingRecordsPerSecond: Math.round(oneServer.recordsPerSecond),
    fractionOfCeiling: Number((perSecond / ceiling).toFixed(3)),
    requests: m.requests,
    throttled: m.throttled,
    requestsByServer: usage?.requestsByServer ?? [],
    peakConcurrency: Math.max(0, ...Object.values(m.byIdentity).map((i) => i.peakLimit)),
  };
}

const results: Awaited<ReturnType<typeof governorRun>>[] = [];
for (const [run, spec] of specs.entries()) {
  if (!wanted.has(spec.name)) continue;
  // A fresh emulator per run, so no run inherits another's spent budget.
  const scale = timeScale * (spec.settings.webServers ?? 1);
  const emu = await startEmulator({ profile: 'realistic', timeScale: scale, settings: spec.settings });
  const runSeconds = emu.settings().windowSeconds * scale * windows;
  results.push(await governorRun(emu, spec, runSeconds, run));
  await emu.close();
}

const byName = new Map(results.map((r) => [r.run, r]));
const ratio = (a: string, b: string) => {
  const x = byName.get(a);
  const y = byName.get(b);
  return x && y && y.recordsPerSecond > 0
    ? Number((x.recordsPerSecond / y.recordsPerSecond).toFixed(3))
    : undefined;
};
console.log(
  JSON.stringify(
    {
      bench: 'signals',
      profile: 'realistic',
      timeScale,
      windows,
      operation: 'UpsertMultiple (alternate key)',
      batchSize,
      maxConcurrency,
      runs: results,
      ratios: {
        withoutHeadersOverWith: ratio('no-headers', 'headers'),
        fourServersOverFourCeilings: byName.get('4-servers')?.fractionOfCeiling,
        fourServersWithoutHeadersOverFourCeilings: byName.get('4-servers-no-headers')?.fractionOfCeiling,
      },
    },
    null,
    2,
  ),
);
