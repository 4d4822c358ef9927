import { app, type InvocationContext } from '@azure/functions';
import { onImportEvent } from '../src/app/import-handlers.js';
import { getRuntime, names } from '../src/app/runtime.js';
import { loggerFor } from './lib/logger.js';

/** Event Grid delivers BlobCreated events for `incoming/` to this queue (see infra/). */
export async function importBlob(message: unknown, context: InvocationContext): Promise<void> {
  await onImportEvent(getRuntime(), message, loggerFor(context));
}

app.storageQueue('importBlob', { queueName: names.importEvents, connection: 'Storage', handler: importBlob });
