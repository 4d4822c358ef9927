// Child process hosting the emulator for bench/extract.ts, so its CPU is not the extractor's. Seeds
// contacts on the fast profile, then switches to the realistic profile. Driven over IPC.
//
// createdon: the emulator stamps the wall clock and has no overriddencreatedon, so seeding 1M rows in
// seconds would give a table created in ~20 distinct seconds, unlike any real org. While seeding,
// Date is replaced by a synthetic clock that advances 2 ms per row: the table looks as if it had been
// loaded at 500 rows/s (the documented sustained bulk-create rate), and createdon spreads accordingly.
import { appendFileSync } from 'node:fs';
import { startEmulator, type CeilingQuery, type RunningEmulator } from '../../emulator/index.js';
import { benchColumns } from './extract-columns.js';

export type HostRequest =
  | { readonly id: number; readonly type: 'seed'; readonly rows: number }
  | { readonly id: number; readonly type: 'realistic'; readonly timeScale: number }
  | { readonly id: number; readonly type: 'ceiling'; readonly query: CeilingQuery }
  | { readonly id: number; readonly type: 'stats' }
  | { readonly id: number; readonly type: 'close' };

// BENCH_TRACE=<file>: one JSON line per request (time, status, held ms), to see a run's timeline.
const trace = process.env.BENCH_TRACE;
const emulator: RunningEmulator = await startEmulator({
  profile: 'fast',
  ...(trace ? { log: (entry) => appendFileSync(trace, `${JSON.stringify(entry)}\n`) } : {}),
});
let seeded = 0;
const historyStart = Date.parse('2024-01-01T00:00:00Z');

function seed(rows: number): void {
  const RealDate = Date;
  let now = historyStart + seeded * 2;
  class SyntheticDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(now);
      else super(...(args as [string]));
    }
    static override now(): number {
      return now;
    }
  }
  globalThis.Date = SyntheticDate as DateConstructor;
  try {
    for (let i = seeded; i < seeded + rows; i += 1) {
      now = historyStart + i * 2;
      emulator.store.put('contact', {
        firstname: `First ${i}`,
        lastname: `Last ${i}`,
        emailaddress1: `contact${i}@example.com`,
        telephone1: `+1 555 ${String(i % 10_000).padStart(4, '0')}`,
        jobtitle: i % 3 === 0 ? 'Buyer' : 'Engineer',
        birthdate: `19${50 + (i % 50)}-0${1 + (i % 9)}-1${i % 10}`,
        preferredcontactmethodcode: 1 + (i % 5),
        donotemail: i % 2 === 0,
        creditlimit: (i % 5000) + 0.5,
        description: `Seeded row ${i}`,
      });
    }
  } finally {
    globalThis.Date = RealDate;
  }
  seeded += rows;
}

/**
 * One range query on createdon builds the emulator's sorted index, as a real org's index on createdon
 * exists before anyone reads; otherwise the first partitioned read would pay for building it.
 */
async function warmCreatedonIndex(): Promise<void> {
  const filter = encodeURIComponent('createdon ge 2000-01-01T00:00:00Z');
  const res = await fetch(`${emulator.apiRoot}contacts?$select=contactid&$top=1&$filter=${filter}`, {
    headers: { authorization: 'Bearer emulator:bench-warmup' },
  });
  if (res.status !== 200) throw new Error(`warm-up query answered ${res.status}`);
  await res.arrayBuffer();
}

process.on('message', (message: HostRequest) => {
  void (async () => {
    let result: unknown;
    switch (message.type) {
      case 'seed':
        emulator.configure({ profile: 'fast' });
        seed(message.rows);
        await warmCreatedonIndex();
        result = { rows: emulator.store.count('contact') };
        break;
      case 'realistic':
        emulator.configure({ profile: 'realistic', timeScale: message.timeScale, resetLimits: true });
        result = emulator.settings();
        break;
      case 'ceiling':
        result = emulator.ceiling(message.query);
        break;
      case 'stats':
        result = emulator.stats();
        break;
      case 'close':
        await emulator.close();
        process.send?.({ id: message.id, result: null });
        process.disconnect();
        return;
    }
    process.send?.({ id: message.id, result });
  })().catch((error: unknown) => process.send?.({ id: message.id, error: String(error) }));
});

process.send?.({ id: 0, result: { url: emulator.url, columns: benchColumns } });
