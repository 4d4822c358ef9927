// Splits a read into disjoint `createdon` time slices, so several paging-cookie chains (each one
// sequential by nature) run side by side.
//
// Why time slices and not primary-id ranges: ids Dataverse generates are sequential GUIDs, and SQL
// Server orders uniqueidentifiers by their last six bytes first. Even ranges over the GUID space
// would put almost every row of an org in one range, and a range list sorted by the wrong ordering
// would overlap or miss rows. createdon is indexed, never null for Dataverse-created rows, and
// spreads with the table's history. Bulk loads cluster in time, so the span is cut into several
// slices per worker: a dense slice then costs one worker longer while the others drain the rest.
import type { DataverseClient, Row } from '../dataverse/index.js';

export const sliceColumn = 'createdon';
/**
 * Slices per parallel worker: more slices smooth out bursts of creation (a dense slice costs one
 * worker longer while the others drain the rest), fewer save requests and server scans.
 */
export const defaultSlicesPerWorker = 2;

export interface Partition {
  /** 1-based; the CSV holds partitions in this order. */
  readonly index: number;
  /** The partition's own condition, undefined for a single whole-table partition. */
  readonly filter?: string;
}

export function andFilters(...filters: readonly (string | undefined)[]): string | undefined {
  const parts = filters.filter((f): f is string => f !== undefined && f.trim() !== '');
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return parts[0];
  return parts.map((f) => `(${f})`).join(' and ');
}

/** OData DateTimeOffset literal (unquoted) in whole seconds: the Web API gives createdon to the second. */
export function dateLiteral(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * `count` slices over [min, max], cut on whole seconds: the first is open below, the last open above
 * (rows created while the extract runs land in it, or in no slice if created after its page was read),
 * plus one slice for rows without a createdon.
 */
export function timeSlices(minMs: number, maxMs: number, count: number, column = sliceColumn): Partition[] {
  const n = Math.max(1, Math.floor(count));
  const first = Math.floor(minMs / 1000);
  const span = Math.floor(maxMs / 1000) + 1 - first;
  const slices = Math.max(1, Math.min(n, span));
  if (slices === 1) {
    return [
      { index: 1, filter: `${column} ne null` },
      { index: 2, filter: `${column} eq null` },
    ];
  }
  const bounds: number[] = [];
  for (let i = 1; i < slices; i += 1) bounds.push((first + Math.floor((span * i) / slices)) * 1000);
  const out: Partition[] = [];
  for (let i = 0; i < slices; i += 1) {
    const lower = i === 0 ? `${column} ne null` : `${column} ge ${dateLiteral(bounds[i - 1]!)}`;
    const upper = i === slices - 1 ? undefined : `${column} lt ${dateLiteral(bounds[i]!)}`;
    out.push({ index: i + 1, filter: andFilters(lower, upper) ?? lower });
  }
  out.push({ index: slices + 1, filter: `${column} eq null` });
  return out;
}

/** The first and last createdon matching `filter`: two one-row requests. */
export async function createdRange(
  client: DataverseClient,
  table: string,
  primaryId: string,
  filter: string | undefined,
): Promise<{ min: number; max: number } | undefined> {
  const edge = async (direction: 'asc' | 'desc'): Promise<number | undefined> => {
    const result = client.query(table, {
      select: [primaryId, sliceColumn],
      filter: andFilters(filter, `${sliceColumn} ne null`),
      orderBy: [`${sliceColumn} ${direction}`],
      pageSize: 1,
      top: 1,
    });
    for await (const page of result.pages()) return timeOf(page[0]);
    return undefined;
  };
  const [min, max] = await Promise.all([edge('asc'), edge('desc')]);
  return min === undefined || max === undefined ? undefined : { min, max };
}

function timeOf(row: Row | undefined): number | undefined {
  const value = row?.[sliceColumn];
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * `count` ranges of the primary id, for tables whose ids are random (created with client-side ids, or
 * by a bulk load faster than createdon's one-second grain can separate). Each bound increases both in
 * string order (first group first) and in SQL Server's uniqueidentifier order (last group first), so
 * the ranges are disjoint and complete whichever order the server compares in, and even for random ids.
 */
export function idRanges(column: string, count: number): Partition[] {
  const n = Math.max(1, Math.min(Math.floor(count), 4096));
  const bounds: string[] = [];
  for (let i = 1; i < n; i += 1) {
    const head = Math.floor((i / n) * 2 ** 32)
      .toString(16)
      .padStart(8, '0');
    const tail = Math.floor((i / n) * 2 ** 48)
      .toString(16)
      .padStart(12, '0');
    bounds.push(`${head}-0000-0000-0000-${tail}`);
  }
  const out: Partition[] = [];
  for (let i = 0; i < n; i += 1) {
    const lower = i === 0 ? undefined : `${column} ge ${bounds[i - 1]!}`;
    const upper = i === n - 1 ? undefined : `${column} lt ${bounds[i]!}`;
    const filter = andFilters(lower, upper);
    out.push(filter === undefined ? { index: i + 1 } : { index: i + 1, filter });
  }
  return out;
}

/**
 * True when ids look random at both ends (the last digit of the first group and of the last group).
 * The sample is the first page in key order, so the leading digits of whichever group the server sorts
 * by are alike; the last digits are not, unless the ids are Dataverse's own sequential ones, which
 * share their last group within an org and are split by createdon instead.
 */
export function idsLookRandom(ids: readonly string[]): boolean {
  if (ids.length < 32) return false;
  const spread = (at: number) => new Set(ids.map((id) => id.charAt(at))).size;
  return spread(7) >= 12 && spread(35) >= 12;
}

/**
 * Read plan for a table: one partition, or createdon time slices when parallel reads are asked for;
 * when the table was created in too few seconds to give every worker a slice, and its ids are random,
 * primary-id ranges instead.
 */
export async function planPartitions(
  client: DataverseClient,
  table: string,
  primaryId: string,
  filter: string | undefined,
  workers: number,
  slicesPerWorker = defaultSlicesPerWorker,
): Promise<Partition[]> {
  if (workers <= 1) return [{ index: 1 }];
  const wanted = workers * Math.max(1, slicesPerWorker);
  const range = await createdRange(client, table, primaryId, filter);
  const slices = range ? timeSlices(range.min, range.max, wanted) : [];
  // The last slice is the one for rows without createdon.
  if (slices.length - 1 >= workers) return slices;
  const sample = client.query(table, { select: [primaryId], ...(filter ? { filter } : {}), pageSize: 200 });
  for await (const page of sample.pages()) {
    const ids = page.map((row) => row[primaryId]).filter((id): id is string => typeof id === 'string');
    if (idsLookRandom(ids.map((id) => id.toLowerCase()))) return idRanges(primaryId, wanted);
    break;
  }
  return slices.length > 0 ? slices : [{ index: 1 }];
}
