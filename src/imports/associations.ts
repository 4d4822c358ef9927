// The `associate` and `disassociate` operations: each CSV row names two records (one of the job's
// table, one of the related table) and links or unlinks them through a many-to-many relationship.
// The Web API has no bulk message for this: one `$ref` request per pair (reference §13), sent as
// `$batch` requests with continue-on-error so every pair gets its own answer.
import pMap from 'p-map';
import { attributeOf, type ImportJob } from '../config/job.js';
import type { BatchRequest, BatchResponse } from '../dataverse/batch.js';
import { DataverseCodes, isDataverseError } from '../dataverse/errors.js';
import { inShape, inValue, packFilters } from '../dataverse/filters.js';
import type { ManyToManyRelationship, TableMetadata } from '../dataverse/model.js';
import type { ChunkRow, RowOutcome } from './types.js';
import type { Row, WriteClient } from './write-client.js';

/** What the association writer needs beyond reads: `$batch` and the org URL (for `@odata.id`). */
export interface AssociationClient extends WriteClient {
  readonly url: string;
  batch(requests: readonly BatchRequest[], opts?: { continueOnError?: boolean }): Promise<BatchResponse[]>;
}

export function isAssociationClient(client: WriteClient): client is AssociationClient {
  const c = client as Partial<AssociationClient>;
  return typeof c.batch === 'function' && typeof c.url === 'string';
}

/** One side of a pair: which CSV column holds the value and which attribute of which table it matches. */
interface Side {
  readonly table: TableMetadata;
  readonly header: string;
  readonly attribute: string;
}

/** A job compiled against metadata: the relationship and the two columns naming its records. */
export interface AssociationPlan {
  readonly operation: 'associate' | 'disassociate';
  readonly relationship: ManyToManyRelationship;
  readonly record: Side;
  readonly related: Side;
}

/** Pairs per `$batch` request: well under the 1,000-operation limit, so a slow batch stays short. */
const PAIRS_PER_BATCH = 500;
const BATCH_CONCURRENCY = 4;
/** Filter budget, counted percent-encoded (as the key resolver's): well inside the URL limit. */
const MAX_FILTER_CHARS = 14_000;

/**
 * Checks an association job against the metadata of its table and related table. Returns problems in
 * the job file's terms (`relationship`, `columns."Email".by`), or the plan when there are none.
 */
export function compileAssociation(
  job: ImportJob,
  table: TableMetadata,
  relatedOf: (name: string) => TableMetadata | undefined,
): { plan?: AssociationPlan; problems: { path: string; message: string }[] } {
  const problems: { path: string; message: string }[] = [];
  const operation = job.operation === 'disassociate' ? 'disassociate' : 'associate';
  const relationship = table.manyToMany?.find(
    (r) => r.navigationProperty === job.relationship || r.schemaName === job.relationship,
  );
  if (!relationship) {
    const known = (table.manyToMany ?? []).map((r) => r.navigationProperty);
    problems.push({
      path: 'relationship',
      message: `table "${table.logicalName}" has no many-to-many relationship "${job.relationship ?? ''}"${known.length ? ` (it has: ${known.join(', ')})` : ''}`,
    });
  }
  const entries = Object.entries(job.columns);
  const relatedEntry = entries.find(([, spec]) => typeof spec !== 'string' && spec.lookup !== undefined);
  const recordEntries = entries.filter(([header]) => header !== relatedEntry?.[0]);
  if (recordEntries.length !== 1) {
    problems.push({
      path: 'columns',
      message: `operation "${operation}" needs exactly one column naming the ${table.logicalName} record (and one with "lookup" naming the related record), found ${recordEntries.length}`,
    });
  }
  let record: Side | undefined;
  const [recordHeader, recordSpec] = recordEntries[0] ?? [];
  if (recordHeader !== undefined && recordSpec !== undefined) {
    const attribute = attributeOf(recordSpec);
    if (!table.attributes.has(attribute)) {
      problems.push({
        path: `columns.${JSON.stringify(recordHeader)}`,
        message: `table "${table.logicalName}" has no column "${attribute}"`,
      });
    } else record = { table, header: recordHeader, attribute };
  }
  let related: Side | undefined;
  if (relatedEntry && relationship) {
    const [header, spec] = relatedEntry;
    const lookup = typeof spec === 'string' ? undefined : spec.lookup;
    const relatedTable = relatedOf(relationship.relatedTable);
    if (lookup !== relationship.relatedTable) {
      problems.push({
        path: `columns.${JSON.stringify(header)}.lookup`,
        message: `relationship "${relationship.navigationProperty}" links ${table.logicalName} to "${relationship.relatedTable}", not "${lookup ?? ''}"`,
      });
    } else if (relatedTable) {
      const by = (typeof spec === 'string' ? undefined : spec.by) ?? relatedTable.primaryIdAttribute;
      if (!relatedTable.attributes.has(by)) {
        problems.push({
          path: `columns.${JSON.stringify(header)}.by`,
          message: `table "${relatedTable.logicalName}" has no column "${by}"`,
        });
      } else related = { table: relatedTable, header, attribute: by };
    }
  }
  if (problems.length > 0 || !relationship || !record || !related) return { problems };
  return { plan: { operation, relationship, record, related }, problems };
}

/** A row whose two records were found: ready to link. */
export interface PairRow {
  readonly row: number;
  readonly recordId: string;
  readonly relatedId: string;
}

/**
 * Finds the records a chunk's rows name: one filtered read per table per few hundred values. A value
 * matching no record, or several (a name that is not unique), fails its row naming column and value.
 */
export async function resolvePairs(
  client: WriteClient,
  plan: AssociationPlan,
  header: readonly string[],
  rows: readonly ChunkRow[],
): Promise<{ pairs: PairRow[]; failures: RowOutcome[] }> {
  const at = (side: Side) => header.indexOf(side.header);
  const cell = (row: ChunkRow, side: Side) => (row.cells[at(side)] ?? '').trim();
  const failures: RowOutcome[] = [];
  const wanted: ChunkRow[] = [];
  for (const row of rows) {
    const empty = [plan.record, plan.related].find((side) => cell(row, side) === '');
    if (empty) {
      failures.push({
        row: row.row,
        status: 'failed',
        code: 'RequiredValueMissing',
        column: empty.header,
        message: `column "${empty.header}" is empty: it names the ${empty.table.logicalName} to ${plan.operation}`,
      });
    } else wanted.push(row);
  }
  const [records, related] = await Promise.all(
    [plan.record, plan.related].map((side) =>
      findIds(
        client,
        side,
        wanted.map((row) => cell(row, side)),
      ),
    ),
  );
  const pairs: PairRow[] = [];
  for (const row of wanted) {
    let failed = false;
    const ids: string[] = [];
    for (const [side, found] of [
      [plan.record, records],
      [plan.related, related],
    ] as const) {
      const value = cell(row, side);
      const matches = found?.get(value.toLowerCase()) ?? [];
      if (matches.length === 1) {
        ids.push(matches[0]!);
        continue;
      }
      failed = true;
      failures.push({
        row: row.row,
        status: 'failed',
        code: matches.length === 0 ? 'RecordNotFound' : 'AmbiguousRecord',
        column: side.header,
        message:
          matches.length === 0
            ? `no ${side.table.logicalName} has ${side.attribute} "${value}" (column "${side.header}")`
            : `${matches.length} ${side.table.logicalName} records have ${side.attribute} "${value}" (column "${side.header}"); use a unique column`,
      });
      break;
    }
    if (!failed) pairs.push({ row: row.row, recordId: ids[0]!, relatedId: ids[1]! });
  }
  return { pairs, failures };
}

/** Ids by lower-cased value (Dataverse compares text case-insensitively), every match kept. */
async function findIds(
  client: WriteClient,
  side: Side,
  values: readonly string[],
): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  const distinct = [...new Set(values.map((v) => v.toLowerCase()))];
  const pk = side.table.primaryIdAttribute;
  const isId = side.attribute === pk;
  const wanted = isId ? distinct.filter((v) => GUID.test(v)) : distinct;
  const filters = [
    ...packFilters(wanted, (v) => inValue(isId ? v : String(valueOf(side, v))), inShape(side.attribute), {
      maxEncodedLength: MAX_FILTER_CHARS,
    }),
  ];
  await pMap(
    filters,
    async ({ filter }) => {
      const select = isId ? [pk] : [pk, side.attribute];
      for await (const row of client
        .query(side.table.logicalName, { select, filter, pageSize: 5_000 })
        .rows()) {
        const id = row[pk];
        if (typeof id !== 'string') continue;
        const key = String(isId ? id : ((row as Row)[side.attribute] ?? '')).toLowerCase();
        const list = found.get(key) ?? [];
        if (!list.includes(id.toLowerCase())) list.push(id.toLowerCase());
        found.set(key, list);
      }
    },
    { concurrency: 4 },
  );
  return found;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Number-typed columns are compared as numbers; everything else as text. */
function valueOf(side: Side, value: string): string | number {
  const type = side.table.attributes.get(side.attribute)?.type;
  const numeric = type === 'Integer' || type === 'BigInt' || type === 'Decimal' || type === 'Double';
  return numeric && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
}

/**
 * Links (or unlinks) each pair with one `$ref` request, in `$batch` requests. Re-runs are safe: a pair
 * already linked answers "duplicate key" and is reported `unchanged`, not failed.
 */
export async function writePairs(
  client: AssociationClient,
  plan: AssociationPlan,
  pairs: readonly PairRow[],
  options: { readonly dryRun: boolean },
): Promise<RowOutcome[]> {
  if (options.dryRun) {
    return pairs.map((pair) => ({
      row: pair.row,
      status: plan.operation === 'associate' ? 'associated' : 'disassociated',
      id: pair.recordId,
      message: 'dry run: nothing was written',
    }));
  }
  const apiRoot = `${new URL(client.url).origin}/api/data/v9.2/`;
  const own = plan.record.table.entitySetName;
  const other = plan.related.table.entitySetName;
  const nav = plan.relationship.navigationProperty;
  const requestOf = (pair: PairRow): BatchRequest =>
    plan.operation === 'associate'
      ? {
          method: 'POST',
          path: `${own}(${pair.recordId})/${nav}/$ref`,
          body: { '@odata.id': `${apiRoot}${other}(${pair.relatedId})` },
        }
      : { method: 'DELETE', path: `${own}(${pair.recordId})/${nav}(${pair.relatedId})/$ref` };
  const groups: PairRow[][] = [];
  for (let i = 0; i < pairs.length; i += PAIRS_PER_BATCH) groups.push(pairs.slice(i, i + PAIRS_PER_BATCH));
  const answered = await pMap(
    groups,
    async (group) => {
      let responses: readonly BatchResponse[];
      try {
        responses = await client.batch(group.map(requestOf), { continueOnError: true });
      } catch (error) {
        if (!isDataverseError(error)) throw error;
        return group.map((pair) => failed(pair, error.code, error.message));
      }
      return group.map((pair, i) => outcomeOf(plan, pair, responses[i]));
    },
    { concurrency: BATCH_CONCURRENCY },
  );
  return answered.flat();
}

function outcomeOf(plan: AssociationPlan, pair: PairRow, response: BatchResponse | undefined): RowOutcome {
  if (response && !response.error && response.status < 400) {
    return {
      row: pair.row,
      status: plan.operation === 'associate' ? 'associated' : 'disassociated',
      id: pair.recordId,
    };
  }
  const error = response?.error;
  const code = error?.code ?? 'MISSING_RESPONSE';
  // The intersect table already holds the pair: the association the row asks for exists.
  if (plan.operation === 'associate' && code.toLowerCase() === DataverseCodes.duplicateRecord) {
    return {
      row: pair.row,
      status: 'unchanged',
      id: pair.recordId,
      message: `already associated through ${plan.relationship.navigationProperty}`,
    };
  }
  return failed(pair, code, error?.message ?? 'the $batch answer had no response for this pair');
}

function failed(pair: PairRow, code: string, message: string): RowOutcome {
  return { row: pair.row, status: 'failed', code, message };
}
