import { createHash } from 'node:crypto';

/**
 * A run is one version of one input: the same URL and ETag always give the same id, so an event
 * delivered twice resumes the existing run instead of starting a second one. An explicit re-run
 * passes a nonce to get a fresh id.
 */
export function runIdFor(url: string, etag: string, rerunNonce?: string): string {
  const hash = createHash('sha256').update(url).update('\n').update(etag);
  if (rerunNonce) hash.update('\n').update(rerunNonce);
  const digest = hash.digest('hex');
  return `r${digest.slice(0, 24)}`;
}

const RUN_ID = /^r[0-9a-f]{24}$/;

export function isRunId(value: string): boolean {
  return RUN_ID.test(value);
}
