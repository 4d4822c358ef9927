import { errors } from './errors.js';
import { AnnotationFilter, readableColumns, renderRow, type Expansion } from './format.js';
import type { Attribute, Model, Table } from './model.js';
import { compileFilter, parseFilter, type FilterExpr, type Getter } from './odata/filter.js';
import { keyText, type Store } from './store.js';
import { isLookupRef, jsonValue, type Row, type StoredValue } from './values.js';

export interface QueryInput {
  readonly table: Table;
  readonly params: URLSearchParams;
  readonly prefer: readonly string[];
  /** The request URL as the client sent it (absolute), for nextLink. */
  readonly requestUrl: string;
  readonly apiRoot: string;
  readonly maxPageSize: number;
  readonly maxCount: number;
  readonly now: Date;
  /** Real milliseconds a delta token stays valid (the organisation's change-tracking lifetime). */
  readonly deltaTokenLifetimeMs: number;
}

export interface QueryOutput {
  readonly body: Record<string, unknown>;
  readonly preferenceApplied: readonly string[];
  readonly rows: number;
  readonly columns: number;
}

interface Cookie {
  readonly last: readonly unknown[];
  readonly page: number;
  readonly snapshot?: number;
}

const UNSUPPORTED = ['$skip', '$search', '$format'];

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

function encodeSkipToken(
  table: Table,
  cookie: Cookie,
  first: string,
  last: string,
  tracking: boolean,
): string {
  const pk = table.primaryId.logicalName;
  const inner = `<cookie page="${cookie.page}" dvpemu="${b64(JSON.stringify(cookie))}"><${pk} last="{${last.toUpperCase()}}" first="{${first.toUpperCase()}}" /></cookie>`;
  return `<cookie pagenumber="${cookie.page + 1}" pagingcookie="${encodeURIComponent(encodeURIComponent(inner))}" istracking="${tracking ? 'True' : 'False'}" />`;
}

function decodeSkipToken(token: string): Cookie {
  try {
    const paging = /pagingcookie="([^"]*)"/.exec(token)?.[1];
    const inner = decodeURIComponent(decodeURIComponent(paging ?? ''));
    const state = /dvpemu="([^"]*)"/.exec(inner)?.[1];
    const cookie = JSON.parse(Buffer.from(state ?? '', 'base64url').toString('utf8')) as Cookie;
    if (!Array.isArray(cookie.last) || typeof cookie.page !== 'number') throw new Error('bad cookie');
    return cookie;
  } catch {
    throw errors.uri(
      'The $skiptoken value is not valid. Treat @odata.nextLink as opaque and send it unchanged.',
    );
  }
}

/** Resolves `$select` names: logical names of structural columns and `_x_value` for lookups. */
export function resolveColumn(table: Table, name: string): Attribute {
  const attr = table.structural.get(name) ?? table.byValueName.get(name);
  if (!attr || !attr.validForRead) throw errors.uriProperty(table.typeName, name);
  return attr;
}

export function selectColumns(table: Table, select: string | null): Attribute[] {
  if (select === null || select.trim() === '') return readableColumns(table);
  const seen = new Set<Attribute>();
  for (const name of select.split(',')) seen.add(resolveColumn(table, name.trim()));
  return [...seen];
}

/** Splits `a($select=x;$top=1),b` at top-level commas into names and option texts. */
export function splitExpand(text: string): { name: string; options: string }[] {
  const out: { name: string; options: string }[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= text.length; i += 1) {
    const c = text[i];
    if (c === '(') depth += 1;
    else if (c === ')') depth -= 1;
    else if ((c === ',' && depth === 0) || i === text.length) {
      const part = text.slice(start, i).trim();
      const open = part.indexOf('(');
      if (part) {
        out.push(
          open < 0
            ? { name: part, options: '' }
            : { name: part.slice(0, open), options: part.slice(open + 1, -1) },
        );
      }
      start = i + 1;
    }
  }
  return out;
}

const MAX_EXPANDS = 15;

/** `$expand` of single-valued navigation properties with `$select` inside (reference §5). */
export function parseExpand(model: Model, table: Table, text: string | null): Expansion[] {
  if (text === null || text.trim() === '') return [];
  const parts = splitExpand(text);
  if (parts.length > MAX_EXPANDS)
    throw errors.uri(`The number of $expand options exceeds the limit of ${MAX_EXPANDS}.`);
  return parts.map(({ name, options }) => {
    const nav = table.navigation.get(name);
    if (!nav) throw errors.uriProperty(table.typeName, name);
    const select = new URLSearchParams(options.replace(/;/g, '&')).get('$select');
    const columns = new Map<string, Attribute[]>();
    for (const target of nav.targets) {
      const t = model.table(target);
      if (t) columns.set(target, selectColumns(t, select));
    }
    return { nav, columns };
  });
}

function getter(table: Table, name: string): Getter<Row> {
  const attr = resolveColumn(table, name);
  const key = attr.logicalName;
  return (row) => row[key] ?? null;
}

/** Lookups sort by the related row's primary name, as Dataverse does (reference §5 $orderby). */
function orderGetter(model: Model, store: Store, table: Table, name: string): Getter<Row> {
  const attr = resolveColumn(table, name);
  if (!attr.isLookup) return getter(table, name);
  return (row) => {
    const v = row[attr.logicalName];
    if (!isLookupRef(v)) return null;
    const target = model.table(v.table);
    const related = target ? store.get(target, v.id) : undefined;
    return target && related ? (related[target.primaryName] ?? null) : null;
  };
}

function cmpValues(a: unknown, b: unknown): number {
  const x = typeof a === 'string' ? a.toLowerCase() : a;
  const y = typeof b === 'string' ? b.toLowerCase() : b;
  if (x === y) return 0;
  if (x == null) return -1;
  if (y == null) return 1;
  return (x as number) < (y as number) ? -1 : 1;
}

export function pageSizeFrom(prefer: readonly string[], max: number): number | undefined {
  for (const p of prefer) {
    const m = /^odata\.maxpagesize\s*=\s*(\d+)$/i.exec(p);
    if (m) return Math.max(1, Math.min(Number(m[1]), max));
  }
  return undefined;
}

function contextUrl(input: QueryInput, select: string | null, suffix = ''): string {
  const cols = select ? `(${select})` : '';
  return `${input.apiRoot}$metadata#${input.table.entitySetName}${cols}${suffix}`;
}

function deltaLink(input: QueryInput, select: string | null, version: number): string {
  // Same shape as Dataverse's `<version>!MM/dd/yyyy HH:mm:ss`, encoded like its links (`!` as %21).
  const iso = input.now.toISOString();
  const stamp = `${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(0, 4)} ${iso.slice(11, 19)}`;
  const token = encodeURIComponent(`${version}!${stamp}`).replace(/!/g, '%21');
  const sel = select ? `$select=${select}&` : '';
  return `${input.apiRoot}${input.table.entitySetName}?${sel}$deltatoken=${token}`;
}

function parseDeltaToken(
  store: Store,
  token: string,
  input: Pick<QueryInput, 'now' | 'deltaTokenLifetimeMs'>,
): number {
  const m = /^(\d+)!(\d{2})\/(\d{2})\/(\d{4}) (\d{2}:\d{2}:\d{2})$/.exec(token);
  if (!m) throw errors.expiredDeltaToken();
  const version = Number(m[1]);
  if (version < store.minDeltaVersion || version > store.version) throw errors.expiredDeltaToken();
  // Tokens older than the organisation's lifetime (ExpireChangeTrackingInDays, default 7: §13) expire.
  const issued = Date.parse(`${m[4]}-${m[2]}-${m[3]}T${m[5]}Z`);
  if (!(input.now.getTime() - issued <= input.deltaTokenLifetimeMs)) throw errors.expiredDeltaToken();
  return version;
}

/**
 * Ids (sorted like `sortedIds`) of a superset of the rows a filter can match, from an index, as SQL
 * would seek: one conjunct of the filter's top-level `and` that is a disjunction of `eq` (or an `In`)
 * on the primary id or a one-column alternate key, or range comparisons of one column. The predicate still
 * runs on every candidate, so answers are exactly a full scan's; only the cost changes.
 */
function indexedCandidates(store: Store, table: Table, expr: FilterExpr): string[] | undefined {
  const conjuncts: FilterExpr[] = [];
  const flatten = (e: FilterExpr): void => {
    if (e.kind === 'and') {
      flatten(e.left);
      flatten(e.right);
    } else conjuncts.push(e);
  };
  flatten(expr);
  let best: string[] | undefined;
  const consider = (ids: string[] | undefined) => {
    if (ids && (!best || ids.length < best.length)) best = ids;
  };
  for (const conjunct of conjuncts) consider(equalityCandidates(store, table, conjunct));
  for (const [column, range] of rangesOf(conjuncts)) consider(rangeCandidates(store, table, column, range));
  return best;
}

function propLiteral(
  e: FilterExpr,
): { name: string; op: string; value: string | number | boolean } | undefined {
  if (e.kind !== 'cmp') return undefined;
  if (e.left.kind === 'prop' && e.right.kind === 'lit' && e.right.value !== null) {
    return { name: e.left.name, op: e.op, value: e.right.value };
  }
  if (e.right.kind === 'prop' && e.left.kind === 'lit' && e.left.value !== null) {
    const flipped: Record<string, string> = { gt: 'lt', ge: 'le', lt: 'gt', le: 'ge', eq: 'eq', ne: 'ne' };
    return { name: e.right.name, op: flipped[e.op] ?? e.op, value: e.left.value };
  }
  return undefined;
}

function equalityCandidates(store: Store, table: Table, expr: FilterExpr): string[] | undefined {
  const values: (string | number | boolean)[] = [];
  let property: string | undefined;
  let viaIn = false;
  const collect = (e: FilterExpr): boolean => {
    if (e.kind === 'or') return collect(e.left) && collect(e.right);
    if (e.kind === 'crm' && e.name === 'In') {
      // Microsoft.Dynamics.CRM.In(PropertyName=...,PropertyValues=[...]) seeks like a chain of `eq`.
      if (property !== undefined && property !== e.property) return false;
      property = e.property;
      viaIn = true;
      for (const value of e.values) if (value !== null) values.push(value);
      return true;
    }
    const c = propLiteral(e);
    if (!c || c.op !== 'eq' || (property !== undefined && property !== c.name)) return false;
    property = c.name;
    values.push(c.value);
    return true;
  };
  if (!collect(expr) || property === undefined) return undefined;
  // `In` lists its values as text; matched to a number or date column they need the column's own
  // conversion, so only text (and id) columns are seeked for it.
  if (viaIn && property !== table.primaryId.logicalName) {
    const column = table.byName.get(property);
    if (column?.type !== 'String') return undefined;
  }
  const ids = new Set<string>();
  if (property === table.primaryId.logicalName) {
    for (const value of values) {
      const id = String(value).toLowerCase();
      if (store.get(table, id)) ids.add(id);
    }
  } else {
    const key = table.keys.find(
      (k) => k.attributes.length === 1 && k.attributes[0]?.logicalName === property,
    );
    if (!key) return undefined;
    for (const value of values) {
      const text = keyText(key, () => value as StoredValue);
      const id = text === undefined ? undefined : store.findByKey(table, key, text);
      if (id) ids.add(id);
    }
  }
  return [...ids].sort();
}

interface Range {
  lower?: { value: string | number; inclusive: boolean };
  upper?: { value: string | number; inclusive: boolean };
}

/** Bounds per column from conjuncts like `createdon ge X` and `createdon lt Y`. */
function rangesOf(conjuncts: readonly FilterExpr[]): Map<string, Range> {
  const ranges = new Map<string, Range>();
  for (const conjunct of conjuncts) {
    const c = propLiteral(conjunct);
    if (!c || typeof c.value === 'boolean' || !['gt', 'ge', 'lt', 'le'].includes(c.op)) continue;
    const range = ranges.get(c.name) ?? {};
    const value = typeof c.value === 'string' ? c.value.toLowerCase() : c.value;
    if (c.op === 'gt' || c.op === 'ge') range.lower = { value, inclusive: c.op === 'ge' };
    else range.upper = { value, inclusive: c.op === 'le' };
    ranges.set(c.name, range);
  }
  return ranges;
}

/** The `k` first rows in sort order, by insertion into a short sorted list: O(n · k) for small k. */
function smallest(
  rows: readonly Row[],
  k: number,
  keyOf: (row: Row) => unknown[],
  compare: (a: readonly unknown[], b: readonly unknown[]) => number,
): { row: Row; key: unknown[] }[] {
  const out: { row: Row; key: unknown[] }[] = [];
  if (k === 0) return out;
  for (const row of rows) {
    const key = keyOf(row);
    if (out.length === k && compare(key, out[k - 1]!.key) >= 0) continue;
    let at = out.length;
    while (at > 0 && compare(key, out[at - 1]!.key) < 0) at -= 1;
    out.splice(at, 0, { row, key });
    if (out.length > k) out.pop();
  }
  return out;
}

/** Sorted (value, id) pairs per table column, rebuilt when the store has changed since. */
const rangeIndexes = new WeakMap<
  Store,
  Map<string, { changes: number; values: (string | number)[]; ids: string[] }>
>();

/** The sorted (value, id) index of a column (built on first use), or undefined for lookups. */
function rangeIndex(
  store: Store,
  table: Table,
  column: string,
): { values: (string | number)[]; ids: string[] } | undefined {
  const attr = table.attributes.find((a) => a.logicalName === column);
  if (!attr || attr.isLookup) return undefined;
  let perStore = rangeIndexes.get(store);
  if (!perStore) rangeIndexes.set(store, (perStore = new Map()));
  const name = `${table.logicalName}.${column}`;
  let index = perStore.get(name);
  const changes = store.tableChanges(table);
  if (!index || index.changes !== changes) {
    const pairs: { value: string | number; id: string }[] = [];
    for (const id of store.sortedIds(table)) {
      const raw = store.get(table, id)?.[column];
      // The filter compares strings case-insensitively (`norm`), so the index orders them that way too.
      if (typeof raw === 'string') pairs.push({ value: raw.toLowerCase(), id });
      else if (typeof raw === 'number') pairs.push({ value: raw, id });
    }
    pairs.sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    index = { changes, values: pairs.map((p) => p.value), ids: pairs.map((p) => p.id) };
    perStore.set(name, index);
  }
  return index;
}

/**
 * The first `wanted` rows accepted, in the index order of `column` (ties kept whole, for the caller's
 * sort to break by primary key); undefined when some rows are not in the index (nulls sort first).
 */
function firstInIndexOrder(
  store: Store,
  table: Table,
  column: string,
  desc: boolean,
  wanted: number,
  accept: (row: Row) => boolean,
): Row[] | undefined {
  const index = rangeIndex(store, table, column);
  if (!index || index.ids.length !== store.count(table)) return undefined;
  const { values, ids } = index;
  const picked: Row[] = [];
  let boundary: string | number | undefined;
  for (let k = 0; k < ids.length; k += 1) {
    const i = desc ? ids.length - 1 - k : k;
    if (boundary !== undefined && values[i] !== boundary) break;
    const row = store.get(table, ids[i]!);
    if (!row || !accept(row)) continue;
    picked.push(row);
    if (picked.length === wanted) boundary = values[i];
  }
  return picked;
}

function rangeCandidates(store: Store, table: Table, column: string, range: Range): string[] | undefined {
  const index = rangeIndex(store, table, column);
  if (!index) return undefined;
  const { values, ids } = index;
  const sample = values[0];
  if (sample === undefined) return [];
  // Mixed types compare as false in the filter; leave such columns to the scan.
  if (
    (range.lower && typeof range.lower.value !== typeof sample) ||
    (range.upper && typeof range.upper.value !== typeof sample)
  ) {
    return undefined;
  }
  const bound = (target: string | number, after: boolean): number => {
    let lo = 0;
    let hi = values.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const v = values[mid]!;
      if (v < target || (after && v === target)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const from = range.lower ? bound(range.lower.value, !range.lower.inclusive) : 0;
  const to = range.upper ? bound(range.upper.value, range.upper.inclusive) : values.length;
  return ids.slice(from, Math.max(from, to)).sort();
}

/** GET on an entity set: $select/$filter/$orderby/$top/$count, paging and change tracking. */
export function runQuery(model: Model, store: Store, input: QueryInput): QueryOutput {
  const { table, params } = input;
  for (const name of UNSUPPORTED) {
    if (params.has(name)) throw errors.uri(`The query parameter '${name}' is not supported.`);
  }
  const select = params.get('$select');
  const columns = selectColumns(table, select);
  const { filter: annotations, applied: annotationsApplied } = AnnotationFilter.fromPrefer(input.prefer);
  const preferenceApplied: string[] = [];
  const deltaToken = params.get('$deltatoken');
  const tracking =
    input.prefer.some((p) => p.toLowerCase() === 'odata.track-changes') && table.changeTracking;
  if (tracking || deltaToken !== null) {
    for (const option of ['$filter', '$orderby', '$expand', '$top']) {
      if (params.has(option)) throw errors.trackingOption(option);
    }
  }
  const expansions = parseExpand(model, table, params.get('$expand'));
  if (annotationsApplied) preferenceApplied.push(annotationsApplied);

  if (deltaToken !== null) {
    if (!table.changeTracking) throw errors.expiredDeltaToken();
    const since = parseDeltaToken(store, deltaToken, input);
    const skip = params.get('$skiptoken');
    const cookie = skip !== null ? decodeSkipToken(skip) : undefined;
    // Pages of one delta share a snapshot: later changes wait for the next deltaLink.
    const snapshot = cookie?.snapshot ?? store.version;
    const [lastKind, lastVersion] = (cookie?.last ?? [-1, 0]) as [number, number];
    const after = (kind: number, version: number) =>
      kind > lastKind || (kind === lastKind && version > lastVersion);
    const limit = pageSizeFrom(input.prefer, input.maxPageSize) ?? input.maxPageSize;
    const changed = [...store.rows(table)]
      .filter((r) => {
        const v = Number(r.versionnumber);
        return v > since && v <= snapshot && after(0, v);
      })
      .sort((a, b) => Number(a.versionnumber) - Number(b.versionnumber));
    const deleted = store
      .deletions(table)
      .filter((d) => d.version > since && d.version <= snapshot && after(1, d.version));
    const entries: { kind: number; version: number; render: () => Record<string, unknown> }[] = [
      ...changed.map((r) => ({
        kind: 0,
        version: Number(r.versionnumber),
        render: () => renderRow(model, store, table, r, columns, annotations),
      })),
      ...deleted.map((d) => ({
        kind: 1,
        version: d.version,
        render: () => ({
          '@odata.context': `${input.apiRoot}$metadata#${table.entitySetName}/$deletedEntity`,
          id: d.id,
          reason: 'deleted',
        }),
      })),
    ];
    const page = entries.slice(0, limit);
    const body: Record<string, unknown> = {
      '@odata.context': contextUrl(input, select, '/$delta'),
      value: page.map((e) => e.render()),
    };
    const last = page.at(-1);
    if (entries.length > limit && last) {
      const next: Cookie = { last: [last.kind, last.version], page: (cookie?.page ?? 0) + 1, snapshot };
      const url = new URL(input.requestUrl);
      url.searchParams.delete('$skiptoken');
      const base = url.toString().replace(/%24/g, '$');
      const first = String(entries[0]!.version);
      body['@odata.nextLink'] =
        `${base}&$skiptoken=${encodeURIComponent(encodeSkipToken(table, next, first, String(last.version), true))}`;
    } else {
      body['@odata.deltaLink'] = deltaLink(input, select, snapshot);
    }
    const maxPage = pageSizeFrom(input.prefer, input.maxPageSize);
    if (maxPage !== undefined) preferenceApplied.push(`odata.maxpagesize=${maxPage}`);
    if (tracking) preferenceApplied.push('odata.track-changes');
    return { body, preferenceApplied, rows: page.length, columns: columns.length };
  }

  const filterText = params.get('$filter');
  const parsedFilter = filterText ? parseFilter(filterText) : undefined;
  const predicate = parsedFilter ? compileFilter(parsedFilter, (name) => getter(table, name)) : undefined;
  // Equality on the primary key or a one-column alternate key is answered from the index, as SQL would.
  const candidates = parsedFilter ? indexedCandidates(store, table, parsedFilter) : undefined;
  const orderText = params.get('$orderby');
  const order: { get: Getter<Row>; desc: boolean; column: string }[] = [];
  if (orderText) {
    for (const part of orderText.split(',')) {
      const [name, dir, extra] = part.trim().split(/\s+/);
      if (!name || extra !== undefined || (dir !== undefined && dir !== 'asc' && dir !== 'desc')) {
        throw errors.uri(`Syntax error in '$orderby=${orderText}'.`);
      }
      order.push({
        get: orderGetter(model, store, table, name),
        desc: dir === 'desc',
        column: resolveColumn(table, name).logicalName,
      });
    }
  }
  const pk = table.primaryId.logicalName;
  const sortKey = (row: Row): unknown[] => [
    ...order.map((o) => jsonValue(o.get(row) as StoredValue)),
    row[pk],
  ];
  const compareKeys = (a: readonly unknown[], b: readonly unknown[]): number => {
    for (let i = 0; i < order.length; i += 1) {
      const c = cmpValues(a[i], b[i]);
      if (c !== 0) return order[i]!.desc ? -c : c;
    }
    return cmpValues(a[order.length], b[order.length]);
  };

  const maxPage = pageSizeFrom(input.prefer, input.maxPageSize);
  if (maxPage !== undefined) preferenceApplied.push(`odata.maxpagesize=${maxPage}`);
  const topText = params.get('$top');
  let top: number | undefined;
  if (topText !== null) {
    top = Number(topText);
    if (!Number.isInteger(top) || top < 0) throw errors.uri(`Invalid value '${topText}' for $top.`);
  }
  // $top is ignored when odata.maxpagesize is given (reference §5).
  const limit = maxPage ?? Math.min(top ?? input.maxPageSize, input.maxPageSize);
  const pageable = maxPage !== undefined || top === undefined;
  const skip = params.get('$skiptoken');
  const cookie = skip !== null ? decodeSkipToken(skip) : undefined;
  if (tracking) preferenceApplied.push('odata.track-changes');
  const snapshot = cookie?.snapshot ?? (tracking ? store.version : undefined);

  const page: Row[] = [];
  let more = false;
  let total = 0;
  const wantCount = params.get('$count') === 'true';
  if (order.length === 0) {
    const ids = candidates ?? store.sortedIds(table);
    let start = 0;
    if (cookie) {
      const last = String(cookie.last[0]);
      let lo = 0;
      let hi = ids.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (ids[mid]! <= last) lo = mid + 1;
        else hi = mid;
      }
      start = lo;
    }
    if (wantCount) {
      const counted = candidates ? candidates.map((id) => store.get(table, id)) : store.rows(table);
      for (const row of counted) if (row && (!predicate || predicate(row))) total += 1;
    }
    for (let i = start; i < ids.length; i += 1) {
      const row = store.get(table, ids[i]!);
      if (!row || (predicate && !predicate(row))) continue;
      if (page.length === limit) {
        more = true;
        break;
      }
      page.push(row);
    }
  } else {
    // A small page needs only its first rows in order (after the cookie), not a sort of every match;
    // one row more than the page tells whether there is a next page.
    const wanted = pageable ? limit + 1 : limit;
    const small = wanted <= 100 && !wantCount;
    // The first rows by one indexed column come from its index, as SQL would seek (min/max queries).
    const seeked =
      small && !cookie && order.length === 1
        ? firstInIndexOrder(
            store,
            table,
            order[0]!.column,
            order[0]!.desc,
            wanted,
            (row) => !predicate || predicate(row),
          )
        : undefined;
    const matches: Row[] = [];
    if (seeked) matches.push(...seeked);
    else {
      const scanned = candidates ? candidates.map((id) => store.get(table, id)) : store.rows(table);
      for (const row of scanned) if (row && (!predicate || predicate(row))) matches.push(row);
    }
    total = matches.length;
    let keyed: { row: Row; key: unknown[] }[];
    let start = 0;
    if (small) {
      const after = cookie ? matches.filter((row) => compareKeys(sortKey(row), cookie.last) > 0) : matches;
      keyed = smallest(after, wanted, sortKey, compareKeys);
    } else {
      keyed = matches.map((row) => ({ row, key: sortKey(row) })).sort((a, b) => compareKeys(a.key, b.key));
      if (cookie) {
        while (start < keyed.length && compareKeys(keyed[start]!.key, cookie.last) <= 0) start += 1;
      }
    }
    for (let i = start; i < keyed.length; i += 1) {
      if (page.length === limit) {
        more = true;
        break;
      }
      page.push(keyed[i]!.row);
    }
  }

  const body: Record<string, unknown> = { '@odata.context': contextUrl(input, select) };
  if (wantCount) body['@odata.count'] = Math.min(total, input.maxCount);
  if (annotations.wants('Microsoft.Dynamics.CRM.totalrecordcount')) {
    body['@Microsoft.Dynamics.CRM.totalrecordcount'] = wantCount ? Math.min(total, input.maxCount) : -1;
    body['@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded'] = wantCount && total > input.maxCount;
  }
  body.value = page.map((r) => renderRow(model, store, table, r, columns, annotations, expansions));
  if (more && pageable && page.length > 0) {
    const lastRow = page[page.length - 1]!;
    const next: Cookie = {
      last: sortKey(lastRow),
      page: (cookie?.page ?? 0) + 1,
      ...(snapshot !== undefined ? { snapshot } : {}),
    };
    const url = new URL(input.requestUrl);
    url.searchParams.delete('$skiptoken');
    const base = url.toString().replace(/%24/g, '$');
    const sep = base.includes('?') ? '&' : '?';
    body['@odata.nextLink'] =
      `${base}${sep}$skiptoken=${encodeURIComponent(encodeSkipToken(table, next, String(page[0]![pk]), String(lastRow[pk]), tracking))}`;
  } else if (tracking && snapshot !== undefined) {
    body['@odata.deltaLink'] = deltaLink(input, select, snapshot);
  }
  return { body, preferenceApplied, rows: page.length, columns: columns.length };
}

/** GET {set}/$count: plain-text count, capped like Dataverse's; with $deltatoken, the number of changes. */
export function runCount(
  store: Store,
  input: Pick<QueryInput, 'table' | 'params' | 'maxCount' | 'now' | 'deltaTokenLifetimeMs'>,
): number {
  const token = input.params.get('$deltatoken');
  if (token !== null) {
    if (!input.table.changeTracking) throw errors.expiredDeltaToken();
    const since = parseDeltaToken(store, token, input);
    let changes = store.deletions(input.table).filter((d) => d.version > since).length;
    for (const row of store.rows(input.table)) if (Number(row.versionnumber) > since) changes += 1;
    return changes;
  }
  const filterText = input.params.get('$filter');
  const predicate = filterText
    ? compileFilter(parseFilter(filterText), (name) => getter(input.table, name))
    : undefined;
  let n = 0;
  for (const row of store.rows(input.table)) if (!predicate || predicate(row)) n += 1;
  return Math.min(n, input.maxCount);
}
