import { createReadStream } from 'node:fs';
import { copyFile, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pMap from 'p-map';
import type { ImportJob } from '../config/job.js';
import type { Logger } from '../logging.js';
import { errorMessage } from '../logging.js';
import { FileObjectStore } from '../storage/file-store.js';
import { tryFinalize } from './finalize.js';
import { resultFiles } from './paths.js';
import { checkJobFitsTable, prepareRun, type PrepareClient } from './prepare.js';
import type { RequestMeter } from './request-meter.js';
import { handleChunk, handlePoisonedChunk, startImport, type ImportDeps } from './service.js';
import type { ChunkMessage, RunSummary } from './types.js';

export interface LocalImportOptions {
  readonly file: string;
  readonly job: ImportJob;
  readonly client: PrepareClient;
  /** The client's event stream must be wired to this meter (see `RequestMeter.onEvent`). */
  readonly meter: RequestMeter;
  readonly outDir: string;
  readonly dryRun?: boolean;
  /** Ignore an earlier run of the same file version and start over. */
  readonly rerun?: boolean;
  readonly chunkConcurrency?: number;
  readonly defaultChunkSize?: number;
  /** Attempts per chunk before its rows are failed, as the queue's maxDequeueCount does. */
  readonly maxAttempts?: number;
  readonly log: Logger;
  readonly onPlanProgress?: (rowsRead: number) => void;
  readonly onPlanned?: (totalRows: number, chunks: number) => void;
  readonly onChunkDone?: (rowsDone: number) => void;
}

export type LocalImportResult =
  | { readonly kind: 'finished'; readonly summary: RunSummary }
  | { readonly kind: 'rejected'; readonly summary: RunSummary };

/**
 * Runs the import pipeline in-process on a local file: the same planner, chunk writer and
 * fan-in as the functions, with a folder for run state and chunks run concurrently instead of
 * queued. Re-running the same command resumes an interrupted run without duplicates.
 */
export async function runLocalImport(options: LocalImportOptions): Promise<LocalImportResult> {
  const outDir = resolve(options.outDir);
  const stateDir = join(outDir, '.dvpipe');
  const file = resolve(options.file);
  const info = await stat(file);
  const results = new FileObjectStore(join(stateDir, 'results'));
  const deps: ImportDeps = {
    runs: new FileObjectStore(join(stateDir, 'runs')),
    results,
    defaultChunkSize: options.defaultChunkSize ?? 5_000,
    log: options.log,
    measure: (work) => options.meter.measure(work),
    prepare: (manifest) => prepareRun(options.client, manifest),
    preflight: (job) => checkJobFitsTable(options.client, job),
  };
  const started = await startImport(deps, {
    input: {
      job: options.job.name,
      name: basename(file),
      url: pathToFileURL(file).href,
      // A local file's version: size and modification time stand in for a blob's ETag.
      etag: `${info.size}-${Math.trunc(info.mtimeMs)}`,
      size: info.size,
    },
    job: options.job,
    open: async () => createReadStream(file),
    resultsPrefix: (runId) => `${runId}/`,
    dryRun: options.dryRun ?? false,
    rerunNonce: options.rerun ? new Date().toISOString() : undefined,
    onProgress: options.onPlanProgress,
  });
  if (started.kind === 'rejected') {
    await publish(results, started.summary.runId, outDir, [resultFiles.summary, resultFiles.errors]);
    return { kind: 'rejected', summary: started.summary };
  }
  options.onPlanned?.(started.manifest.totalRows, started.manifest.chunkCount);

  let rowsDone = started.manifest.totalRows - started.messages.length * started.manifest.chunkSize;
  let summary: RunSummary | undefined;
  await pMap(
    started.messages,
    async (message) => {
      const result = await writeWithRetries(deps, message, options.maxAttempts ?? 3);
      summary ??= result;
      rowsDone += started.manifest.chunkSize;
      options.onChunkDone?.(Math.min(rowsDone, started.manifest.totalRows));
    },
    { concurrency: options.chunkConcurrency ?? 4 },
  );
  // Every chunk already had a result (a resumed, finished run): the fan-in still runs once.
  summary ??= await tryFinalize(deps, started.manifest.runId);
  if (!summary) throw new Error(`Run ${started.manifest.runId} did not finish: some chunks have no result`);
  await publish(results, summary.runId, outDir, [
    resultFiles.summary,
    resultFiles.errors,
    resultFiles.records,
  ]);
  return { kind: 'finished', summary };
}

async function writeWithRetries(
  deps: ImportDeps,
  message: ChunkMessage,
  maxAttempts: number,
): Promise<RunSummary | undefined> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await handleChunk(deps, message);
    } catch (error) {
      deps.log.warn('Chunk attempt failed', { chunk: message.chunk, attempt, reason: errorMessage(error) });
      if (attempt >= maxAttempts) {
        return handlePoisonedChunk(
          deps,
          message,
          `The chunk could not be written after ${attempt} attempts: ${errorMessage(error)}`,
        );
      }
    }
  }
}

/** The contract puts summary.json and errors.csv (and records.csv) straight into --out. */
async function publish(
  results: FileObjectStore,
  runId: string,
  outDir: string,
  files: readonly string[],
): Promise<void> {
  for (const name of files) {
    if (!(await results.exists(`${runId}/${name}`))) continue;
    if (name === resultFiles.summary) {
      // Point the summary at the files beside it rather than at the run folder.
      const summary = JSON.parse(
        (await readFile(join(results.location, runId, name))).toString('utf8'),
      ) as RunSummary;
      const local = {
        ...summary,
        errorsFile: join(outDir, resultFiles.errors),
        recordsFile: join(outDir, resultFiles.records),
      };
      await writeFile(join(outDir, name), JSON.stringify(local, null, 2));
    } else {
      await copyFile(join(results.location, runId, name), join(outDir, name));
    }
  }
}
