// Single-record operations. Every write is idempotent, so each can be retried safely.
import { randomUUID } from 'node:crypto';
import { idFromEntityUrl, parseJson, type ApiSender, type Row } from './api.js';
import { isDataverseError, isDuplicateCode, isNotFoundCode } from './errors.js';
import { entityInfo } from './metadata.js';

export type RecordTarget =
  { readonly id: string } | { readonly key: Readonly<Record<string, string | number>> };
export type UpsertMode = 'upsert' | 'createOnly' | 'updateOnly';

const guidPattern = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** An OData string literal: single quotes, a quote inside doubled (`O'Brien` -> `'O''Brien'`). */
export function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function literal(name: string, value: string | number): string {
  if (typeof value === 'number') return String(value);
  // Lookup key parts (`_x_value`) are GUIDs, written unquoted like the primary key.
  if (/^_.+_value$/.test(name) && guidPattern.test(value)) return value;
  return `'${encodeURIComponent(value.replace(/'/g, "''"))}'`;
}

/** `(guid)` or `(accountnumber='A-1',code=2)`: the record segment after the entity set. */
export function formatKey(target: RecordTarget): string {
  if ('id' in target) {
    if (!guidPattern.test(target.id)) throw new Error(`Not a record id: ${target.id}`);
    return `(${target.id})`;
  }
  const parts = Object.entries(target.key);
  if (parts.length === 0) throw new Error('An alternate key needs at least one attribute');
  return `(${parts.map(([k, v]) => `${k}=${literal(k, v)}`).join(',')})`;
}

export interface RecordOptions {
  readonly signal?: AbortSignal;
}

async function recordPath(api: ApiSender, table: string, target: RecordTarget) {
  const info = await entityInfo(api, table);
  return { info, path: info.entitySetName + formatKey(target) };
}

/** Whether a record with this id exists (used to recognise our own earlier create). */
export async function exists(api: ApiSender, table: string, id: string, options: RecordOptions = {}) {
  return (
    (await retrieve(
      api,
      table,
      { id },
      { select: [(await entityInfo(api, table)).primaryIdAttribute], ...options },
    )) !== undefined
  );
}

/**
 * Creates with a client-chosen id, so a retry cannot create a second record: when the id already exists
 * (our earlier attempt, or an earlier delivery of the same work with a deterministic id) it counts as done.
 */
export async function create(
  api: ApiSender,
  table: string,
  data: Row,
  options: RecordOptions & { id?: string } = {},
): Promise<{ id: string; created: boolean }> {
  const info = await entityInfo(api, table);
  const id = (options.id ?? randomUUID()).toLowerCase();
  try {
    await api.send({
      method: 'POST',
      path: info.entitySetName,
      json: { ...data, [info.primaryIdAttribute]: id },
      idempotent: true,
      table,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return { id, created: true };
  } catch (e) {
    if (isDataverseError(e) && isDuplicateCode(e.code) && (await exists(api, table, id, options))) {
      return { id, created: false };
    }
    throw e;
  }
}

/** Updates an existing record only (`If-Match: *`): a missing record is an error, never a new one. */
export async function update(
  api: ApiSender,
  table: string,
  target: RecordTarget,
  data: Row,
  options: RecordOptions = {},
): Promise<void> {
  const { path } = await recordPath(api, table, target);
  await api.send({
    method: 'PATCH',
    path,
    json: data,
    headers: { 'if-match': '*' },
    idempotent: true,
    table,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

export async function upsert(
  api: ApiSender,
  table: string,
  target: RecordTarget,
  data: Row,
  options: RecordOptions & { mode?: UpsertMode; returnId?: boolean } = {},
): Promise<{ id?: string; created?: boolean }> {
  const mode = options.mode ?? 'upsert';
  const { info, path } = await recordPath(api, table, target);
  const conditional: Record<string, string> =
    mode === 'createOnly' ? { 'if-none-match': '*' } : mode === 'updateOnly' ? { 'if-match': '*' } : {};
  const knownId = 'id' in target ? target.id.toLowerCase() : undefined;
  try {
    const res = await api.send({
      method: 'PATCH',
      path,
      json: data,
      headers: conditional,
      // With returnId the answer says which record it was and whether it was new (201) or updated (200),
      // at the cost of a read on the server.
      ...(options.returnId
        ? { prefer: ['return=representation'], query: { $select: info.primaryIdAttribute } }
        : {}),
      idempotent: true,
      table,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const returned = options.returnId ? parseJson<Row>(res)?.[info.primaryIdAttribute] : undefined;
    const id =
      (typeof returned === 'string' ? returned.toLowerCase() : undefined) ??
      idFromEntityUrl(res.headers['odata-entityid']) ??
      knownId;
    const created =
      mode === 'createOnly'
        ? true
        : mode === 'updateOnly'
          ? false
          : options.returnId && (res.status === 201 || res.status === 200)
            ? res.status === 201
            : undefined;
    return { ...(id ? { id } : {}), ...(created !== undefined ? { created } : {}) };
  } catch (e) {
    // createOnly retried after an unanswered attempt: the record that now exists is the one we sent.
    if (mode === 'createOnly' && isDataverseError(e) && e.status === 412 && wasAmbiguous(e)) {
      return { ...(knownId ? { id: knownId } : {}), created: true };
    }
    throw e;
  }
}

export async function remove(
  api: ApiSender,
  table: string,
  target: RecordTarget,
  options: RecordOptions = {},
): Promise<void> {
  const { path } = await recordPath(api, table, target);
  try {
    await api.send({
      method: 'DELETE',
      path,
      idempotent: true,
      table,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (e) {
    // A repeated delete whose first attempt went unanswered finds nothing: that is the goal reached.
    if (isDataverseError(e) && e.status === 404 && isNotFoundCode(e.code) && wasAmbiguous(e)) return;
    throw e;
  }
}

export async function retrieve(
  api: ApiSender,
  table: string,
  target: RecordTarget,
  options: RecordOptions & { select?: readonly string[] } = {},
): Promise<Row | undefined> {
  const { path } = await recordPath(api, table, target);
  try {
    const res = await api.send({
      method: 'GET',
      path,
      query: { $select: options.select?.length ? options.select.join(',') : undefined },
      idempotent: true,
      table,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return parseJson<Row>(res);
  } catch (e) {
    if (isDataverseError(e) && e.status === 404) return undefined;
    throw e;
  }
}

/** The api layer marks errors of requests whose earlier attempt went unanswered. */
export function wasAmbiguous(e: unknown): boolean {
  return isDataverseError(e) && e.ambiguous === true;
}
