import type { ImportJob } from '../config/job.js';
import { showValue, type RowError, type RowErrorCode } from '../csv/row-error.js';
import type { TableMetadata } from '../dataverse/model.js';
import { compileJob, type CompiledColumn, type CompiledLookup, type MappingProblem } from './compile.js';
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

/** A CSV record (`CsvRecord`) or a stored chunk row: cells in header order, `values` optional. */
export interface MappableRecord {
  readonly row: number;
  readonly cells: readonly string[];
  readonly values?: Readonly<Record<string, string>>;
}

export interface RowMapperOptions {
  /**
   * The file's header. With it, cells are read by position (faster, and chunk rows need no `values`);
   * without it, records must carry `values`.
   */
  readonly header?: readonly string[];
}

export interface RowMapper {
  /** Warnings found while compiling (errors throw instead). */
  readonly warnings: readonly MappingProblem[];
  /** The distinct lookup values these rows need, grouped per (table, by). */
  lookupsNeeded(rows: Iterable<MappableRecord>): LookupRequest[];
  /** Maps one record. Nothing is produced for a row with any error; all its errors are listed. */
  map(record: MappableRecord, lookups?: LookupResults): MapResult;
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
  options: RowMapperOptions = {},
): RowMapper {
  const compiled = compileJob(job, table, related);
  const errors = compiled.problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) throw new MappingSetupError(errors);

  const isDelete = job.operation === 'delete';
  // Delete reads only what identifies the record; other cells cannot fail it.
  const columns = compiled.columns.filter((c) => !isDelete || c.kind === 'id' || c.keyIndex >= 0);
  const lookupColumns = columns.filter((c) => c.lookup !== undefined || c.owner !== undefined);
  const constants = isDelete ? [] : compiled.constants;
  const key = compiled.key;
  const keyColumns = key.map((name) => columns.find((c) => c.attribute === name) as CompiledColumn);
  const header = options.header;
  // Position of each column's cell in the header (-1: the file lacks the column).
  const positions = columns.map((c) => (header === undefined ? -1 : header.indexOf(c.header)));
  const lookupPositions = lookupColumns.map((c) => positions[columns.indexOf(c)] as number);
  const rawCell =
    header === undefined
      ? (record: MappableRecord, i: number): string | undefined => {
          if (record.values === undefined)
            throw new Error('map(): records need `values` when no header is given');
          return record.values[(columns[i] as CompiledColumn).header];
        }
      : (record: MappableRecord, i: number): string | undefined => {
          const position = positions[i] as number;
          return position < 0 ? undefined : record.cells[position];
        };

  return {
    warnings: compiled.problems.filter((p) => p.severity === 'warning'),

    lookupsNeeded(rows) {
      const wanted = new Map<string, { table: string; by: string; values: Set<string> }>();
      for (const record of rows) {
        for (let l = 0; l < lookupColumns.length; l += 1) {
          const column = lookupColumns[l] as CompiledColumn;
          const raw =
            header === undefined
              ? record.values?.[column.header]
              : record.cells[lookupPositions[l] as number];
          const text = cellText(column, raw);
          if (text === undefined) continue;
          for (const { table: target, by } of lookupsFor(column, text)) {
            const name = `${target}\u0000${by}`;
            let entry = wanted.get(name);
            if (entry === undefined) {
              entry = { table: target, by, values: new Set() };
              wanted.set(name, entry);
            }
            entry.values.add(text);
          }
        }
      }
      return [...wanted.values()].map((w) => ({ table: w.table, by: w.by, values: [...w.values] }));
    },

    map(record, lookups) {
      const row = record.row;
      const payload: Record<string, unknown> = {};
      let errors: RowError[] | undefined;
      let id: string | undefined;

      for (let i = 0; i < columns.length; i += 1) {
        const column = columns[i] as CompiledColumn;
        const raw = rawCell(record, i);
        const text = cellText(column, raw);
        if (text === undefined) {
          if (column.keyIndex >= 0) {
            errors = addError(errors, row, column, '', 'MissingKey', 'is empty, but it is part of the key');
          } else if (column.clears && raw !== undefined) {
            payload[column.field] = null;
          }
          continue;
        }
        let value = column.convert(text);
        if (value instanceof Failure) {
          errors = addError(errors, row, column, text, value.code, value.reason);
          continue;
        }
        if (column.kind === 'lookup' || column.kind === 'owner') {
          value =
            column.kind === 'owner' ? bindOwner(column, text, lookups) : bindLookup(column, text, lookups);
          if (value instanceof Failure) {
            errors = addError(errors, row, column, text, value.code, value.reason);
            continue;
          }
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

/** A cell naming a user rather than a team: an email / UPN (`a@b.c`) or a domain name (`CONTOSO\\ada`). */
function namesUser(text: string): boolean {
  return text.includes('@') || text.includes('\\');
}

/** The look-ups a cell of this column needs. */
function lookupsFor(column: CompiledColumn, text: string): readonly CompiledLookup[] {
  if (column.owner) return namesUser(text) ? column.owner.users : [column.owner.team];
  return column.lookup ? [column.lookup] : [];
}

/** Owner cells: the first user column that matches decides; a team by its name otherwise. */
function bindOwner(
  column: CompiledColumn,
  text: string,
  lookups: LookupResults | undefined,
): string | Failure {
  const candidates = lookupsFor(column, text);
  for (const lookup of candidates) {
    const ids = lookups?.ids(lookup.table, lookup.by, text);
    if (ids === undefined) {
      throw new Error(
        `lookup ${lookup.table}.${lookup.by} was not resolved before map(): call lookupsNeeded first`,
      );
    }
    if (ids.length === 1) return `/${lookup.entitySet}(${ids[0] as string})`;
    if (ids.length > 1) {
      return new Failure('LookupAmbiguous', `matches ${ids.length} ${lookup.table} records by ${lookup.by}`);
    }
  }
  const what = namesUser(text)
    ? `no user by ${candidates.map((l) => l.by).join(' or ')}`
    : `no team by name (a user is named by email or domain name, with "@" or "\\")`;
  return new Failure('LookupNotFound', `matches ${what}`);
}

function bindLookup(
  column: CompiledColumn,
  text: string,
  lookups: LookupResults | undefined,
): string | Failure {
  const lookup = column.lookup as NonNullable<CompiledColumn['lookup']>;
  const ids = lookups?.ids(lookup.table, lookup.by, text);
  if (ids === undefined) {
    throw new Error(
      `lookup ${lookup.table}.${lookup.by} was not resolved before map(): call lookupsNeeded first`,
    );
  }
  if (ids.length === 1) return `/${lookup.entitySet}(${ids[0] as string})`;
  if (ids.length === 0) return new Failure('LookupNotFound', `matches no ${lookup.table} by ${lookup.by}`);
  return new Failure('LookupAmbiguous', `matches ${ids.length} ${lookup.table} records by ${lookup.by}`);
}

function addError(
  errors: RowError[] | undefined,
  row: number,
  column: CompiledColumn,
  value: string,
  code: RowErrorCode,
  reason: string,
): RowError[] {
  const message =
    value === ''
      ? `column "${column.header}" ${reason}`
      : `column "${column.header}": ${showValue(value)} ${reason}`;
  const error: RowError = { row, column: column.header, value, code, message };
  if (errors === undefined) return [error];
  errors.push(error);
  return errors;
}
