import { createReadStream } from 'node:fs';
import { copyFile, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pMap from 'p-map';
import type { ImportJob } from '../config/job.js';
import type { Logger } from '../logging.js';
import { errorMessage } from '../logging.js';
import { FileObjectStore } from '../storage/file-store.js';
import { resultFiles } from './paths.js';
import { checkJobFitsTable, prepareRun, type PrepareClient } from './prepare.js';
import type { RequestMeter } from './request-meter.js';
import {
  finalizeIfComplete,
  handleChunk,
  handlePoisonedChunk,
  startImport,
  type ImportDeps,
} from './service.js';
import type { ChunkMessage, ChunkRow, RunSummary } from './types.js';
import { loadChunk, prefetchChunk, type PrefetchedChunk, type RunIdentity } from './write-chunk.js';

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
  const concurrency = options.chunkConcurrency ?? 4;
  const ahead = new ReadAhead(concurrency);
  const base = {
    runs: new FileObjectStore(join(stateDir, 'runs')),
    results,
    defaultChunkSize: options.defaultChunkSize ?? 5_000,
    log: options.log,
    measure: <T>(work: () => Promise<T>) => options.meter.measure(work),
    prepare: (manifest: RunIdentity) => prepareRun(options.client, manifest),
    preflight: (job: ImportJob) => checkJobFitsTable(options.client, job),
  };
  const deps: ImportDeps = {
    ...base,
    prefetched: (message) => ahead.take(message.chunk),
    deferFanIn: true,
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
    // The first chunk's reads run while the rest of the file is planned, so writing starts as soon as
    // the plan is complete. (Only the first: reading more ahead competes with the plan for the CPU.)
    onChunk: (run, chunk, rows) => {
      if (chunk === 0) ahead.start(chunk, () => prefetchFor(base, run, rows));
    },
  });
  if (started.kind === 'rejected') {
    await publish(results, started.summary.runId, outDir, [resultFiles.summary, resultFiles.errors]);
    return { kind: 'rejected', summary: started.summary };
  }
  options.onPlanned?.(started.manifest.totalRows, started.manifest.chunkCount);
  const { manifest } = started;
  // Later chunks are read ahead as earlier ones start writing, `concurrency` chunks in advance.
  const pending = started.messages.map((message) => message.chunk);
  ahead.follow(pending, (chunk) =>
    prefetchFor(base, manifest, undefined, () => loadChunk(base.runs, manifest.runId, chunk)),
  );

  let rowsDone = started.manifest.totalRows - started.messages.length * started.manifest.chunkSize;
  await pMap(
    started.messages,
    async (message) => {
      await writeWithRetries(deps, message, options.maxAttempts ?? 3);
      rowsDone += started.manifest.chunkSize;
      options.onChunkDone?.(Math.min(rowsDone, started.manifest.totalRows));
    },
    { concurrency },
  );
  // The fan-in runs once, after the last chunk (and for a resumed run whose chunks all had results).
  const summary = await finalizeIfComplete(deps, started.manifest.runId);
  if (!summary) throw new Error(`Run ${started.manifest.runId} did not finish: some chunks have no result`);
  await publish(results, summary.runId, outDir, [
    resultFiles.summary,
    resultFiles.errors,
    resultFiles.records,
  ]);
  return { kind: 'finished', summary };
}

async function writeWithRetries(deps: ImportDeps, message: ChunkMessage, maxAttempts: number): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await handleChunk(deps, message);
      return;
    } catch (error) {
      deps.log.warn('Chunk attempt failed', { chunk: message.chunk, attempt, reason: errorMessage(error) });
      if (attempt >= maxAttempts) {
        await handlePoisonedChunk(
          deps,
          message,
          `The chunk could not be written after ${attempt} attempts: ${errorMessage(error)}`,
        );
        return;
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

async function prefetchFor(
  deps: Pick<ImportDeps, 'measure' | 'prepare'>,
  run: RunIdentity,
  rows: readonly ChunkRow[] | undefined,
  load?: () => Promise<readonly ChunkRow[]>,
): Promise<PrefetchedChunk> {
  const prepared = await deps.prepare(run);
  return prefetchChunk(deps, prepared, rows ?? (await load?.()) ?? []);
}

/**
 * Chunk reads done ahead of the writes (see `PrefetchedChunk`): the first `depth` chunks during the
 * plan, then chunk n + depth when chunk n starts writing. At most `depth` chunks are held.
 */
class ReadAhead {
  readonly #depth: number;
  readonly #started = new Map<number, Promise<PrefetchedChunk>>();
  /** For each chunk to write, the one `depth` places later, read ahead when it starts writing. */
  readonly #later = new Map<number, number>();
  #next: ((chunk: number) => Promise<PrefetchedChunk>) | undefined;

  constructor(depth: number) {
    this.#depth = depth;
  }

  start(chunk: number, work: () => Promise<PrefetchedChunk>): void {
    if (this.#started.has(chunk)) return;
    const promise = work();
    // A failure surfaces (and is forgiven) when the chunk takes it; never as an unhandled rejection.
    promise.catch(() => undefined);
    this.#started.set(chunk, promise);
  }

  /** The chunks to write, in order: the first `depth` of them not read during the plan start now. */
  follow(order: readonly number[], next: (chunk: number) => Promise<PrefetchedChunk>): void {
    this.#next = next;
    order.forEach((chunk, at) => {
      const later = order[at + this.#depth];
      if (later !== undefined) this.#later.set(chunk, later);
    });
    for (const chunk of order.slice(0, this.#depth)) this.start(chunk, () => next(chunk));
    // Anything read during the plan that will not be written (a resumed run) is let go.
    const toWrite = new Set(order);
    for (const chunk of this.#started.keys()) if (!toWrite.has(chunk)) this.#started.delete(chunk);
  }

  take(chunk: number): Promise<PrefetchedChunk> | undefined {
    const promise = this.#started.get(chunk);
    this.#started.delete(chunk);
    const later = this.#later.get(chunk);
    const next = this.#next;
    if (later !== undefined && next) this.start(later, () => next(later));
    return promise;
  }
}
