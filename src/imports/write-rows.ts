import {
  ClientCodes,
  DataverseCodes,
  isDuplicateCode,
  isNotFoundCode,
  type DataverseError,
} from '../dataverse/errors.js';
import pMap from 'p-map';
import { deterministicId } from '../dataverse/ids.js';
import { existingIds, normalizeKey, resolveKeys, type KeyValues } from './key-resolver.js';
import { completeForUpdate, splitForCreate, type StateModel } from './state-status.js';
import type { RowOutcome, RowStatus } from './types.js';
import type { RecordResult, Row, WriteClient } from './write-client.js';

export type ImportOperation = 'create' | 'update' | 'upsert' | 'delete';
/** `auto`: resolve keys, then CreateMultiple + UpdateMultiple by id; `upsertMultiple`: by key. */
export type WriteStrategy = 'auto' | 'upsertMultiple';

/** A row that passed mapping and validation, ready to send. */
export interface WritableRow {
  readonly row: number;
  readonly data: Row;
  /** The record id when a column maps to the primary id. */
  readonly id?: string;
  /** Alternate-key values when the job has a key. */
  readonly key?: KeyValues;
}

export interface WriteContext {
  readonly client: WriteClient;
  readonly table: string;
  readonly primaryIdAttribute: string;
  readonly operation: ImportOperation;
  readonly strategy: WriteStrategy;
  /** Deterministic id for a new record, so a retried or raced create never duplicates. */
  readonly newIdFor: (row: WritableRow) => string;
  /** True when an earlier attempt at this chunk may have written some rows already. */
  readonly recovering: boolean;
  readonly dryRun: boolean;
  /** The rows' targets looked up ahead (`lookUpTargets`), so the write need not wait for the reads. */
  readonly resolved?: ReadonlyMap<string, string>;
  /** The table's primary name column, to name a matching record in a duplicate row's failure. */
  readonly primaryNameAttribute?: string;
  /** statecode / statuscode rules of the table (state-status.ts), when it has them. */
  readonly states?: StateModel;
}

/** Whether writing these rows starts with reads that find their records (so they can be done ahead). */
export function needsLookUps(context: Pick<WriteContext, 'operation' | 'strategy'>): boolean {
  return (
    context.operation === 'update' ||
    context.operation === 'delete' ||
    (context.operation === 'upsert' && context.strategy === 'auto')
  );
}

/** Writes rows with the fastest safe strategy and returns exactly one outcome per row. */
export async function writeRows(context: WriteContext, rows: readonly WritableRow[]): Promise<RowOutcome[]> {
  if (rows.length === 0) return [];
  const client = context.client;
  context = { ...context, client: skippingEmptyCalls(client) };
  const outcomes = await writeByOperation(context, rows);
  return nameDuplicates({ ...context, client }, rows, outcomes);
}

function writeByOperation(context: WriteContext, rows: readonly WritableRow[]): Promise<RowOutcome[]> {
  switch (context.operation) {
    case 'create':
      return createRows(context, rows);
    case 'update':
      return updateRows(context, rows);
    case 'upsert':
      return context.strategy === 'upsertMultiple' ? upsertByKey(context, rows) : upsertAuto(context, rows);
    case 'delete':
      return deleteRows(context, rows);
  }
}

/**
 * Rows Dataverse refused as duplicates (duplicate detection on) fail with their own code, and the
 * message names the records the published rules matched (RetrieveDuplicates), so the user can tell a
 * real duplicate from a rule that is too broad.
 */
async function nameDuplicates(
  context: WriteContext,
  rows: readonly WritableRow[],
  outcomes: RowOutcome[],
): Promise<RowOutcome[]> {
  const duplicates = outcomes.filter(
    (o) => o.status === 'failed' && o.code?.toLowerCase() === DataverseCodes.duplicateDetected,
  );
  if (duplicates.length === 0) return outcomes;
  const byRow = new Map(rows.map((row) => [row.row, row]));
  const named = new Map<RowOutcome, RowOutcome>();
  // One look-up per refused row, a few at a time: a file full of duplicates must not flood the service.
  await pMap(
    duplicates,
    async (outcome) => {
      const row = byRow.get(outcome.row);
      let matches: Row[] = [];
      if (row && context.client.retrieveDuplicates) {
        matches = await context.client.retrieveDuplicates(context.table, row.data, 3).catch(() => []);
      }
      const names = matches.map((match) => {
        const id = match[context.primaryIdAttribute];
        const name = context.primaryNameAttribute ? match[context.primaryNameAttribute] : undefined;
        return `${typeof name === 'string' && name !== '' ? `"${name}" ` : ''}(${String(id)})`;
      });
      named.set(outcome, {
        row: outcome.row,
        status: 'failed',
        code: 'DuplicateRecord',
        message:
          names.length > 0
            ? `Duplicate detection: this row matches the existing ${context.table} ${names.join(', ')}; it was not written.`
            : `Duplicate detection: this row matches an existing ${context.table} record under a published duplicate detection rule; it was not written. (${outcome.message ?? ''})`,
      });
    },
    { concurrency: 4 },
  );
  return outcomes.map((outcome) => named.get(outcome) ?? outcome);
}

async function createRows(context: WriteContext, rows: readonly WritableRow[]): Promise<RowOutcome[]> {
  const ids = rows.map((row) => (row.id ?? context.newIdFor(row)).toLowerCase());
  const already = context.recovering
    ? await existingIds(context.client, context.table, context.primaryIdAttribute, ids)
    : new Set<string>();
  const outcomes: RowOutcome[] = [];
  const pending: { row: WritableRow; id: string; data: Row }[] = [];
  const followUps = new Map<number, Row>();
  rows.forEach((row, i) => {
    const id = ids[i] ?? '';
    const split = splitForCreate(row.data, context.states);
    if (!split.ok) outcomes.push(badState(row, split.message));
    else {
      if (split.followUp) followUps.set(row.row, split.followUp);
      if (already.has(id)) outcomes.push({ row: row.row, status: 'created', id });
      else pending.push({ row, id, data: split.data });
    }
  });
  if (context.dryRun) {
    // A dry run says which keys exist already: their rows would fail as they will in the real run.
    const keyed = pending.filter(({ row }) => row.key !== undefined).map(({ row }) => row);
    const existing =
      keyed.length > 0 ? (context.resolved ?? (await lookUpTargets(context, keyed))) : new Map();
    for (const { row, id } of pending) {
      const holder = row.key ? existing.get(normalizeKey(row.key)) : undefined;
      outcomes.push(holder ? recordExists(context, row, holder) : dry(row, 'created', id));
    }
    return outcomes;
  }
  const results = await context.client.createMultiple(
    context.table,
    pending.map(({ id, data }) => ({ id, data: withPrimaryId(context, data, id) })),
  );
  const byIndex = indexResults(results);
  const duplicates: { row: WritableRow; id: string; error: DataverseError }[] = [];
  pending.forEach(({ row, id }, i) => {
    const result = resultAt(byIndex, i);
    if (result.ok) outcomes.push({ row: row.row, status: 'created', id });
    else if (isDuplicateCode(result.error.code)) duplicates.push({ row, id, error: result.error });
    else outcomes.push(failure(row.row, result.error));
  });
  for (const { row, id, error } of duplicates) {
    // A record holds this row's id. A derived id (run and row) is this run's own: an earlier attempt
    // created the record with these values. A row's own id may be anybody's, unless our unanswered
    // attempt could have taken it. Anything else (another record with the same alternate key) is a
    // real failure of this create.
    const ours =
      error.code === ClientCodes.idTaken &&
      (row.id === undefined || error.ambiguous === true || context.recovering);
    if (ours) outcomes.push({ row: row.row, status: 'created', id });
    else if (error.code === ClientCodes.idTaken) outcomes.push(recordExists(context, row, id));
    else if (row.key && error.code.toLowerCase() === DataverseCodes.duplicateRecordEntityKey) {
      outcomes.push(recordExists(context, row));
    } else outcomes.push(failure(row.row, error));
  }
  return setStates(context, outcomes, followUps);
}

/**
 * The follow-up update that puts created records in the state their row asks for (statecode and
 * statuscode together). A row whose record was created but whose state could not be set is reported
 * once, as failed, with the record's id and what went wrong.
 */
async function setStates(
  context: WriteContext,
  outcomes: RowOutcome[],
  followUps: ReadonlyMap<number, Row>,
  written: RowStatus = 'created',
): Promise<RowOutcome[]> {
  const targets = outcomes.filter((o) => o.status === written && o.id !== undefined && followUps.has(o.row));
  if (targets.length === 0) return outcomes;
  const results = indexResults(
    await context.client.updateMultiple(
      context.table,
      targets.map((o) => ({ id: o.id!, data: followUps.get(o.row)! })),
    ),
  );
  const replaced = new Map<RowOutcome, RowOutcome>();
  targets.forEach((outcome, i) => {
    const result = resultAt(results, i);
    if (result.ok) return;
    replaced.set(outcome, {
      row: outcome.row,
      status: 'failed',
      id: outcome.id!,
      code: result.error.code || `HTTP${result.error.status}`,
      message: `The ${context.table} record ${outcome.id!} was ${written === 'created' ? 'created' : 'written'}, but setting its statecode/statuscode failed: ${result.error.message}`,
    });
  });
  return outcomes.map((o) => replaced.get(o) ?? o);
}

function badState(row: WritableRow, message: string): RowOutcome {
  return { row: row.row, status: 'failed', code: 'BadState', message };
}

/** Update payloads with statecode and statuscode made whole; rows asking for an impossible pair fail. */
function statesForUpdate(
  context: WriteContext,
  rows: readonly WritableRow[],
): { rows: WritableRow[]; failures: RowOutcome[] } {
  const out: WritableRow[] = [];
  const failures: RowOutcome[] = [];
  for (const row of rows) {
    const split = completeForUpdate(row.data, context.states);
    if (!split.ok) failures.push(badState(row, split.message));
    else out.push(split.data === row.data ? row : { ...row, data: split.data });
  }
  return { rows: out, failures };
}

async function updateRows(context: WriteContext, all: readonly WritableRow[]): Promise<RowOutcome[]> {
  const { rows, failures } = statesForUpdate(context, all);
  const { targets, outcomes } = await targetsById(context, rows, 'update');
  outcomes.push(...failures);
  if (context.dryRun) return [...outcomes, ...targets.map(({ row, id }) => dry(row, 'updated', id))];
  const results = await context.client.updateMultiple(
    context.table,
    targets.map(({ row, id }) => ({ id, data: withoutKey(row) })),
  );
  const byIndex = indexResults(results);
  targets.forEach(({ row, id }, i) => {
    const result = resultAt(byIndex, i);
    outcomes.push(result.ok ? { row: row.row, status: 'updated', id } : failure(row.row, result.error));
  });
  return outcomes;
}

async function deleteRows(context: WriteContext, rows: readonly WritableRow[]): Promise<RowOutcome[]> {
  const { targets, outcomes } = await targetsById(context, rows, 'delete');
  if (context.dryRun) return [...outcomes, ...targets.map(({ row, id }) => dry(row, 'deleted', id))];
  const results = await context.client.deleteMultiple(
    context.table,
    targets.map(({ id }) => ({ id })),
  );
  const byIndex = indexResults(results);
  targets.forEach(({ row, id }, i) => {
    const result = resultAt(byIndex, i);
    if (result.ok) outcomes.push({ row: row.row, status: 'deleted', id });
    else if (isNotFoundCode(result.error.code)) outcomes.push(absent(row.row));
    else outcomes.push(failure(row.row, result.error));
  });
  return outcomes;
}

/**
 * Upsert without UpsertMultiple's alternate-key cost: look the keys up (cheap reads), create the
 * new rows with CreateMultiple and deterministic ids, update the rest with UpdateMultiple by id.
 * What another writer changes between the look-up and the write is settled by reading again: a
 * create that meets an existing record becomes an update, an update whose record is gone becomes a
 * create, so every row is written with its own values and reported as what it did.
 */
async function upsertAuto(context: WriteContext, all: readonly WritableRow[]): Promise<RowOutcome[]> {
  // A row becomes a create or an update only once its record is looked up: both payloads are ready.
  const createData = new Map<WritableRow, Row>();
  const updateData = new Map<WritableRow, WritableRow>();
  const followUps = new Map<number, Row>();
  const stateFailures: RowOutcome[] = [];
  const rows: WritableRow[] = [];
  for (const row of all) {
    const forCreate = splitForCreate(row.data, context.states);
    const forUpdate = completeForUpdate(row.data, context.states);
    if (!forCreate.ok || !forUpdate.ok) {
      stateFailures.push(
        badState(row, (!forCreate.ok ? forCreate : (forUpdate as { message: string })).message),
      );
      continue;
    }
    rows.push(row);
    createData.set(row, forCreate.data);
    if (forCreate.followUp) followUps.set(row.row, forCreate.followUp);
    updateData.set(row, { ...row, data: forUpdate.data });
  }
  const existing = context.resolved ?? (await lookUpTargets(context, rows));
  let { creates, updates } = splitByTarget(context, rows, existing, new Map());
  if (context.dryRun) {
    return [
      ...stateFailures,
      ...creates.map(({ row, id }) => dry(row, 'created', id)),
      ...updates.map(({ row, id }) => dry(row, 'updated', id)),
    ];
  }
  const outcomes: RowOutcome[] = [...stateFailures];
  /** Rows whose deterministic id another record holds under another key: how many ids they have tried. */
  const generations = new Map<WritableRow, number>();
  for (let round = 1; ; round += 1) {
    // Creates and updates touch different records: send them together so neither waits for the other.
    const [createResults, updateResults] = await Promise.all([
      context.client.createMultiple(
        context.table,
        creates.map(({ row, id }) => ({ id, data: withPrimaryId(context, createData.get(row)!, id) })),
      ),
      context.client.updateMultiple(
        context.table,
        updates.map(({ row, id }) => ({ id, data: withoutKey(updateData.get(row)!) })),
      ),
    ]);
    const again: WritableRow[] = [];
    const idTaken = new Set<WritableRow>();
    const createIndex = indexResults(createResults);
    creates.forEach(({ row, id }, i) => {
      const result = resultAt(createIndex, i);
      if (result.ok) outcomes.push({ row: row.row, status: 'created', id });
      else if (isDuplicateCode(result.error.code)) {
        // Another writer (or an unanswered attempt of ours) created the record first: update it.
        again.push(row);
        if (result.error.code === ClientCodes.idTaken) idTaken.add(row);
      } else outcomes.push(failure(row.row, result.error));
    });
    const updateIndex = indexResults(updateResults);
    updates.forEach(({ row, id }, i) => {
      const result = resultAt(updateIndex, i);
      if (result.ok) outcomes.push({ row: row.row, status: 'updated', id });
      // Deleted since it was looked up: an upsert creates it again.
      else if (isNotFoundCode(result.error.code)) again.push(row);
      else outcomes.push(failure(row.row, result.error));
    });
    if (again.length === 0) return setStates(context, outcomes, followUps);
    if (round >= UPSERT_ROUNDS) {
      for (const row of again) outcomes.push(conflict(context, row));
      return setStates(context, outcomes, followUps);
    }
    const found = await lookUpTargets(context, again);
    for (const row of again) {
      // The key is free but the id it derives is held by a record someone re-keyed: try the next id.
      if (idTaken.has(row) && !targetOf(row, found)) generations.set(row, (generations.get(row) ?? 0) + 1);
    }
    ({ creates, updates } = splitByTarget(context, again, found, generations));
  }
}

/** Write rounds of an upsert before a row whose record keeps changing under it fails. */
const UPSERT_ROUNDS = 4;

/** The existing record a row names (by id or key), from a look-up's answer. */
function targetOf(row: WritableRow, found: ReadonlyMap<string, string>): string | undefined {
  if (row.id !== undefined) return found.get(row.id.toLowerCase());
  return row.key ? found.get(normalizeKey(row.key)) : undefined;
}

function splitByTarget(
  context: WriteContext,
  rows: readonly WritableRow[],
  found: ReadonlyMap<string, string>,
  generations: ReadonlyMap<WritableRow, number>,
): { creates: { row: WritableRow; id: string }[]; updates: { row: WritableRow; id: string }[] } {
  const creates: { row: WritableRow; id: string }[] = [];
  const updates: { row: WritableRow; id: string }[] = [];
  for (const row of rows) {
    const id = targetOf(row, found);
    if (id) updates.push({ row, id });
    else creates.push({ row, id: newRecordId(context, row, generations.get(row) ?? 0) });
  }
  return { creates, updates };
}

/**
 * The id a new record gets: the row's own, or the deterministic one (so racing writers of a key meet on
 * one id); generation n > 0 derives the n-th alternative from it, the same for every writer.
 */
function newRecordId(context: WriteContext, row: WritableRow, generation: number): string {
  const base = (row.id ?? context.newIdFor(row)).toLowerCase();
  return generation === 0 || row.id !== undefined ? base : deterministicId(base, `generation ${generation}`);
}

function conflict(context: WriteContext, row: WritableRow): RowOutcome {
  return {
    row: row.row,
    status: 'failed',
    code: 'WriteConflict',
    message:
      `The ${context.table} record ${row.key ? `with the key ${describeKey(row.key)}` : row.id} kept changing while this ` +
      `row was written (created, deleted or re-keyed by another writer ${UPSERT_ROUNDS} times); it was not written. Import the row again.`,
  };
}

async function upsertByKey(context: WriteContext, all: readonly WritableRow[]): Promise<RowOutcome[]> {
  // UpsertMultiple cannot say whether it created, and a create cannot carry statecode: a row with a
  // state or status is upserted without them, then both are set together by an update.
  const stateFailures: RowOutcome[] = [];
  const followUps = new Map<number, Row>();
  const rows: WritableRow[] = [];
  for (const row of all) {
    const forUpdate = completeForUpdate(row.data, context.states);
    if (!forUpdate.ok) {
      stateFailures.push(badState(row, forUpdate.message));
      continue;
    }
    const { statecode, statuscode, ...rest } = forUpdate.data;
    if (statecode === undefined && statuscode === undefined) {
      rows.push(row);
      continue;
    }
    rows.push({ ...row, data: rest });
    followUps.set(row.row, {
      ...(statecode !== undefined ? { statecode } : {}),
      ...(statuscode !== undefined ? { statuscode } : {}),
    });
  }
  if (context.dryRun) return [...stateFailures, ...rows.map((row) => dry(row, 'upserted', row.id))];
  const send = (list: readonly WritableRow[]) =>
    context.client.upsertMultiple(
      context.table,
      list.map((row) => ({
        target: row.id ? { id: row.id } : { key: row.key ?? {} },
        data: withoutKey(row),
      })),
    );
  const outcomes = new Map<WritableRow, RowOutcome>();
  let pending: readonly WritableRow[] = rows;
  for (let round = 1; pending.length > 0; round += 1) {
    const byIndex = indexResults(await send(pending));
    const raced: WritableRow[] = [];
    pending.forEach((row, i) => {
      const result = resultAt(byIndex, i);
      if (result.ok) outcomes.set(row, { row: row.row, status: 'upserted', id: result.id ?? row.id });
      // Two writers inserting one new key at once: the loser's upsert now finds the record and updates it.
      else if (isDuplicateCode(result.error.code) && round < UPSERT_ROUNDS) raced.push(row);
      else outcomes.set(row, failure(row.row, result.error));
    });
    pending = raced;
  }
  let upserted = rows.map((row) => outcomes.get(row)!);
  const needIds = rows.filter(
    (row, i) => followUps.has(row.row) && upserted[i]!.status === 'upserted' && upserted[i]!.id === undefined,
  );
  if (needIds.length > 0) {
    const found = await lookUpTargets(context, needIds);
    upserted = upserted.map((o, i) => (o.id === undefined ? withId(o, targetOf(rows[i]!, found)) : o));
  }
  return [...stateFailures, ...(await setStates(context, upserted, followUps, 'upserted'))];
}

function withId(outcome: RowOutcome, id: string | undefined): RowOutcome {
  return id === undefined ? outcome : { ...outcome, id };
}

/** Ids for update/delete targets: given directly, or found by alternate key. */
async function targetsById(
  context: WriteContext,
  rows: readonly WritableRow[],
  verb: 'update' | 'delete',
): Promise<{ targets: { row: WritableRow; id: string }[]; outcomes: RowOutcome[] }> {
  const existing =
    context.resolved ??
    (await lookUpTargets(
      context,
      rows.filter((row) => row.id === undefined),
    ));
  const targets: { row: WritableRow; id: string }[] = [];
  const outcomes: RowOutcome[] = [];
  for (const row of rows) {
    const id = row.id ?? (row.key ? existing.get(normalizeKey(row.key)) : undefined);
    if (id) targets.push({ row, id });
    else if (verb === 'delete') outcomes.push(absent(row.row));
    else {
      outcomes.push({
        row: row.row,
        status: 'failed',
        code: 'RecordNotFound',
        message: `No ${context.table} record has the key ${describeKey(row.key)}; nothing was updated.`,
      });
    }
  }
  return { targets, outcomes };
}

/**
 * Map of normalized key → id, plus each found id (lower case) mapped to itself. Reads only, so it may
 * run ahead of the write; a key missing from the map had no record.
 */
export async function lookUpTargets(
  context: Pick<WriteContext, 'client' | 'table' | 'primaryIdAttribute'>,
  rows: readonly WritableRow[],
): Promise<Map<string, string>> {
  const keys = rows.flatMap((row) => (row.key ? [row.key] : []));
  const found = keys.length
    ? await resolveKeys(context.client, context.table, context.primaryIdAttribute, keys)
    : new Map<string, string>();
  const byId = rows.flatMap((row) => (row.id ? [row.id.toLowerCase()] : []));
  if (byId.length > 0) {
    for (const id of await existingIds(context.client, context.table, context.primaryIdAttribute, byId)) {
      found.set(id, id);
    }
  }
  return found;
}

function withPrimaryId(context: WriteContext, data: Row, id: string): Row {
  return { ...data, [context.primaryIdAttribute]: id };
}

/** Key columns are left out of updates by id: they did not change and some tables refuse them. */
function withoutKey(row: WritableRow): Row {
  if (!row.key) return row.data;
  const data = { ...row.data };
  for (const name of Object.keys(row.key)) delete data[name];
  return data;
}

/** Bulk calls with nothing to send are answered locally instead of costing a request. */
function skippingEmptyCalls(client: WriteClient): WriteClient {
  return {
    createMultiple: (table, records) => (records.length ? client.createMultiple(table, records) : none()),
    updateMultiple: (table, records) => (records.length ? client.updateMultiple(table, records) : none()),
    upsertMultiple: (table, records) => (records.length ? client.upsertMultiple(table, records) : none()),
    deleteMultiple: (table, targets) => (targets.length ? client.deleteMultiple(table, targets) : none()),
    query: (table, options) => client.query(table, options),
  };
}

function none(): Promise<RecordResult[]> {
  return Promise.resolve([]);
}

function indexResults(results: readonly RecordResult[]): Map<number, RecordResult> {
  return new Map(results.map((result) => [result.index, result]));
}

function resultAt(results: ReadonlyMap<number, RecordResult>, index: number): RecordResult {
  const result = results.get(index);
  if (!result) throw new Error(`The Dataverse client returned no result for record ${index}`);
  return result;
}

function failure(row: number, error: DataverseError): RowOutcome {
  return { row, status: 'failed', code: error.code || `HTTP${error.status}`, message: error.message };
}

/** A create of a record that exists (its key or its id taken): the row fails, the record stays as it is. */
function recordExists(context: WriteContext, row: WritableRow, id?: string): RowOutcome {
  const what = row.key ? `the key ${describeKey(row.key)}` : `the id ${id ?? row.id ?? ''}`;
  return {
    row: row.row,
    status: 'failed',
    code: 'RecordExists',
    message: `A ${context.table} record with ${what} already exists${id && row.key ? ` (${id})` : ''}; a create does not change it (use upsert or update).`,
  };
}

function absent(row: number): RowOutcome {
  return { row, status: 'unchanged', message: 'No matching record: nothing to delete.' };
}

function dry(row: WritableRow, status: RowStatus, id?: string): RowOutcome {
  return { row: row.row, status, ...(id ? { id } : {}), message: 'Dry run: validated, not written.' };
}

function describeKey(key: KeyValues | undefined): string {
  if (!key) return '(none)';
  return Object.entries(key)
    .map(([name, value]) => `${name}=${String(value)}`)
    .join(', ');
}
