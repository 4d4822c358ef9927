import { randomUUID } from 'node:crypto';
import { DataverseError, errors } from './errors.js';
import {
  stableGuid,
  type AlternateKey,
  type Attribute,
  type Model,
  type NavigationProperty,
  type Table,
} from './model.js';
import { keyText, type Store } from './store.js';
import { coerceValue, formatUtc, GUID, type Row, type StoredValue } from './values.js';

/** The Entra object id an emulator user (`emulator:<user>` token) has: stable, so tests can impersonate it. */
export function emulatorUserObjectId(user: string): string {
  return stableGuid(`aad:${user}`);
}

/** How a URL or `@odata.id` addresses one row: by primary key or by an alternate key. */
export type KeyRef =
  | { readonly kind: 'id'; readonly id: string }
  | { readonly kind: 'key'; readonly key: AlternateKey; readonly values: ReadonlyMap<string, StoredValue> };

export interface WriteContext {
  /**
   * systemuserid the write runs as (the impersonated user when the request impersonates); becomes
   * ownerid when none is bound, and createdby / modifiedby.
   */
  readonly userId?: string;
  /** systemuserid of the calling user when the request impersonates: createdonbehalfby / modifiedonbehalfby. */
  readonly onBehalfOf?: string;
  /** `$n` -> entity URL, inside a $batch change set. */
  readonly contentIds?: ReadonlyMap<string, string>;
  /** Apply the table's published duplicate detection rules (`MSCRM.SuppressDuplicateDetection: false`). */
  readonly duplicateDetection?: boolean;
}

export interface Conditions {
  readonly ifMatch?: string;
  readonly ifNoneMatch?: string;
}

const API_PATH = /^(?:https?:\/\/[^/]+)?\/?(?:api\/data\/v9\.\d\/)?/i;
const ENTITY_REF = /^([A-Za-z_][A-Za-z0-9_]*)\((.*)\)$/;

/** Splits `a='x,y',b=2` at commas outside quotes. */
function splitKeyParts(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i]!;
    if (c === "'") {
      if (quoted && text[i + 1] === "'") {
        current += "''";
        i += 1;
        continue;
      }
      quoted = !quoted;
    }
    if (c === ',' && !quoted) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

function keyLiteral(text: string): StoredValue | undefined {
  const t = text.trim();
  if (t.startsWith("'") && t.endsWith("'") && t.length >= 2) return t.slice(1, -1).replace(/''/g, "'");
  if (GUID.test(t)) return t.toLowerCase();
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  if (t === 'true' || t === 'false') return t === 'true';
  return undefined;
}

/** Parses an entity reference such as `/accounts(<id>)` or an absolute URL into set + key text. */
export function parseEntityRef(text: string): { set: string; key: string } | undefined {
  const path = decodeURIComponent(text.replace(API_PATH, ''));
  const m = ENTITY_REF.exec(path);
  return m ? { set: m[1]!, key: m[2]! } : undefined;
}

export function etagOf(row: Row): string {
  return `W/"${String(row.versionnumber ?? 0)}"`;
}

/** Create, update, upsert and delete with Dataverse's validation, keys and lookup binding. */
export class Records {
  constructor(
    private readonly model: Model,
    private readonly store: Store,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Parses the text between the parentheses of `set(...)`. */
  parseKey(table: Table, text: string): KeyRef {
    const trimmed = text.trim();
    if (GUID.test(trimmed)) return { kind: 'id', id: trimmed.toLowerCase() };
    const pairs = new Map<string, StoredValue>();
    for (const part of splitKeyParts(trimmed)) {
      const eq = part.indexOf('=');
      if (eq < 0) throw errors.badKey(table);
      const name = part.slice(0, eq).trim();
      const value = keyLiteral(part.slice(eq + 1));
      if (value === undefined) throw errors.badKey(table);
      pairs.set(name, value);
    }
    if (pairs.size === 1 && pairs.has(table.primaryId.logicalName)) {
      const id = pairs.get(table.primaryId.logicalName);
      if (typeof id !== 'string' || !GUID.test(id)) throw errors.badKey(table);
      return { kind: 'id', id: id.toLowerCase() };
    }
    for (const key of table.keys) {
      if (key.attributes.length !== pairs.size) continue;
      const values = new Map<string, StoredValue>();
      let matches = true;
      for (const attr of key.attributes) {
        const v = pairs.get(attr.valueName);
        if (v === undefined) {
          matches = false;
          break;
        }
        values.set(
          attr.logicalName,
          attr.isLookup && typeof v === 'string' ? { id: v, table: attr.targets[0] ?? '' } : v,
        );
      }
      if (matches) return { kind: 'key', key, values };
    }
    throw errors.badKey(table);
  }

  findId(table: Table, ref: KeyRef): string | undefined {
    if (ref.kind === 'id') return this.store.get(table, ref.id) ? ref.id : undefined;
    const text = keyText(ref.key, (n) => ref.values.get(n));
    return text === undefined ? undefined : this.store.findByKey(table, ref.key, text);
  }

  /** Row that must exist (Retrieve, Delete, If-Match: *). */
  require(table: Table, ref: KeyRef): { id: string; row: Row } {
    const id = this.findId(table, ref);
    const row = id === undefined ? undefined : this.store.get(table, id);
    if (id === undefined || !row) {
      throw ref.kind === 'id' ? errors.notFound(table, ref.id) : errors.notFoundByKey(table);
    }
    return { id, row };
  }

  private readonly defaults = new Map<Table, [string, StoredValue][]>();

  private defaultsOf(table: Table): [string, StoredValue][] {
    let list = this.defaults.get(table);
    if (!list) {
      list = table.attributes
        .filter((a) => a.spec.default !== undefined)
        .map((a) => [a.logicalName, a.spec.default!]);
      this.defaults.set(table, list);
    }
    return list;
  }

  /** The systemuser row for an emulator user, created on first use. */
  ensureUser(name: string): string | undefined {
    const users = this.model.table('systemuser');
    if (!users) return undefined;
    const id = stableGuid(`systemuser:${name}`);
    if (!this.store.get(users, id)) {
      const row: Row = { [users.primaryId.logicalName]: id };
      // fullname is computed from the name parts (a custom schema may have it plain).
      if (users.byName.has('lastname')) row.lastname = name;
      else if (users.byName.has('fullname')) row.fullname = name;
      if (users.byName.has('domainname')) row.domainname = `${name}@emulator.local`;
      if (users.byName.has('internalemailaddress')) row.internalemailaddress = `${name}@emulator.local`;
      if (users.byName.has('azureactivedirectoryobjectid')) {
        row.azureactivedirectoryobjectid = emulatorUserObjectId(name);
      }
      for (const [attribute, value] of this.defaultsOf(users)) row[attribute] ??= value;
      this.stamp(users, row, true);
      this.store.insert(users, id, row);
    }
    return id;
  }

  create(
    table: Table,
    body: Record<string, unknown>,
    ctx: WriteContext = {},
    forcedId?: string,
  ): { id: string; row: Row } {
    const values = this.applyBody(table, body, 'create', ctx);
    const pk = table.primaryId.logicalName;
    const id = forcedId ?? (values[pk] as string | undefined) ?? randomUUID();
    if (this.store.get(table, id)) throw errors.duplicateKey();
    const row: Row = {};
    for (const [name, value] of this.defaultsOf(table)) row[name] = value;
    Object.assign(row, values);
    row[pk] = id;
    this.checkStatus(table, row);
    const owner = table.byName.get('ownerid');
    if (owner && row.ownerid == null && ctx.userId && owner.targets.includes('systemuser')) {
      row.ownerid = { id: ctx.userId, table: 'systemuser' };
    }
    this.stamp(table, row, true, ctx);
    if (ctx.duplicateDetection) this.checkDuplicates(table, row, id);
    this.checkKeys(table, row, id);
    this.store.insert(table, id, row);
    return { id, row };
  }

  update(
    table: Table,
    id: string,
    body: Record<string, unknown>,
    ctx: WriteContext = {},
    stripKeys?: AlternateKey,
  ): Row {
    const existing = this.store.get(table, id);
    if (!existing) throw errors.notFound(table, id);
    const values = this.applyBody(table, body, 'update', ctx);
    if (stripKeys) for (const attr of stripKeys.attributes) delete values[attr.logicalName];
    const row: Row = { ...existing, ...values };
    // A state change without a status takes the state's default status (SetState's behaviour).
    if (
      values.statecode !== undefined &&
      values.statuscode === undefined &&
      values.statecode !== existing.statecode
    ) {
      const status = [...(table.byName.get('statuscode')?.options.values() ?? [])].find(
        (o) => o.state === values.statecode,
      );
      if (status) row.statuscode = status.value;
    }
    this.checkStatus(table, row);
    this.stamp(table, row, false, ctx);
    if (ctx.duplicateDetection) this.checkDuplicates(table, row, id);
    this.checkKeys(table, row, id);
    this.store.replace(table, id, row);
    return row;
  }

  /** PATCH semantics (reference §3): update when the row exists, else create it. */
  upsert(
    table: Table,
    ref: KeyRef,
    body: Record<string, unknown>,
    ctx: WriteContext = {},
    cond: Conditions = {},
  ): { id: string; row: Row; created: boolean } {
    const id = this.findId(table, ref);
    if (id !== undefined) {
      if (cond.ifNoneMatch === '*') throw errors.alreadyExists();
      this.checkEtag(table, id, cond.ifMatch);
      const row = this.update(table, id, body, ctx, ref.kind === 'key' ? ref.key : undefined);
      return { id, row, created: false };
    }
    if (cond.ifMatch !== undefined) {
      throw ref.kind === 'id' ? errors.notFound(table, ref.id) : errors.notFoundByKey(table);
    }
    if (ref.kind === 'id') {
      const created = this.create(table, body, ctx, ref.id);
      return { ...created, created: true };
    }
    // Body key values win over the URL's; otherwise the URL's key values are copied in.
    const merged: Record<string, unknown> = { ...body };
    for (const attr of ref.key.attributes) {
      if (merged[attr.logicalName] !== undefined) continue;
      const v = ref.values.get(attr.logicalName);
      if (attr.isLookup) {
        const nav = attr.navByTarget.values().next().value;
        const target = this.model.table(attr.targets[0] ?? '');
        if (nav && target && v && typeof v === 'object')
          merged[`${nav}@odata.bind`] = `${target.entitySetName}(${v.id})`;
      } else merged[attr.logicalName] = v;
    }
    const created = this.create(table, merged, ctx);
    return { ...created, created: true };
  }

  delete(table: Table, ref: KeyRef, cond: Conditions = {}): string {
    const { id } = this.require(table, ref);
    this.checkEtag(table, id, cond.ifMatch);
    this.store.remove(table, id);
    return id;
  }

  checkEtag(table: Table, id: string, ifMatch: string | undefined): void {
    if (ifMatch === undefined || ifMatch === '*') return;
    const row = this.store.get(table, id);
    if (row && etagOf(row) !== ifMatch.trim()) throw errors.versionMismatch();
  }

  private lastSecond = Number.NaN;
  private lastStamp = '';

  /** createdon/modifiedon text, formatted once per second (bulk writes stamp thousands of rows). */
  private stampText(): string {
    const now = this.now();
    const second = Math.floor(now.getTime() / 1000);
    if (second !== this.lastSecond) {
      this.lastSecond = second;
      this.lastStamp = formatUtc(now);
    }
    return this.lastStamp;
  }

  private stamp(table: Table, row: Row, created: boolean, ctx: WriteContext = {}): void {
    const now = this.stampText();
    if (created && table.byName.has('createdon')) row.createdon = now;
    if (table.byName.has('modifiedon')) row.modifiedon = now;
    if (ctx.userId) this.stampUsers(table, row, created, ctx.userId, ctx.onBehalfOf);
    const parts = table.spec.computedName;
    if (parts) {
      const text = parts
        .map((p) => row[p])
        .filter((v): v is string => typeof v === 'string' && v !== '')
        .join(' ');
      row[table.primaryName] = text === '' ? null : text;
    }
    row.versionnumber = this.store.nextVersion();
  }

  /**
   * The audit lookups, as Learn's "Impersonate another user using the Web API" (Determine the actual
   * user) shows them: createdby / modifiedby name the user the write ran as, createdonbehalfby /
   * modifiedonbehalfby the user who actually called when it impersonated (null otherwise). An update
   * sets only the modified* pair; the created* pair keeps what the create wrote.
   */
  private stampUsers(table: Table, row: Row, created: boolean, userId: string, onBehalfOf?: string): void {
    const user = (id: string | undefined): StoredValue => (id ? { id, table: 'systemuser' } : null);
    const set = (column: string, value: StoredValue) => {
      if (table.byName.has(column)) row[column] = value;
    };
    if (created) {
      set('createdby', user(userId));
      set('createdonbehalfby', user(onBehalfOf));
    }
    set('modifiedby', user(userId));
    set('modifiedonbehalfby', user(onBehalfOf));
  }

  /**
   * Ids of other records that a published duplicate rule matches: every attribute of the rule set on
   * both and equal (strings ignoring case and surrounding spaces).
   */
  duplicatesOf(table: Table, row: Row, id: string | undefined): string[] {
    const rules = table.spec.duplicateRules ?? [];
    const found: string[] = [];
    if (rules.length === 0) return found;
    const norm = (v: unknown) => (typeof v === 'string' ? v.trim().toLowerCase() : JSON.stringify(v));
    const wanted = rules
      .map((rule) => rule.attributes.map((a) => row[a]))
      .map((values) =>
        values.some((v) => v === null || v === undefined || v === '') ? undefined : values.map(norm),
      );
    for (const other of this.store.sortedIds(table)) {
      if (other === id) continue;
      const candidate = this.store.get(table, other)!;
      const match = rules.some((rule, i) => {
        const values = wanted[i];
        return values !== undefined && rule.attributes.every((a, j) => norm(candidate[a]) === values[j]);
      });
      if (match) found.push(other);
    }
    return found;
  }

  private checkDuplicates(table: Table, row: Row, id: string): void {
    if (this.duplicatesOf(table, row, id).length > 0) throw errors.duplicateDetected();
  }

  /** Each statuscode belongs to one statecode (dataverse-schema.md §5): a mismatched pair is refused. */
  private checkStatus(table: Table, row: Row): void {
    const status = table.byName.get('statuscode');
    if (!status || typeof row.statuscode !== 'number' || typeof row.statecode !== 'number') return;
    const state = status.options.get(row.statuscode)?.state;
    if (state !== undefined && state !== row.statecode) {
      throw errors.invalidArgument(
        `${row.statuscode} is not a valid status code for state code ${row.statecode} on ${table.logicalName}.`,
      );
    }
  }

  private checkKeys(table: Table, row: Row, id: string): void {
    const conflict = this.store.keyConflict(table, row, id);
    if (conflict) throw errors.duplicateAlternateKey(conflict.key.logicalName, conflict.values);
  }

  /** Turns a request body into stored values; unknown names and bad values raise Dataverse's errors. */
  applyBody(table: Table, body: Record<string, unknown>, mode: 'create' | 'update', ctx: WriteContext): Row {
    const out: Row = {};
    for (const name in body) {
      const value = body[name];
      const at = name.indexOf('@');
      if (at === 0) continue;
      if (at > 0) {
        const prop = name.slice(0, at);
        if (name.slice(at + 1) !== 'odata.bind') continue;
        const nav = table.navigation.get(prop);
        if (!nav) throw errors.undeclaredAnnotated(table, prop);
        if (!this.writable(nav.attribute, mode)) continue;
        out[nav.attribute.logicalName] = value === null ? null : this.bind(table, nav, value, ctx);
        continue;
      }
      const attr = table.structural.get(name);
      if (!attr) {
        const nav = table.navigation.get(name);
        if (!nav) throw errors.unknownProperty(table, name);
        if (value !== null) {
          throw errors.payload(
            table,
            `Deep insert through '${name}' is not supported by the dvpipe emulator.`,
          );
        }
        if (this.writable(nav.attribute, mode)) out[nav.attribute.logicalName] = null;
        continue;
      }
      if (!this.writable(attr, mode)) continue;
      out[name] = coerceValue(table, attr, value);
    }
    return out;
  }

  private writable(attr: Attribute, mode: 'create' | 'update'): boolean {
    return mode === 'create' ? attr.validForCreate : attr.validForUpdate;
  }

  private bind(table: Table, nav: NavigationProperty, value: unknown, ctx: WriteContext): StoredValue {
    if (typeof value !== 'string') throw errors.convert(table, value, 'Edm.String');
    const text = value.startsWith('$') ? (ctx.contentIds?.get(value) ?? value) : value;
    if (text.startsWith('$')) {
      throw new DataverseError(
        400,
        '0x80060888',
        `Content-ID Reference: '${text}' does not exist in the batch context.`,
      );
    }
    const ref = parseEntityRef(text);
    const target = ref ? this.model.tableBySet(ref.set) : undefined;
    if (!ref || !target || !nav.targets.includes(target.logicalName)) {
      throw errors.payload(
        table,
        `The value '${value}' of navigation property '${nav.name}' does not identify a record of ${nav.targets.join(' or ')}.`,
      );
    }
    const key = this.parseKey(target, ref.key);
    const id = this.findId(target, key);
    if (id === undefined)
      throw key.kind === 'id' ? errors.notFound(target, key.id) : errors.notFoundByKey(target);
    return { id, table: target.logicalName };
  }
}
