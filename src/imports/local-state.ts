import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { FileObjectStore } from '../storage/file-store.js';
import { getJson, putJson } from '../storage/object-store.js';
import { resultFiles, runPaths } from './paths.js';
import type { RunSummary } from './types.js';

/** Runs of one input (content, job, environment) remembered in its history, newest last. */
const HISTORY_RUNS = 20;

/** One run of an input, as its history remembers it. */
export interface HistoryEntry {
  readonly runId: string;
  readonly startedAt: string;
  /** The file as it was named when this run started. */
  readonly file: string;
  /** Hash of the job definition the run used, to say when it has changed since. */
  readonly job: string;
  readonly rerun: boolean;
}

/** What `<out>/.dvpipe/inputs/<key>.json` holds: the runs of one input, the latest one last. */
export interface InputHistory {
  readonly runs: readonly HistoryEntry[];
}

const README = `This folder is dvpipe's local run state for imports whose --out is the folder above.

- runs/<runId>/     an interrupted run keeps its chunks here so the same command resumes it; a finished
                    run keeps only manifest.json (a few KB), so a plain re-run can say it was done.
- results/<runId>/  the run's summary.json (errors.csv and records.csv are moved to the folder above).
- inputs/           which runs imported which file content, with which job, into which environment.

Dry runs leave nothing here. It is safe to delete this folder when no import is running: the next
import of a file then starts a new run, as --rerun would.
`;

/**
 * `<out>/.dvpipe/`: the CLI's run state. It lets an interrupted import resume and a finished one be
 * recognised, and stays small: a finished run keeps its manifest and summary, a dry run nothing.
 */
export class LocalRunState {
  readonly dir: string;
  readonly runs: FileObjectStore;
  readonly results: FileObjectStore;
  readonly #inputs: FileObjectStore;

  constructor(outDir: string) {
    this.dir = join(outDir, '.dvpipe');
    this.runs = new FileObjectStore(join(this.dir, 'runs'));
    this.results = new FileObjectStore(join(this.dir, 'results'));
    this.#inputs = new FileObjectStore(join(this.dir, 'inputs'));
  }

  async history(inputKey: string): Promise<InputHistory> {
    return (await getJson<InputHistory>(this.#inputs, `${inputKey}.json`)) ?? { runs: [] };
  }

  /** Records that `entry` is now the input's latest run. */
  async remember(inputKey: string, entry: HistoryEntry): Promise<void> {
    const { runs } = await this.history(inputKey);
    const kept = [...runs.filter((run) => run.runId !== entry.runId), entry].slice(-HISTORY_RUNS);
    await putJson(this.#inputs, `${inputKey}.json`, { runs: kept } satisfies InputHistory);
    await writeFile(join(this.dir, 'README.txt'), README);
  }

  summary(runId: string): Promise<RunSummary | undefined> {
    return getJson<RunSummary>(this.results, `${runId}/${resultFiles.summary}`);
  }

  /** Moves a result file of the run out of the state (into `--out`); false when it is not there. */
  async moveResult(runId: string, name: string, to: string): Promise<boolean> {
    try {
      await rename(join(this.results.location, runId, name), to);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  async saveSummary(runId: string, summary: RunSummary): Promise<void> {
    await putJson(this.results, `${runId}/${resultFiles.summary}`, summary);
  }

  /** A finished run needs only its manifest and summary: its chunks and chunk results go. */
  async keepOnlyManifest(runId: string): Promise<void> {
    const folder = join(this.runs.location, runId);
    const manifest = runPaths.manifest(runId).slice(runId.length + 1);
    const entries = await readdir(folder).catch(() => [] as string[]);
    await Promise.all(
      entries
        .filter((name) => name !== manifest)
        .map((name) => rm(join(folder, name), { recursive: true, force: true })),
    );
  }

  /** Removes everything of a run (a dry run once reported, or an interrupted run given up for a --rerun). */
  async forget(runId: string): Promise<void> {
    await rm(join(this.runs.location, runId), { recursive: true, force: true });
    await rm(join(this.results.location, runId), { recursive: true, force: true });
  }
}

/** SHA-256 of a file's bytes, read as a stream: what a local input is known by. */
export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** A short, stable fingerprint of a job definition. */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}
