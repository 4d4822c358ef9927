// Custom metrics and log records through the OpenTelemetry API. In Azure the Azure Monitor distro
// (src/app/telemetry.ts) sends them to Application Insights (customMetrics, traces); elsewhere the API
// is a no-op. Only counts, codes, job names, run ids and app identities: never a cell value.
import { metrics, type Attributes, type Meter } from '@opentelemetry/api';
import { logs, SeverityNumber, type Logger as OtelLogger } from '@opentelemetry/api-logs';
import type { ClientEvent, ClientMetrics } from '../dataverse/metrics.js';
import type { RunSummary } from '../imports/types.js';
import type { Logger } from '../logging.js';

const NAME = 'dataverse-pipelines';
/** The attribute that carries a run's id (customDimensions["dvpipe.runId"] in Application Insights). */
export const RUN_ID = 'dvpipe.runId';

export interface RunTelemetry {
  /** Once per run, when it ended: rows, rows/s, duration, requests, retries, 429s, failed rows per code. */
  runFinished(summary: RunSummary, failuresByCode?: Readonly<Record<string, number>>): void;
  /** Pass every client event: requests, 429s, retries and throttle pauses per identity. */
  onClientEvent(event: ClientEvent): void;
  /** The governor's concurrency limit and the ledger's pacing per identity, observed when exported. */
  observeClient(metricsOf: () => ClientMetrics): void;
}

/** The meter is looked up on first use: a provider registered later (the distro) must be the one used. */
export function createRunTelemetry(meterOf: () => Meter = () => metrics.getMeter(NAME)): RunTelemetry {
  let instruments: ReturnType<typeof createInstruments> | undefined;
  const use = () => (instruments ??= createInstruments(meterOf()));
  return {
    runFinished(summary, failuresByCode = {}) {
      const i = use();
      const attributes: Attributes = { job: summary.job, status: summary.status, [RUN_ID]: summary.runId };
      const seconds = summary.durationMs / 1000;
      i.rows.add(summary.rows.succeeded, { ...attributes, outcome: 'succeeded' });
      i.rows.add(summary.rows.failed, { ...attributes, outcome: 'failed' });
      i.duration.record(seconds, attributes);
      if (seconds > 0) i.rate.record(summary.rows.total / seconds, attributes);
      i.runThrottled.record(summary.throttled, attributes);
      i.runRetries.record(summary.retries, attributes);
      i.runRequests.record(summary.requests, attributes);
      for (const [code, count] of Object.entries(failuresByCode))
        i.failures.add(count, { ...attributes, code });
    },
    onClientEvent(event) {
      const i = use();
      if (event.type === 'request') {
        i.requests.add(1, { identity: event.identity, status: event.status });
        if (event.status === 429) i.throttled.add(1, { identity: event.identity });
      } else if (event.type === 'retry') {
        i.retries.add(1, { reason: event.reason });
      } else if (event.type === 'throttle') {
        i.pause.record(event.pauseMs, { identity: event.identity });
      }
    },
    observeClient(metricsOf) {
      const i = use();
      i.concurrency.addCallback((result) => {
        for (const [identity, m] of Object.entries(metricsOf().byIdentity))
          result.observe(m.limit, { identity });
      });
      i.pacing.addCallback((result) => {
        for (const [identity, pacing] of Object.entries(metricsOf().pacing ?? {}))
          result.observe(pacing ? 1 : 0, { identity });
      });
    },
  };
}

function createInstruments(meter: Meter) {
  return {
    rows: meter.createCounter('dvpipe.run.rows', { description: 'Rows of ended runs, by outcome' }),
    duration: meter.createHistogram('dvpipe.run.duration', { unit: 's', description: 'Run duration' }),
    failures: meter.createCounter('dvpipe.run.failures', {
      description: 'Failed rows of ended runs, by code',
    }),
    rate: meter.createHistogram('dvpipe.run.rows_per_second', { description: 'Rows per second of a run' }),
    runRequests: meter.createHistogram('dvpipe.run.requests', { description: 'Dataverse requests of a run' }),
    runRetries: meter.createHistogram('dvpipe.run.retries', { description: 'Retries of a run' }),
    runThrottled: meter.createHistogram('dvpipe.run.throttled', { description: '429 answers of a run' }),
    requests: meter.createCounter('dvpipe.dataverse.requests', {
      description: 'Dataverse requests by identity',
    }),
    throttled: meter.createCounter('dvpipe.dataverse.throttled', { description: '429 answers by identity' }),
    retries: meter.createCounter('dvpipe.dataverse.retries', { description: 'Retries by reason' }),
    pause: meter.createHistogram('dvpipe.dataverse.throttle_pause', {
      unit: 'ms',
      description: 'Pauses an identity took for Retry-After',
    }),
    concurrency: meter.createObservableGauge('dvpipe.governor.concurrency', {
      description: "The governor's concurrency limit per identity",
    }),
    pacing: meter.createObservableGauge('dvpipe.ledger.pacing', {
      description: "1 while the identity's execution-time ledger paces its requests",
    }),
  };
}

/**
 * The product's logger, also sent as OpenTelemetry log records (Application Insights `traces`) whose
 * attributes are the properties, with the run id as `dvpipe.runId`: the one a property names, else the
 * invocation's. Properties are what the product logs already, so LOG_CELL_VALUES governs them here too.
 */
export function withTelemetry(
  base: Logger,
  options: { readonly runId?: string; readonly logger?: () => OtelLogger } = {},
): Logger {
  const otel = options.logger ?? (() => logs.getLogger(NAME));
  const emit =
    (severityNumber: SeverityNumber, severityText: string, write: Logger['info']) =>
    (message: string, properties?: Readonly<Record<string, unknown>>) => {
      write(message, properties);
      const attributes: Attributes = {};
      for (const [key, value] of Object.entries(properties ?? {})) {
        if (value === undefined || key === 'runId') continue;
        attributes[key] =
          typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
            ? value
            : JSON.stringify(value);
      }
      const runId = typeof properties?.runId === 'string' ? properties.runId : options.runId;
      if (runId) attributes[RUN_ID] = runId;
      otel().emit({ severityNumber, severityText, body: message, attributes });
    };
  return {
    info: emit(SeverityNumber.INFO, 'INFO', (m, p) => base.info(m, p)),
    warn: emit(SeverityNumber.WARN, 'WARN', (m, p) => base.warn(m, p)),
    error: emit(SeverityNumber.ERROR, 'ERROR', (m, p) => base.error(m, p)),
  };
}
