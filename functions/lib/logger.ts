import type { InvocationContext } from '@azure/functions';
import type { Logger } from '../../src/logging.js';

/** Routes the product's structured logs to the invocation's log (Application Insights in Azure). */
export function loggerFor(context: InvocationContext): Logger {
  const format = (message: string, properties?: Readonly<Record<string, unknown>>) =>
    properties ? `${message} ${JSON.stringify(properties)}` : message;
  return {
    info: (message, properties) => context.info(format(message, properties)),
    warn: (message, properties) => context.warn(format(message, properties)),
    error: (message, properties) => context.error(format(message, properties)),
  };
}
