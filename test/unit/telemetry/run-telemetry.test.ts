import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import type { ClientMetrics } from '../../../src/dataverse/metrics.js';
import type { RunSummary } from '../../../src/imports/types.js';
import { silentLogger } from '../../../src/logging.js';
import { createRunTelemetry, RUN_ID, withTelemetry } from '../../../src/telemetry/run-telemetry.js';

class CollectingReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

/** Every data point by metric name: [attributes, value] (a histogram's value is its sum). */
async function points(reader: CollectingReader) {
  const { resourceMetrics } = (await reader.collect()) as { resourceMetrics: ResourceMetrics };
  const byName: Record<string, [Record<string, unknown>, number][]> = {};
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      byName[metric.descriptor.name] = metric.dataPoints.map((p) => [
        p.attributes,
        typeof p.value === 'number' ? p.value : (p.value as { sum: number }).sum,
      ]);
    }
  }
  return byName;
}

const summary = {
  runId: 'r0123456789abcdef01234567',
  job: 'contacts',
  status: 'completedWithErrors',
  input: { name: 'c.csv', url: 'https://x/incoming/contacts/c.csv', etag: 'e' },
  dryRun: false,
  rows: {
    total: 1000,
    succeeded: 990,
    failed: 10,
    created: 990,
    updated: 0,
    upserted: 0,
    deleted: 0,
    unchanged: 0,
    superseded: 0,
  },
  chunks: 2,
  durationMs: 4000,
  requests: 12,
  retries: 3,
  throttled: 2,
  startedAt: '2026-12-03T00:00:00.000Z',
  finishedAt: '2026-12-03T00:00:04.000Z',
  errorsFile: 'errors.csv',
  recordsFile: 'records.csv',
} satisfies RunSummary;

describe('createRunTelemetry', () => {
  it('records a run: rows by outcome, rows/s, duration and its 429s, with the run id', async () => {
    const reader = new CollectingReader();
    const provider = new MeterProvider({ readers: [reader] });
    const telemetry = createRunTelemetry(() => provider.getMeter('test'));
    telemetry.runFinished(summary, { StringTooLong: 7, LookupNotFound: 3 });
    const got = await points(reader);
    const run = { job: 'contacts', status: 'completedWithErrors', [RUN_ID]: summary.runId };
    expect(got['dvpipe.run.rows']).toEqual([
      [{ ...run, outcome: 'succeeded' }, 990],
      [{ ...run, outcome: 'failed' }, 10],
    ]);
    expect(got['dvpipe.run.rows_per_second']).toEqual([[run, 250]]);
    expect(got['dvpipe.run.duration']).toEqual([[run, 4]]);
    expect(got['dvpipe.run.throttled']).toEqual([[run, 2]]);
    expect(got['dvpipe.run.retries']).toEqual([[run, 3]]);
    expect(got['dvpipe.run.failures']).toEqual([
      [{ ...run, code: 'StringTooLong' }, 7],
      [{ ...run, code: 'LookupNotFound' }, 3],
    ]);
  });

  it('counts requests and 429s per identity, retries by reason, pauses, and observes concurrency and pacing', async () => {
    const reader = new CollectingReader();
    const provider = new MeterProvider({ readers: [reader] });
    const telemetry = createRunTelemetry(() => provider.getMeter('test'));
    const request = (status: number, identity: string) =>
      telemetry.onClientEvent({
        type: 'request',
        method: 'POST',
        path: '/x',
        identity,
        status,
        durationMs: 5,
        attempt: 1,
      });
    request(200, 'id-a');
    request(429, 'id-a');
    request(429, 'id-b');
    telemetry.onClientEvent({
      type: 'retry',
      method: 'POST',
      path: '/x',
      reason: '429',
      delayMs: 1000,
      attempt: 1,
    });
    telemetry.onClientEvent({ type: 'throttle', identity: 'id-a', pauseMs: 1500 });
    const limits = { 'id-a': 12, 'id-b': 4 };
    telemetry.observeClient(
      () =>
        ({
          byIdentity: Object.fromEntries(
            Object.entries(limits).map(([id, limit]) => [
              id,
              { requests: 0, throttled: 0, throttleWaitMs: 0, limit, peakLimit: limit },
            ]),
          ),
          pacing: { 'id-a': true, 'id-b': false },
        }) as unknown as ClientMetrics,
    );
    const got = await points(reader);
    expect(got['dvpipe.dataverse.throttled']).toEqual([
      [{ identity: 'id-a' }, 1],
      [{ identity: 'id-b' }, 1],
    ]);
    expect(got['dvpipe.dataverse.requests']).toHaveLength(3);
    expect(got['dvpipe.dataverse.retries']).toEqual([[{ reason: '429' }, 1]]);
    expect(got['dvpipe.dataverse.throttle_pause']).toEqual([[{ identity: 'id-a' }, 1500]]);
    expect(got['dvpipe.governor.concurrency']).toEqual([
      [{ identity: 'id-a' }, 12],
      [{ identity: 'id-b' }, 4],
    ]);
    expect(got['dvpipe.ledger.pacing']).toEqual([
      [{ identity: 'id-a' }, 1],
      [{ identity: 'id-b' }, 0],
    ]);
  });
});

describe('withTelemetry', () => {
  it('sends each log line as a record with its properties and the run id, its own or the invocation’s', () => {
    const exporter = new InMemoryLogRecordExporter();
    const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
    const lines: string[] = [];
    const log = withTelemetry(
      { ...silentLogger, warn: (m) => lines.push(m) },
      { runId: 'rinvocation', logger: () => provider.getLogger('test') },
    );
    log.warn('Row failed', { runId: 'rfromproperty', row: 7, code: 'BadDate', column: 'Birthday' });
    log.info('Chunk message', { chunk: 3, counts: { a: 1 } });
    const records = exporter.getFinishedLogRecords();
    expect(lines).toEqual(['Row failed']);
    expect(records.map((r) => [r.body, r.severityText, r.attributes])).toEqual([
      ['Row failed', 'WARN', { row: 7, code: 'BadDate', column: 'Birthday', [RUN_ID]: 'rfromproperty' }],
      ['Chunk message', 'INFO', { chunk: 3, counts: '{"a":1}', [RUN_ID]: 'rinvocation' }],
    ]);
  });
});
