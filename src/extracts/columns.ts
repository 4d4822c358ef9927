// From the job's column list and the table's metadata to the $select of the query, the CSV header and
// the cells of one row. The header depends on the job and metadata only, never on the data read, so
// every file of a job has the same columns even when the first rows (or all rows) are empty.
import type { ExtractJob } from '../config/job.js';
import type { CsvCell } from '../csv/writer.js';
import {
  formattedValueSuffix,
  lookupLogicalNameSuffix,
  type AttributeMetadata,
  type AttributeType,
  type Row,
  type TableMetadata,
} from '../dataverse/index.js';
import { ExtractError } from './errors.js';

/** Suffix of the extra column holding a choice label or a lookup's primary name. */
export const labelSuffix = '@label';
/** Suffix of the extra column holding the logical name of the table a lookup's id belongs to. */
export const tableSuffix = '@table';
/** The extra column marking deleted records (output.deletes = "column"); no logical name has a `$`, and a header starting with `@` would be neutralised as a formula. */
export const deletedColumn = '$deleted';

/** Types whose formatted value says more than the raw value. */
const LABELLED = new Set([
  'Picklist',
  'MultiSelectPicklist',
  'State',
  'Status',
  'Boolean',
  'Lookup',
  'Customer',
  'Owner',
]);
const LOOKUPS = new Set(['Lookup', 'Customer', 'Owner']);

type Cell = (row: Row) => CsvCell;

/**
 * The type of an output column, from the table's metadata (never from the data): what a Parquet column
 * is declared as, and what the manifest names. Ids are text, as Dataverse writes them (lower-case GUIDs).
 */
export type FieldType =
  | { readonly kind: 'string' }
  | { readonly kind: 'int32' }
  | { readonly kind: 'int64' }
  | { readonly kind: 'double' }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'decimal'; readonly precision: number; readonly scale: number }
  /** Milliseconds since the epoch, UTC. */
  | { readonly kind: 'timestamp' }
  /** A calendar date with no time zone. */
  | { readonly kind: 'date' };

export interface OutputField {
  readonly name: string;
  readonly type: FieldType;
  /** The column it comes from, and that column's Dataverse type; absent for the deleted flag. */
  readonly attribute?: string;
  readonly attributeType?: AttributeType;
  /** What an extra column holds about `attribute`. */
  readonly role?: 'label' | 'table' | 'deleted';
}

export interface ColumnPlan {
  readonly primaryId: string;
  /** `$select`: the job's columns (lookups as `_x_value`), plus the primary id and any watermark column. */
  readonly select: readonly string[];
  readonly header: readonly string[];
  /** One per header entry, in the same order. */
  readonly fields: readonly OutputField[];
  cells(row: Row): CsvCell[];
  /** The row written for a deleted record when deletes are reported in a column. */
  deletedCells(id: string): CsvCell[];
}

export interface PlanOptions {
  /** Also select these columns (the watermark, the row version), without writing them. */
  readonly extraSelect?: readonly string[];
}

export function planColumns(job: ExtractJob, table: TableMetadata, options: PlanOptions = {}): ColumnPlan {
  const primaryId = table.primaryIdAttribute;
  const fields: OutputField[] = [];
  const readers: Cell[] = [];
  const select = new Set<string>([primaryId]);
  const deletesInColumn = job.incremental?.mode === 'changeTracking' && job.output.deletes === 'column';
  // A deleted record is only its id, so the id must be in the file when deletions are rows of it.
  const columns =
    deletesInColumn && !job.columns.includes(primaryId) ? [primaryId, ...job.columns] : job.columns;
  let idIndex = -1;

  for (const name of columns) {
    const attribute = readableAttribute(table, name);
    const key = LOOKUPS.has(attribute.type) ? `_${name}_value` : name;
    select.add(key);
    if (name === primaryId) idIndex = fields.length;
    const source = { attribute: name, attributeType: attribute.type };
    fields.push({ name, type: fieldTypeOf(attribute), ...source });
    readers.push(cellReader(attribute, key));
    if (job.output.formattedValues && LABELLED.has(attribute.type)) {
      const annotation = key + formattedValueSuffix;
      fields.push({ name: name + labelSuffix, type: { kind: 'string' }, ...source, role: 'label' });
      readers.push((row) => textOrEmpty(row[annotation]));
    }
    if (job.output.lookupTargets && LOOKUPS.has(attribute.type)) {
      const annotation = key + lookupLogicalNameSuffix;
      fields.push({ name: name + tableSuffix, type: { kind: 'string' }, ...source, role: 'table' });
      readers.push((row) => textOrEmpty(row[annotation]));
    }
  }
  for (const name of options.extraSelect ?? []) select.add(readableAttribute(table, name).logicalName);
  if (deletesInColumn) fields.push({ name: deletedColumn, type: { kind: 'boolean' }, role: 'deleted' });
  const header = fields.map((field) => field.name);

  return {
    primaryId,
    select: [...select],
    header,
    fields,
    cells: (row) => {
      const cells = readers.map((read) => read(row));
      if (deletesInColumn) cells.push(false);
      return cells;
    },
    deletedCells: (id) => {
      const cells: CsvCell[] = header.map(() => null);
      cells[idIndex] = id;
      cells[cells.length - 1] = true;
      return cells;
    },
  };
}

function readableAttribute(table: TableMetadata, name: string): AttributeMetadata {
  const attribute = table.attributes.get(name);
  if (!attribute) {
    throw new ExtractError('UnknownColumn', `Table "${table.logicalName}" has no column "${name}"`);
  }
  if (!attribute.isValidForRead) {
    throw new ExtractError('UnknownColumn', `Column "${table.logicalName}.${name}" cannot be read`);
  }
  return attribute;
}

/** Dataverse money: ±922,337,203,685,477 with four decimals (the range of SQL money) fits decimal(19,4). */
const MONEY: FieldType = { kind: 'decimal', precision: 19, scale: 4 };
/** Decimal columns hold up to 12 integer digits (±100,000,000,000) and up to 10 decimals. */
const DECIMAL_INTEGER_DIGITS = 12;

export function fieldTypeOf(attribute: AttributeMetadata): FieldType {
  switch (attribute.type) {
    case 'Integer':
    case 'Picklist':
    case 'State':
    case 'Status':
      return { kind: 'int32' };
    case 'BigInt':
      return { kind: 'int64' };
    case 'Double':
      return { kind: 'double' };
    case 'Money':
      return MONEY;
    case 'Decimal': {
      const scale = Math.min(10, Math.max(0, attribute.precision ?? 2));
      return { kind: 'decimal', precision: DECIMAL_INTEGER_DIGITS + scale, scale };
    }
    case 'Boolean':
      return { kind: 'boolean' };
    case 'DateTime':
      return isDateOnly(attribute) ? { kind: 'date' } : { kind: 'timestamp' };
    default:
      // Text, multi-select choices ("1,3"), ids and lookups (GUID text, as every tool reads them).
      return { kind: 'string' };
  }
}

/** `decimal(19,4)`, `timestamp`, ...: how the manifest names a field type. */
export function fieldTypeName(type: FieldType): string {
  return type.kind === 'decimal' ? `decimal(${type.precision},${type.scale})` : type.kind;
}

function isDateOnly(attribute: AttributeMetadata): boolean {
  return attribute.dateTimeFormat === 'DateOnly' || attribute.dateTimeBehavior === 'DateOnly';
}

function cellReader(attribute: AttributeMetadata, key: string): Cell {
  if (attribute.type === 'DateTime') {
    return isDateOnly(attribute) ? (row) => dateOnlyCell(row[key]) : (row) => isoUtcCell(row[key]);
  }
  return (row) => plainCell(row[key]);
}

function plainCell(value: unknown): CsvCell {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  // Structured values (rare in a flat select) are kept, not dropped.
  return JSON.stringify(value);
}

function textOrEmpty(value: unknown): CsvCell {
  return typeof value === 'string' ? value : null;
}

/** Date-only columns carry no time zone: keep the calendar date as Dataverse gives it (yyyy-MM-dd). */
function dateOnlyCell(value: unknown): CsvCell {
  if (typeof value !== 'string') return plainCell(value);
  return value.length >= 10 ? value.slice(0, 10) : value;
}

/** Date-times as ISO 8601 in UTC (`Z`), whole seconds unless the source has milliseconds. */
export function isoUtcCell(value: unknown): CsvCell {
  if (typeof value !== 'string') return plainCell(value);
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return value;
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}
