import type { ContainerClient } from '@azure/storage-blob';
import type { StagedObject, StagedSink } from './staged-sink.js';

/**
 * A StagedSink over one blob container: stageBlock / commitBlockList of a block blob. Uncommitted
 * blocks are invisible to readers and the service discards them after a week, so abort does nothing.
 */
export class BlockBlobSink implements StagedSink {
  readonly location: string;
  readonly #container: ContainerClient;
  readonly #prefix: string;

  constructor(container: ContainerClient, prefix = '') {
    this.#container = container;
    this.#prefix = prefix && !prefix.endsWith('/') ? `${prefix}/` : prefix;
    this.location = `${container.containerName}/${this.#prefix}`;
  }

  open(path: string): StagedObject {
    const blob = this.#container.getBlockBlobClient(this.#prefix + path);
    return {
      path,
      stageBlock: async (blockId, data) => {
        await blob.stageBlock(encodeBlockId(blockId), data, data.length);
      },
      commit: async (blockIds, contentType) => {
        await blob.commitBlockList(blockIds.map(encodeBlockId), {
          blobHTTPHeaders: { blobContentType: contentType },
        });
      },
      abort: async () => {},
    };
  }

  async put(path: string, body: string | Buffer, contentType: string): Promise<void> {
    const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    await this.#container.getBlockBlobClient(this.#prefix + path).uploadData(data, {
      blobHTTPHeaders: { blobContentType: contentType },
    });
  }

  async read(path: string): Promise<AsyncIterable<Buffer>> {
    const response = await this.#container.getBlobClient(this.#prefix + path).download();
    const body = response.readableStreamBody;
    if (!body) throw new Error(`Blob ${this.location}${path} has no body`);
    return body as AsyncIterable<Buffer>;
  }
}

/** Block ids travel base64-encoded; the service requires the same encoded length for every block. */
function encodeBlockId(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64');
}
