import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';
import {
  createDataverseClient,
  emulatorTokenProvider,
  type DataverseClient,
} from '../../../src/dataverse/index.js';

// Realistic cost model, time-scaled so a 300 s window lasts 1.5 s, with an execution budget of a quarter of the
// documented one so the 20,000 upserts (1,200 s of counted time) need several windows: the limits bite.
const timeScale = 0.005;
const settings = { maxExecutionMs: 300_000 };
const total = 20_000;

const email = (i: number) => `user${i}@example.com`;
const rows = Array.from({ length: total }, (_, i) => ({
  target: { key: { emailaddress1: email(i) } },
  data: { lastname: `Last ${i}`, firstname: `First ${i}` },
}));

/** Every record is in the store exactly once, with its data. */
function expectWrittenExactlyOnce(emu: RunningEmulator) {
  const all = emu.store.all('contact');
  expect(all).toHaveLength(total);
  const emails = new Set(all.map((r) => r['emailaddress1']));
  expect(emails.size).toBe(total);
  for (const i of [0, 1234, total - 1]) {
    const row = all.find((r) => r['emailaddress1'] === email(i));
    expect(row?.['lastname']).toBe(`Last ${i}`);
  }
}

/** A client that puts the records of each bulk message it sends into `written`. */
function clientCountingMessages(
  emu: RunningEmulator,
  written: number[],
  options: { budgetWindowMs?: number } = {},
): DataverseClient {
  return createDataverseClient({
    url: emu.url,
    tokenProviders: [emulatorTokenProvider(emu.url)],
    ...options,
    onEvent: (e) => {
      if (e.type === 'records') written.push(e.succeeded + e.failed);
    },
  });
}

describe('20,000-record upsert under service protection limits (realistic profile)', () => {
  let emu: RunningEmulator | undefined;
  let client: DataverseClient | undefined;
  afterEach(async () => {
    await client?.close();
    await emu?.close();
  });

  it('completes with every record written exactly once and no error reaching the caller', async () => {
    emu = await startEmulator({ profile: 'realistic', timeScale, settings });
    client = createDataverseClient({ url: emu.url, tokenProviders: [emulatorTokenProvider(emu.url)] });
    const results = await client.upsertMultiple('contact', rows);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results).toHaveLength(total);
    expectWrittenExactlyOnce(emu);
    const m = client.metrics();
    // The limits did bite: the work needed more than one window's execution time, so the client had to
    // wait for the window (paced by its ledger, or told by 429s).
    const counted = emu.stats().users.reduce((sum, u) => sum + u.totalCountedMs, 0);
    expect(counted).toBeGreaterThan(settings.maxExecutionMs);
    expect(m.recordsSucceeded).toBe(total);
  });

  it('with its ledger, sends the first message of a kind small and alone, then full ones', async () => {
    emu = await startEmulator({ profile: 'realistic', timeScale, settings });
    const written: number[] = [];
    client = clientCountingMessages(emu, written);
    // The ledger paces once it has seen the service charge for requests (two reports, one lower).
    await client.metadata('contact');
    const results = await client.upsertMultiple('contact', rows.slice(0, 3000));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(written[0]).toBe(10);
    expect(Math.max(...written.slice(1))).toBeGreaterThan(10);
    expect(written.reduce((a, b) => a + b, 0)).toBe(3000);
  });

  it('without its ledger (budgetWindowMs 0), sends full messages from the start', async () => {
    emu = await startEmulator({ profile: 'realistic', timeScale, settings });
    const written: number[] = [];
    client = clientCountingMessages(emu, written, { budgetWindowMs: 0 });
    await client.metadata('contact');
    await client.upsertMultiple('contact', rows.slice(0, 3000));
    expect(Math.min(...written)).toBeGreaterThan(10);
  });

  it('holds with 429s, 503s and dropped connections injected', async () => {
    emu = await startEmulator({
      profile: 'realistic',
      timeScale,
      settings,
      faults: '429=0.1,503=0.1,drop=0.05',
    });
    client = createDataverseClient({
      url: emu.url,
      tokenProviders: [emulatorTokenProvider(emu.url)],
      retry: { baseDelayMs: 20, maxDelayMs: 500, maxRetries: 10 },
    });
    const results = await client.upsertMultiple('contact', rows);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expectWrittenExactlyOnce(emu);
    const faults = emu.stats().faults;
    expect(faults['429'] + faults['503'] + faults.drop).toBeGreaterThan(0);
    expect(client.metrics().retries).toBeGreaterThan(0);
  });

  it('spreads the load over several identities, each with its own governor', async () => {
    emu = await startEmulator({ profile: 'realistic', timeScale, settings });
    client = createDataverseClient({
      url: emu.url,
      tokenProviders: [emulatorTokenProvider(emu.url, 'app1'), emulatorTokenProvider(emu.url, 'app2')],
    });
    const results = await client.upsertMultiple('contact', rows.slice(0, 8000));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(emu.store.count('contact')).toBe(8000);
    const users = emu
      .stats()
      .users.map((u) => u.user)
      .sort();
    expect(users).toEqual(['app1', 'app2']);
    const by = client.metrics().byIdentity;
    expect(by['app1']!.requests).toBeGreaterThan(0);
    expect(by['app2']!.requests).toBeGreaterThan(0);
  });
});

describe('idempotent creates under dropped connections', () => {
  let emu: RunningEmulator | undefined;
  let client: DataverseClient | undefined;
  afterEach(async () => {
    await client?.close();
    await emu?.close();
  });

  it('a create whose answer was lost is retried without making a second record', async () => {
    // drop = the server applies the write, then closes the connection without answering.
    emu = await startEmulator({ profile: 'fast', faults: 'drop=0.3' });
    client = createDataverseClient({
      url: emu.url,
      tokenProviders: [emulatorTokenProvider(emu.url)],
      retry: { baseDelayMs: 5, maxDelayMs: 50, maxRetries: 20 },
    });
    const list = Array.from({ length: 2000 }, (_, i) => ({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      data: { dvp_name: `c${i}` },
    }));
    const results = await client.createMultiple('dvp_sample', list);
    // A retried message finds the records its unanswered attempt wrote: those come back as taken ids
    // (never as done: the client cannot tell its own write from another writer's), and the caller, which
    // knows the ids are its own, settles them (write-rows.ts). Each holds exactly what was sent.
    const taken = results.filter((r) => !r.ok);
    for (const result of taken) {
      expect(result.ok ? '' : result.error.code).toBe('ID_TAKEN');
    }
    expect(emu.store.count('dvp_sample')).toBe(2000);
    for (const [i, item] of list.entries()) {
      expect(emu.store.get('dvp_sample', item.id)?.dvp_name, `record ${i}`).toBe(`c${i}`);
    }
    const singles = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        client!.create(
          'dvp_sample',
          { dvp_name: `s${i}` },
          { id: `00000000-0000-4000-9000-${String(i).padStart(12, '0')}` },
        ),
      ),
    );
    expect(singles).toHaveLength(40);
    expect(emu.store.count('dvp_sample')).toBe(2040);
    expect(emu.stats().faults.drop).toBeGreaterThan(0);
  });

  it('gives up on answers held too long, and retries them without duplicates', async () => {
    emu = await startEmulator({ profile: 'fast', faults: 'slow=0.3', slowMs: 3000 });
    client = createDataverseClient({
      url: emu.url,
      tokenProviders: [emulatorTokenProvider(emu.url)],
      timeoutMs: 300,
      bulkSize: 100,
      retry: { baseDelayMs: 5, maxDelayMs: 50, maxRetries: 20 },
    });
    const list = Array.from({ length: 3000 }, (_, i) => ({
      target: { key: { emailaddress1: `slow${i}@example.com` } },
      data: { lastname: `S${i}` },
    }));
    const results = await client.upsertMultiple('contact', list);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(emu.store.count('contact')).toBe(3000);
    expect(emu.stats().faults.slow).toBeGreaterThan(0);
    expect(client.metrics().retries).toBeGreaterThan(0);
  });
});
