// Records/s the emulator takes through bulk messages (fast profile), so benchmarks know it is never the
// bottleneck (issue 2: at least 20,000 record writes/s on one core). The emulator runs in its own child
// process (one core), the driver here sends pre-built CreateMultiple / UpsertMultiple bodies with undici.
// Prints one JSON document.
//
//   npx tsx bench/emulator-throughput.ts [--requests 60] [--batch 1000] [--connections 4]
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '60' },
    batch: { type: 'string', default: '1000' },
    connections: { type: 'string', default: '4' },
  },
});
const requests = Number(values.requests);
const batch = Number(values.batch);
const connections = Number(values.connections);
const root = join(import.meta.dirname, '..');

async function startChild(): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, [join(root, 'bin', 'dvpipe.js'), 'emulator', '--port', '0'], {
    env: { ...process.env, DVPIPE_FROM_SOURCE: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      const m = /http:\/\/127\.0\.0\.1:\d+/.exec(c.toString());
      if (m) resolve(m[0]);
    });
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

const T = 'Microsoft.Dynamics.CRM.dvp_sample';

function sample(i: number, phase: string): Record<string, unknown> {
  return {
    '@odata.type': T,
    dvp_name: `Sample ${phase} ${i}`,
    dvp_quantity: i % 1000,
    dvp_amount: i / 7,
    dvp_active: i % 2 === 0,
    dvp_duedate: '2025-06-30',
    dvp_category: 100000000 + (i % 3),
    dvp_tags: '100000000,100000002',
  };
}

type Body = (r: number) => string;

async function phase(
  pool: Pool,
  path: string,
  body: Body,
): Promise<{ records: number; seconds: number; recordsPerSecond: number }> {
  const headers = {
    Authorization: 'Bearer emulator:bench',
    'Content-Type': 'application/json',
    Accept: 'application/json',
  };
  // Bodies are serialised before the clock starts: this measures the emulator, not JSON.stringify here.
  const bodies = Array.from({ length: requests }, (_, r) => body(r));
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < bodies.length) {
        const i = next++;
        const res = await pool.request({ method: 'POST', path, headers, body: bodies[i]! });
        const text = await res.body.text();
        if (res.statusCode >= 300) throw new Error(`${path}: ${res.statusCode} ${text.slice(0, 300)}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const records = requests * batch;
  return { records, seconds: Number(seconds.toFixed(3)), recordsPerSecond: Math.round(records / seconds) };
}

const emulator = await startChild();
const pool = new Pool(emulator.url, { connections });
try {
  const base = '/api/data/v9.2/dvp_samples/Microsoft.Dynamics.CRM.';
  const targets = (r: number, make: (i: number) => Record<string, unknown>) =>
    JSON.stringify({ Targets: Array.from({ length: batch }, (_, j) => make(r * batch + j)) });
  const createMultiple = await phase(pool, `${base}CreateMultiple`, (r) =>
    targets(r, (i) => sample(i, 'create')),
  );
  const upsertByKeyCreate = await phase(pool, `${base}UpsertMultiple`, (r) =>
    targets(r, (i) => ({ ...sample(i, 'upsert'), '@odata.id': `dvp_samples(dvp_code='K${i}')` })),
  );
  const upsertByKeyUpdate = await phase(pool, `${base}UpsertMultiple`, (r) =>
    targets(r, (i) => ({ ...sample(i, 'upsert-again'), '@odata.id': `dvp_samples(dvp_code='K${i}')` })),
  );
  const upsertById = await phase(pool, `${base}UpsertMultiple`, (r) =>
    targets(r, (i) => ({
      ...sample(i, 'by-id'),
      dvp_sampleid: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
    })),
  );
  console.log(
    JSON.stringify(
      {
        benchmark: 'emulator-throughput',
        profile: 'fast',
        node: process.version,
        batch,
        requestsPerPhase: requests,
        connections,
        phases: { createMultiple, upsertByKeyCreate, upsertByKeyUpdate, upsertById },
        target: 'at least 20,000 record writes/s on one core',
      },
      null,
      2,
    ),
  );
} finally {
  await pool.close();
  emulator.stop();
}
