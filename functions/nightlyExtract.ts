import { app, type InvocationContext, type Timer } from '@azure/functions';
import { onExtractTrigger } from '../src/app/extract-handlers.js';
import { getRuntime } from '../src/app/runtime.js';
import { loggerFor } from './lib/logger.js';

/**
 * Schedule from the NIGHTLY_EXTRACT_SCHEDULE app setting (six-field NCRONTAB, UTC). A run the host
 * missed (isPastDue) still runs once, stamped with the time it was due.
 */
export async function nightlyExtract(timer: Timer, context: InvocationContext): Promise<void> {
  const log = loggerFor(context);
  const due =
    timer.scheduleStatus?.next && timer.isPastDue ? new Date(timer.scheduleStatus.last) : new Date();
  if (timer.isPastDue) log.warn('Nightly extract is running late (isPastDue)', { due: due.toISOString() });
  await onExtractTrigger(getRuntime(), { trigger: 'timer', now: due }, log);
}

app.timer('nightlyExtract', { schedule: '%NIGHTLY_EXTRACT_SCHEDULE%', handler: nightlyExtract });
