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

/** Read plan for a table: one partition, or time slices when parallel reads are asked for. */
export async function planPartitions(
  client: DataverseClient,
  table: string,
  primaryId: string,
  filter: string | undefined,
  workers: number,
  slicesPerWorker = defaultSlicesPerWorker,
): Promise<Partition[]> {
  if (workers <= 1) return [{ index: 1 }];
  const range = await createdRange(client, table, primaryId, filter);
  if (!range) return [{ index: 1 }];
  return timeSlices(range.min, range.max, workers * Math.max(1, slicesPerWorker));
}
