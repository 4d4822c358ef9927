// Parquet output: typed columns declared from the table's metadata (never guessed from the data), rows
// gathered into one row group at a time and encoded by hyparquet-writer (Snappy; statistics on typed
// columns), whose bytes are staged as a block as soon as the group is done. Every partition feeds the
// same row group, so memory holds about one row group whatever the table size and the number of
// partitions; the footer (schema, row-group offsets, statistics) is staged last.
import { randomUUID } from 'node:crypto';
import { ByteWriter, ParquetWriter, type ColumnSource, type SchemaElement } from 'hyparquet-writer';
import type { CsvCell } from '../csv/writer.js';
import type { StagedObject, StagedSink } from '../storage/staged-sink.js';
import { BlockIds } from './blocks.js';
import type { FieldType, OutputField } from './columns.js';
import { ExtractError } from './errors.js';
import type { ExtractOutput } from './output.js';

/** The media type registered for Parquet with IANA. */
export const parquetContentType = 'application/vnd.apache.parquet';

type ParquetValue = string | number | bigint | boolean | null;
type Convert = (cell: CsvCell) => ParquetValue;

const DAY_MS = 86_400_000;

/** The Parquet schema of the fields: a flat list of optional columns under the root. */
export function parquetSchemaOf(fields: readonly OutputField[]): SchemaElement[] {
  return [
    { name: 'root', num_children: fields.length },
    ...fields.map((field) => ({
      ...elementOf(field.type),
      name: field.name,
      repetition_type: 'OPTIONAL' as const,
    })),
  ];
}

function elementOf(type: FieldType): Omit<SchemaElement, 'name'> {
  switch (type.kind) {
    case 'string':
      return { type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } };
    case 'int32':
      return { type: 'INT32' };
    case 'int64':
      return { type: 'INT64' };
    case 'double':
      return { type: 'DOUBLE' };
    case 'boolean':
      return { type: 'BOOLEAN' };
    case 'timestamp':
      return {
        type: 'INT64',
        converted_type: 'TIMESTAMP_MILLIS',
        logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' },
      };
    case 'date':
      return { type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } };
    case 'decimal': {
      const { precision, scale } = type;
      const decimal = {
        converted_type: 'DECIMAL' as const,
        precision,
        scale,
        logical_type: { type: 'DECIMAL' as const, precision, scale },
      };
      // The Parquet spec's storage for decimals: INT32 up to 9 digits, INT64 up to 18, else fixed bytes.
      if (precision <= 9) return { type: 'INT32', ...decimal };
      if (precision <= 18) return { type: 'INT64', ...decimal };
      return {
        type: 'FIXED_LEN_BYTE_ARRAY',
        type_length: Math.ceil((precision * Math.log2(10) + 1) / 8),
        ...decimal,
      };
    }
  }
}

/** A cell as written by the column plan (text, number, boolean) -> the value its Parquet column holds. */
export function converterOf(field: OutputField): Convert {
  const fail = (cell: CsvCell, expected: string): never => {
    throw new ExtractError(
      'OutputFailed',
      `Column "${field.name}": expected ${expected}, got ${JSON.stringify(cell)} from Dataverse`,
    );
  };
  const type = field.type;
  switch (type.kind) {
    case 'string':
      return (cell) => (cell === null ? null : String(cell));
    case 'boolean':
      return (cell) => (cell === null || typeof cell === 'boolean' ? cell : fail(cell, 'true or false'));
    case 'int32':
    case 'double':
      return (cell) => {
        if (cell === null) return null;
        const n = typeof cell === 'string' && cell.trim() !== '' ? Number(cell) : cell;
        if (typeof n !== 'number' || !Number.isFinite(n)) return fail(cell, 'a number');
        if (type.kind === 'int32' && !Number.isInteger(n)) return fail(cell, 'a whole number');
        return n;
      };
    case 'int64':
      return (cell) => {
        if (cell === null) return null;
        if (typeof cell === 'number' && Number.isInteger(cell)) return BigInt(cell);
        if (typeof cell === 'string' && /^-?\d+$/.test(cell)) return BigInt(cell);
        return fail(cell, 'a whole number');
      };
    case 'decimal':
      return (cell) => {
        if (cell === null) return null;
        const unscaled = unscaledDecimal(cell, type.scale);
        return unscaled ?? fail(cell, `a decimal number with at most ${type.scale} decimals`);
      };
    case 'timestamp':
      return (cell) => {
        if (cell === null) return null;
        const ms = typeof cell === 'string' ? Date.parse(cell) : Number.NaN;
        return Number.isNaN(ms) ? fail(cell, 'a date and time') : BigInt(ms);
      };
    case 'date':
      return (cell) => {
        if (cell === null) return null;
        const m = typeof cell === 'string' ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(cell) : null;
        if (!m) return fail(cell, 'a date (yyyy-MM-dd)');
        return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / DAY_MS;
      };
  }
}

/**
 * The decimal's digits without the point, at `scale` (e.g. 12.5 at scale 4 -> 125000n), from the
 * number's shortest decimal text: no binary rounding on the way. More decimals than the scale are
 * rounded half away from zero, as `toFixed` does.
 */
export function unscaledDecimal(cell: CsvCell, scale: number): bigint | undefined {
  const text =
    typeof cell === 'number' && Number.isFinite(cell)
      ? Math.abs(cell) >= 1e21
        ? undefined
        : decimalText(cell)
      : typeof cell === 'string'
        ? cell.trim()
        : undefined;
  const m = text === undefined ? null : /^(-?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const [, sign, whole = '', fraction = ''] = m;
  let digits = BigInt((whole || '0') + fraction.slice(0, scale).padEnd(scale, '0'));
  if (fraction.length > scale && Number(fraction[scale]) >= 5) digits += 1n;
  return sign === '-' ? -digits : digits;
}

/** A finite number below 1e21 as plain decimal text (no exponent). */
function decimalText(n: number): string {
  const text = String(n);
  if (!/e/i.test(text)) return text;
  // Small magnitudes print as 1e-7: toFixed(20) spells them out.
  return n.toFixed(20).replace(/\.?0+$/, '');
}

/** hyparquet-writer's byte buffer, emptied into a staged block after each row group and at the end. */
class StagingWriter extends ByteWriter {
  constructor(
    private readonly target: StagedObject,
    private readonly ids: BlockIds,
  ) {
    super(1 << 20);
  }

  flush(): Promise<void> {
    const bytes = Buffer.from(this.buffer.slice(0, this.index));
    this.index = 0;
    if (bytes.length === 0) return Promise.resolve();
    return this.target.stageBlock(this.ids.next(1), bytes);
  }

  override finish(): Promise<void> {
    return this.flush();
  }
}

export interface ParquetOutputOptions {
  readonly rowGroupRows: number;
  /** Key/value pairs in the file's footer (job, table, run id). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Opens a Parquet extract at `path`: `write` may be called by several partitions at once. */
export function openParquetOutput(
  sink: StagedSink,
  path: string,
  fields: readonly OutputField[],
  options: ParquetOutputOptions,
): ExtractOutput {
  const target = sink.open(path);
  const ids = new BlockIds(randomUUID().slice(0, 8));
  const writer = new StagingWriter(target, ids);
  const parquet = new ParquetWriter({
    writer,
    schema: parquetSchemaOf(fields),
    codec: 'SNAPPY',
    createdBy: 'dataverse-pipelines',
    kvMetadata: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
  const converters = fields.map(converterOf);
  let columns: ParquetValue[][] = fields.map(() => []);
  let buffered = 0;
  let rowGroups = 0;
  let flushing: Promise<void> | undefined;

  const flushGroup = (): Promise<void> => {
    if (buffered === 0) return Promise.resolve();
    const columnData: ColumnSource[] = fields.map((field, i) => ({
      name: field.name,
      data: columns[i]!,
      // Min/max let readers skip row groups on dates and numbers (e.g. modifiedon > x). On text they
      // cost about a third of the encoding time and rarely skip anything (ids are random), so not there.
      statistics: field.type.kind !== 'string',
    }));
    const rows = buffered;
    columns = fields.map(() => []);
    buffered = 0;
    rowGroups += 1;
    // One row group per call: encoded now, its bytes staged by the writer's flush.
    const written = Promise.resolve(parquet.write({ columnData, rowGroupSize: rows }));
    flushing = written.finally(() => {
      flushing = undefined;
    });
    return flushing;
  };

  return {
    path,
    get rowGroups() {
      return rowGroups;
    },
    write: async (_part, records) => {
      let rows = 0;
      for await (const cells of records) {
        // While a row group is being encoded and staged, every partition waits: memory stays at one group.
        while (flushing) await flushing;
        for (let i = 0; i < converters.length; i += 1) columns[i]!.push(converters[i]!(cells[i] ?? null));
        buffered += 1;
        rows += 1;
        if (buffered >= options.rowGroupRows) await flushGroup();
      }
      return rows;
    },
    commit: async () => {
      while (flushing) await flushing;
      await flushGroup();
      await parquet.finish();
      return target.commit(ids.ordered(), parquetContentType);
    },
    abort: () => target.abort(),
  };
}
