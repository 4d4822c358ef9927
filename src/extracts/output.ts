// Where an extract's rows go: one staged object that nothing can see until it is committed. The runner
// writes each partition's rows as one part and commits once; CSV and Parquet differ only in here.
import { randomUUID } from 'node:crypto';
import type { CsvCell } from '../csv/writer.js';
import type { ContentDigest, StagedSink } from '../storage/staged-sink.js';
import { BlockIds, stageHeader, stageRecords, type CsvFormat } from './blocks.js';

export interface ExtractOutput {
  readonly path: string;
  /** Writes the records of one part (a partition); resolves with the records written. */
  write(part: number, records: AsyncIterable<CsvCell[]>): Promise<number>;
  /** Publishes everything written; the object appears whole or not at all. */
  commit(): Promise<ContentDigest | void>;
  /** Drops what was staged (best effort). */
  abort(): Promise<void>;
  /** Row groups written (Parquet). */
  readonly rowGroups?: number;
}

/** CSV: the header as part 0, then each part's blocks, committed in part order. */
export async function openCsvOutput(
  sink: StagedSink,
  path: string,
  format: CsvFormat,
  blockBytes: number,
): Promise<ExtractOutput> {
  const target = sink.open(path);
  const ids = new BlockIds(randomUUID().slice(0, 8));
  try {
    await stageHeader(target, ids, format);
  } catch (error) {
    await target.abort().catch(() => {});
    throw error;
  }
  return {
    path,
    write: async (part, records) => (await stageRecords(target, ids, part, records, format, blockBytes)).rows,
    commit: () => target.commit(ids.ordered(), 'text/csv; charset=utf-8'),
    abort: () => target.abort(),
  };
}
