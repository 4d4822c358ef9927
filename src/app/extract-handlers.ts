import { runExtractJobs, type JobOutcome } from '../extracts/index.js';
import type { ExtractTrigger } from '../extracts/manifest.js';
import { errorMessage, type Logger } from '../logging.js';
import { BlobObjectStore } from '../storage/blob-store.js';
import { BlockBlobSink } from '../storage/block-blob-sink.js';
import type { StagedSink } from '../storage/staged-sink.js';
import { splitList } from './dataverse.js';
import { names, type Runtime } from './runtime.js';

export interface ExtractRequest {
  readonly trigger: ExtractTrigger;
  /** The scheduled time for a timer (fills path templates); now otherwise. */
  readonly now: Date;
  /** Job names to run; default: the EXTRACT_JOBS setting, else every scheduled job for a timer. */
  readonly only?: readonly string[];
  readonly full?: boolean;
}

/**
 * Runs extract jobs into the `extracts` container; state (watermarks, delta links) and the progress of
 * a working run go to `runs`.
 */
export async function onExtractTrigger(
  runtime: Runtime,
  request: ExtractRequest,
  log: Logger,
): Promise<JobOutcome[]> {
  const { jobs, problems } = await runtime.jobs.extracts();
  for (const problem of problems) log.error('Invalid extract job definition', { problem });
  const configured = splitList(runtime.settings.EXTRACT_JOBS);
  const only = request.only?.length ? request.only : configured.length ? configured : undefined;
  const outcomes = await runExtractJobs(
    {
      client: runtime.client,
      sink: containerRelative(new BlockBlobSink(runtime.containers.extracts), names.extracts),
      state: new BlobObjectStore(runtime.containers.runs),
      // The runs page lists a working extract from its progress record, beside the import runs' state.
      progress: runtime.runs,
      log,
    },
    jobs,
    { now: request.now, trigger: request.trigger, only, extract: request.full ? { full: true } : {} },
  ).catch((error: unknown) => {
    log.error('Extract trigger failed', { reason: errorMessage(error) });
    throw error;
  });
  for (const outcome of outcomes) {
    if (outcome.ok) {
      log.info('Extract finished', {
        job: outcome.job,
        rows: outcome.manifest.rows,
        path: `${names.extracts}/${outcome.manifestPath}`,
        ...(outcome.reportPath ? { report: `${names.extracts}/${outcome.reportPath}` } : {}),
      });
    }
  }
  return outcomes;
}

/**
 * Job path templates name the container first (`extracts/{job}/...`), as users see blobs; the
 * sink already is that container, so the prefix is dropped. Other containers are refused, so a
 * job can never write into `incoming` and start imports.
 */
function containerRelative(sink: StagedSink, container: string): StagedSink {
  const relative = (path: string): string => {
    const trimmed = path.replace(/^\/+/, '');
    if (trimmed.startsWith(`${container}/`)) return trimmed.slice(container.length + 1);
    const first = trimmed.split('/')[0] ?? '';
    if (Object.values(names).includes(first as (typeof names)[keyof typeof names])) {
      throw new Error(`Extract output '${path}' must go to the '${container}' container`);
    }
    return trimmed;
  };
  return {
    location: sink.location,
    open: (path) => sink.open(relative(path)),
    put: (path, body, contentType) => sink.put(relative(path), body, contentType),
    read: (path) => sink.read(relative(path)),
  };
}
