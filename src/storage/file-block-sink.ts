import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { StagedObject, StagedSink } from './staged-sink.js';

/**
 * A StagedSink over a local folder (the CLI). Blocks are part files in a hidden folder beside the
 * target; commit concatenates them in order into a temp file and renames it into place, so the target
 * appears complete or not at all.
 */
export class FileBlockSink implements StagedSink {
  readonly location: string;
  readonly #root: string;

  constructor(root: string) {
    this.#root = resolve(root);
    this.location = this.#root.endsWith(sep) ? this.#root : this.#root + sep;
  }

  open(path: string): StagedObject {
    const target = this.#resolve(path);
    const parts = join(dirname(target), `.${basename(target)}.${process.pid}.${Date.now()}.parts`);
    const partFile = (blockId: string) => join(parts, Buffer.from(blockId, 'utf8').toString('base64url'));
    let created = false;
    return {
      path,
      stageBlock: async (blockId, data) => {
        if (!created) {
          await mkdir(parts, { recursive: true });
          created = true;
        }
        await writeFile(partFile(blockId), data);
      },
      commit: async (blockIds) => {
        await mkdir(dirname(target), { recursive: true });
        const temp = `${target}.${process.pid}.${Date.now()}.tmp`;
        const hash = createHash('sha256');
        let bytes = 0;
        const digested = async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            bytes += chunk.length;
            yield chunk;
          }
        };
        try {
          await pipeline(concatenate(blockIds.map(partFile)), digested, createWriteStream(temp));
        } catch (error) {
          await rm(temp, { force: true });
          throw error;
        }
        await rename(temp, target);
        await rm(parts, { recursive: true, force: true });
        return { sha256: hash.digest('hex'), bytes };
      },
      abort: async () => {
        created = false;
        await rm(parts, { recursive: true, force: true });
      },
    };
  }

  async put(path: string, body: string | Buffer): Promise<void> {
    const target = this.#resolve(path);
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(temp, body);
    await rename(temp, target);
  }

  async read(path: string): Promise<AsyncIterable<Buffer>> {
    return createReadStream(this.#resolve(path));
  }

  #resolve(path: string): string {
    const target = resolve(this.#root, ...path.split('/'));
    if (!target.startsWith(this.location)) throw new Error(`Path escapes the sink: ${path}`);
    return target;
  }
}

/** The part files' bytes, one file after another. */
async function* concatenate(files: readonly string[]): AsyncGenerator<Buffer> {
  for (const file of files) {
    for await (const chunk of createReadStream(file)) yield chunk as Buffer;
  }
}
