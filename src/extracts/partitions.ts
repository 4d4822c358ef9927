// Splits a read into disjoint `createdon` time slices, so several paging-cookie chains (each one
// sequential by nature) run side by side.
//
// Why time slices and not primary-id ranges: ids Dataverse generates are sequential GUIDs, and SQL
// Server orders uniqueidentifiers by their last six bytes first. Even ranges over the GUID space
// would put almost every row of an org in one range, and a range list sorted by the wrong ordering
// would overlap or miss rows. createdon is indexed, never null for Dataverse-created rows, and
// spreads with the table's history.
//
// Why slices of decreasing size (guided scheduling): a run ends when its last request returns, and a
// full page admitted while every slot is busy is the slowest request there is. Large slices first
// keep requests few; small slices last let workers that finish early share out the end of the span,
// so the run ends on short requests instead of one worker's long chain. Slices after the first wave
// are cut when a worker asks for one, sized from the rows per second of createdon seen so far to
// whole pages: every slice ends in one short page, so a slice of k full pages wastes no request.
import type { DataverseClient, Row } from '../dataverse/index.js';

export const sliceColumn = 'createdon';
/** The smallest slice is this share of a worker's even share of the span. */
export const smallestSliceShare = 1 / 8;

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
 * Where guided slices of a span of `span` whole units start (offsets in (0, span), increasing): each
 * slice takes 1/workers of what remains, down to `smallestSliceShare` of an even share. The first
 * `workers` slices cover about two thirds of the span; about 3 × workers slices in all.
 */
export function guidedCuts(span: number, workers: number): number[] {
  const w = Math.max(1, Math.floor(workers));
  const whole = Math.max(1, Math.floor(span));
  const smallest = Math.max(1, Math.floor((whole / w) * smallestSliceShare));
  const cuts: number[] = [];
  let at = 0;
  for (;;) {
    at += Math.max(smallest, Math.floor((whole - at) / w));
    if (at >= whole) return cuts;
    cuts.push(at);
  }
}

/**
 * Guided slices over [min, max] for `workers` workers, cut on whole seconds: the first is open below,
 * the last open above (rows created while the extract runs land in it, or in no slice if created after
 * its page was read), plus one slice for rows without a createdon.
 */
export function timeSlices(minMs: number, maxMs: number, workers: number, column = sliceColumn): Partition[] {
  const first = Math.floor(minMs / 1000);
  const span = Math.floor(maxMs / 1000) + 1 - first;
  const bounds = workers > 1 ? guidedCuts(span, workers).map((cut) => (first + cut) * 1000) : [];
  if (bounds.length === 0) {
    return [
      { index: 1, filter: `${column} ne null` },
      { index: 2, filter: `${column} eq null` },
    ];
  }
  const out: Partition[] = [];
  for (let i = 0; i <= bounds.length; i += 1) {
    const lower = i === 0 ? `${column} ne null` : `${column} ge ${dateLiteral(bounds[i - 1]!)}`;
    const upper = i === bounds.length ? undefined : `${column} lt ${dateLiteral(bounds[i]!)}`;
    out.push({ index: i + 1, filter: andFilters(lower, upper) ?? lower });
  }
  out.push({ index: bounds.length + 2, filter: `${column} eq null` });
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

/** Where a read's partitions come from: handed out one at a time, as workers free up. */
export interface PartitionPlan {
  /** The next partition to read, or undefined when every one has been handed out. */
  next(): Partition | undefined;
  /** A partition has been read in full: `rows` rows. */
  done(partition: Partition, rows: number): void;
  /** Partitions handed out so far. */
  readonly count: number;
}

/** A plan of partitions known in advance. */
export function fixedPlan(partitions: readonly Partition[]): PartitionPlan {
  let at = 0;
  return {
    next: () => partitions[at++],
    done: () => {},
    get count() {
      return Math.min(at, partitions.length);
    },
  };
}

/**
 * Once the density is known, no slice aims below this share of a page: a request's fixed cost (~75 ms
 * of a full page's ~775 ms) would outweigh the rows it carries.
 */
export const smallestPageShare = 0.2;

/** Rows a slice is sized to below each whole page, so that small swings in density keep it in k pages. */
export const pageFillTarget = 0.95;

/**
 * Guided createdon slices over [minMs, maxMs], cut one at a time. The first `workers` slices follow
 * `guidedCuts` (nothing is known of the density yet); later ones aim at 1/workers of the rows left,
 * rounded down to whole pages, and at least `smallestSliceShare` of an even share; then the slice of
 * rows without a createdon. Slice bounds are whole seconds; the first is open below, the last above.
 */
export class TimeSlicePlan implements PartitionPlan {
  private readonly first: number;
  private readonly span: number;
  private readonly workers: number;
  private at = 0;
  private issued = 0;
  private finished = false;
  private readonly covered = new Map<number, number>();
  private seenSeconds = 0;
  private seenRows = 0;

  constructor(
    minMs: number,
    maxMs: number,
    workers: number,
    private readonly pageSize: number,
    private readonly column = sliceColumn,
  ) {
    this.first = Math.floor(minMs / 1000);
    this.span = Math.floor(maxMs / 1000) + 1 - this.first;
    this.workers = Math.max(1, Math.floor(workers));
  }

  get count(): number {
    return this.issued;
  }

  next(): Partition | undefined {
    if (this.finished) return undefined;
    if (this.at >= this.span) {
      this.finished = true;
      return this.partition(`${this.column} eq null`);
    }
    const from = this.at;
    this.at = Math.min(this.span, from + this.sliceSeconds());
    const lower = from === 0 ? `${this.column} ne null` : `${this.column} ge ${this.literal(from)}`;
    const upper = this.at >= this.span ? undefined : `${this.column} lt ${this.literal(this.at)}`;
    const partition = this.partition(andFilters(lower, upper) ?? lower);
    this.covered.set(partition.index, this.at - from);
    return partition;
  }

  done(partition: Partition, rows: number): void {
    const seconds = this.covered.get(partition.index);
    if (seconds === undefined) return;
    this.covered.delete(partition.index);
    this.seenSeconds += seconds;
    this.seenRows += rows;
  }

  private sliceSeconds(): number {
    const left = this.span - this.at;
    const smallest = Math.max(1, Math.floor((this.span / this.workers) * smallestSliceShare));
    // The first wave is cut blind (no density known yet), so it takes only part of the span.
    const guided = Math.max(smallest, Math.floor(left / (2 * this.workers)));
    if (this.issued < this.workers || this.seenRows === 0) return guided;
    const perSecond = this.seenRows / this.seenSeconds;
    const share = (left * perSecond) / this.workers;
    const pages = Math.floor(share / this.pageSize);
    const rows =
      pages >= 1
        ? pages * this.pageSize * pageFillTarget
        : Math.max(share, this.pageSize * smallestPageShare);
    return Math.max(smallest, Math.floor(rows / perSecond));
  }

  private literal(offset: number): string {
    return dateLiteral((this.first + offset) * 1000);
  }

  private partition(filter: string): Partition {
    this.issued += 1;
    return { index: this.issued, filter };
  }
}

/**
 * Read plan for a table: one partition, or guided createdon time slices when parallel reads are asked
 * for; when the table was created in too few seconds to give every worker a slice, and its ids are
 * random, primary-id ranges instead.
 */
export async function planPartitions(
  client: DataverseClient,
  table: string,
  primaryId: string,
  filter: string | undefined,
  workers: number,
  pageSize: number,
): Promise<PartitionPlan> {
  if (workers <= 1) return fixedPlan([{ index: 1 }]);
  const range = await createdRange(client, table, primaryId, filter);
  if (range && Math.floor(range.max / 1000) + 1 - Math.floor(range.min / 1000) >= workers) {
    return new TimeSlicePlan(range.min, range.max, workers, pageSize);
  }
  const sample = client.query(table, { select: [primaryId], ...(filter ? { filter } : {}), top: 200 });
  for await (const page of sample.pages()) {
    const ids = page.map((row) => row[primaryId]).filter((id): id is string => typeof id === 'string');
    if (idsLookRandom(ids.map((id) => id.toLowerCase()))) return fixedPlan(idRanges(primaryId, workers * 2));
    break;
  }
  return range ? fixedPlan(timeSlices(range.min, range.max, workers)) : fixedPlan([{ index: 1 }]);
}
