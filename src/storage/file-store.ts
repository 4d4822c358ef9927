import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, type Dirent } from 'node:fs';
import { link, mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { ObjectStore, PutOptions } from './object-store.js';

/** An ObjectStore over a local folder, for the CLI. Writes go through a temp file and a rename. */
export class FileObjectStore implements ObjectStore {
  readonly location: string;
  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
    this.location = root.endsWith(sep) ? root : root + sep;
  }

  async put(path: string, body: string | Buffer, options: PutOptions = {}): Promise<boolean> {
    const target = this.#resolve(path);
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}.${randomUUID()}.tmp`;
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(body);
    } finally {
      await handle.close();
    }
    if (options.ifNoneMatch) {
      // A hard link fails when the name exists and appears whole: the create-only guarantee of a blob's
      // If-None-Match: *, and no reader sees a half-written file (opening the target with 'wx' and then
      // writing let a racing finalizer read a summary.json that was still empty).
      try {
        await link(temp, target);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw error;
      } finally {
        await rm(temp, { force: true });
      }
    }
    await rename(temp, target);
    return true;
  }

  async putStream(path: string, body: Readable): Promise<void> {
    const target = this.#resolve(path);
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}.${randomUUID()}.tmp`;
    await pipeline(body, createWriteStream(temp));
    await rename(temp, target);
  }

  async get(path: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.#resolve(path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async getStream(path: string): Promise<Readable | undefined> {
    return (await this.exists(path)) ? createReadStream(this.#resolve(path)) : undefined;
  }

  async exists(path: string): Promise<boolean> {
    try {
      return (await stat(this.#resolve(path))).isFile();
    } catch {
      return false;
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    const base = this.#resolve(prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '');
    let entries: Dirent[];
    try {
      // Entry types from the directory itself: a stat per file made listing a big run's results slow.
      entries = await readdir(base, { recursive: true, withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const names = entries
      .filter((entry) => entry.isFile())
      .map((entry) => relative(this.#root, join(entry.parentPath, entry.name)).split(sep).join('/'))
      .filter((name) => name.startsWith(prefix) && !name.endsWith('.tmp'))
      .sort();
    yield* names;
  }

  async delete(path: string): Promise<void> {
    await rm(this.#resolve(path), { force: true });
  }

  #resolve(path: string): string {
    const target = join(this.#root, ...path.split('/'));
    if (target !== this.#root && !target.startsWith(this.location)) {
      throw new Error(`Path escapes the store: ${path}`);
    }
    return target;
  }
}
