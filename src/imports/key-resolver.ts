import pMap from 'p-map';
import { inShape, inValue, orShape, packFilters } from '../dataverse/filters.js';
import { odataString } from '../dataverse/records.js';
import type { Row, WriteClient } from './write-client.js';

export type KeyValues = Readonly<Record<string, string | number>>;

/** Dataverse compares string keys case-insensitively (SQL collation), so the lookup does too. */
export function normalizeKey(key: KeyValues): string {
  return Object.keys(key)
    .sort()
    .map((name) => {
      const value = key[name];
      return `${name}=${typeof value === 'string' ? value.trim().toLowerCase() : String(value)}`;
    })
    .join('\u001f');
}

export function odataLiteral(value: string | number): string {
  return typeof value === 'number' ? String(value) : odataString(value);
}

/**
 * Budget for one `$filter`, counted percent-encoded as it travels: well inside Dataverse's 32 KB URL
 * limit, and inside the 16 KB request-line limit of common HTTP servers (the emulator's included),
 * whatever characters the keys hold (a non-ASCII character costs up to 12 bytes encoded).
 */
const MAX_FILTER_CHARS = 14_000;
/** Reads in flight for one resolution; the client's governor still caps the total. */
const READ_CONCURRENCY = 4;

/**
 * Finds the ids of existing records for many alternate keys with a few filtered reads; reads
 * are far cheaper than upserts by key (dataverse-performance.md §3.3: 60 ms per record).
 */
export async function resolveKeys(
  client: WriteClient,
  table: string,
  primaryIdAttribute: string,
  keys: readonly KeyValues[],
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const wanted = new Map<string, KeyValues>();
  for (const key of keys) wanted.set(normalizeKey(key), key);
  const attributes = keys[0] ? Object.keys(keys[0]).sort() : [];
  if (attributes.length === 0) return found;

  const filters = [...filterBatches([...wanted.values()], attributes)];
  await pMap(
    filters,
    async (filter) => {
      const rows = client.query(table, {
        select: [primaryIdAttribute, ...attributes],
        filter,
        pageSize: 5_000,
      });
      for await (const row of rows.rows()) {
        const id = row[primaryIdAttribute];
        if (typeof id === 'string') found.set(normalizeKey(keyOfRow(row, attributes)), id);
      }
    },
    { concurrency: READ_CONCURRENCY },
  );
  return found;
}

/** Resolves which of the given ids already exist (used when a chunk is retried after a crash). */
export async function existingIds(
  client: WriteClient,
  table: string,
  primaryIdAttribute: string,
  ids: readonly string[],
): Promise<Set<string>> {
  const found = new Set<string>();
  const keys = ids.map((id) => ({ [primaryIdAttribute]: id }));
  await pMap(
    [...filterBatches(keys, [primaryIdAttribute], true)],
    async (filter) => {
      for await (const row of client.query(table, { select: [primaryIdAttribute], filter }).rows()) {
        const id = row[primaryIdAttribute];
        if (typeof id === 'string') found.add(id.toLowerCase());
      }
    },
    { concurrency: READ_CONCURRENCY },
  );
  return found;
}

function* filterBatches(
  keys: readonly KeyValues[],
  attributes: readonly string[],
  guids = false,
): Generator<string> {
  const [only] = attributes;
  const limits = { maxEncodedLength: MAX_FILTER_CHARS };
  const packed =
    attributes.length === 1 && only !== undefined && !guids
      ? packFilters(keys, (key) => inValue(String(key[only] ?? '')), inShape(only), limits)
      : packFilters(
          keys,
          (key) => {
            const parts = attributes.map((name) => {
              const value = key[name] ?? '';
              return `${name} eq ${guids ? String(value) : odataLiteral(value)}`;
            });
            return parts.length === 1 ? (parts[0] ?? '') : `(${parts.join(' and ')})`;
          },
          orShape,
          limits,
        );
  for (const { filter } of packed) yield filter;
}

function keyOfRow(row: Row, attributes: readonly string[]): KeyValues {
  const key: Record<string, string | number> = {};
  for (const name of attributes) {
    const value = row[name];
    key[name] = typeof value === 'number' ? value : String(value ?? '');
  }
  return key;
}
