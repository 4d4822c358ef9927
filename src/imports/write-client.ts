import type { DataverseError } from '../dataverse/errors.js';

/** The slice of the Dataverse client the import writer uses; the real client satisfies it. */
export type Row = Record<string, unknown>;
export type RecordTarget =
  { readonly id: string } | { readonly key: Readonly<Record<string, string | number>> };

export type RecordResult =
  | { readonly index: number; readonly ok: true; readonly id?: string; readonly created?: boolean }
  | { readonly index: number; readonly ok: false; readonly error: DataverseError };

export interface QueryOptions {
  readonly select?: readonly string[];
  readonly filter?: string;
  readonly pageSize?: number;
}

export interface WriteClient {
  createMultiple(table: string, records: readonly { id: string; data: Row }[]): Promise<RecordResult[]>;
  updateMultiple(table: string, records: readonly { id: string; data: Row }[]): Promise<RecordResult[]>;
  upsertMultiple(
    table: string,
    records: readonly { target: RecordTarget; data: Row }[],
  ): Promise<RecordResult[]>;
  deleteMultiple(table: string, targets: readonly RecordTarget[]): Promise<RecordResult[]>;
  query(table: string, options: QueryOptions): { rows(): AsyncIterable<Row> };
  /** Records the published duplicate detection rules match for a payload (to name them in a row's failure). */
  retrieveDuplicates?(table: string, data: Row, max?: number): Promise<Row[]>;
}
