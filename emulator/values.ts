import { errors } from './errors.js';
import type { Attribute, Table } from './model.js';

export interface LookupRef {
  readonly id: string;
  readonly table: string;
}
export type StoredValue = string | number | boolean | null | LookupRef;
export type Row = Record<string, StoredValue>;

export const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/;
const MIN_DATE = '1753-01-01';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

export function isLookupRef(value: unknown): value is LookupRef {
  return typeof value === 'object' && value !== null && 'id' in value && 'table' in value;
}

/** `YYYY-MM-DDTHH:MM:SSZ`, the shape every Dataverse response uses. */
export function formatUtc(date: Date): string {
  return date.toISOString().slice(0, 19) + 'Z';
}

/** Parses a DateTimeOffset literal; values without an offset are taken as UTC (reference §11). */
export function parseDateTime(text: string): Date | undefined {
  if (!DATE_TIME.test(text)) return undefined;
  const hasZone = /(Z|[+-]\d{2}:\d{2})$/.test(text);
  const date = new Date(hasZone ? text : `${text}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** `YYYY-MM-DD` naming a real calendar day (arithmetic, no Date: this runs per record). */
export function isDateOnly(text: string): boolean {
  const m = DATE_ONLY.exec(text);
  if (!m) return false;
  const y = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return day <= (month === 2 && leap ? 29 : DAYS[month - 1]!);
}

function edmType(attr: Attribute): string {
  switch (attr.type) {
    case 'Integer':
    case 'Picklist':
    case 'State':
    case 'Status':
      return 'Edm.Int32';
    case 'BigInt':
      return 'Edm.Int64';
    case 'Decimal':
    case 'Money':
      return 'Edm.Decimal';
    case 'Double':
      return 'Edm.Double';
    case 'Boolean':
      return 'Edm.Boolean';
    case 'DateTime':
      return attr.spec.dateTimeBehavior === 'DateOnly' ? 'Edm.Date' : 'Edm.DateTimeOffset';
    case 'Uniqueidentifier':
      return 'Edm.Guid';
    default:
      return 'Edm.String';
  }
}

export function edmTypeOf(attr: Attribute): string {
  return edmType(attr);
}

function round(value: number, precision: number | undefined): number {
  if (precision === undefined) return value;
  const f = 10 ** precision;
  return Math.round(value * f) / f;
}

function numeric(table: Table, attr: Attribute, value: unknown): number {
  // OData accepts Int64/Decimal as strings (IEEE754Compatible); Int32 and Double must be numbers.
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (
    typeof value === 'string' &&
    (attr.type === 'BigInt' || attr.type === 'Decimal' || attr.type === 'Money') &&
    /^-?\d+(\.\d+)?$/.test(value)
  ) {
    return Number(value);
  }
  throw errors.convert(table, value, edmType(attr));
}

function checkRange(table: Table, attr: Attribute, value: number, code: '0x8004432F' | '0x80044330'): void {
  const { minValue, maxValue } = attr.spec;
  if ((minValue !== undefined && value < minValue) || (maxValue !== undefined && value > maxValue)) {
    throw errors.outOfRange(code, table, attr.logicalName, value);
  }
}

/**
 * Checks and converts one JSON value from a request body into its stored form, raising the
 * Dataverse error a real server gives for that mistake (reference §9, behaviours item 3).
 */
export function coerceValue(table: Table, attr: Attribute, value: unknown): StoredValue {
  if (value === null) return null;
  switch (attr.type) {
    case 'String':
    case 'Memo':
    case 'EntityName': {
      if (typeof value !== 'string') throw errors.convert(table, value, 'Edm.String');
      const max = attr.spec.maxLength;
      if (max !== undefined && value.length > max) throw errors.stringTooLong(table, attr.logicalName, max);
      return value;
    }
    case 'Integer': {
      const n = numeric(table, attr, value);
      if (!Number.isInteger(n) || n < INT32_MIN || n > INT32_MAX)
        throw errors.convert(table, value, 'Edm.Int32');
      checkRange(table, attr, n, '0x8004432F');
      return n;
    }
    case 'BigInt': {
      const n = numeric(table, attr, value);
      if (!Number.isInteger(n)) throw errors.convert(table, value, 'Edm.Int64');
      checkRange(table, attr, n, '0x8004432F');
      return n;
    }
    case 'Decimal':
    case 'Money':
    case 'Double': {
      const n = numeric(table, attr, value);
      checkRange(table, attr, n, '0x80044330');
      return round(n, attr.spec.precision);
    }
    case 'Picklist':
    case 'State':
    case 'Status': {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
        throw errors.convert(table, value, 'Edm.Int32');
      }
      if (!attr.options.has(value)) throw errors.outOfRange('0x8004431A', table, attr.logicalName, value);
      return value;
    }
    case 'MultiSelectPicklist': {
      if (typeof value !== 'string') throw errors.convert(table, value, 'Edm.String');
      // Reference §13: clearing takes null; an empty string is rejected.
      if (value === '') throw errors.convert(table, value, 'Edm.Int32');
      const parts = value.split(',');
      const values: number[] = [];
      for (const part of parts) {
        const n = Number(part.trim());
        if (!Number.isInteger(n) || part.trim() === '') throw errors.convert(table, value, 'Edm.Int32');
        if (!attr.options.has(n)) throw errors.outOfRange('0x8004431A', table, attr.logicalName, n);
        if (!values.includes(n)) values.push(n);
      }
      return values.join(',');
    }
    case 'Boolean': {
      if (typeof value !== 'boolean') throw errors.convert(table, value, 'Edm.Boolean');
      return value;
    }
    case 'DateTime': {
      if (typeof value !== 'string') throw errors.convert(table, value, edmType(attr));
      if (attr.spec.dateTimeBehavior === 'DateOnly') {
        if (!isDateOnly(value)) throw errors.convert(table, value, 'Edm.Date');
        if (value < MIN_DATE) throw errors.outOfRange('0x8004432F', table, attr.logicalName, value);
        return value;
      }
      const date = parseDateTime(value);
      if (!date) throw errors.convert(table, value, 'Edm.DateTimeOffset');
      const text = formatUtc(date);
      if (text < MIN_DATE) throw errors.outOfRange('0x8004432F', table, attr.logicalName, value);
      return text;
    }
    case 'Uniqueidentifier': {
      if (typeof value !== 'string' || !GUID.test(value)) throw errors.convert(table, value, 'Edm.Guid');
      return value.toLowerCase();
    }
    default:
      throw errors.unknownProperty(table, attr.logicalName);
  }
}

/** The JSON value a response carries for a stored value. */
export function jsonValue(value: StoredValue | undefined): string | number | boolean | null {
  if (value === undefined || value === null) return null;
  if (isLookupRef(value)) return value.id;
  return value;
}
