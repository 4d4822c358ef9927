// CSV text in staged blocks: records are stringified as they stream in and cut into blocks of about
// `blockBytes`, each staged before more rows are taken, so memory holds one block per writer.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createCsvWriter, type CsvCell } from '../csv/writer.js';
import type { StagedObject } from '../storage/staged-sink.js';

export const defaultBlockBytes = 4 * 1024 * 1024;

export interface CsvFormat {
  readonly columns: readonly string[];
  readonly delimiter: string;
  readonly neutraliseFormulas: boolean;
  readonly bom: boolean;
}

/**
 * Names blocks so that every id has the same length (a block blob requirement) and sorts by
 * (part, sequence); `tag` keeps ids of a retried run apart from stale uncommitted ones.
 */
export class BlockIds {
  private readonly parts = new Map<number, string[]>();
  constructor(private readonly tag: string) {}

  next(part: number): string {
    const list = this.parts.get(part) ?? [];
    const id = `${this.tag}-${String(part).padStart(5, '0')}-${String(list.length).padStart(7, '0')}`;
    list.push(id);
    this.parts.set(part, list);
    return id;
  }

  /** Every block, parts in ascending order, each part's blocks in the order staged. */
  ordered(): string[] {
    return [...this.parts.keys()].sort((a, b) => a - b).flatMap((p) => this.parts.get(p) ?? []);
  }
}

/** The header line (with the BOM when asked) as one block of its own: part 0. */
export async function stageHeader(target: StagedObject, ids: BlockIds, format: CsvFormat): Promise<number> {
  const text = await stringifyAll([], format, true);
  await target.stageBlock(ids.next(0), text);
  return text.length;
}

/** Streams records into blocks of `part`; resolves with the rows and bytes written. */
export async function stageRecords(
  target: StagedObject,
  ids: BlockIds,
  part: number,
  records: AsyncIterable<CsvCell[]>,
  format: CsvFormat,
  blockBytes = defaultBlockBytes,
): Promise<{ rows: number; bytes: number }> {
  let rows = 0;
  let bytes = 0;
  const counted = async function* () {
    for await (const record of records) {
      rows += 1;
      yield record;
    }
  };
  const writer = createCsvWriter({
    columns: format.columns,
    header: false,
    delimiter: format.delimiter,
    neutraliseFormulas: format.neutraliseFormulas,
  });
  await pipeline(Readable.from(counted()), writer, async (source: AsyncIterable<Buffer | string>) => {
    let pending: Buffer[] = [];
    let size = 0;
    const flush = async () => {
      if (size === 0) return;
      const block = Buffer.concat(pending, size);
      pending = [];
      size = 0;
      bytes += block.length;
      await target.stageBlock(ids.next(part), block);
    };
    for await (const chunk of source) {
      const data = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      pending.push(data);
      size += data.length;
      if (size >= blockBytes) await flush();
    }
    await flush();
  });
  return { rows, bytes };
}

async function stringifyAll(records: CsvCell[][], format: CsvFormat, header: boolean): Promise<Buffer> {
  const writer = createCsvWriter({
    columns: format.columns,
    header,
    bom: format.bom,
    delimiter: format.delimiter,
    neutraliseFormulas: format.neutraliseFormulas,
  });
  const chunks: Buffer[] = [];
  await pipeline(Readable.from(records), writer, async (source: AsyncIterable<Buffer | string>) => {
    for await (const chunk of source) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  });
  return Buffer.concat(chunks);
}
