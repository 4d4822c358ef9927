// File and image columns in imports: a CSV cell names a file (a local path in the CLI, a blob in the
// app); the row is written first, then the file is uploaded to its record (a file is never part of a
// create or update, reference §13). A file that cannot be found fails its row before anything is
// written; an upload that fails fails its row, saying the record itself was written.
import { open, stat } from 'node:fs/promises';
import { basename, isAbsolute, resolve } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import pMap from 'p-map';
import { attributeOf, type ImportJob } from '../config/job.js';
import { isDataverseError } from '../dataverse/errors.js';
import type { UploadSource } from '../dataverse/files.js';
import type { TableMetadata } from '../dataverse/model.js';
import type { ChunkRow, RowOutcome } from './types.js';
import type { ChunkMapper } from './write-chunk.js';
import { writeRows, type WritableRow, type WriteContext } from './write-rows.js';

/** Where the files a CSV names are read from. */
export interface FileSource {
  /** The file a cell names, or undefined when there is none. */
  open(ref: string): Promise<UploadSource | undefined>;
  /** Where `ref` was looked for, for messages. */
  describe(ref: string): string;
}

/** CLI: paths relative to the CSV file's folder (absolute paths as they are). */
export function localFileSource(baseDir: string): FileSource {
  const pathOf = (ref: string) => (isAbsolute(ref) ? ref : resolve(baseDir, ref));
  return {
    describe: pathOf,
    async open(ref) {
      const path = pathOf(ref);
      const info = await stat(path).catch(() => undefined);
      if (!info?.isFile()) return undefined;
      return {
        name: basename(path),
        size: info.size,
        async read(offset, length) {
          const handle = await open(path, 'r');
          try {
            const buffer = Buffer.alloc(length);
            const { bytesRead } = await handle.read(buffer, 0, length, offset);
            return buffer.subarray(0, bytesRead);
          } finally {
            await handle.close();
          }
        },
      };
    },
  };
}

/** App: blob paths relative to the job's folder in the input container (`/` first: from its root). */
export function blobFileSource(container: ContainerClient, prefix: string): FileSource {
  const nameOf = (ref: string) => (ref.startsWith('/') ? ref.slice(1) : `${prefix}${ref}`);
  return {
    describe: (ref) => `${container.containerName}/${nameOf(ref)}`,
    async open(ref) {
      const blob = container.getBlobClient(nameOf(ref));
      const properties = await blob.getProperties().catch((error: unknown) => {
        if ((error as { statusCode?: number }).statusCode === 404) return undefined;
        throw error;
      });
      if (!properties) return undefined;
      const etag = properties.etag;
      return {
        name: basename(nameOf(ref)),
        size: properties.contentLength ?? 0,
        // Every piece from the version that was checked, never a newer upload's bytes.
        read: (offset, length) =>
          length === 0
            ? Promise.resolve(new Uint8Array())
            : blob.downloadToBuffer(offset, length, { conditions: etag ? { ifMatch: etag } : {} }),
      };
    },
  };
}

/** A CSV column naming files for a file or image column. */
export interface FileColumn {
  readonly header: string;
  readonly attribute: string;
  readonly kind: 'File' | 'Image';
  /** The column's MaxSizeInKB, when the metadata says it. */
  readonly maxSizeInKB?: number;
}

/** The job's file and image columns, and the job without them (what the row mapper compiles). */
export function splitFileColumns(
  job: ImportJob,
  table: TableMetadata,
): { readonly job: ImportJob; readonly files: readonly FileColumn[] } {
  const files: FileColumn[] = [];
  const columns: ImportJob['columns'] = {};
  for (const [header, spec] of Object.entries(job.columns)) {
    const attribute = table.attributes.get(attributeOf(spec));
    const type = attribute?.type;
    if (type === 'File' || type === 'Image') {
      const limit = attribute?.maxSizeInKB;
      files.push({
        header,
        attribute: attributeOf(spec),
        kind: type,
        ...(limit ? { maxSizeInKB: limit } : {}),
      });
    } else columns[header] = spec;
  }
  return files.length === 0 ? { job, files } : { job: { ...job, columns }, files };
}

interface PendingFile {
  readonly column: FileColumn;
  readonly ref: string;
  readonly source: UploadSource;
}

export interface FileUploader {
  uploadFile(table: string, id: string, column: string, source: UploadSource): Promise<{ chunks: number }>;
}

/**
 * Wraps a run's mapper and writer: the mapper checks that each row's files exist (a missing one
 * fails the row, nothing is written), the writer uploads them once their rows are written.
 */
export function withFileColumns(
  mapper: ChunkMapper,
  columns: readonly FileColumn[],
  header: readonly string[],
  files: FileSource,
  client: FileUploader,
): {
  readonly mapper: ChunkMapper;
  readonly writer: (context: WriteContext, rows: readonly WritableRow[]) => Promise<RowOutcome[]>;
} {
  // Rows mapped and not yet written (a chunk is mapped, then written, in the same process).
  const pending = new Map<number, readonly PendingFile[]>();
  const positions = columns.map((column) => header.indexOf(column.header));
  return {
    mapper: {
      async mapChunk(rows: readonly ChunkRow[]) {
        const mapped = await mapper.mapChunk(rows);
        const cells = new Map(rows.map((row) => [row.row, row.cells]));
        const failures = [...mapped.failures];
        const writable: WritableRow[] = [];
        await pMap(
          mapped.writable,
          async (row) => {
            const found: PendingFile[] = [];
            for (const [i, column] of columns.entries()) {
              const ref = (cells.get(row.row)?.[positions[i] ?? -1] ?? '').trim();
              if (ref === '') continue;
              const source = await files.open(ref);
              if (!source) {
                failures.push({
                  row: row.row,
                  status: 'failed',
                  code: 'FileNotFound',
                  column: column.header,
                  message: `column "${column.header}": file "${ref}" not found (${files.describe(ref)}); nothing was written for this row`,
                });
                return;
              }
              const limit = column.maxSizeInKB;
              if (limit !== undefined && source.size > limit * 1024) {
                // Refused before the row is written: the service would take the record and refuse the file.
                failures.push({
                  row: row.row,
                  status: 'failed',
                  code: 'FileTooLarge',
                  column: column.header,
                  message: `column "${column.header}": file "${ref}" is ${formatKb(source.size)} KB; ${column.attribute} takes at most ${limit.toLocaleString('en-US')} KB (its MaxSizeInKB); nothing was written for this row`,
                });
                return;
              }
              found.push({ column, ref, source });
            }
            if (found.length > 0) pending.set(row.row, found);
            writable.push(row);
          },
          { concurrency: 8 },
        );
        writable.sort((a, b) => a.row - b.row);
        failures.sort((a, b) => a.row - b.row);
        return { writable, failures };
      },
    },
    async writer(context, rows) {
      const outcomes = await writeRows(context, rows);
      const uploaded = await pMap(
        outcomes,
        async (outcome): Promise<RowOutcome> => {
          const found = pending.get(outcome.row);
          pending.delete(outcome.row);
          if (!found || context.dryRun || outcome.status === 'failed' || !outcome.id) return outcome;
          for (const file of found) {
            try {
              await client.uploadFile(context.table, outcome.id, file.column.attribute, file.source);
            } catch (error) {
              const reason = error instanceof Error ? error.message : String(error);
              return {
                row: outcome.row,
                status: 'failed',
                id: outcome.id,
                code: isDataverseError(error) ? error.code || 'FileUploadFailed' : 'FileUploadFailed',
                column: file.column.header,
                message: `the record was ${outcome.status} (${outcome.id}) but file "${file.ref}" could not be uploaded to ${file.column.attribute}: ${reason}`,
              };
            }
          }
          return outcome;
        },
        { concurrency: 4 },
      );
      return uploaded;
    },
  };
}

function formatKb(bytes: number): string {
  return Math.ceil(bytes / 1024).toLocaleString('en-US');
}
