// Row errors are the product's per-row answer to the user: errors.csv lists them with the input's cells.
// Codes are stable strings (users filter on them); messages name the column and the value.

export const ROW_ERROR_CODES = [
  // Reading
  'RaggedRow',
  'BadEncoding',
  // Identity
  'MissingKey',
  'BadId',
  'DuplicateKeyInFile',
  // Coercion
  'StringTooLong',
  'NotANumber',
  'OutOfRange',
  'TooPrecise',
  'NotABoolean',
  'BadChoice',
  'BadDate',
  // Lookups
  'LookupNotFound',
  'LookupAmbiguous',
] as const;

export type RowErrorCode = (typeof ROW_ERROR_CODES)[number];

export interface RowError {
  /** Spreadsheet row number: header = 1, first record = 2. */
  readonly row: number;
  /** The CSV header of the cell at fault (absent when the whole row is at fault). */
  readonly column?: string;
  readonly value?: string;
  readonly code: RowErrorCode;
  readonly message: string;
}

const MAX_SHOWN = 60;

/** A cell value as messages show it: quoted, with long values cut (the full value stays in errors.csv). */
export function showValue(value: string): string {
  if (value.length <= MAX_SHOWN) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, MAX_SHOWN))}… (${value.length} characters)`;
}
