import { readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { names } from '../../app/names.js';
import { resultFiles } from '../../imports/paths.js';
import { readRunStatus, type RunStatusView } from '../../imports/status.js';
import { BlobObjectStore } from '../../storage/blob-store.js';
import { storageClientsFromSettings } from '../../storage/connection.js';
import { FileObjectStore } from '../../storage/file-store.js';
import type { ObjectStore } from '../../storage/object-store.js';

export interface ShowOptions {
  readonly dir?: string;
  readonly connection: string;
  readonly json?: boolean;
}

export async function show(given: string | undefined, options: ShowOptions): Promise<number> {
  const runId = given ?? (options.dir ? await latestRunIn(options.dir) : undefined);
  if (!runId) {
    process.stderr.write(
      options.dir
        ? `No run in ${options.dir} (a dvpipe import keeps its runs in <out>/.dvpipe/runs/).\n`
        : 'Name the run: dvpipe runs show <runId> (dvpipe import prints it; it is also in <out>/summary.json), ' +
            'or pass --dir <out> for the latest run imported into that folder.\n',
    );
    return 2;
  }
  const where = await locate(runId, options);
  if ('error' in where) {
    process.stderr.write(`${where.error}\n`);
    return 2;
  }
  const status = await readRunStatus(where.runsStore, where.resultsStore, runId);
  if (!status) {
    process.stderr.write(`No run ${runId} in ${where.runsStore.location}\n`);
    return 2;
  }
  const view = where.outDir ? await withSummaryInOut(status, where.outDir) : status;
  process.stdout.write(options.json ? `${JSON.stringify(view, null, 2)}\n` : describe(view));
  return 0;
}

/** A local run's summary.json in its --out folder, where the user looks, while no later run has replaced it. */
async function withSummaryInOut(status: RunStatusView, outDir: string): Promise<RunStatusView> {
  if (!status.results) return status;
  const inOut = join(resolve(outDir), resultFiles.summary);
  try {
    const summary = JSON.parse(await readFile(inOut, 'utf8')) as { runId?: unknown };
    if (summary.runId !== status.runId) return status;
  } catch {
    return status;
  }
  return { ...status, results: { ...status.results, summary: inOut } };
}

interface Stores {
  readonly runsStore: ObjectStore;
  readonly resultsStore: ObjectStore;
  /** A local run's --out folder. */
  readonly outDir?: string;
}

/**
 * Where the run is: the given --dir; else a local import's --out folder under the current folder
 * (its `.dvpipe/` holds the run); else the storage account of the `Storage` settings.
 */
async function locate(runId: string, options: ShowOptions): Promise<Stores | { error: string }> {
  if (options.dir) return localStores(options.dir);
  const found = await findLocalRuns(process.cwd(), runId);
  const local = await latest(found, runId);
  if (local) {
    if (found.length > 1) {
      // One file imported with one job into one environment is one run, whatever its --out: each
      // --out keeps its own state, so the same run id can sit in several.
      process.stderr.write(
        `Run ${runId} is in ${found.length} folders: ${found.map(shown).join(', ')}; showing the latest, ${shown(local)} (--dir <out> for another).\n`,
      );
    }
    return localStores(local);
  }
  if (!storageConfigured(options.connection)) {
    return {
      error:
        `No local run ${runId} under ${process.cwd()} (a dvpipe import keeps its runs in <out>/.dvpipe/), ` +
        `and no storage is configured to look in. For a local run, pass its folder: --dir <out>; for a run in ` +
        `Azure, set '${options.connection}' (a connection string) or '${options.connection}__blobServiceUri'.`,
    };
  }
  const { blobs } = storageClientsFromSettings(options.connection);
  return {
    runsStore: new BlobObjectStore(blobs.getContainerClient(names.runs)),
    resultsStore: new BlobObjectStore(blobs.getContainerClient(names.results)),
  };
}

/** The run of a local --out folder whose state changed last: the one working now, or the last one. */
async function latestRunIn(outDir: string): Promise<string | undefined> {
  const runs = join(resolve(outDir), '.dvpipe', 'runs');
  let ids: string[];
  try {
    ids = await readdir(runs);
  } catch {
    return undefined;
  }
  let latest: { id: string; at: number } | undefined;
  for (const id of ids) {
    const at = (await stat(join(runs, id))).mtimeMs;
    if (!latest || at > latest.at) latest = { id, at };
  }
  return latest?.id;
}

function localStores(outDir: string): Stores {
  const state = join(resolve(outDir), '.dvpipe');
  return {
    runsStore: new FileObjectStore(join(state, 'runs')),
    resultsStore: new FileObjectStore(join(state, 'results')),
    outDir,
  };
}

function storageConfigured(connection: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(
    env[connection] || env[`${connection}__blobServiceUri`] || env[`${connection}__accountName`],
  );
}

/** Folders never holding a user's --out: skipped so the search stays quick in a project checkout. */
const skipped = new Set(['node_modules', '.git', 'dist', 'coverage']);

/** The --out folders under `root` (a few levels deep) whose `.dvpipe/runs/` holds the run. */
export async function findLocalRuns(root: string, runId: string, depth = 4): Promise<string[]> {
  if (await isDirectory(join(root, '.dvpipe', 'runs', runId))) return [root];
  if (depth === 0) return [];
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch {
    return [];
  }
  const folders = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !skipped.has(e.name))
    .map((e) => e.name)
    .sort();
  const found: string[] = [];
  for (const name of folders) found.push(...(await findLocalRuns(join(root, name), runId, depth - 1)));
  return found;
}

/** Of the folders holding a run, the one where it was last written. */
async function latest(folders: readonly string[], runId: string): Promise<string | undefined> {
  let best: { folder: string; at: number } | undefined;
  for (const folder of folders) {
    const at = (await stat(join(folder, '.dvpipe', 'runs', runId))).mtimeMs;
    if (!best || at > best.at) best = { folder, at };
  }
  return best?.folder;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

const count = (n: number) => n.toLocaleString('en-US');

/** A path as the user would type it: relative to the current folder when it is below it. */
function shown(path: string): string {
  if (!isAbsolute(path)) return path;
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

function describe(status: RunStatusView): string {
  const { rows, chunks } = status;
  const lines = [
    `Run ${status.runId} (job ${status.job}, input ${status.input}${status.dryRun ? ', dry run' : ''}): ${status.state}`,
    `  chunks ${count(chunks.done)}/${count(chunks.total)}, rows ${count(rows.processed)}/${count(rows.total)} processed: ` +
      `${count(rows.succeeded)} succeeded, ${count(rows.failed)} failed`,
  ];
  if (status.summary) {
    const s = status.summary;
    lines.push(
      `  ${(s.durationMs / 1000).toFixed(1)} s, ${count(s.requests)} requests, ${count(s.retries)} retries, ${count(s.throttled)} throttled (429)`,
    );
  }
  if (status.results) {
    const files = [
      status.results.summary,
      ...(rows.failed > 0 ? [status.results.errors] : []),
      status.results.records,
    ];
    lines.push(`  results: ${files.map(shown).join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}
