import { randomBytes } from 'node:crypto';
import type { ObjectStore } from '../storage/object-store.js';
import { getJson } from '../storage/object-store.js';
import { resultFiles } from './paths.js';
import type { RunSummary } from './types.js';

/** The bundled smoke job (jobs/smoke.json) and the one row it writes: the same contact every time. */
export const SMOKE_JOB = 'smoke';
export const SMOKE_CSV = 'Email,First Name,Last Name\r\nsmoke-test@dvpipe.invalid,dvpipe,Smoke test\r\n';

export interface SmokeTestRequest {
  /** The `incoming` container and the `results` container of the deployed app. */
  readonly incoming: ObjectStore;
  readonly results: ObjectStore;
  readonly job: string;
  readonly csv: string | Buffer;
  readonly timeoutMs: number;
  readonly pollMs?: number;
  /** The file's name inside `incoming/<job>/`; by default unique, so each test is a run of its own. */
  readonly name?: string;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called once the file is uploaded, with its path in `incoming/`. */
  readonly onUploaded?: (path: string) => void;
}

export type SmokeTestOutcome =
  | {
      readonly finished: true;
      readonly path: string;
      readonly resultsPrefix: string;
      readonly summary: RunSummary;
    }
  | { readonly finished: false; readonly path: string; readonly waitedMs: number };

/**
 * Uploads a CSV to `incoming/<job>/` as a user would, then waits for the app to write its
 * summary.json under `results/<job>/<name>/<runId>/` (the run id is the app's to choose: it
 * depends on the blob's ETag and the app's Dataverse URL, so the folder is found by listing).
 */
export async function runSmokeTest(request: SmokeTestRequest): Promise<SmokeTestOutcome> {
  const now = request.now ?? Date.now;
  const sleep = request.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const name = request.name ?? defaultName(new Date(now()));
  const path = `${request.job}/${name}`;
  const created = await request.incoming.put(path, request.csv, {
    ifNoneMatch: true,
    contentType: 'text/csv',
  });
  if (!created) throw new Error(`incoming/${path} already exists: choose another --name.`);
  request.onUploaded?.(path);

  const started = now();
  const folder = `${path}/`;
  for (;;) {
    for await (const found of request.results.list(folder)) {
      if (!found.endsWith(`/${resultFiles.summary}`)) continue;
      const summary = await getJson<RunSummary>(request.results, found);
      if (summary) {
        return { finished: true, path, resultsPrefix: found.slice(0, -resultFiles.summary.length), summary };
      }
    }
    const waitedMs = now() - started;
    if (waitedMs >= request.timeoutMs) return { finished: false, path, waitedMs };
    await sleep(Math.min(request.pollMs ?? 2000, request.timeoutMs - waitedMs));
  }
}

function defaultName(at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `smoke-${stamp}-${randomBytes(3).toString('hex')}.csv`;
}
