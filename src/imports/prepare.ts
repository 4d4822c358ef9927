import { isAssociationJob, parseImportJob, type ImportJob } from '../config/job.js';
import { isDataverseError } from '../dataverse/errors.js';
import { deterministicId } from '../dataverse/ids.js';
import type { TableMetadata } from '../dataverse/model.js';
import {
  createLookupResolver,
  resolveLookups,
  type LookupResolver,
  type QueryFn,
} from '../mapping/lookups.js';
import { relatedTableNames } from '../mapping/compile.js';
import { createRowMapper, isMappingSetupError, type RowMapper } from '../mapping/mapper.js';
import { checkJobPrivileges, jobWriteHeaders, type PrivilegeClient } from './privileges.js';
import type { PreflightProblem } from './service.js';
import { stateModelOf } from './state-status.js';
import {
  compileAssociation,
  isAssociationClient,
  resolvePairs,
  writePairs,
  type AssociationPlan,
} from './associations.js';
import { splitFileColumns, withFileColumns, type FileSource, type FileUploader } from './file-columns.js';
import type { ChunkRow, RowOutcome } from './types.js';
import type { ChunkMapper, PreparedRun, RunIdentity } from './write-chunk.js';
import type { ImportOperation, WritableRow } from './write-rows.js';
import type { Row, WriteClient } from './write-client.js';

/** What preparing a run needs from the Dataverse client. */
export interface PrepareClient extends WriteClient, PrivilegeClient, FileUploader {
  metadata(table: string): Promise<TableMetadata>;
  /** A view sending these headers with every request; needed by jobs with integration options. */
  withHeaders?(headers: Readonly<Record<string, string>>): WriteClient;
}

const cache = new Map<string, Promise<PreparedRun>>();
const CACHE_RUNS = 32;

/**
 * Compiles the run's job against live metadata once per process and run: chunks of the same run
 * share the mapper and the lookup cache.
 */
export function prepareRun(
  client: PrepareClient,
  manifest: RunIdentity,
  files?: FileSource,
): Promise<PreparedRun> {
  let prepared = cache.get(manifest.runId);
  if (!prepared) {
    prepared = buildPreparedRun(client, manifest, files);
    prepared.catch(() => cache.delete(manifest.runId));
    cache.set(manifest.runId, prepared);
    if (cache.size > CACHE_RUNS) cache.delete(cache.keys().next().value as string);
  }
  return prepared;
}

async function buildPreparedRun(
  client: PrepareClient,
  manifest: RunIdentity,
  files: FileSource | undefined,
): Promise<PreparedRun> {
  const parsed = parseImportJob(manifest.job, `run ${manifest.runId} job '${manifest.jobName}'`);
  if (isAssociationJob(parsed)) return prepareAssociationRun(client, parsed, manifest);
  const table = await client.metadata(parsed.table);
  // File and image columns are not row values: the row mapper never sees them (withFileColumns).
  const { job, files: fileColumns } = splitFileColumns(parsed, table);
  if (fileColumns.length > 0 && !files) {
    throw new Error(`Job '${job.name}' maps file columns, but this runner reads no files`);
  }
  const related = await relatedTables(client, job, table);
  const mapper = createRowMapper(job, table, related, { header: manifest.header });
  const states = stateModelOf(table);
  const query: QueryFn = (name, filter, select) => {
    const rows = client.query(name, { filter, select, pageSize: 5_000 }).rows();
    return rows as AsyncIterable<Row>;
  };
  const resolver = createLookupResolver(query, async (name) => related.get(name) ?? client.metadata(name));
  const rowMapper = chunkMapper(mapper, resolver);
  const withFiles =
    fileColumns.length > 0 && files
      ? withFileColumns(rowMapper, fileColumns, manifest.header, files, client)
      : undefined;
  return {
    mapper: withFiles?.mapper ?? rowMapper,
    ...(withFiles ? { writer: withFiles.writer } : {}),
    write: {
      client: writerFor(client, job),
      table: job.table,
      primaryIdAttribute: table.primaryIdAttribute,
      primaryNameAttribute: table.primaryNameAttribute,
      ...(states ? { states } : {}),
      operation: rowOperation(job),
      strategy: job.writeStrategy,
      newIdFor: newIdFactory(job, manifest.runId),
    },
  };
}

/** The client the job's writes go through: with its bypass, duplicate-detection and caller headers. */
function writerFor(client: PrepareClient, job: ImportJob): WriteClient {
  const headers = jobWriteHeaders(job);
  if (Object.keys(headers).length === 0) return client;
  if (!client.withHeaders) throw new Error('This Dataverse client cannot send per-job headers');
  return client.withHeaders(headers);
}

/**
 * Why the job cannot work against the table's metadata or with the identity's privileges, or
 * undefined when it can.
 */
export async function checkJobFitsTable(
  client: PrepareClient,
  job: ImportJob,
): Promise<PreflightProblem | string | undefined> {
  if (isAssociationJob(job))
    return (await checkAssociationJob(client, job)) ?? (await checkJobPrivileges(client, job));
  try {
    const table = await client.metadata(job.table);
    const rowJob = splitFileColumns(job, table).job;
    createRowMapper(rowJob, table, await relatedTables(client, rowJob, table));
  } catch (error) {
    if (isMappingSetupError(error))
      return `Job '${job.name}' does not fit table '${job.table}':\n${error.message}`;
    if (isDataverseError(error) && error.status === 404) {
      return `Job '${job.name}': Dataverse has no table '${job.table}' (or one of its lookup targets): ${error.message}`;
    }
    throw error;
  }
  // Checked once the job fits: its own failures are not mistaken for a missing table.
  return checkJobPrivileges(client, job);
}

/** Tables that lookup columns point at: named in the job, or the lookup's only target. */
async function relatedTables(
  client: PrepareClient,
  job: ImportJob,
  table: TableMetadata,
): Promise<Map<string, TableMetadata>> {
  const names = relatedTableNames(job, table);
  const related = new Map<string, TableMetadata>();
  for (const name of names) related.set(name, await client.metadata(name));
  return related;
}

/**
 * New records get ids derived from what identifies them. An upsert derives them from the key, so two
 * runs racing on one key meet on one record id (and the loser updates it). A create derives them from
 * the run and row: a record holding that id can only be this run's own earlier attempt, while a record
 * with the same key from anywhere else is refused by the alternate key, as a create should be.
 */
function newIdFactory(job: ImportJob, runId: string): (row: WritableRow) => string {
  return (row) => {
    if (row.key && job.operation !== 'create') {
      const keyText = Object.keys(row.key)
        .sort()
        .map((name) => `${name}=${String(row.key?.[name]).toLowerCase()}`)
        .join('\u001f');
      return deterministicId(`dvpipe:${job.table}`, keyText);
    }
    return deterministicId(`dvpipe:${runId}`, String(row.row));
  };
}

function chunkMapper(mapper: RowMapper, resolver: LookupResolver): ChunkMapper {
  return {
    async mapChunk(records: readonly ChunkRow[]) {
      const lookups = await resolveLookups(mapper.lookupsNeeded(records), resolver);
      const writable: WritableRow[] = [];
      const failures: RowOutcome[] = [];
      for (const record of records) {
        const mapped = mapper.map(record, lookups);
        if (!mapped.ok) {
          failures.push(failureOf(mapped.row, mapped.errors));
          continue;
        }
        const target = mapped.target;
        writable.push({
          row: mapped.row,
          data: mapped.payload,
          ...(target.kind === 'id' ? { id: target.id } : {}),
          ...(target.kind === 'key' ? { key: keyValues(target.key) } : {}),
        });
      }
      return { writable, failures };
    },
  };
}

function keyValues(
  key: Readonly<Record<string, string | number | boolean>>,
): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(key))
    out[name] = typeof value === 'boolean' ? String(value) : value;
  return out;
}

/** A row can fail on several cells: the first names the code and column, the message lists all. */
function failureOf(
  row: number,
  errors: readonly { code: string; column?: string; message: string }[],
): RowOutcome {
  const first = errors[0];
  return {
    row,
    status: 'failed',
    code: first?.code ?? 'Invalid',
    ...(first?.column ? { column: first.column } : {}),
    message: errors.map((error) => error.message).join('; '),
  };
}

function rowOperation(job: ImportJob): ImportOperation {
  if (isAssociationJob(job)) throw new Error(`Job '${job.name}': ${job.operation} is not a row write`);
  return job.operation as ImportOperation;
}

/** The association plan of a job, or the problems (in the job file's terms) that stop it. */
async function associationPlan(
  client: PrepareClient,
  job: ImportJob,
): Promise<{ plan?: AssociationPlan; problems: string[] }> {
  const table = await client.metadata(job.table);
  const relatedName = table.manyToMany?.find(
    (r) => r.navigationProperty === job.relationship || r.schemaName === job.relationship,
  )?.relatedTable;
  const related = relatedName ? await client.metadata(relatedName) : undefined;
  const { plan, problems } = compileAssociation(job, table, (name) =>
    name === relatedName ? related : undefined,
  );
  return { ...(plan ? { plan } : {}), problems: problems.map((p) => `${p.path}: ${p.message}`) };
}

async function checkAssociationJob(client: PrepareClient, job: ImportJob): Promise<string | undefined> {
  try {
    const { problems } = await associationPlan(client, job);
    if (problems.length === 0) return undefined;
    return `Job '${job.name}' does not fit table '${job.table}':\n${problems.join('\n')}`;
  } catch (error) {
    if (isDataverseError(error) && error.status === 404) {
      return `Job '${job.name}': Dataverse has no table '${job.table}' (or its related table): ${error.message}`;
    }
    throw error;
  }
}

/**
 * associate / disassociate: the mapper finds both records of each row (batched reads), the writer links
 * them. A mapped row carries the job table's record id in `id` and the related record's in `data`.
 */
async function prepareAssociationRun(
  client: PrepareClient,
  job: ImportJob,
  manifest: RunIdentity,
): Promise<PreparedRun> {
  // The links are writes like any other: they carry the job's bypass, duplicate-detection and caller
  // headers (the look-ups of the two records go out plain, as the row writers' look-ups do).
  const writer = writerFor(client, job);
  if (!isAssociationClient(writer)) {
    throw new Error(`Job '${job.name}': this Dataverse client cannot send $batch requests`);
  }
  const { plan, problems } = await associationPlan(client, job);
  if (!plan) throw new Error(`Job '${job.name}' does not fit table '${job.table}':\n${problems.join('\n')}`);
  return {
    mapper: {
      async mapChunk(rows) {
        const { pairs, failures } = await resolvePairs(client, plan, manifest.header, rows);
        const writable: WritableRow[] = pairs.map((pair) => ({
          row: pair.row,
          id: pair.recordId,
          data: { relatedId: pair.relatedId },
        }));
        return { writable, failures };
      },
    },
    // Unused: `writer` replaces the row writer for this operation.
    write: {
      client: writer,
      table: job.table,
      primaryIdAttribute: plan.record.table.primaryIdAttribute,
      operation: 'create',
      strategy: 'auto',
      newIdFor: () => {
        throw new Error('associations create no records');
      },
    },
    writer: (context, rows) =>
      writePairs(
        writer,
        plan,
        rows.map((row) => ({ row: row.row, recordId: row.id ?? '', relatedId: String(row.data.relatedId) })),
        { dryRun: context.dryRun },
      ),
  };
}
