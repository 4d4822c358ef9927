import type { Readable } from 'node:stream';

/**
 * The slice of blob storage the pipelines need. Two implementations: Azure Blob Storage (the
 * functions) and a local folder (the CLI), so both run the same orchestration code.
 */
export interface ObjectStore {
  /** A human-readable location for messages, e.g. `runs/` or `/tmp/out/.run/`. */
  readonly location: string;
  /**
   * Writes an object. With `ifNoneMatch` the write only happens when the object does not
   * exist yet; the result says whether this call created it (how fan-in finalizes exactly once).
   */
  put(path: string, body: string | Buffer, options?: PutOptions): Promise<boolean>;
  /** Streams a body of unknown length (large result files) without buffering it. */
  putStream(path: string, body: Readable, options?: PutOptions): Promise<void>;
  get(path: string): Promise<Buffer | undefined>;
  getStream(path: string): Promise<Readable | undefined>;
  exists(path: string): Promise<boolean>;
  /** Paths (relative to the store) that start with `prefix`. */
  list(prefix: string): AsyncIterable<string>;
  delete(path: string): Promise<void>;
  /** Present where the store can build one object from parts staged separately (`StagedParts`). */
  readonly parts?: StagedParts;
}

/**
 * One object built from numbered parts that any process may stage, in any order, before one call joins
 * them in the order it names: Azure block blobs (Put Block, Put Block List). Staging a part again
 * replaces it; joining again with the same parts gives the same object.
 */
export interface StagedParts {
  /** Most parts one object can be joined from. */
  readonly maxParts: number;
  stage(path: string, part: number, body: string): Promise<void>;
  /** The byte length of each part the object has, staged or already joined (empty when none). */
  sizes(path: string): Promise<Map<number, number>>;
  join(path: string, parts: readonly number[], options?: Pick<PutOptions, 'contentType'>): Promise<void>;
}

export interface PutOptions {
  readonly ifNoneMatch?: boolean;
  readonly contentType?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export async function getJson<T>(store: ObjectStore, path: string): Promise<T | undefined> {
  const body = await store.get(path);
  return body === undefined ? undefined : (JSON.parse(body.toString('utf8')) as T);
}

export function putJson(
  store: ObjectStore,
  path: string,
  value: unknown,
  options: Omit<PutOptions, 'contentType'> & {
    /** No indentation: for big machine-read state (a chunk's row outcomes), where it doubles the cost. */
    readonly compact?: boolean;
  } = {},
): Promise<boolean> {
  const { compact, ...put } = options;
  const body = compact ? JSON.stringify(value) : JSON.stringify(value, null, 2);
  return store.put(path, body, { ...put, contentType: 'application/json' });
}

export async function countObjects(store: ObjectStore, prefix: string): Promise<number> {
  let count = 0;
  for await (const _ of store.list(prefix)) count += 1;
  return count;
}
