// From the job's column list and the table's metadata to the $select of the query, the CSV header and
// the cells of one row. The header depends on the job and metadata only, never on the data read, so
// every file of a job has the same columns even when the first rows (or all rows) are empty.
import type { ExtractJob } from '../config/job.js';
import type { CsvCell } from '../csv/writer.js';
import {
  formattedValueSuffix,
  type AttributeMetadata,
  type Row,
  type TableMetadata,
} from '../dataverse/index.js';
import { ExtractError } from './errors.js';

/** Suffix of the extra column holding a choice label or a lookup's primary name. */
export const labelSuffix = '@label';
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

export interface ColumnPlan {
  readonly primaryId: string;
  /** `$select`: the job's columns (lookups as `_x_value`), plus the primary id and any watermark column. */
  readonly select: readonly string[];
  readonly header: readonly string[];
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
  const header: string[] = [];
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
    if (name === primaryId) idIndex = header.length;
    header.push(name);
    readers.push(cellReader(attribute, key));
    if (job.output.formattedValues && LABELLED.has(attribute.type)) {
      const annotation = key + formattedValueSuffix;
      header.push(name + labelSuffix);
      readers.push((row) => textOrEmpty(row[annotation]));
    }
  }
  for (const name of options.extraSelect ?? []) select.add(readableAttribute(table, name).logicalName);
  if (deletesInColumn) header.push(deletedColumn);

  return {
    primaryId,
    select: [...select],
    header,
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

function cellReader(attribute: AttributeMetadata, key: string): Cell {
  if (attribute.type === 'DateTime') {
    const dateOnly = attribute.dateTimeFormat === 'DateOnly' || attribute.dateTimeBehavior === 'DateOnly';
    return dateOnly ? (row) => dateOnlyCell(row[key]) : (row) => isoUtcCell(row[key]);
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
