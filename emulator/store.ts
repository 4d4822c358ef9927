import type { AlternateKey, Model, Table } from './model.js';
import { isLookupRef, jsonValue, type Row, type StoredValue } from './values.js';

export interface Deletion {
  readonly id: string;
  readonly version: number;
}

/** Key index text for an alternate key; undefined when a key column is empty (not indexed). */
export function keyText(
  key: AlternateKey,
  values: (name: string) => StoredValue | undefined,
): string | undefined {
  let text = '';
  for (const attr of key.attributes) {
    const v = values(attr.logicalName);
    if (v === undefined || v === null) return undefined;
    // Dataverse's SQL collation compares text case-insensitively, so keys do too.
    const part = isLookupRef(v) ? v.id : typeof v === 'string' ? v.toLowerCase() : String(v);
    text += part + '\u0000';
  }
  return text;
}

class TableData {
  readonly rows = new Map<string, Row>();
  readonly indexes = new Map<string, Map<string, string>>();
  readonly deletions: Deletion[] = [];
  private sorted: string[] | null = null;
  /** Counts every change to this table's rows, so caches over them know when they are stale. */
  changes = 0;

  constructor(readonly table: Table) {
    for (const key of table.keys) this.indexes.set(key.logicalName, new Map());
  }

  /** Ids in primary-key order, cached until the set of rows changes. */
  sortedIds(): readonly string[] {
    if (!this.sorted) this.sorted = [...this.rows.keys()].sort();
    return this.sorted;
  }

  invalidate(): void {
    this.sorted = null;
    this.changes += 1;
  }
}

/**
 * In-memory rows of every table, alternate-key indexes, a global row version (ETags, delta tokens)
 * and an undo journal for atomic change sets and bulk messages.
 */
export class Store {
  private readonly data = new Map<string, TableData>();
  private journal: (() => void)[] | null = null;
  version = 1000;
  /** Delta tokens older than this version are expired. */
  minDeltaVersion = 0;

  constructor(readonly model: Model) {
    for (const t of model.tables) this.data.set(t.logicalName, new TableData(t));
  }

  private tableData(table: Table): TableData {
    const d = this.data.get(table.logicalName);
    if (!d) throw new Error(`unknown table ${table.logicalName}`);
    return d;
  }

  nextVersion(): number {
    this.version += 1;
    return this.version;
  }

  get(table: Table, id: string): Row | undefined {
    return this.tableData(table).rows.get(id);
  }

  rows(table: Table): IterableIterator<Row> {
    return this.tableData(table).rows.values();
  }

  sortedIds(table: Table): readonly string[] {
    return this.tableData(table).sortedIds();
  }

  /** Changes so far to one table's rows: a cache built at one value is current while it holds. */
  tableChanges(table: Table): number {
    return this.tableData(table).changes;
  }

  count(table: Table): number {
    return this.tableData(table).rows.size;
  }

  deletions(table: Table): readonly Deletion[] {
    return this.tableData(table).deletions;
  }

  findByKey(table: Table, key: AlternateKey, text: string): string | undefined {
    return this.tableData(table).indexes.get(key.logicalName)?.get(text);
  }

  /** The first alternate key that another row already holds for these values, if any. */
  keyConflict(table: Table, row: Row, selfId: string): { key: AlternateKey; values: string[] } | undefined {
    const d = this.tableData(table);
    for (const key of table.keys) {
      const text = keyText(key, (n) => row[n]);
      if (text === undefined) continue;
      const holder = d.indexes.get(key.logicalName)?.get(text);
      if (holder !== undefined && holder !== selfId) {
        return { key, values: key.attributes.map((a) => String(jsonValue(row[a.logicalName]))) };
      }
    }
    return undefined;
  }

  private index(d: TableData, id: string, row: Row, add: boolean): void {
    for (const key of d.table.keys) {
      const text = keyText(key, (n) => row[n]);
      if (text === undefined) continue;
      const idx = d.indexes.get(key.logicalName)!;
      if (add) idx.set(text, id);
      else if (idx.get(text) === id) idx.delete(text);
    }
  }

  insert(table: Table, id: string, row: Row): void {
    const d = this.tableData(table);
    d.rows.set(id, row);
    this.index(d, id, row, true);
    d.invalidate();
    this.journal?.push(() => {
      this.index(d, id, row, false);
      d.rows.delete(id);
      d.invalidate();
    });
  }

  replace(table: Table, id: string, row: Row): void {
    const d = this.tableData(table);
    const old = d.rows.get(id);
    if (!old) throw new Error(`replace of missing row ${id}`);
    this.index(d, id, old, false);
    d.rows.set(id, row);
    this.index(d, id, row, true);
    d.changes += 1;
    this.journal?.push(() => {
      this.index(d, id, row, false);
      d.rows.set(id, old);
      this.index(d, id, old, true);
      d.changes += 1;
    });
  }

  remove(table: Table, id: string): void {
    const d = this.tableData(table);
    const old = d.rows.get(id);
    if (!old) return;
    this.index(d, id, old, false);
    d.rows.delete(id);
    d.invalidate();
    const deletion = { id, version: this.nextVersion() };
    d.deletions.push(deletion);
    this.journal?.push(() => {
      d.rows.set(id, old);
      this.index(d, id, old, true);
      d.invalidate();
      const at = d.deletions.lastIndexOf(deletion);
      if (at >= 0) d.deletions.splice(at, 1);
    });
  }

  /** Registers how to undo a change made outside the row maps (associations), for `atomically`. */
  onUndo(undo: () => void): void {
    this.journal?.push(undo);
  }

  /** Runs `work` atomically: if it throws, every change it made is undone. Nests. */
  atomically<T>(work: () => T): T {
    const outer = this.journal;
    const journal: (() => void)[] = [];
    this.journal = journal;
    try {
      const result = work();
      if (outer) outer.push(...journal);
      return result;
    } catch (error) {
      for (let i = journal.length - 1; i >= 0; i -= 1) journal[i]!();
      throw error;
    } finally {
      this.journal = outer;
    }
  }

  clear(table?: Table): void {
    const targets = table ? [this.tableData(table)] : [...this.data.values()];
    for (const d of targets) {
      d.rows.clear();
      for (const idx of d.indexes.values()) idx.clear();
      d.deletions.length = 0;
      d.invalidate();
    }
  }
}
