import { isAbsolute } from 'node:path';
import { getJson, type ObjectStore } from '../storage/object-store.js';
import { resultFiles, runPaths } from './paths.js';
import { isRunId } from './run-id.js';
import type { RunManifest, RunSummary } from './types.js';
import type { ChunkCounts } from './write-chunk.js';

export interface RunStatusView {
  readonly runId: string;
  readonly job: string;
  readonly input: string;
  readonly state: 'running' | RunSummary['status'];
  readonly dryRun: boolean;
  readonly chunks: { readonly total: number; readonly done: number };
  readonly rows: {
    readonly total: number;
    readonly processed: number;
    readonly succeeded: number;
    readonly failed: number;
  };
  readonly startedAt: string;
  /**
   * While running: the pace so far (rows settled per second since the run started) and when the rest will
   * be done at that pace. Once ended, the summary's `forecast` sets the limits' pace against the actual one.
   */
  readonly progress?: { readonly rowsPerSecond: number; readonly finishInSeconds?: number };
  readonly summary?: RunSummary;
  readonly results?: { readonly summary: string; readonly errors: string; readonly records: string };
}

/** Progress of a run from the run store: counts while it runs, the summary once it ended. */
export async function readRunStatus(
  runs: ObjectStore,
  results: ObjectStore,
  runId: string,
  now: number = Date.now(),
): Promise<RunStatusView | undefined> {
  if (!isRunId(runId)) return undefined;
  const manifest = await getJson<RunManifest>(runs, runPaths.manifest(runId));
  if (!manifest) return undefined;
  const summary = await getJson<RunSummary>(results, manifest.resultsPrefix + resultFiles.summary);
  const base = {
    runId,
    job: manifest.jobName,
    input: manifest.input.name,
    dryRun: manifest.dryRun,
    startedAt: manifest.startedAt,
  };
  const inStore = (name: string) => `${results.location}${manifest.resultsPrefix}${name}`;
  // A local run's result files were moved to its --out folder, which its summary names.
  const files = {
    summary: inStore(resultFiles.summary),
    errors: summary && isAbsolute(summary.errorsFile) ? summary.errorsFile : inStore(resultFiles.errors),
    records: summary && isAbsolute(summary.recordsFile) ? summary.recordsFile : inStore(resultFiles.records),
  };
  if (summary) {
    return {
      ...base,
      state: summary.status,
      chunks: { total: manifest.chunkCount, done: manifest.chunkCount },
      rows: {
        total: summary.rows.total,
        processed: summary.rows.total,
        succeeded: summary.rows.succeeded,
        failed: summary.rows.failed,
      },
      summary,
      results: files,
    };
  }
  let done = 0;
  // Superseded rows are settled by the plan and count as succeeded (see RowStatus).
  let succeeded = manifest.planSuperseded ?? 0;
  let failed = manifest.planFailures;
  for await (const path of runs.list(runPaths.countsPrefix(runId))) {
    const counts = await getJson<ChunkCounts>(runs, path);
    if (!counts) continue;
    done += 1;
    succeeded += counts.succeeded;
    failed += counts.failed;
  }
  const processed = succeeded + failed;
  const elapsedSeconds = Math.max(0, (now - Date.parse(manifest.startedAt)) / 1000);
  const rowsPerSecond = elapsedSeconds > 0 ? processed / elapsedSeconds : 0;
  return {
    ...base,
    state: 'running',
    chunks: { total: manifest.chunkCount, done },
    rows: { total: manifest.totalRows, processed, succeeded, failed },
    progress: {
      rowsPerSecond,
      ...(rowsPerSecond > 0 ? { finishInSeconds: (manifest.totalRows - processed) / rowsPerSecond } : {}),
    },
  };
}
