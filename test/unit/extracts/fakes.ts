// A narrow in-memory stand-in for the Dataverse client: enough for the runner's pure control flow
// (paging, delta links, expired tokens). Filters are not evaluated here; the integration tests run
// the real client against the emulator for that.
import {
  DataverseError,
  QueryResult,
  type DataverseClient,
  type Row,
  type TableMetadata,
  type AttributeMetadata,
} from '../../../src/dataverse/index.js';
import type { ApiSender } from '../../../src/dataverse/api.js';

export function attribute(
  logicalName: string,
  type: AttributeMetadata['type'],
  extra: Partial<AttributeMetadata> = {},
): AttributeMetadata {
  return {
    logicalName,
    schemaName: logicalName,
    type,
    isValidForCreate: true,
    isValidForUpdate: true,
    isValidForRead: true,
    requiredLevel: 'None',
    ...extra,
  };
}

export const contactTable: TableMetadata = {
  logicalName: 'contact',
  entitySetName: 'contacts',
  primaryIdAttribute: 'contactid',
  primaryNameAttribute: 'fullname',
  attributes: new Map(
    [
      attribute('contactid', 'Uniqueidentifier'),
      attribute('firstname', 'String'),
      attribute('preferredcontactmethodcode', 'Picklist'),
      attribute('parentcustomerid', 'Customer', { targets: ['account', 'contact'] }),
      attribute('birthdate', 'DateTime', { dateTimeFormat: 'DateOnly', dateTimeBehavior: 'DateOnly' }),
      attribute('createdon', 'DateTime', { dateTimeBehavior: 'UserLocal' }),
      attribute('modifiedon', 'DateTime', { dateTimeBehavior: 'UserLocal' }),
      attribute('secret', 'String', { isValidForRead: false }),
    ].map((a) => [a.logicalName, a]),
  ),
  keys: [],
  navigationProperties: [],
  changeTrackingEnabled: true,
};

export interface FakeClient extends DataverseClient {
  /** What the next delta read returns, keyed by the delta link; missing -> expired. */
  deltas: Map<string, Row[]>;
  queries: { table: string; filter?: string; trackChanges?: boolean }[];
  rows: Row[];
  version: number;
}

/** Pages of the fake's rows, or a delta, through the real QueryResult over a scripted ApiSender. */
export function fakeClient(rows: Row[], pageSize = 2): FakeClient {
  let requests = 0;
  const client = {
    url: 'http://127.0.0.1:1',
    rows,
    version: 1,
    deltas: new Map<string, Row[]>(),
    queries: [] as FakeClient['queries'],
    metadata: async () => contactTable,
    query: (table: string, q: { filter?: string; trackChanges?: boolean } = {}) => {
      client.queries.push({ table, ...q });
      const snapshot = [...client.rows];
      const link = `http://127.0.0.1:1/api/data/v9.2/contacts?$deltatoken=${client.version}`;
      return new QueryResult(
        pagedSender(snapshot, pageSize, q.trackChanges ? link : undefined, () => requests++),
        async () => ({ path: 'contacts?page=0' }),
        [],
      );
    },
    delta: (deltaLink: string) => {
      const changes = client.deltas.get(deltaLink);
      const next = `http://127.0.0.1:1/api/data/v9.2/contacts?$deltatoken=${client.version}`;
      const sender: ApiSender = {
        send: async () => {
          requests++;
          if (!changes) {
            throw new DataverseError({
              status: 400,
              code: '0x80044352',
              message: 'The version stamp associated with the client has expired.',
            });
          }
          return {
            status: 200,
            headers: {},
            body: JSON.stringify({ value: changes, '@odata.deltaLink': next }),
          };
        },
      } as unknown as ApiSender;
      return new QueryResult(sender, async () => ({ path: deltaLink }), []);
    },
    metrics: () => ({
      requests,
      retries: 0,
      throttled: 0,
      throttleWaitMs: 0,
      failedRequests: 0,
      recordsSucceeded: 0,
      recordsFailed: 0,
      byIdentity: {},
      concurrency: [],
    }),
  };
  return client as unknown as FakeClient;
}

function pagedSender(
  rows: Row[],
  pageSize: number,
  deltaLink: string | undefined,
  count: () => void,
): ApiSender {
  return {
    send: async (req: { path: string }) => {
      count();
      const page = Number(/page=(\d+)/.exec(req.path)?.[1] ?? 0);
      const value = rows.slice(page * pageSize, (page + 1) * pageSize);
      const more = (page + 1) * pageSize < rows.length;
      const body: Record<string, unknown> = { value };
      if (more) body['@odata.nextLink'] = `contacts?page=${page + 1}`;
      else if (deltaLink) body['@odata.deltaLink'] = deltaLink;
      return { status: 200, headers: {}, body: JSON.stringify(body) };
    },
  } as unknown as ApiSender;
}

/**
 * A query whose first page holds `firstPage` and whose second fails after every retry (a 503 the client gave
 * up on): assign it to `client.query` to see how a run ends on a server error mid-read.
 */
export function failsOnSecondPage(firstPage: Row[]): DataverseClient['query'] {
  return () => {
    let page = 0;
    const sender = {
      send: async () => {
        if (page++ === 0) {
          return {
            status: 200,
            headers: {},
            body: JSON.stringify({ value: firstPage, '@odata.nextLink': 'contacts?page=1' }),
          };
        }
        throw new DataverseError({ status: 503, code: 'ServiceUnavailable', message: 'Service Unavailable' });
      },
    } as unknown as ApiSender;
    return new QueryResult(sender, async () => ({ path: 'contacts?page=0' }), []);
  };
}
