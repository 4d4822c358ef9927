// Diagnosis of the signals bench's 429s (issue 17): which limit each was (the emulator's request log), when in
// the window, and which lane met it (each governor's starts and answers, by wrapping Governor; a dev tool only).
//   npx tsx bench/diag-signals.ts --servers 4 --time-scale 0.08 [--no-headers] [--verbose]
import { parseArgs } from 'node:util';
import { startEmulator, type RequestLogEntry } from '../emulator/index.js';
import { createDataverseClient, emulatorTokenProvider } from '../src/dataverse/index.js';
import { Governor, type Outcome, type Ticket } from '../src/dataverse/governor.js';
import { upsertForWindow } from './lib/write-window.js';

const { values } = parseArgs({
  options: {
    servers: { type: 'string', default: '4' },
    'time-scale': { type: 'string', default: '0.08' },
    'no-headers': { type: 'boolean', default: false },
    windows: { type: 'string', default: '3' },
    verbose: { type: 'boolean', default: false },
  },
});
const servers = Number(values.servers);
const scale = Number(values['time-scale']);
const settings = {
  webServers: servers,
  ...(values['no-headers'] ? { rateLimitHeaders: false, dopHintHeader: false } : {}),
};
const log: (RequestLogEntry & { t: number })[] = [];
const t0 = Date.now();
const emu = await startEmulator({
  profile: 'realistic',
  timeScale: scale,
  settings,
  log: (e) => log.push({ ...e, t: Date.parse(e.time) - t0 }),
});
const windowMs = emu.settings().windowSeconds * scale * 1000;
const runSeconds = (windowMs / 1000) * Number(values.windows);

const ids = new WeakMap<Governor, number>();
let nextId = 0;
const idOf = (g: Governor) => {
  let id = ids.get(g);
  if (id === undefined) ids.set(g, (id = nextId++));
  return id;
};
interface Ev {
  t: number;
  lane: number;
  kind: 'start' | 'finish';
  status?: number;
  conc?: boolean;
  running: number;
  limit: number;
  pacing: boolean;
  remaining?: string;
  retryAfterMs?: number;
}
const events: Ev[] = [];
const origStart = Governor.prototype.start;
const origFinish = Governor.prototype.finish;
Governor.prototype.start = function (this: Governor, ...args: Parameters<Governor['start']>) {
  const r = origStart.apply(this, args);
  events.push({
    t: Date.now() - t0,
    lane: idOf(this),
    kind: 'start',
    running: this.inFlight,
    limit: this.limit,
    pacing: this.pacing,
  });
  return r;
};
Governor.prototype.finish = function (this: Governor, ticket: Ticket, o: Outcome) {
  origFinish.call(this, ticket, o);
  events.push({
    t: Date.now() - t0,
    lane: idOf(this),
    kind: 'finish',
    ...(o.status !== undefined ? { status: o.status } : {}),
    ...(o.concurrencyLimited ? { conc: true } : {}),
    running: this.inFlight,
    limit: this.limit,
    pacing: this.pacing,
    ...(o.headers?.['x-ms-ratelimit-time-remaining-xrm-requests']
      ? { remaining: o.headers['x-ms-ratelimit-time-remaining-xrm-requests'] }
      : {}),
    ...(o.retryAfterMs !== undefined ? { retryAfterMs: o.retryAfterMs } : {}),
  });
};

const batchSize = 1000;
const one = emu.ceiling({ operation: 'upsert-multiple-key', batchSize, runSeconds });
const total = Math.ceil(one.recordsPerSecond * servers * runSeconds * 1.3) + batchSize;
const user = 'diag';
const records = Array.from({ length: total }, (_, i) => ({
  target: { key: { emailaddress1: `d.u${i}@example.com` } },
  data: { lastname: `Last ${i}`, firstname: 'Bench' },
}));
const client = createDataverseClient({
  url: emu.url,
  tokenProviders: [emulatorTokenProvider(emu.url, user)],
  maxConcurrency: 16,
  bulkSize: batchSize,
});
const tStart = Date.now() - t0;
const written = await upsertForWindow(client, emu, records, runSeconds);
await client.close();
await emu.close();

const first = log.find((e) => e.operation && e.operation !== 'whoami' && e.status < 400)?.t ?? tStart;
const bulk = log.filter((e) => e.url.includes('UpsertMultiple'));
const t429 = log.filter((e) => e.status === 429);
const byCode: Record<string, number> = {};
for (const e of t429) byCode[e.code ?? '?'] = (byCode[e.code ?? '?'] ?? 0) + 1;
console.log(
  JSON.stringify({
    servers,
    scale,
    windowMs,
    fraction: Number((written / runSeconds / (one.recordsPerSecond * servers)).toFixed(3)),
    requests: bulk.length,
    throttled: t429.length,
    byCode,
    load: (await import('node:os')).loadavg(),
  }),
);
console.log('429s (emulator): t-first, window#, phase in window, code');
for (const e of t429) {
  const rel = e.t - first;
  console.log(
    `  ${rel}ms  w${Math.floor(rel / windowMs)}  phase ${((rel % windowMs) / windowMs).toFixed(2)}  ${e.code}`,
  );
}
const lanes = new Map<
  number,
  { n429: number; starts: number; atLimit: number[]; pacingAt429: number; runningAt429: number[] }
>();
for (const e of events) {
  let l = lanes.get(e.lane);
  if (!l) lanes.set(e.lane, (l = { n429: 0, starts: 0, atLimit: [], pacingAt429: 0, runningAt429: [] }));
  if (e.kind === 'start') l.starts++;
  if (e.kind === 'finish' && e.status === 429) {
    l.n429++;
    if (e.pacing) l.pacingAt429++;
    l.runningAt429.push(e.running);
  }
}
console.log('lanes:', JSON.stringify([...lanes.entries()].map(([id, l]) => ({ id, ...l }))));
if (values.verbose)
  for (const e of events)
    if (e.kind === 'finish' || values.verbose) console.log(JSON.stringify({ ...e, t: e.t - first }));
