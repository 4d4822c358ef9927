import type { AttributeMetadata, ChoiceOption } from '../dataverse/model.js';
import type { RowErrorCode } from '../csv/row-error.js';
import { createDateConverter, DateFailure } from './dates.js';
import type { CompiledDateFormat } from './date-format.js';
import { createNumberParser } from './numbers.js';

// Cell text -> JSON value, one converter per column built once per job. A converter returns the value,
// or a Failure (allocated only for bad cells), so the hot path makes no objects for good cells.

export class Failure {
  constructor(
    readonly code: RowErrorCode,
    /** Follows the quoted value in a message: `"abc" is not a number ...`. */
    readonly reason: string,
  ) {}
}

export type Converter = (text: string) => unknown;

export interface ConverterOptions {
  readonly decimalSeparator: '.' | ',';
  readonly timeZone: string;
  readonly trueWords: readonly string[] | undefined;
  readonly falseWords: readonly string[] | undefined;
  readonly choice: 'label' | 'value' | undefined;
  readonly separator: string;
  readonly format: CompiledDateFormat | undefined;
}

export const DEFAULT_TRUE_WORDS = ['true', 'yes', 'y', '1'];
export const DEFAULT_FALSE_WORDS = ['false', 'no', 'n', '0'];

/** Dataverse's own limits, for columns whose metadata gives none (dataverse-webapi.md §1). */
const TYPE_LIMITS: Partial<Record<AttributeMetadata['type'], readonly [number, number]>> = {
  Integer: [-2_147_483_648, 2_147_483_647],
  BigInt: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  Decimal: [-100_000_000_000, 100_000_000_000],
  Double: [-100_000_000_000, 100_000_000_000],
  Money: [-922_337_203_685_477, 922_337_203_685_477],
};
const DEFAULT_PRECISION: Partial<Record<AttributeMetadata['type'], number>> = {
  Decimal: 10,
  Double: 5,
  Money: 4,
};

/** The converter for a column, or a sentence saying why the column cannot be written from text. */
export function createConverter(attribute: AttributeMetadata, options: ConverterOptions): Converter | string {
  switch (attribute.type) {
    case 'String':
    case 'Memo':
      return stringConverter(attribute.maxLength);
    case 'Integer':
    case 'BigInt':
    case 'Decimal':
    case 'Double':
    case 'Money':
      return numberConverter(attribute, options.decimalSeparator);
    case 'Boolean':
      return booleanConverter(attribute, options);
    case 'Picklist':
    case 'State':
    case 'Status':
      return choiceConverter(attribute.options ?? [], options.choice);
    case 'MultiSelectPicklist':
      return multiChoiceConverter(attribute.options ?? [], options.choice, options.separator);
    case 'DateTime':
      return dateConverter(attribute, options);
    case 'Uniqueidentifier':
      return guidConverter;
    case 'Lookup':
    case 'Customer':
    case 'Owner':
      return 'lookup columns are converted by the lookup mapping';
    case 'File':
    case 'Image':
      return `"${attribute.logicalName}" is a ${attribute.type.toLowerCase()} column: the cell names a file, uploaded after the row is written`;
    case 'Other':
      return `column type of "${attribute.logicalName}" cannot be written from CSV text`;
  }
}

function stringConverter(maxLength: number | undefined): Converter {
  const max = maxLength ?? 1_048_576;
  return (text) =>
    text.length > max
      ? new Failure('StringTooLong', `is ${text.length} characters long; the column allows ${max}`)
      : text;
}

function numberConverter(attribute: AttributeMetadata, separator: '.' | ','): Converter {
  const parse = createNumberParser(separator);
  const limits = TYPE_LIMITS[attribute.type] ?? [-Infinity, Infinity];
  const min = attribute.minValue ?? limits[0];
  const max = attribute.maxValue ?? limits[1];
  const whole = attribute.type === 'Integer' || attribute.type === 'BigInt';
  const precision = whole ? 0 : (attribute.precision ?? DEFAULT_PRECISION[attribute.type] ?? 10);
  // Dataverse itself rounds floats to their precision; decimals and money are exact, so excess digits fail.
  const rounds = attribute.type === 'Double';
  const factor = 10 ** precision;
  return (text) => {
    const parsed = parse(text);
    if (typeof parsed === 'string') return new Failure('NotANumber', parsed);
    let value = parsed.value;
    if (parsed.decimals > precision) {
      if (whole) return new Failure('NotANumber', 'is not a whole number');
      if (!rounds) {
        return new Failure(
          'TooPrecise',
          `has ${parsed.decimals} decimal places; the column allows ${precision}`,
        );
      }
      value = Math.round(value * factor) / factor;
    }
    if (value < min || value > max)
      return new Failure('OutOfRange', `is outside the column's range ${min} to ${max}`);
    return value;
  };
}

function booleanConverter(attribute: AttributeMetadata, options: ConverterOptions): Converter | string {
  const words = new Map<string, boolean>();
  const add = (list: readonly string[], value: boolean): string | undefined => {
    for (const word of list) {
      const key = word.trim().toLowerCase();
      if (words.get(key) === !value) return `"${word}" is listed as both true and false`;
      words.set(key, value);
    }
    return undefined;
  };
  const explicit = options.trueWords !== undefined || options.falseWords !== undefined;
  const clash =
    add(options.trueWords ?? DEFAULT_TRUE_WORDS, true) ??
    add(options.falseWords ?? DEFAULT_FALSE_WORDS, false);
  if (clash !== undefined) return clash;
  if (!explicit) {
    // The column's own labels ("Do Not Allow" / "Allow") also work, unless the job chose its words.
    for (const option of attribute.options ?? []) {
      const key = option.label.trim().toLowerCase();
      if (!words.has(key)) words.set(key, option.value === 1);
    }
  }
  const accepted = [...words.keys()].join(', ');
  return (text) => {
    const value = words.get(text.toLowerCase());
    return value ?? new Failure('NotABoolean', `is not one of: ${accepted}`);
  };
}

interface ChoiceIndex {
  readonly byLabel: ReadonlyMap<string, number | 'ambiguous'>;
  readonly values: ReadonlySet<number>;
  readonly listing: string;
}

function indexChoices(options: readonly ChoiceOption[]): ChoiceIndex {
  const byLabel = new Map<string, number | 'ambiguous'>();
  for (const option of options) {
    const key = option.label.trim().toLowerCase();
    byLabel.set(key, byLabel.has(key) ? 'ambiguous' : option.value);
  }
  const shown = options.slice(0, 12).map((o) => `${o.value} ${o.label}`);
  if (options.length > 12) shown.push(`… ${options.length - 12} more`);
  return { byLabel, values: new Set(options.map((o) => o.value)), listing: shown.join('; ') };
}

const INTEGER = /^[+-]?\d+$/;

function choiceLookup(
  index: ChoiceIndex,
  mode: 'label' | 'value' | undefined,
): (text: string) => number | Failure {
  return (text) => {
    if (mode !== 'label' && INTEGER.test(text)) {
      const value = Number(text);
      if (index.values.has(value)) return value;
      if (mode === 'value')
        return new Failure('BadChoice', `is not a value of this choice (${index.listing})`);
    }
    if (mode !== 'value') {
      const value = index.byLabel.get(text.toLowerCase());
      if (value === 'ambiguous') return new Failure('BadChoice', 'matches several options of this choice');
      if (value !== undefined) return value;
    }
    return new Failure('BadChoice', `is not an option of this choice (${index.listing})`);
  };
}

function choiceConverter(options: readonly ChoiceOption[], mode: 'label' | 'value' | undefined): Converter {
  return choiceLookup(indexChoices(options), mode);
}

function multiChoiceConverter(
  options: readonly ChoiceOption[],
  mode: 'label' | 'value' | undefined,
  separator: string,
): Converter {
  const one = choiceLookup(indexChoices(options), mode);
  return (text) => {
    const values: number[] = [];
    for (const piece of text.split(separator)) {
      const part = piece.trim();
      if (part === '') continue;
      const value = one(part);
      if (value instanceof Failure)
        return new Failure('BadChoice', `has ${JSON.stringify(part)}, which ${value.reason}`);
      if (!values.includes(value)) values.push(value);
    }
    // The Web API takes multi-select values as one string of comma-separated integers, and a clear as
    // null: it rejects an empty string (reference §13). A cell of separators only means "none".
    return values.length === 0 ? null : values.join(',');
  };
}

function dateConverter(attribute: AttributeMetadata, options: ConverterOptions): Converter {
  const convert = createDateConverter(
    options.format,
    attribute.dateTimeBehavior ?? 'UserLocal',
    options.timeZone,
  );
  return (text) => {
    const value = convert(text);
    return value instanceof DateFailure ? new Failure('BadDate', value.reason) : value;
  };
}

const GUID = /^\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}?$/i;

/** Record ids: braces accepted, written in lower case as Dataverse returns them. */
export function guidConverter(text: string): string | Failure {
  const m = GUID.exec(text);
  return m === null ? new Failure('BadId', 'is not a record id (a GUID)') : (m[1] as string).toLowerCase();
}
