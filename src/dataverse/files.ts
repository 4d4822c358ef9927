// Uploads to file and image columns (reference §13; Learn, "Use file column data"): a file is never
// part of a create or update. Small files go in one PATCH of the bytes; larger ones in chunks: a PATCH
// with `x-ms-transfer-mode: chunked` opens a session (the answer's `Location` and `x-ms-chunk-size`),
// then each chunk is a PATCH to that location with `Content-Range`, in order.
import type { ApiSender } from './api.js';
import { DataverseError } from './errors.js';

/** A file to upload, read in pieces so a large one never sits in memory whole. */
export interface UploadSource {
  readonly name: string;
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/**
 * Files up to this size go in one request. Learn allows up to 128 MB in one request; chunks keep a
 * retry of a lost request small, so anything over 16 MB (the older single-request limit) is chunked.
 */
export const SINGLE_UPLOAD_MAX_BYTES = 16 * 1024 * 1024;
const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;

/** Header values must be Latin-1 text; other names travel percent-encoded. */
function headerFileName(name: string): string {
  return /^[\x20-\x7e]*$/.test(name) ? name : encodeURIComponent(name);
}

export async function uploadFile(
  api: ApiSender,
  entitySetName: string,
  id: string,
  column: string,
  source: UploadSource,
  options: { readonly singleMaxBytes?: number } = {},
): Promise<{ readonly chunks: number }> {
  const path = `${entitySetName}(${id})/${column}`;
  const fileName = headerFileName(source.name);
  if (source.size <= (options.singleMaxBytes ?? SINGLE_UPLOAD_MAX_BYTES)) {
    await api.send({
      method: 'PATCH',
      path,
      headers: { 'content-type': 'application/octet-stream', 'x-ms-file-name': fileName },
      raw: await source.read(0, source.size),
      // The same bytes again replace the same file: safe to repeat.
      idempotent: true,
    });
    return { chunks: 1 };
  }
  const opened = await api.send({
    method: 'PATCH',
    path,
    headers: { 'x-ms-transfer-mode': 'chunked', 'x-ms-file-name': fileName },
    idempotent: true,
  });
  const location = opened.headers.location;
  if (!location) {
    throw new DataverseError({
      status: opened.status,
      code: 'NO_UPLOAD_SESSION',
      message: `Dataverse opened no upload session for ${path} (no Location header)`,
    });
  }
  // Learn's examples show a relative Location (`api/data/v9.x/...`): resolve it against the org.
  const target = new URL(location, `${new URL(api.apiRoot).origin}/`).toString();
  const chunkBytes = Number(opened.headers['x-ms-chunk-size']) || DEFAULT_CHUNK_BYTES;
  let chunks = 0;
  for (let offset = 0; offset < source.size; offset += chunkBytes) {
    const length = Math.min(chunkBytes, source.size - offset);
    await api.send({
      method: 'PATCH',
      path: target,
      headers: {
        'content-type': 'application/octet-stream',
        'content-range': `bytes ${offset}-${offset + length - 1}/${source.size}`,
        'x-ms-file-name': fileName,
      },
      raw: await source.read(offset, length),
      // A chunk whose answer was lost may have been taken: sending it again would be out of order.
      idempotent: false,
    });
    chunks += 1;
  }
  return { chunks };
}
