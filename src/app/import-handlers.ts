import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { RestError } from '@azure/storage-blob';
import pMap from 'p-map';
import { isJobDefinitionError } from '../config/job.js';
import { parseBlobCreated } from '../imports/blob-event.js';
import { writeRejectedRun } from '../imports/finalize.js';
import { InvalidInputNameError, parseIncomingName, runPaths } from '../imports/paths.js';
import { blobRunKey, runIdFor } from '../imports/run-id.js';
import { finalizeIfComplete, handleChunk, handlePoisonedChunk, startImport } from '../imports/service.js';
import type { ChunkMessage, InputRef, RunSummary } from '../imports/types.js';
import { errorMessage, type Logger } from '../logging.js';
import { decodeQueueMessage } from '../storage/queue.js';
import { markBlob, markInput, names, type Runtime } from './runtime.js';

/** Chunk messages sent at once while a run is queued. */
const CHUNK_SENDS = 8;

/**
 * `importBlob`: an Event Grid BlobCreated event arrived on `import-events`. Plans the run and
 * queues its chunks. A re-delivered event resumes the same run (run id = URL + ETag).
 */
export async function onImportEvent(runtime: Runtime, body: unknown, log: Logger): Promise<void> {
  let event;
  try {
    event = parseBlobCreated(decodeQueueMessage(body));
  } catch (error) {
    // Decoding and parsing do no I/O, so any failure here is a malformed message that can never
    // succeed (not JSON, not an event): log it and let it go instead of poisoning the queue.
    log.error('Ignored a message that is not a BlobCreated event', { reason: errorMessage(error) });
    return;
  }
  if (!event || event.container !== names.incoming) return;

  const startedAt = new Date();
  let job: string;
  let name: string;
  try {
    ({ job, name } = parseIncomingName(event.blobName));
  } catch (error) {
    if (!(error instanceof InvalidInputNameError)) throw error;
    await rejectUnnamedInput(runtime, event.blobName, event.url, event.etag, error.message, startedAt);
    log.warn('Input rejected: invalid name', { eventId: event.eventId });
    return;
  }

  const input: InputRef = { job, name, url: event.url, etag: event.etag, size: event.contentLength };
  const runId = runIdFor(blobRunKey(input, runtime.settings.DATAVERSE_URL));
  const deps = runtime.importDeps(log);
  let definition;
  try {
    definition = await runtime.jobs.getImport(job);
  } catch (error) {
    if (!isJobDefinitionError(error)) throw error;
    await writeRejectedRun(runtime.results, `${job}/${name}/${runId}/`, {
      runId,
      job,
      input,
      code: 'InvalidJob',
      message: error.message,
      startedAt,
    });
    await markInput(runtime.containers.incoming, input, { runId, status: 'failed' }).catch(() => undefined);
    return;
  }

  const blob = runtime.containers.incoming.getBlobClient(event.blobName);
  const started = await startImport(deps, {
    runId,
    input,
    job: definition,
    open: async () => {
      // Read exactly the version the event announced; a newer upload has an event of its own.
      const response = await blob.download(0, undefined, {
        conditions: event.etag ? { ifMatch: `"${event.etag}"` } : undefined,
      });
      if (!response.readableStreamBody) throw new Error(`Blob ${event.blobName} has no body`);
      return response.readableStreamBody as Readable;
    },
  }).catch((error: unknown) => {
    if (error instanceof RestError && error.statusCode === 412) return undefined;
    throw error;
  });
  if (!started) {
    log.info('Skipped an event for a blob version that was replaced', { eventId: event.eventId });
    return;
  }
  if (started.kind === 'rejected') return;
  // A few at a time, in chunk order: one by one, 40 took 1.6 s on the local fleet (39 ms each), so the 2,000
  // of a 10-million-row file would keep the invocation over a minute.
  await pMap(started.messages, (message) => runtime.chunkQueue.send(message), { concurrency: CHUNK_SENDS });
  // No chunk message means no worker will ever fan in (a header-only file, or every chunk done
  // before a crash): finalize here, or the run stays 'running' forever.
  if (started.messages.length === 0) await finalizeIfComplete(deps, started.manifest.runId);
  log.info(started.kind === 'planned' ? 'Run started' : 'Run resumed', {
    runId: started.manifest.runId,
    job,
    chunks: started.messages.length,
  });
}

/**
 * `importEventPoisoned`: planning the file failed on every attempt (Dataverse or storage down for
 * the whole retry span, a bug). The file still gets a summary and an errors.csv saying why, so no
 * input ends without a result; dropping it again (or `--rerun`) starts over.
 */
export async function onPoisonedImportEvent(runtime: Runtime, body: unknown, log: Logger): Promise<void> {
  let event;
  try {
    event = parseBlobCreated(decodeQueueMessage(body));
  } catch {
    return;
  }
  if (!event || event.container !== names.incoming) return;
  let job: string;
  let name: string;
  try {
    ({ job, name } = parseIncomingName(event.blobName));
  } catch {
    return;
  }
  const input: InputRef = { job, name, url: event.url, etag: event.etag };
  const runId = runIdFor(blobRunKey(input, runtime.settings.DATAVERSE_URL));
  if (await runtime.runs.exists(runPaths.manifest(runId))) return;
  log.error('Import event poisoned: the file could not be planned', { runId, job });
  await writeRejectedRun(runtime.results, `${job}/${name}/${runId}/`, {
    runId,
    job,
    input,
    code: 'PlanFailed',
    message:
      'The file could not be read and planned after every retry (see the function logs for the cause). ' +
      'Nothing was written. Upload it again to retry.',
    startedAt: new Date(),
  });
  // Reported: the reconciliation sweep must not start it again and again.
  await markInput(runtime.containers.incoming, input, { runId, status: 'failed' }).catch(() => undefined);
}

/** `writeChunk`: writes one chunk; the worker that completes the last chunk finalizes the run. */
export async function onChunkMessage(
  runtime: Runtime,
  body: unknown,
  log: Logger,
): Promise<RunSummary | undefined> {
  const message = parseChunkMessage(body);
  try {
    return await handleChunk(runtime.importDeps(log), message);
  } catch (error) {
    // Kept for the poison handler, so failed rows say why the chunk could not be written.
    await runtime.runs
      .put(runPaths.chunkError(message.runId, message.chunk), errorMessage(error))
      .catch(() => undefined);
    throw error;
  }
}

/** `chunkPoisoned`: the chunk failed every attempt; its rows fail with the last reason. */
export async function onPoisonedChunk(runtime: Runtime, body: unknown, log: Logger): Promise<void> {
  const message = parseChunkMessage(body);
  const lastError = await runtime.runs.get(runPaths.chunkError(message.runId, message.chunk));
  const reason = `The chunk could not be written after every retry${
    lastError ? `: ${lastError.toString('utf8').slice(0, 500)}` : '.'
  }`;
  await handlePoisonedChunk(runtime.importDeps(log), message, reason);
}

export function parseChunkMessage(body: unknown): ChunkMessage {
  const value = decodeQueueMessage(body);
  if (
    typeof value === 'object' &&
    value !== null &&
    'runId' in value &&
    'chunk' in value &&
    typeof value.runId === 'string' &&
    typeof value.chunk === 'number'
  ) {
    return { runId: value.runId, chunk: value.chunk };
  }
  throw new Error('The message is not a chunk message ({ runId, chunk })');
}

/** Names that cannot be trusted as paths get their summary under `_rejected/<hash>/`. */
async function rejectUnnamedInput(
  runtime: Runtime,
  blobName: string,
  url: string,
  etag: string,
  message: string,
  startedAt: Date,
): Promise<void> {
  const runId = runIdFor(blobRunKey({ url, etag, job: '' }, runtime.settings.DATAVERSE_URL));
  const folder = createHash('sha256').update(url).digest('hex').slice(0, 16);
  await writeRejectedRun(runtime.results, `_rejected/${folder}/${runId}/`, {
    runId,
    job: '',
    input: { job: '', name: '', url, etag },
    code: 'InvalidInputName',
    message,
    startedAt,
  });
  await markBlob(runtime.containers.incoming, blobName, etag, { runId, status: 'failed' }).catch(
    () => undefined,
  );
}
