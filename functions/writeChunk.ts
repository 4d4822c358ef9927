import { app, type InvocationContext } from '@azure/functions';
import { onChunkMessage } from '../src/app/import-handlers.js';
import { getRuntime, names } from '../src/app/runtime.js';
import { loggerFor, runIdIn } from './lib/logger.js';

export async function writeChunk(message: unknown, context: InvocationContext): Promise<void> {
  await onChunkMessage(getRuntime(), message, loggerFor(context, runIdIn(message)));
}

app.storageQueue('writeChunk', { queueName: names.importChunks, connection: 'Storage', handler: writeChunk });
