import type { Readable } from 'node:stream';
import { RestError, type ContainerClient } from '@azure/storage-blob';
import type { ObjectStore, PutOptions, StagedParts } from './object-store.js';

const STREAM_BUFFER_BYTES = 4 * 1024 * 1024;
const STREAM_BUFFERS = 4;
/** Committed blocks one block blob can have (Azure Storage's limit, the same on Azurite). */
const MAX_BLOCKS = 50_000;

/** An ObjectStore over one blob container (optionally below a path prefix). */
export class BlobObjectStore implements ObjectStore {
  readonly location: string;
  readonly parts: StagedParts;
  readonly #container: ContainerClient;
  readonly #prefix: string;

  constructor(container: ContainerClient, prefix = '') {
    this.#container = container;
    this.#prefix = prefix && !prefix.endsWith('/') ? `${prefix}/` : prefix;
    this.location = `${container.containerName}/${this.#prefix}`;
    const blob = (path: string) => container.getBlockBlobClient(this.#name(path));
    this.parts = {
      maxParts: MAX_BLOCKS,
      stage: async (path, part, body) => {
        const data = Buffer.from(body, 'utf8');
        await blob(path).stageBlock(blockId(part), data, data.length);
      },
      sizes: async (path) => {
        const sizes = new Map<number, number>();
        try {
          const list = await blob(path).getBlockList('all');
          // Committed first: an uncommitted block of the same name is the newer one, and the one a join takes.
          for (const block of [...(list.committedBlocks ?? []), ...(list.uncommittedBlocks ?? [])]) {
            const part = partOf(block.name);
            if (part !== undefined) sizes.set(part, block.size);
          }
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
        return sizes;
      },
      join: async (path, parts, options = {}) => {
        await blob(path).commitBlockList(parts.map(blockId), {
          blobHTTPHeaders: options.contentType ? { blobContentType: options.contentType } : undefined,
        });
      },
    };
  }

  async put(path: string, body: string | Buffer, options: PutOptions = {}): Promise<boolean> {
    const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    try {
      await this.#container.getBlockBlobClient(this.#name(path)).uploadData(data, {
        conditions: options.ifNoneMatch ? { ifNoneMatch: '*' } : undefined,
        blobHTTPHeaders: options.contentType ? { blobContentType: options.contentType } : undefined,
        metadata: options.metadata ? { ...options.metadata } : undefined,
      });
      return true;
    } catch (error) {
      if (options.ifNoneMatch && isConflict(error)) return false;
      throw error;
    }
  }

  async putStream(path: string, body: Readable, options: PutOptions = {}): Promise<void> {
    await this.#container
      .getBlockBlobClient(this.#name(path))
      .uploadStream(body, STREAM_BUFFER_BYTES, STREAM_BUFFERS, {
        blobHTTPHeaders: options.contentType ? { blobContentType: options.contentType } : undefined,
        metadata: options.metadata ? { ...options.metadata } : undefined,
      });
  }

  async get(path: string): Promise<Buffer | undefined> {
    try {
      return await this.#container.getBlobClient(this.#name(path)).downloadToBuffer();
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async getStream(path: string): Promise<Readable | undefined> {
    try {
      const response = await this.#container.getBlobClient(this.#name(path)).download();
      return response.readableStreamBody as Readable | undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  exists(path: string): Promise<boolean> {
    return this.#container.getBlobClient(this.#name(path)).exists();
  }

  async *list(prefix: string): AsyncIterable<string> {
    for await (const blob of this.#container.listBlobsFlat({ prefix: this.#name(prefix) })) {
      yield blob.name.slice(this.#prefix.length);
    }
  }

  async delete(path: string): Promise<void> {
    await this.#container.getBlobClient(this.#name(path)).deleteIfExists();
  }

  #name(path: string): string {
    return this.#prefix + path;
  }
}

/** Block ids of one blob must all have the same length: the part number, zero-padded. */
function blockId(part: number): string {
  return Buffer.from(`part${String(part).padStart(8, '0')}`, 'utf8').toString('base64');
}

function partOf(id: string): number | undefined {
  const match = /^part(\d{8})$/.exec(Buffer.from(id, 'base64').toString('utf8'));
  return match ? Number(match[1]) : undefined;
}

function isNotFound(error: unknown): boolean {
  return error instanceof RestError && error.statusCode === 404;
}

/** If-None-Match: * on an existing blob answers 409 BlobAlreadyExists (412 on some versions). */
function isConflict(error: unknown): boolean {
  return error instanceof RestError && (error.statusCode === 409 || error.statusCode === 412);
}
