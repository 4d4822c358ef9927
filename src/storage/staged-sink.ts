/**
 * Output that stays invisible until committed: blocks are staged in any order, by any number of
 * writers, and `commit` publishes them in the order given (a block blob's commitBlockList, or a local
 * file assembled from parts and renamed into place). Extracts write through it so consumers never see
 * a partial CSV.
 */
export interface StagedSink {
  /** A human-readable location for messages, e.g. `extracts/` or `/tmp/out/`. */
  readonly location: string;
  /** Starts one staged object at `path` (relative to the sink). */
  open(path: string): StagedObject;
  /** Writes a small object at once (manifests, markers). */
  put(path: string, body: string | Buffer, contentType: string): Promise<void>;
  /** Streams a committed object back (to verify or hash it). */
  read(path: string): Promise<AsyncIterable<Buffer>>;
}

/** What a committed object holds: its sha256 (hex) and size. */
export interface ContentDigest {
  readonly sha256: string;
  readonly bytes: number;
}

export interface StagedObject {
  readonly path: string;
  /** Stages one block; `blockId` must be unique within the object and of the same length for all. */
  stageBlock(blockId: string, data: Buffer): Promise<void>;
  /**
   * Publishes the blocks, in this order, as the object's whole content. A sink whose bytes pass through
   * it while committing returns their digest, so the caller need not read the object back for it.
   */
  commit(blockIds: readonly string[], contentType: string): Promise<ContentDigest | void>;
  /** Drops staged blocks that were never committed (best effort). */
  abort(): Promise<void>;
}
