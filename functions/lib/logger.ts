import type { InvocationContext } from '@azure/functions';
import type { Logger } from '../../src/logging.js';
import { withTelemetry } from '../../src/telemetry/run-telemetry.js';

/**
 * Routes the product's structured logs to the invocation's log, and as OpenTelemetry log records with
 * the run id to Application Insights (see src/telemetry). `runId`: the run the trigger names, if any.
 */
export function loggerFor(context: InvocationContext, runId?: string): Logger {
  return withTelemetry(invocationLogger(context), runId ? { runId } : {});
}

function invocationLogger(context: InvocationContext): Logger {
  const format = (message: string, properties?: Readonly<Record<string, unknown>>) =>
    properties ? `${message} ${JSON.stringify(properties)}` : message;
  return {
    info: (message, properties) => context.info(format(message, properties)),
    warn: (message, properties) => context.warn(format(message, properties)),
    error: (message, properties) => context.error(format(message, properties)),
  };
}

/** The run a queue message names (a chunk message), for the log records of its invocation. */
export function runIdIn(message: unknown): string | undefined {
  let value = message;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      return undefined;
    }
  }
  const runId =
    typeof value === 'object' && value !== null ? (value as { runId?: unknown }).runId : undefined;
  return typeof runId === 'string' ? runId : undefined;
}
