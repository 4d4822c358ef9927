import type { ImportJob } from '../config/job.js';
import type { CsvRecord } from '../csv/reader.js';
import { showValue, type RowError, type RowErrorCode } from '../csv/row-error.js';
import type { TableMetadata } from '../dataverse/model.js';
import { compileJob, type CompiledColumn, type MappingProblem } from './compile.js';
import { Failure } from './converters.js';
import type { LookupRequest, LookupResults } from './lookups.js';

export type KeyValue = string | number | boolean;

/** Which record a row writes. `new`: a create with no id or key from the file. */
export type RecordTarget =
  | { readonly kind: 'id'; readonly id: string }
  | { readonly kind: 'key'; readonly key: Readonly<Record<string, KeyValue>> }
  | { readonly kind: 'new' };

export interface MappedRow {
  readonly ok: true;
  readonly row: number;
  /**
   * The JSON body for Dataverse. Key columns stay in it (CreateMultiple needs them; a writer using
   * UpsertMultiple strips them); the primary id never is (it is in `target`).
   */
  readonly payload: Record<string, unknown>;
  readonly target: RecordTarget;
  /** Identity for duplicate detection: the id, or the key values (strings case-folded); undefined for `new`. */
  readonly keyString: string | undefined;
}

export interface FailedRow {
  readonly ok: false;
  readonly row: number;
  readonly errors: readonly RowError[];
}

export type MapResult = MappedRow | FailedRow;

export interface RowMapper {
  /** Warnings found while compiling (errors throw instead). */
  readonly warnings: readonly MappingProblem[];
  /** The distinct lookup values these rows need, grouped per (table, by). */
  lookupsNeeded(rows: Iterable<CsvRecord>): LookupRequest[];
  /** Maps one record. Nothing is produced for a row with any error; all its errors are listed. */
  map(record: CsvRecord, lookups?: LookupResults): MapResult;
}

/** The job does not fit the table: every problem is listed. */
export class MappingSetupError extends Error {
  override readonly name = 'MappingSetupError';
  constructor(readonly problems: readonly MappingProblem[]) {
    super(problems.map((p) => `${p.path === '' ? '' : p.path + ': '}${p.message}`).join('\n'));
  }
}

export function isMappingSetupError(error: unknown): error is MappingSetupError {
  return error instanceof MappingSetupError;
}

const KEY_SEPARATOR = '\u001f';

/**
 * Compiles the job against the table's metadata once; `related` holds the lookup target tables.
 * Throws `MappingSetupError` when the job cannot work against this metadata.
 */
export function createRowMapper(
  job: ImportJob,
  table: TableMetadata,
  related: ReadonlyMap<string, TableMetadata>,
): RowMapper {
  const compiled = compileJob(job, table, related);
  const errors = compiled.problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) throw new MappingSetupError(errors);

  const isDelete = job.operation === 'delete';
  // Delete reads only what identifies the record; other cells cannot fail it.
  const columns = compiled.columns.filter((c) => !isDelete || c.kind === 'id' || c.keyIndex >= 0);
  const lookupColumns = columns.filter((c) => c.lookup !== undefined);
  const constants = isDelete ? [] : compiled.constants;
  const key = compiled.key;
  const keyColumns = key.map((name) => columns.find((c) => c.attribute === name) as CompiledColumn);

  return {
    warnings: compiled.problems.filter((p) => p.severity === 'warning'),

    lookupsNeeded(rows) {
      const wanted = new Map<string, { table: string; by: string; values: Set<string> }>();
      for (const record of rows) {
        for (const column of lookupColumns) {
          const text = cellText(column, record.values[column.header]);
          if (text === undefined) continue;
          const { table: target, by } = column.lookup as NonNullable<CompiledColumn['lookup']>;
          const name = `${target}\u0000${by}`;
          let entry = wanted.get(name);
          if (entry === undefined) {
            entry = { table: target, by, values: new Set() };
            wanted.set(name, entry);
          }
          entry.values.add(text);
        }
      }
      return [...wanted.values()].map((w) => ({ table: w.table, by: w.by, values: [...w.values] }));
    },

    map(record, lookups) {
      const row = record.row;
      const payload: Record<string, unknown> = {};
      let errors: RowError[] | undefined;
      let id: string | undefined;
      const fail = (column: CompiledColumn, value: string, code: RowErrorCode, reason: string) => {
        (errors ??= []).push({
          row,
          column: column.header,
          value,
          code,
          message: `column "${column.header}": ${showValue(value)} ${reason}`,
        });
      };

      for (const column of columns) {
        const text = cellText(column, record.values[column.header]);
        if (text === undefined) {
          if (column.keyIndex >= 0) {
            (errors ??= []).push({
              row,
              column: column.header,
              value: '',
              code: 'MissingKey',
              message: `column "${column.header}" is empty, but it is part of the key`,
            });
          } else if (column.clears && record.values[column.header] !== undefined) {
            payload[column.field] = null;
          }
          continue;
        }
        let value = column.convert(text);
        if (value instanceof Failure) {
          fail(column, text, value.code, value.reason);
          continue;
        }
        if (column.kind === 'lookup') {
          value = bindLookup(column, text, lookups, fail);
          if (value === undefined) continue;
        }
        if (column.kind === 'id') id = value as string;
        else payload[column.field] = value;
      }
      if (errors !== undefined) return { ok: false, row, errors };

      for (const [field, value] of constants) payload[field] = value;

      if (id !== undefined) return { ok: true, row, payload, target: { kind: 'id', id }, keyString: id };
      if (key.length === 0) {
        if (job.operation === 'create')
          return { ok: true, row, payload, target: { kind: 'new' }, keyString: undefined };
        // No key and no id cell: the id column is empty on a row that must name a record.
        const idColumn = columns.find((c) => c.kind === 'id');
        const header = idColumn?.header ?? table.primaryIdAttribute;
        const message = `column "${header}" is empty, but ${job.operation} needs the record id`;
        return { ok: false, row, errors: [{ row, column: header, value: '', code: 'MissingKey', message }] };
      }
      const keyValues: Record<string, KeyValue> = {};
      let keyString = '';
      for (let i = 0; i < key.length; i += 1) {
        const column = keyColumns[i] as CompiledColumn;
        const value = payload[column.field] as KeyValue;
        keyValues[column.attribute] = value;
        const part = column.foldsCase && typeof value === 'string' ? value.toLowerCase() : String(value);
        keyString = i === 0 ? part : keyString + KEY_SEPARATOR + part;
      }
      return { ok: true, row, payload, target: { kind: 'key', key: keyValues }, keyString };
    },
  };
}

/** The cell as the converter sees it (trimmed, default applied), or undefined when there is nothing. */
function cellText(column: CompiledColumn, raw: string | undefined): string | undefined {
  let text = raw;
  if (text !== undefined && column.trim) text = text.trim();
  if (text === undefined || text === '') return column.defaultText;
  return text;
}

function bindLookup(
  column: CompiledColumn,
  text: string,
  lookups: LookupResults | undefined,
  fail: (column: CompiledColumn, value: string, code: RowErrorCode, reason: string) => void,
): string | undefined {
  const lookup = column.lookup as NonNullable<CompiledColumn['lookup']>;
  const ids = lookups?.ids(lookup.table, lookup.by, text);
  if (ids === undefined) {
    throw new Error(
      `lookup ${lookup.table}.${lookup.by} was not resolved before map(): call lookupsNeeded first`,
    );
  }
  if (ids.length === 1) return `/${lookup.entitySet}(${ids[0] as string})`;
  if (ids.length === 0) fail(column, text, 'LookupNotFound', `matches no ${lookup.table} by ${lookup.by}`);
  else fail(column, text, 'LookupAmbiguous', `matches ${ids.length} ${lookup.table} records by ${lookup.by}`);
  return undefined;
}
