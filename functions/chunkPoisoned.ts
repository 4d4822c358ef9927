import { app, type InvocationContext } from '@azure/functions';
import { onPoisonedChunk } from '../src/app/import-handlers.js';
import { getRuntime, names } from '../src/app/runtime.js';
import { loggerFor } from './lib/logger.js';

/** The host moves a chunk message here after maxDequeueCount failures; its rows end as failed. */
export async function chunkPoisoned(message: unknown, context: InvocationContext): Promise<void> {
  await onPoisonedChunk(getRuntime(), message, loggerFor(context));
}

app.storageQueue('chunkPoisoned', {
  queueName: `${names.importChunks}-poison`,
  connection: 'Storage',
  handler: chunkPoisoned,
});
