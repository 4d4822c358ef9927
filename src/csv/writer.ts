import { stringify, type Options, type Stringifier } from 'csv-stringify';
import { stringify as stringifySync } from 'csv-stringify/sync';

export interface CsvWriteOptions {
  /** Output columns, in order; records are objects keyed by these names (or arrays in this order). */
  readonly columns: readonly string[];
  /** Write the header row. Default true. */
  readonly header?: boolean;
  /** Start with a UTF-8 BOM so Excel reads the file as UTF-8. Default false. */
  readonly bom?: boolean;
  /** One character, or `tab`. Default `,`. */
  readonly delimiter?: string;
  /**
   * Prefix cells starting with `=`, `+`, `-`, `@`, tab or CR (and their full-width forms) with `'`, so
   * a spreadsheet shows them instead of running them (OWASP CSV injection). Default true. Numbers are
   * written as numbers: pass numeric columns as JS numbers, or a negative value gains the prefix.
   */
  readonly neutraliseFormulas?: boolean;
}

export type CsvCell = string | number | boolean | null | undefined;

/**
 * A streaming CSV writer (object mode in, text out): pipe it to a file or a blob upload. Lines end in
 * CRLF (RFC 4180, and what Excel writes). Dates are written as ISO 8601.
 */
export function createCsvWriter(options: CsvWriteOptions): Stringifier {
  return stringify(stringifyOptions(options));
}

/**
 * The lines `createCsvWriter` writes for these records, without header or BOM: for files put
 * together from parts formatted elsewhere (an import's result files, a chunk at a time).
 */
export function formatCsvLines(
  records: readonly (readonly CsvCell[])[],
  options: Omit<CsvWriteOptions, 'header' | 'bom'>,
): string {
  if (records.length === 0) return '';
  return stringifySync(records as CsvCell[][], { ...stringifyOptions(options), header: false, bom: false });
}

/** The header line (after a BOM when asked) that `createCsvWriter` starts with. */
export function formatCsvHeader(options: Omit<CsvWriteOptions, 'header'>): string {
  return stringifySync([], { ...stringifyOptions(options), header: true });
}

function stringifyOptions(options: CsvWriteOptions): Options {
  return {
    columns: [...options.columns],
    header: options.header ?? true,
    bom: options.bom ?? false,
    delimiter: options.delimiter === 'tab' ? '\t' : (options.delimiter ?? ','),
    record_delimiter: '\r\n',
    // Any CR or LF inside a value must be quoted, not only the CRLF pair, or readers split the record.
    quote_record_delimiter: true,
    escape_formulas: options.neutraliseFormulas ?? true,
    cast: {
      boolean: (value) => (value ? 'true' : 'false'),
      date: (value) => value.toISOString(),
    },
  };
}
