// Collection queries as async iterators that hold at most two pages at a time (one read ahead), following @odata.nextLink, plus
// change tracking (delta links, deleted-entity markers) and counts.
import { parseJson, type ApiSender, type Row } from './api.js';
import { entityInfo } from './metadata.js';

/** Dataverse's maximum page size. */
export const maxPageSize = 5000;

export interface QueryOptions {
  readonly select?: readonly string[];
  readonly filter?: string;
  readonly orderBy?: readonly string[];
  /** Rows per page (≤ 5,000), sent as `Prefer: odata.maxpagesize`. */
  readonly pageSize?: number;
  /** At most this many rows (≤ 5,000), in one answer, when no pageSize is given. */
  readonly top?: number;
  /** Ask for `@OData.Community.Display.V1.FormattedValue` annotations (choice labels, lookup names …). */
  readonly formattedValues?: boolean;
  /** Ask for `@Microsoft.Dynamics.CRM.lookuplogicalname` annotations (the table a lookup's id belongs to). */
  readonly lookupTargets?: boolean;
  /** Start change tracking: the last page carries a delta link for the next incremental read. */
  readonly trackChanges?: boolean;
  readonly signal?: AbortSignal;
}

/** A row of a delta read that reports a deletion. */
export interface DeletedEntity {
  readonly id: string;
  readonly reason: string;
}

export function isDeletedEntity(row: Row): row is Row & DeletedEntity {
  const context = row['@odata.context'];
  return (
    (typeof context === 'string' && context.endsWith('$deletedEntity')) ||
    (row['reason'] === 'deleted' && typeof row['id'] === 'string')
  );
}

export const formattedValueSuffix = '@OData.Community.Display.V1.FormattedValue';
export const lookupLogicalNameSuffix = '@Microsoft.Dynamics.CRM.lookuplogicalname';

/** The OData options of a query; refuses combinations Dataverse refuses, before any request. */
export function buildQueryOptions(q: QueryOptions): Record<string, string | undefined> {
  if (q.trackChanges && (q.filter || q.orderBy?.length || q.top !== undefined)) {
    throw new Error('Change tracking does not allow $filter, $orderby or $top');
  }
  return {
    $select: q.select?.length ? q.select.join(',') : undefined,
    $filter: q.filter || undefined,
    $orderby: q.orderBy?.length ? q.orderBy.join(',') : undefined,
    $top: q.top !== undefined ? String(q.top) : undefined,
  };
}

export function preferFor(
  q: Pick<QueryOptions, 'pageSize' | 'formattedValues' | 'lookupTargets' | 'trackChanges' | 'top'>,
): string[] {
  const prefer: string[] = [];
  // Dataverse ignores $top when a page size is asked for, and would page on; a bare $top is one answer.
  if (q.top === undefined || q.pageSize !== undefined) {
    const size = Math.min(maxPageSize, Math.max(1, Math.floor(q.pageSize ?? maxPageSize)));
    prefer.push(`odata.maxpagesize=${size}`);
  }
  // Both annotations in one preference: one request returns labels, names and targets beside the values.
  const annotations = [
    ...(q.formattedValues ? [formattedValueSuffix.slice(1)] : []),
    ...(q.lookupTargets ? [lookupLogicalNameSuffix.slice(1)] : []),
  ];
  if (annotations.length > 0) prefer.push(`odata.include-annotations="${annotations.join(',')}"`);
  if (q.trackChanges) prefer.push('odata.track-changes');
  return prefer;
}

interface Page {
  value: Row[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
  '@odata.count'?: number;
}

/** One pass over a query's pages. `deltaLink` is set once the last page has been read (tracked queries). */
export class QueryResult implements AsyncIterable<Row> {
  deltaLink: string | undefined;
  /** Pages read so far. */
  pagesRead = 0;
  private started = false;

  constructor(
    private readonly api: ApiSender,
    private readonly first: () => Promise<{ path: string; query?: Record<string, string | undefined> }>,
    private readonly prefer: readonly string[],
    private readonly signal?: AbortSignal,
  ) {}

  /**
   * The pages in order. The request for the next page goes out as soon as a page arrives, before the
   * caller processes it: a chain then waits on the service while the caller parses and writes, which
   * is what lets parallel chains keep the service busy. At most two pages are held at once. A caller
   * that stops early leaves the read-ahead to finish unread (no signal of our own per query: the
   * transport would tie each one to its timeout, which keeps it alive for minutes).
   */
  async *pages(): AsyncGenerator<Row[], void, undefined> {
    if (this.started) throw new Error('A query result can be iterated once');
    this.started = true;
    const start = await this.first();
    const fetchPage = async (path: string, query?: Record<string, string | undefined>): Promise<Page> => {
      const res = await this.api.send({
        method: 'GET',
        path,
        ...(query ? { query } : {}),
        // Every page repeats the same Prefer (maxpagesize must not change along a nextLink chain).
        prefer: this.prefer,
        idempotent: true,
        ...(this.signal ? { signal: this.signal } : {}),
      });
      return parseJson<Page>(res) ?? { value: [] };
    };
    let pending: Promise<Page> | undefined = fetchPage(start.path, start.query);
    while (pending) {
      const page: Page = await pending;
      pending = undefined;
      this.pagesRead++;
      if (page['@odata.deltaLink']) this.deltaLink = page['@odata.deltaLink'];
      const next = page['@odata.nextLink'];
      if (next) {
        pending = fetchPage(next);
        // Handled where it is awaited; this only keeps an abandoned read-ahead from being unhandled.
        pending.catch(() => {});
      }
      yield page.value;
    }
  }

  async *rows(): AsyncGenerator<Row, void, undefined> {
    for await (const page of this.pages()) yield* page;
  }

  [Symbol.asyncIterator](): AsyncIterator<Row> {
    return this.rows();
  }
}

export function query(api: ApiSender, table: string, q: QueryOptions = {}): QueryResult {
  const options = buildQueryOptions(q);
  return new QueryResult(
    api,
    async () => ({ path: (await entityInfo(api, table)).entitySetName, query: options }),
    preferFor(q),
    q.signal,
  );
}

/** Follows a delta link from an earlier tracked query: changed rows, and deletions as DeletedEntity rows. */
export function delta(
  api: ApiSender,
  deltaLink: string,
  q: Pick<QueryOptions, 'pageSize' | 'formattedValues' | 'lookupTargets' | 'signal'> = {},
): QueryResult {
  return new QueryResult(
    api,
    async () => ({ path: deltaLink }),
    preferFor({ ...q, trackChanges: true }),
    q.signal,
  );
}

/** Exact row count. `/$count` stops at 5,000, so larger tables are counted by paging over ids only. */
export async function count(
  api: ApiSender,
  table: string,
  filter?: string,
  signal?: AbortSignal,
): Promise<number> {
  const info = await entityInfo(api, table);
  const res = await api.send({
    method: 'GET',
    path: `${info.entitySetName}/$count`,
    query: { $filter: filter || undefined },
    headers: { accept: 'text/plain' },
    idempotent: true,
    ...(signal ? { signal } : {}),
  });
  const quick = Number(res.body.trim());
  if (Number.isFinite(quick) && quick < maxPageSize) return quick;
  let n = 0;
  const all = query(api, table, {
    select: [info.primaryIdAttribute],
    ...(filter ? { filter } : {}),
    ...(signal ? { signal } : {}),
  });
  for await (const page of all.pages()) n += page.length;
  return n;
}
