import { createHash } from 'node:crypto';

/**
 * What makes a run (DESIGN.md, "Run identity"): one version of one input, imported with one job into one
 * Dataverse environment. The same parts always give the same run id, so an event delivered twice resumes
 * the existing run; another environment or job is another run.
 */
export interface RunKey {
  /** Where the input lives (a blob URL), or `file` for a local file known by its content. */
  readonly input: string;
  /** The input's version: a blob's ETag, a local file's content hash. */
  readonly version: string;
  readonly job: string;
  /** The Dataverse environment written to, as `environmentOf` gives it. */
  readonly environment: string;
}

/**
 * The run id of a key. An explicit re-run, and a dry run (which is never the real run), pass a nonce to get
 * an id of their own.
 */
export function runIdFor(key: RunKey, nonce?: string): string {
  const hash = createHash('sha256');
  for (const part of [key.input, key.version, key.job, key.environment]) hash.update(part).update('\n');
  if (nonce) hash.update(nonce);
  return `r${hash.digest('hex').slice(0, 24)}`;
}

/** A blob input's key: its URL and ETag (quotes dropped, as events and SDKs differ in them). */
export function blobRunKey(
  input: { readonly url: string; readonly etag: string; readonly job: string },
  environmentUrl: string,
): RunKey {
  return {
    input: input.url,
    version: input.etag.replace(/^"(.*)"$/, '$1'),
    job: input.job,
    environment: environmentOf(environmentUrl),
  };
}

/** The environment an org URL names: its origin, lower case (`https://contoso.crm.dynamics.com`). */
export function environmentOf(url: string): string {
  try {
    return new URL(url).origin.toLowerCase();
  } catch {
    return url.trim().toLowerCase();
  }
}

const RUN_ID = /^r[0-9a-f]{24}$/;

export function isRunId(value: string): boolean {
  return RUN_ID.test(value);
}
