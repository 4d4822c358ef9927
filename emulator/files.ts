// File and image column data (reference §13; Learn, "Use file column data"): never set by a create or
// update, only by its own requests on `<set>(<id>)/<column>`:
// - one request: PATCH with `Content-Type: application/octet-stream`, `x-ms-file-name`, the bytes;
// - in chunks: PATCH with `x-ms-transfer-mode: chunked` and `x-ms-file-name` answers 200 with
//   `x-ms-chunk-size` and a `Location` carrying a session token; each chunk is a PATCH to that
//   location with `Content-Range: bytes <first>-<last>/<total>`, answered 206 until the last (204).
import { randomUUID } from 'node:crypto';
import { DataverseError, errors } from './errors.js';
import type { ApiRequest, ApiResponse } from './http.js';
import type { Table } from './model.js';
import type { FileColumnSpec } from './schema/format.js';

export interface StoredFile {
  readonly name: string;
  readonly bytes: Buffer;
}

interface Session {
  readonly table: string;
  readonly id: string;
  readonly column: string;
  readonly name: string;
  readonly chunks: Buffer[];
  received: number;
}

/** Bytes a chunked upload asks for per chunk (the value Learn's examples show for real uploads: 4 MB). */
export const CHUNK_SIZE = 4 * 1024 * 1024;
/** The most one request may carry (reference §13: up to 128 MB in one request). */
export const SINGLE_REQUEST_MAX = 128 * 1024 * 1024;

export class Files {
  private readonly files = new Map<string, StoredFile>();
  private readonly sessions = new Map<string, Session>();

  get(table: string, id: string, column: string): StoredFile | undefined {
    return this.files.get(`${table}|${id}|${column}`);
  }

  clear(): void {
    this.files.clear();
    this.sessions.clear();
  }

  /**
   * Handles a request on a file column of the record `id` (which exists). `onStored` learns the
   * file name once a file is complete (the `<column>_name` companion).
   */
  handle(
    req: ApiRequest,
    table: Table,
    id: string,
    column: FileColumnSpec,
    apiRoot: string,
    onStored: (name: string | null) => void,
  ): ApiResponse {
    const key = `${table.logicalName}|${id}|${column.logicalName}`;
    const done: ApiResponse = { status: 204, headers: { 'OData-Version': '4.0' } };
    if (req.method === 'DELETE') {
      this.files.delete(key);
      onStored(null);
      return done;
    }
    if (req.method !== 'PATCH' && req.method !== 'PUT') throw errors.methodNotAllowed(req.method);
    const limit = column.maxSizeInKB * 1024;
    const tooLarge = (size: number) =>
      column.kind === 'Image'
        ? imageFailure(
            `File size is too big. MaxSize: ${megabytes(limit)} MB, Uploaded filesize: ${megabytes(size)} MB.`,
          )
        : new DataverseError(
            400,
            '0x80090001',
            `The file is ${size} bytes; the column ${column.logicalName} accepts at most ${column.maxSizeInKB} KB.`,
          );
    const store = (name: string, bytes: Buffer): ApiResponse => {
      if (column.kind === 'Image' && !looksLikeImage(bytes)) {
        imageFailure(`The file ${name} is not an image.`);
      }
      this.files.set(key, { name, bytes });
      onStored(name);
      return done;
    };
    const token = req.url.searchParams.get('sessiontoken');
    if (token !== null) {
      const session = this.sessions.get(token);
      if (!session || session.table !== table.logicalName || session.id !== id) {
        throw new DataverseError(400, '0x80090002', `Unknown or expired upload session '${token}'.`);
      }
      const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec((req.headers['content-range'] ?? '').trim());
      if (!range) {
        throw errors.invalidArgument('A chunk needs Content-Range: bytes <first>-<last>/<total>.');
      }
      const [first, last, total] = [Number(range[1]), Number(range[2]), Number(range[3])];
      const bytes = req.raw ?? Buffer.alloc(0);
      if (first !== session.received || last - first + 1 !== bytes.length || last >= total) {
        throw errors.invalidArgument(
          `Content-Range ${first}-${last}/${total} does not follow the ${session.received} bytes received (this chunk has ${bytes.length}).`,
        );
      }
      if (total > limit) throw tooLarge(total);
      session.chunks.push(bytes);
      session.received += bytes.length;
      if (session.received < total) return { status: 206, headers: { 'OData-Version': '4.0' } };
      this.sessions.delete(token);
      return store(session.name, Buffer.concat(session.chunks));
    }
    const name = req.headers['x-ms-file-name'];
    if (!name) throw errors.invalidArgument('An upload needs the x-ms-file-name header.');
    if ((req.headers['x-ms-transfer-mode'] ?? '').toLowerCase() === 'chunked') {
      const session = randomUUID().replace(/-/g, '');
      this.sessions.set(session, {
        table: table.logicalName,
        id,
        column: column.logicalName,
        name,
        chunks: [],
        received: 0,
      });
      return {
        status: 200,
        headers: {
          'OData-Version': '4.0',
          'x-ms-chunk-size': String(CHUNK_SIZE),
          'Accept-Ranges': 'bytes',
          Location: `${apiRoot}${table.entitySetName}(${id})/${column.logicalName}?sessiontoken=${session}`,
        },
      };
    }
    const bytes = req.raw ?? Buffer.alloc(0);
    if (bytes.length > SINGLE_REQUEST_MAX) {
      throw new DataverseError(413, '0x80090003', 'A file over 128 MB must be uploaded in chunks.');
    }
    if (bytes.length > limit) throw tooLarge(bytes.length);
    return store(name, bytes);
  }
}

/**
 * Image columns take image files only (Learn, "Use image column data"); the service processes each
 * upload and answers ProcessImageFailure (0x80072553) when it cannot, the documented code for an image
 * over the column's size. Thrown, never returned.
 */
function imageFailure(reason: string): never {
  throw new DataverseError(400, '0x80072553', `Error occured when processing image. Reason: ${reason}`);
}

function megabytes(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(0);
}

/** PNG, JPEG, GIF, BMP and TIFF by their first bytes: the formats image columns display. */
function looksLikeImage(bytes: Buffer): boolean {
  const starts = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  return (
    starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a) ||
    starts(0xff, 0xd8, 0xff) ||
    starts(0x47, 0x49, 0x46, 0x38) ||
    starts(0x42, 0x4d) ||
    starts(0x49, 0x49, 0x2a, 0x00) ||
    starts(0x4d, 0x4d, 0x00, 0x2a)
  );
}
