import { app, type InvocationContext } from '@azure/functions';
import { onPoisonedImportEvent } from '../src/app/import-handlers.js';
import { getRuntime, names } from '../src/app/runtime.js';
import { loggerFor } from './lib/logger.js';

/** The host moves an event here after maxDequeueCount failures; the file still gets a summary. */
export async function importEventPoisoned(message: unknown, context: InvocationContext): Promise<void> {
  await onPoisonedImportEvent(getRuntime(), message, loggerFor(context));
}

app.storageQueue('importEventPoisoned', {
  queueName: `${names.importEvents}-poison`,
  connection: 'Storage',
  handler: importEventPoisoned,
});
