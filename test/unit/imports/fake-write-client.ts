import { DataverseError, idTakenError } from '../../../src/dataverse/errors.js';
import type { RecordResult, RecordTarget, Row, WriteClient } from '../../../src/imports/write-client.js';

/**
 * An in-memory table behind the WriteClient interface, for unit tests of the write strategies.
 * It answers key filters of the shapes the key resolver emits: `Microsoft.Dynamics.CRM.In(PropertyName='a',
 * PropertyValues=["x","y"])` and `(a eq 'x' and b eq 1) or (a eq 'y' and b eq 2)`.
 */
export class FakeTable implements WriteClient {
  readonly rows = new Map<string, Row>();
  readonly calls: string[] = [];
  failIds = new Set<string>();

  constructor(
    readonly primaryId: string,
    readonly keyAttributes: readonly string[],
  ) {}

  async createMultiple(
    _table: string,
    records: readonly { id: string; data: Row }[],
  ): Promise<RecordResult[]> {
    this.calls.push(`create:${records.length}`);
    return records.map(({ id, data }, index) => {
      if (this.failIds.has(id)) return this.#error(index, 400, '0x80044331', 'bad');
      // As the real client reports it: the bulk layer reads back which ids a duplicate answer concerns.
      if (this.rows.has(id)) return { index, ok: false, error: idTakenError('contact', id) };
      const clash = this.#findByKey(data);
      if (clash) return this.#error(index, 412, '0x80060892', 'duplicate key');
      this.rows.set(id, { ...data, [this.primaryId]: id });
      return { index, ok: true, id, created: true };
    });
  }

  async updateMultiple(
    _table: string,
    records: readonly { id: string; data: Row }[],
  ): Promise<RecordResult[]> {
    this.calls.push(`update:${records.length}`);
    return records.map(({ id, data }, index) => {
      const row = this.rows.get(id);
      if (!row) return this.#error(index, 404, '0x80040217', 'missing');
      this.rows.set(id, { ...row, ...data });
      return { index, ok: true, id };
    });
  }

  async upsertMultiple(
    _table: string,
    records: readonly { target: RecordTarget; data: Row }[],
  ): Promise<RecordResult[]> {
    this.calls.push(`upsert:${records.length}`);
    return records.map(({ target, data }, index) => {
      const existing = 'id' in target ? this.rows.get(target.id) : this.#findByKey(target.key);
      const id = existing ? String(existing[this.primaryId]) : `new-${this.rows.size + 1}`;
      this.rows.set(id, {
        ...(existing ?? {}),
        ...data,
        ...('key' in target ? target.key : {}),
        [this.primaryId]: id,
      });
      return { index, ok: true, id };
    });
  }

  async deleteMultiple(_table: string, targets: readonly RecordTarget[]): Promise<RecordResult[]> {
    this.calls.push(`delete:${targets.length}`);
    return targets.map((target, index) => {
      const id = 'id' in target ? target.id : undefined;
      if (!id || !this.rows.delete(id)) return this.#error(index, 404, '0x80040217', 'missing');
      return { index, ok: true, id };
    });
  }

  query(_table: string, options: { filter?: string }): { rows(): AsyncIterable<Row> } {
    this.calls.push('query');
    const clauses = parseFilter(options.filter ?? '');
    const matches = [...this.rows.values()].filter((row) =>
      clauses.some((clause) =>
        Object.entries(clause).every(
          ([name, value]) => String(row[name] ?? '').toLowerCase() === value.toLowerCase(),
        ),
      ),
    );
    return {
      async *rows() {
        yield* matches;
      },
    };
  }

  #findByKey(data: Readonly<Record<string, unknown>>): Row | undefined {
    if (this.keyAttributes.length === 0) return undefined;
    if (this.keyAttributes.some((name) => data[name] === undefined)) return undefined;
    return [...this.rows.values()].find((row) =>
      this.keyAttributes.every(
        (name) => String(row[name]).toLowerCase() === String(data[name]).toLowerCase(),
      ),
    );
  }

  #error(index: number, status: number, code: string, message: string): RecordResult {
    return { index, ok: false, error: new DataverseError({ status, code, message }) };
  }
}

/** A one-column `Microsoft.Dynamics.CRM.In(...)` or an `or` of clauses: one record of wanted values each. */
function parseFilter(filter: string): Record<string, string>[] {
  const inCall = /^Microsoft\.Dynamics\.CRM\.In\(PropertyName='(\w+)',PropertyValues=\[(.*)\]\)$/.exec(
    filter,
  );
  if (inCall?.[1] && inCall[2] !== undefined) {
    const name = inCall[1];
    const values = JSON.parse(`[${inCall[2]}]`) as string[];
    return values.map((value) => ({ [name]: value }));
  }
  return filter.split(' or ').map(parseClause);
}

function parseClause(clause: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const part of clause.replace(/^\(|\)$/g, '').split(' and ')) {
    const match = /^(\w+) eq (?:'((?:[^']|'')*)'|(\S+))$/.exec(part.trim());
    if (match?.[1]) result[match[1]] = (match[2] ?? match[3] ?? '').replace(/''/g, "'");
  }
  return result;
}
