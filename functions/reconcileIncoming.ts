import { app, type InvocationContext, type Timer } from '@azure/functions';
import { onReconcileTimer } from '../src/app/reconcile-handler.js';
import { getRuntime } from '../src/app/runtime.js';
import { loggerFor } from './lib/logger.js';

/**
 * Schedule from RECONCILE_SCHEDULE (six-field NCRONTAB, UTC): starts inputs whose event never came and
 * resumes runs that stalled, so no file in incoming/ is left without a run.
 */
export async function reconcileIncoming(_timer: Timer, context: InvocationContext): Promise<void> {
  await onReconcileTimer(getRuntime(), loggerFor(context));
}

app.timer('reconcileIncoming', { schedule: '%RECONCILE_SCHEDULE%', handler: reconcileIncoming });
