import { parseIncomingName } from '../../src/imports/paths.js';
import { blobRunKey, runIdFor } from '../../src/imports/run-id.js';

/**
 * The run id the product gives a blob in `incoming/` (its URL and ETag, the job its folder names, the
 * environment it writes to); a name the product refuses has no job.
 */
export function blobRunId(url: string, etag: string, environmentUrl: string): string {
  const blobName = new URL(url).pathname.replace(/^\/[^/]+\/incoming\//, '');
  let job = '';
  try {
    job = parseIncomingName(blobName).job;
  } catch {
    // Refused names are run under no job.
  }
  return runIdFor(blobRunKey({ url, etag, job }, environmentUrl));
}
