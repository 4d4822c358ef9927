import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';
import { onImportEvent } from '../../src/app/import-handlers.js';
import { createRuntime, type Runtime } from '../../src/app/runtime.js';
import { tokenProvidersFor } from '../../src/app/dataverse.js';
import { loadSettings } from '../../src/config/settings.js';
import { createDataverseClient } from '../../src/dataverse/index.js';
import { silentLogger } from '../../src/logging.js';
import {
  contactsCsv,
  contactsJob,
  drainConcurrently,
  expectAccountedFor,
  type DrainReport,
} from './helpers.js';
import type { RunSummary } from '../../src/imports/types.js';

// The issue names the count: every fault kind is survived by a 20,000-row import, chunks of 1,000.
const ROWS = 20_000;

/** What each scenario injected and what the client did about it (printed for RELIABILITY.md). */
function figures(name: string, stack: Stack, summary: RunSummary, drain: DrainReport, startedAt: number) {
  const stats = stack.emulator.stats();
  console.info(
    `[reliability] ${name}: rows=${summary.rows.total} failed=${summary.rows.failed} requests=${summary.requests} ` +
      `retries=${summary.retries} throttled=${summary.throttled} faults=${JSON.stringify(stats.faults)} ` +
      `chunkAttempts=${drain.attempts} chunkFailures=${drain.failures} seconds=${((Date.now() - startedAt) / 1000).toFixed(1)}`,
  );
}

describe('a 20,000-row import survives every fault the emulator injects', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Small time scale: Retry-After and service costs shrink, the protocol stays the same.
    stack = await startStack({ profile: 'fast', timeScale: 0.01, slowMs: 1_500 });
    await stack.putJob(contactsJob);
  });
  // Each scenario starts from an empty table, so earlier runs' rows do not slow the key reads.
  beforeEach(() => stack.emulator.store.clear('contact'));
  afterEach(() => stack.emulator.configure({ faults: 'none', refuseBulk: { contact: false } }));
  afterAll(async () => stack?.stop());

  async function importUnder(
    name: string,
    prefix: string,
    options: { runtime?: Runtime; midRun?: () => void } = {},
  ): Promise<{ summary: RunSummary; drain: DrainReport }> {
    const startedAt = Date.now();
    const expected = contactsCsv(ROWS, prefix);
    const event = await stack.dropFile('contacts', `${prefix}.csv`, expected.csv);
    const runtime = options.runtime ?? stack.runtime;
    // A failed attempt is allowed (the queue redelivers it) but must say why.
    const onFailure = (error: unknown) =>
      console.info(`[reliability] ${name}: chunk attempt failed: ${String(error)}`);
    await onImportEvent(runtime, JSON.stringify(event), silentLogger);
    let drain: DrainReport;
    if (options.midRun) {
      // A quarter of the chunks first, then the change, then the rest.
      const first = await drainConcurrently(stack, { runtime, onFailure, concurrency: 4, stopAfter: 5 });
      options.midRun();
      const rest = await drainConcurrently(stack, { runtime, onFailure, concurrency: 4 });
      drain = {
        summary: rest.summary ?? first.summary,
        attempts: first.attempts + rest.attempts,
        failures: first.failures + rest.failures,
        poisoned: first.poisoned + rest.poisoned,
      };
    } else {
      drain = await drainConcurrently(stack, { runtime, onFailure, concurrency: 4 });
    }
    expect(drain.summary, 'the run finished').toBeDefined();
    const summary = drain.summary!;
    expect(drain.poisoned, 'no chunk gave up').toBe(0);
    await expectAccountedFor(stack, summary, expected, ROWS);
    figures(name, stack, summary, drain, startedAt);
    return { summary, drain };
  }

  it('429 storms: every request has a one-in-four chance of being throttled', async () => {
    const before = stack.emulator.stats().faults['429'];
    stack.emulator.configure({ faults: '429=0.25' });
    const { summary } = await importUnder('429 storm', 'storm');
    expect(stack.emulator.stats().faults['429'] - before).toBeGreaterThan(0);
    expect(summary.throttled).toBeGreaterThan(0);
  });

  it('503s: transient server errors are retried without writing twice', async () => {
    const before = stack.emulator.stats().faults['503'];
    stack.emulator.configure({ faults: '503=0.15' });
    const { summary } = await importUnder('503', 'unavail');
    expect(stack.emulator.stats().faults['503'] - before).toBeGreaterThan(0);
    expect(summary.retries).toBeGreaterThan(0);
  });

  it('dropped connections: the write was applied but the answer lost, and the retry does not duplicate', async () => {
    const before = stack.emulator.stats().faults.drop;
    stack.emulator.configure({ faults: 'drop=0.05' });
    await importUnder('dropped connections', 'dropped');
    expect(stack.emulator.stats().faults.drop - before).toBeGreaterThan(0);
  });

  it('answers slower than the client timeout: the client gives up, retries, and nothing is written twice', async () => {
    // The runtime has no setting for the client timeout, so this worker's client is built by hand.
    const runtime = createRuntime(loadSettings(stack.env), stack.env);
    const client = createDataverseClient({
      url: stack.emulator.url,
      tokenProviders: tokenProvidersFor(stack.emulator.url, []),
      timeoutMs: 1_000,
    });
    Object.defineProperty(runtime, 'client', { value: client });
    const before = stack.emulator.stats().faults.slow;
    stack.emulator.configure({ faults: 'slow=0.05', slowMs: 1_500 });
    try {
      await importUnder('slow answers', 'slow', { runtime });
    } finally {
      await client.close();
    }
    expect(stack.emulator.stats().faults.slow - before).toBeGreaterThan(0);
    const metrics = client.metrics();
    console.info(
      `[reliability] slow answers: client requests=${metrics.requests} retries=${metrics.retries}`,
    );
    expect(metrics.retries).toBeGreaterThan(0);
  });

  it('a table that starts refusing bulk messages mid-run: the rest go row by row', async () => {
    const bulkBefore = stack.emulator.stats().bulkRecordsWritten;
    const { summary } = await importUnder('bulk refused mid-run', 'refused', {
      midRun: () => stack.emulator.configure({ refuseBulk: { contact: true } }),
    });
    const bulk = stack.emulator.stats().bulkRecordsWritten - bulkBefore;
    // Some rows went in bulk before the refusal, and the rest did not.
    expect(bulk).toBeGreaterThan(0);
    expect(bulk).toBeLessThan(summary.rows.succeeded);
  });
});
