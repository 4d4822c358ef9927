// Entry point for triggers (the nightly timer, "run now" over HTTP, the CLI): runs several extract
// jobs one after another, each with its own parallel partitions, and reports every job's outcome.
import type { ExtractJob } from '../config/job.js';
import { errorMessage, silentLogger } from '../logging.js';
import type { ExtractManifest, ExtractTrigger } from './manifest.js';
import { runExtract, type ExtractDeps, type ExtractOptions } from './runner.js';

export interface RunJobsOptions {
  /** The trigger's time (a timer's scheduled time): fills path templates. */
  readonly now: Date;
  readonly trigger: ExtractTrigger;
  /** Run only these job names ("run now"). Default: for a timer, every job with a schedule; otherwise all. */
  readonly only?: readonly string[];
  /** Per-run options passed to every extract (full re-read, concurrency …). */
  readonly extract?: Omit<ExtractOptions, 'now' | 'trigger' | 'path'>;
}

export type JobOutcome =
  | {
      readonly job: string;
      readonly ok: true;
      readonly manifest: ExtractManifest;
      readonly manifestPath: string;
      readonly reportPath?: string;
    }
  | { readonly job: string; readonly ok: false; readonly error: string; readonly code?: string };

/** The jobs a trigger runs: a timer runs scheduled jobs; "run now" names them. */
export function selectJobs(
  jobs: readonly ExtractJob[],
  options: Pick<RunJobsOptions, 'trigger' | 'only'>,
): ExtractJob[] {
  if (options.only && options.only.length > 0) {
    const wanted = new Set(options.only);
    const unknown = [...wanted].filter((name) => !jobs.some((j) => j.name === name));
    if (unknown.length > 0) throw new Error(`Unknown extract job(s): ${unknown.join(', ')}`);
    return jobs.filter((j) => wanted.has(j.name));
  }
  return options.trigger === 'timer' ? jobs.filter((j) => j.schedule !== undefined) : [...jobs];
}

/**
 * Runs the selected jobs in order; one job's failure is logged and reported, and the others still run.
 * Jobs run one at a time because they share the client (and its per-user limits).
 */
export async function runExtractJobs(
  deps: ExtractDeps,
  jobs: readonly ExtractJob[],
  options: RunJobsOptions,
): Promise<JobOutcome[]> {
  const log = deps.log ?? silentLogger;
  const outcomes: JobOutcome[] = [];
  for (const job of selectJobs(jobs, options)) {
    try {
      const result = await runExtract(deps, job, {
        ...options.extract,
        now: options.now,
        trigger: options.trigger,
      });
      outcomes.push({ job: job.name, ok: true, ...result });
    } catch (error) {
      const code =
        typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
      log.error('Extract failed', {
        job: job.name,
        trigger: options.trigger,
        code,
        message: errorMessage(error),
      });
      outcomes.push({ job: job.name, ok: false, error: errorMessage(error), ...(code ? { code } : {}) });
    }
  }
  return outcomes;
}
