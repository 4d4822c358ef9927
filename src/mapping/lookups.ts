import pMap from 'p-map';
import type { AttributeMetadata, TableMetadata } from '../dataverse/model.js';
import { inShape, inValue, orShape, packFilters } from '../dataverse/filters.js';
import { odataString } from '../dataverse/records.js';

// Lookups by alternate key or primary name: each chunk asks for the distinct values it needs, the
// resolver reads them in batched, cached queries, and the mapper binds or fails each row.

/** What one query returns: a row with the selected columns (the client's JSON object). */
export type QueryRow = Readonly<Record<string, unknown>>;

/** `GET /<entityset>?$select=<select>&$filter=<filter>`, all pages. The Dataverse client satisfies it. */
export type QueryFn = (table: string, filter: string, select: readonly string[]) => AsyncIterable<QueryRow>;

export interface LookupResolver {
  /** Record ids per value, keyed by `lookupKey(value)`. Values with no match map to `[]`. */
  resolve(
    table: string,
    by: string,
    values: readonly string[],
  ): Promise<ReadonlyMap<string, readonly string[]>>;
}

/** One lookup column's needs for a chunk: the distinct cell values to resolve. */
export interface LookupRequest {
  readonly table: string;
  readonly by: string;
  readonly values: readonly string[];
}

/** Resolved lookups, as the mapper reads them. */
export interface LookupResults {
  ids(table: string, by: string, value: string): readonly string[] | undefined;
}

export interface LookupResolverOptions {
  /** Longest `$filter` text per query: URLs stay far below Dataverse's 32,768 characters. */
  readonly maxFilterLength?: number;
  /** Most values per query. */
  readonly maxValuesPerQuery?: number;
  /** Queries in flight at once. */
  readonly concurrency?: number;
  /** `or` (eq ... or eq ...) works everywhere; `in` uses Microsoft.Dynamics.CRM.In. */
  readonly filterStyle?: 'or' | 'in';
  /** Cached values per (table, by) before the oldest are forgotten. */
  readonly maxCachedValues?: number;
}

/**
 * Normalises a lookup value the way Dataverse compares it: strings case-insensitively, GUIDs in lower
 * case, numbers by value. Both the mapper and the resolver key their maps with it.
 */
export function lookupKey(value: string): string {
  return value.trim().toLowerCase();
}

type Literal = (value: string) => string | undefined;

export function createLookupResolver(
  query: QueryFn,
  getTable: (logicalName: string) => Promise<TableMetadata> | TableMetadata,
  options: LookupResolverOptions = {},
): LookupResolver {
  const maxFilterLength = options.maxFilterLength ?? 8_000;
  const maxValues = options.maxValuesPerQuery ?? 200;
  const concurrency = options.concurrency ?? 4;
  const style = options.filterStyle ?? 'or';
  const maxCached = options.maxCachedValues ?? 200_000;
  // Per (table, by): value key -> ids, or the pending read that will fill it.
  const caches = new Map<string, Map<string, readonly string[] | Promise<void>>>();

  return {
    async resolve(table, by, values) {
      const metadata = await getTable(table);
      const attribute = metadata.attributes.get(by);
      if (attribute === undefined) throw new Error(`lookup by "${by}": no such column on table "${table}"`);
      const literal = literalFor(attribute);
      const canon = canonicalFor(attribute);
      const cacheName = `${table}\u0000${by}`;
      let cache = caches.get(cacheName);
      if (cache === undefined) {
        cache = new Map();
        caches.set(cacheName, cache);
      }
      const toFetch = new Map<string, string>();
      const waits: Promise<void>[] = [];
      for (const value of values) {
        const key = canon(value);
        if (toFetch.has(key)) continue;
        const cached = cache.get(key);
        if (cached instanceof Promise) waits.push(cached);
        else if (cached !== undefined) continue;
        else if (literal(value) === undefined)
          cache.set(key, []); // a value the column cannot hold matches nothing
        else toFetch.set(key, value);
      }
      const batches = batch([...toFetch.values()], (v) => `${by} eq ${literal(v) as string}`, style, by, {
        maxFilterLength,
        maxValues,
      });
      const fetching = pMap(
        batches,
        async (b) => {
          const found = new Map<string, string[]>(b.values.map((v) => [canon(v), []]));
          for await (const row of query(table, b.filter, [metadata.primaryIdAttribute, by])) {
            const id = row[metadata.primaryIdAttribute];
            const matched = row[by];
            if (typeof id !== 'string' || matched === null || matched === undefined) continue;
            found.get(canon(String(matched)))?.push(id.toLowerCase());
          }
          for (const [key, ids] of found) cache.set(key, ids);
        },
        { concurrency },
      );
      const pending = fetching.then(() => undefined);
      for (const key of toFetch.keys()) cache.set(key, pending);
      try {
        await pending;
      } catch (error) {
        for (const key of toFetch.keys()) if (cache.get(key) === pending) cache.delete(key);
        throw error;
      }
      await Promise.all(waits);
      const result = new Map<string, readonly string[]>();
      for (const value of values) {
        const ids = cache.get(canon(value));
        result.set(lookupKey(value), ids instanceof Promise || ids === undefined ? [] : ids);
      }
      evict(cache, maxCached);
      return result;
    },
  };
}

/** Resolves every request through the resolver and indexes the answers for the mapper. */
export async function resolveLookups(
  requests: readonly LookupRequest[],
  resolver: LookupResolver,
): Promise<LookupResults> {
  const answers = new Map<string, ReadonlyMap<string, readonly string[]>>();
  await Promise.all(
    requests.map(async (r) => {
      answers.set(`${r.table}\u0000${r.by}`, await resolver.resolve(r.table, r.by, r.values));
    }),
  );
  return {
    ids: (table, by, value) => answers.get(`${table}\u0000${by}`)?.get(lookupKey(value)),
  };
}

function literalFor(attribute: AttributeMetadata): Literal {
  switch (attribute.type) {
    case 'Integer':
    case 'BigInt':
    case 'Decimal':
    case 'Double':
    case 'Money':
      return (v) => (/^[+-]?\d+(\.\d+)?$/.test(v.trim()) ? String(Number(v.trim())) : undefined);
    case 'Uniqueidentifier':
      return (v) =>
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v.trim())
          ? v.trim()
          : undefined;
    default:
      return odataString;
  }
}

/** How Dataverse compares values of the column: strings ignore case, numbers compare by value. */
function canonicalFor(attribute: AttributeMetadata): (value: string) => string {
  switch (attribute.type) {
    case 'Integer':
    case 'BigInt':
    case 'Decimal':
    case 'Double':
    case 'Money':
      return (v) => {
        const n = Number(v.trim());
        return Number.isNaN(n) ? v.trim() : String(n);
      };
    default:
      return lookupKey;
  }
}

interface Batch {
  readonly values: readonly string[];
  readonly filter: string;
}

/** Groups values into filters no longer than the limits allow (length measured URL-encoded). */
function batch(
  values: readonly string[],
  conditionOf: (value: string) => string,
  style: 'or' | 'in',
  by: string,
  limits: { maxFilterLength: number; maxValues: number },
): Batch[] {
  const bounds = { maxEncodedLength: limits.maxFilterLength, maxParts: limits.maxValues };
  const packed =
    style === 'in'
      ? packFilters(values, inValue, inShape(by), bounds)
      : packFilters(values, conditionOf, orShape, bounds);
  return [...packed].map(({ filter, items }) => ({ filter, values: items }));
}

function evict(cache: Map<string, unknown>, max: number): void {
  if (cache.size <= max) return;
  // Maps iterate in insertion order: the first entries are the oldest.
  let excess = cache.size - max;
  for (const key of cache.keys()) {
    if (excess-- <= 0) break;
    if (!(cache.get(key) instanceof Promise)) cache.delete(key);
  }
}
