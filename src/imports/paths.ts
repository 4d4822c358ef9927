/** Object names inside the run store (the `runs` container or the CLI's `.run` folder). */
export const runPaths = {
  manifest: (runId: string) => `${runId}/manifest.json`,
  chunk: (runId: string, chunk: number) => `${runId}/chunks/${pad(chunk)}.jsonl`,
  chunkStarted: (runId: string, chunk: number) => `${runId}/started/${pad(chunk)}`,
  chunkResult: (runId: string, chunk: number) => `${runId}/results/${pad(chunk)}.json`,
  chunkCounts: (runId: string, chunk: number) => `${runId}/counts/${pad(chunk)}.json`,
  countsPrefix: (runId: string) => `${runId}/counts/`,
  chunkError: (runId: string, chunk: number) => `${runId}/errors/${pad(chunk)}.txt`,
  planResult: (runId: string) => `${runId}/results/plan.json`,
  resultsPrefix: (runId: string) => `${runId}/results/`,
  /** The plan's failed rows (unreadable rows, in-file duplicates) in one chunk's row range. */
  chunkPlanFailures: (runId: string, chunk: number) => `${runId}/plan-failures/${pad(chunk)}.json`,
  /** Set once a chunk's result lines are staged as parts of the result files (`result-parts.ts`). */
  chunkParts: (runId: string, chunk: number) => `${runId}/parts/${pad(chunk)}.json`,
  finalized: (runId: string) => `${runId}/finalized.json`,
} as const;

export const resultFiles = {
  summary: 'summary.json',
  errors: 'errors.csv',
  records: 'records.csv',
  /** The run's report for people (see src/reports). */
  report: 'report.html',
} as const;

function pad(chunk: number): string {
  return String(chunk).padStart(5, '0');
}

/**
 * Splits `incoming/<job>/<name>` into its job and name, refusing names that could escape a folder
 * or confuse a reader (`..`, encoded separators, control characters, absurd lengths).
 */
export function parseIncomingName(blobName: string): { job: string; name: string } {
  if (blobName.length > 512) throw new InvalidInputNameError(blobName, 'it is longer than 512 characters');
  if (/%2f|%5c|\\/i.test(blobName)) {
    throw new InvalidInputNameError(blobName, 'it contains an encoded or backslash path separator');
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(blobName);
  } catch {
    throw new InvalidInputNameError(blobName, 'it is not valid percent-encoding');
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(decoded)) {
    throw new InvalidInputNameError(blobName, 'it contains control characters');
  }
  const segments = [...blobName.split('/'), ...decoded.split('/')];
  if (segments.some((part) => part === '..' || part === '.' || part === '')) {
    throw new InvalidInputNameError(blobName, "it contains an empty, '.' or '..' path segment");
  }
  const [job, ...rest] = blobName.split('/');
  if (!job || rest.length === 0) {
    throw new InvalidInputNameError(blobName, "files go in a job folder: 'incoming/<job>/<file>.csv'");
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(job)) {
    throw new InvalidInputNameError(blobName, `'${job}' is not a valid job name`);
  }
  return { job, name: rest.join('/') };
}

export class InvalidInputNameError extends Error {
  constructor(
    readonly blobName: string,
    reason: string,
  ) {
    super(`Input '${truncate(blobName, 120)}' was not processed: ${reason}.`);
    this.name = 'InvalidInputNameError';
  }
}

function truncate(value: string, max: number): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}
