import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pMap from 'p-map';
import type { ImportJob } from '../config/job.js';
import type { Logger } from '../logging.js';
import { errorMessage } from '../logging.js';
import { fingerprint, hashFile, LocalRunState, type HistoryEntry } from './local-state.js';
import { resultFiles } from './paths.js';
import { localFileSource } from './file-columns.js';
import { checkJobFitsTable, prepareRun, type PrepareClient } from './prepare.js';
import type { RequestMeter } from './request-meter.js';
import {
  finalizeIfComplete,
  handleChunk,
  handlePoisonedChunk,
  startImport,
  type ImportDeps,
} from './service.js';
import { environmentOf, runIdFor } from './run-id.js';
import type { ChunkMessage, ChunkRow, InputRef, RunSummary } from './types.js';
import {
  loadChunk,
  prefetchChunk,
  writeChunkAhead,
  type PrefetchedChunk,
  type RunIdentity,
} from './write-chunk.js';
import type { ForecastOptions } from './forecast.js';

export interface LocalImportOptions {
  readonly file: string;
  readonly job: ImportJob;
  readonly client: PrepareClient;
  /** The Dataverse environment the client writes to (its URL): part of what identifies a run. */
  readonly environment: string;
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
  /**
   * Called once it is known that the file will be read and written (not for a finished run): the CLI
   * reaches the environment here, so a wrong URL or a missing sign-in is told before the file is read.
   */
  readonly beforeRun?: () => Promise<void>;
  /** The identities and bulk size the summary's forecast assumes (default: one identity, 1,000 a message). */
  readonly forecast?: ForecastOptions;
  /**
   * Write chunks no later row can change while the rest of the file is planned (default true). Off,
   * the plan completes before the first write, as keyed jobs always do (bench/elastic.ts compares).
   */
  readonly writeAhead?: boolean;
  readonly onPlanProgress?: (rowsRead: number) => void;
  readonly onPlanned?: (totalRows: number, chunks: number) => void;
  readonly onChunkDone?: (rowsDone: number) => void;
}

export type LocalImportResult =
  | { readonly kind: 'finished'; readonly summary: RunSummary }
  | { readonly kind: 'rejected'; readonly summary: RunSummary }
  /** The file was imported before with this job into this environment: nothing was done. */
  | { readonly kind: 'alreadyImported'; readonly summary: RunSummary; readonly earlier: EarlierRun };

/** What a plain re-run of a finished run tells the user about it. */
export interface EarlierRun {
  /** The file name the earlier run imported (the same content). */
  readonly file: string;
  /** `--out` still holds that run's summary.json, errors.csv and records.csv. */
  readonly resultsInOut: boolean;
  /** The job definition differs from the one that run used. */
  readonly jobChanged: boolean;
}

/**
 * Runs the import pipeline in-process on a local file: the same planner, chunk writer and fan-in as the
 * functions, with a folder for run state (`<out>/.dvpipe`, see `LocalRunState`) and chunks run
 * concurrently instead of queued.
 *
 * A run is the file's content, imported with the job into the environment (DESIGN.md, "Run identity").
 * The same command again resumes an interrupted run without duplicates, and for a finished run writes
 * nothing and returns it (`alreadyImported`), leaving `--out` as it is; `rerun` starts a new run. A dry
 * run is never the run: it gets an id of its own, and leaves no state behind.
 */
export async function runLocalImport(options: LocalImportOptions): Promise<LocalImportResult> {
  const outDir = resolve(options.outDir);
  const state = new LocalRunState(outDir);
  const file = resolve(options.file);
  const info = await stat(file);
  const dryRun = options.dryRun ?? false;
  const environment = environmentOf(options.environment);
  // A dry run needs no content hash: it is never resumed or recognised.
  const version = dryRun ? `${info.size}-${Math.trunc(info.mtimeMs)}` : await hashFile(file);
  const key = { input: 'file', version, job: options.job.name, environment };
  const inputKey = runIdFor(key);
  const jobPrint = fingerprint(options.job);

  let runId: string;
  if (dryRun) {
    runId = runIdFor(key, `dry run ${randomUUID()}`);
    await options.beforeRun?.();
  } else {
    const { runs } = await state.history(inputKey);
    const latest = runs.at(-1);
    const earlier = latest ? await state.summary(latest.runId) : undefined;
    if (latest && earlier && !earlier.error && !options.rerun) {
      return { kind: 'alreadyImported', summary: earlier, earlier: await describeEarlier(latest, earlier) };
    }
    await options.beforeRun?.();
    if (latest && !earlier && options.rerun) {
      // The latest run never finished and a new one replaces it: its chunks are of no more use.
      await state.forget(latest.runId);
    }
    // A file that was refused (a bad header, a job that did not fit) is tried again: nothing was written.
    if (latest && earlier?.error) await state.forget(latest.runId);
    runId =
      options.rerun || !latest || earlier?.error
        ? runIdFor(key, options.rerun ? `rerun ${new Date().toISOString()} ${randomUUID()}` : undefined)
        : latest.runId;
    await state.remember(inputKey, {
      runId,
      startedAt: new Date().toISOString(),
      file: basename(file),
      job: jobPrint,
      rerun: options.rerun ?? false,
    });
  }

  const result = await runPipeline(options, state, {
    runId,
    input: {
      job: options.job.name,
      name: basename(file),
      url: pathToFileURL(file).href,
      etag: version.slice(0, 32),
      size: info.size,
    },
  });
  await publish(state, result.summary, outDir);
  // A finished run keeps its manifest and summary (to be recognised); a dry run keeps nothing.
  if (dryRun) await state.forget(runId);
  else if (result.kind === 'finished') await state.keepOnlyManifest(runId);
  return result;

  async function describeEarlier(latest: HistoryEntry, summary: RunSummary): Promise<EarlierRun> {
    const inOut = await readFile(join(outDir, resultFiles.summary), 'utf8').catch(() => undefined);
    const outRun = inOut === undefined ? undefined : (JSON.parse(inOut) as Partial<RunSummary>).runId;
    return { file: latest.file, resultsInOut: outRun === summary.runId, jobChanged: latest.job !== jobPrint };
  }
}

async function runPipeline(
  options: LocalImportOptions,
  state: LocalRunState,
  run: { readonly runId: string; readonly input: InputRef },
): Promise<Exclude<LocalImportResult, { kind: 'alreadyImported' }>> {
  const file = resolve(options.file);
  const concurrency = options.chunkConcurrency ?? 4;
  const ahead = new ReadAhead(concurrency);
  const base = {
    runs: state.runs,
    results: state.results,
    defaultChunkSize: options.defaultChunkSize ?? 5_000,
    log: options.log,
    measure: <T>(work: () => Promise<T>) => options.meter.measure(work),
    // File columns name files relative to the CSV's folder.
    prepare: (manifest: RunIdentity) => prepareRun(options.client, manifest, localFileSource(dirname(file))),
    preflight: (job: ImportJob) => checkJobFitsTable(options.client, job),
    forecast: options.forecast ?? { identities: 1, bulkSize: 1_000 },
  };
  const deps: ImportDeps = {
    ...base,
    prefetched: (message) => ahead.take(message.chunk),
    deferFanIn: true,
  };
  const dryRun = options.dryRun ?? false;
  const writers = new Slots(concurrency);
  const open = async () => createReadStream(file);
  const started = await startImport(deps, {
    runId: run.runId,
    input: run.input,
    job: options.job,
    open,
    resultsPrefix: (runId) => `${runId}/`,
    // Errors about the file name it as the user gave it, not as the blob path a hosted run has.
    sourceName: options.file,
    dryRun,
    onProgress: options.onPlanProgress,
    // A chunk no later row can change (a job without a key, a file the reader gets to the end of) is
    // written while the rest of the file is planned, `concurrency` at a time, once the preflight has
    // passed. Keyed jobs wait for the plan, which settles in-file duplicates.
    writeAhead: options.writeAhead ?? true,
    onChunk: (identity, chunk, rows, settled) => {
      if (settled.final) {
        // The first chunks keep their rows; later ones read theirs back when a writer is free, so
        // memory holds `concurrency` chunks however far the plan reads ahead of the writes.
        const held = chunk < concurrency ? rows : undefined;
        ahead.start(chunk, () =>
          writers.run(async () => {
            await settled.cleared;
            const prepared = await base.prepare(identity);
            const chunkRows = held ?? (await loadChunk(base.runs, identity.runId, chunk));
            return writeChunkAhead(base, prepared, { runId: identity.runId, chunk }, chunkRows, { dryRun });
          }),
        );
        return;
      }
      // Otherwise the first chunk's reads run while the rest of the file is planned, so writing starts
      // as soon as the plan is complete. (Only the first: reading more ahead competes with the plan.)
      if (chunk === 0) ahead.start(chunk, () => prefetchFor(base, identity, rows));
    },
  });
  if (started.kind === 'rejected') return { kind: 'rejected', summary: started.summary };
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

/**
 * The contract puts summary.json and errors.csv (and records.csv) straight into --out. The result files
 * are moved there rather than copied (a run's records.csv is as big as its input); the summary, kept in
 * the state too, points at them.
 */
async function publish(state: LocalRunState, summary: RunSummary, outDir: string): Promise<void> {
  const local: RunSummary = {
    ...summary,
    errorsFile: join(outDir, resultFiles.errors),
    recordsFile: join(outDir, resultFiles.records),
  };
  for (const name of [resultFiles.errors, resultFiles.records, resultFiles.report]) {
    const moved = await state.moveResult(summary.runId, name, join(outDir, name));
    // A file refused whole has no records.csv: one left from an earlier run would tell of other rows.
    if (!moved) await rm(join(outDir, name), { force: true });
  }
  await state.saveSummary(summary.runId, local);
  await writeFile(join(outDir, resultFiles.summary), JSON.stringify(local, null, 2));
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

/** At most `size` tasks at once; the others start in the order they came. */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free -= 1;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free += 1;
    }
  }
}
