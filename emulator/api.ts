import { PrivilegeTable, writeOptions } from './caller.js';
import { applyRef, Associations } from './associations.js';
import { DataverseError, errors, isDataverseError } from './errors.js';
import { Files } from './files.js';
import { AnnotationFilter, renderRow } from './format.js';
import {
  errorResponse,
  jsonResponse,
  parsePrefer,
  type ApiRequest,
  type ApiResponse,
  type Work,
} from './http.js';
import { metadataRequest } from './metadata.js';
import { stableGuid, type ManyToManySide, type Model, type Table } from './model.js';
import { etagOf, parseEntityRef, type KeyRef, type Records, type WriteContext } from './records.js';
import { parseExpand, runCount, runQuery, selectColumns } from './query.js';
import { deltaTokenLifetimeMs, readMs, type EmulatorSettings } from './settings.js';
import type { Store } from './store.js';

const PRIVILEGE_FUNCTION = 'Microsoft.Dynamics.CRM.RetrieveUserPrivilegeByPrivilegeName';
const API_PREFIX = /^\/api\/data\/(v9\.[0-2])\//;
const BULK = /^Microsoft\.Dynamics\.CRM\.(CreateMultiple|UpdateMultiple|UpsertMultiple|DeleteMultiple)$/;

export interface CallContext {
  readonly user: string;
  /** The systemuserid the request runs as (the impersonated user's when it impersonates). */
  readonly userId?: string;
  /** The calling user's systemuserid when the request impersonates another user. */
  readonly onBehalfOf?: string;
  /** `MSCRM.SuppressDuplicateDetection: false` on this request (set by `handle`). */
  readonly duplicateDetection?: boolean;
  /** Set inside a $batch change set. */
  readonly contentIds?: ReadonlyMap<string, string>;
}

interface Route {
  readonly table: Table;
  readonly key?: string;
  readonly rest?: string;
}

/** Splits `set(key)/rest`, honouring quotes inside the key. */
function splitResource(path: string): { set: string; key?: string; rest?: string } {
  const open = path.search(/[(/]/);
  if (open < 0) return { set: path };
  const set = path.slice(0, open);
  if (path[open] === '/') return { set, rest: path.slice(open + 1) };
  let quoted = false;
  for (let i = open + 1; i < path.length; i += 1) {
    const c = path[i];
    if (c === "'") quoted = !quoted;
    else if (c === ')' && !quoted) {
      const after = path.slice(i + 1);
      return {
        set,
        key: path.slice(open + 1, i),
        ...(after.startsWith('/') ? { rest: after.slice(1) } : after ? { rest: after } : {}),
      };
    }
  }
  return { set, key: path.slice(open + 1) };
}

export function apiRootOf(url: URL): string {
  const version = API_PREFIX.exec(url.pathname)?.[1] ?? 'v9.2';
  return `${url.protocol}//${url.host}/api/data/${version}/`;
}

/**
 * The Web API's resources: routing, CRUD, queries, bulk messages, metadata. Pure request in,
 * response out; the server adds auth, limits, latency and faults around it.
 */
export class Api {
  /** Tables refusing bulk messages at run time (configure). */
  readonly refuseBulk = new Set<string>();
  /** Privileges granted to users (configure). */
  readonly privileges = new PrivilegeTable();
  /** Rows of the many-to-many relationships' intersect tables. */
  readonly associations: Associations;
  /** File and image column data. */
  readonly files = new Files();

  constructor(
    private readonly model: Model,
    private readonly store: Store,
    private readonly records: Records,
    private readonly settings: () => EmulatorSettings,
  ) {
    this.associations = new Associations(store);
  }

  /** Handles one request; Dataverse errors become error responses. */
  handle(req: ApiRequest, ctx: CallContext): { response: ApiResponse; work: Work } {
    const work: Work = { countedMs: 0, recordsWritten: 0, bulkRecords: 0, operation: 'other' };
    try {
      if (req.method !== 'GET') {
        // Every write reads its own bypass and duplicate-detection headers (a $batch part's included).
        const options = writeOptions(req.headers, ctx.userId, this.privileges);
        if (options.applied.length > 0) work.options = options.applied;
        if (options.duplicateDetection) ctx = { ...ctx, duplicateDetection: true };
      }
      const response = this.dispatch(req, ctx, work);
      return { response, work };
    } catch (error) {
      work.countedMs = this.settings().fixedServerMs;
      if (isDataverseError(error)) {
        const { filter } = AnnotationFilter.fromPrefer(parsePrefer(req.headers.prefer));
        if (filter.wants('Microsoft.PowerApps.CDS.HelpLink')) {
          return { response: this.annotatedError(error), work };
        }
        return { response: errorResponse(error.status, error.code, error.message, error.headers), work };
      }
      const message = error instanceof Error ? error.message : String(error);
      return { response: errorResponse(500, '0x80040216', `An unexpected error occurred: ${message}`), work };
    }
  }

  /** Error with the `@Microsoft.PowerApps.CDS.*` keys Dataverse adds when annotations are requested (§9). */
  private annotatedError(error: DataverseError): ApiResponse {
    const hex = error.code.replace(/^0x/i, '');
    return jsonResponse(
      error.status,
      {
        error: {
          code: error.code,
          message: error.message,
          '@Microsoft.PowerApps.CDS.ErrorDetails.OperationStatus': '0',
          '@Microsoft.PowerApps.CDS.ErrorDetails.SubErrorCode': String(parseInt(hex, 16) | 0),
          '@Microsoft.PowerApps.CDS.HelpLink': `http://go.microsoft.com/fwlink/?LinkID=398563&error=Microsoft.Crm.CrmException%3a${hex}&client=platform`,
          '@Microsoft.PowerApps.CDS.TraceText': '',
          '@Microsoft.PowerApps.CDS.InnerError.Message': error.message,
        },
      },
      error.headers,
    );
  }

  private dispatch(req: ApiRequest, ctx: CallContext, work: Work): ApiResponse {
    const s = this.settings();
    const m = API_PREFIX.exec(req.url.pathname);
    if (!m) throw errors.segment(req.url.pathname);
    const path = decodeURIComponent(req.url.pathname.slice(m[0].length));
    const apiRoot = apiRootOf(req.url);
    const params = req.url.searchParams;
    work.countedMs = s.fixedServerMs;
    if (path === '') {
      this.allow(req, 'GET');
      return jsonResponse(200, {
        '@odata.context': `${apiRoot}$metadata`,
        value: this.model.tables.map((t) => ({
          name: t.entitySetName,
          kind: 'EntitySet',
          url: t.entitySetName,
        })),
      });
    }
    if (path === '$metadata') {
      this.allow(req, 'GET');
      return {
        status: 200,
        headers: { 'Content-Type': 'application/xml', 'OData-Version': '4.0' },
        body: this.csdl(),
      };
    }
    if (path === 'WhoAmI' || path === 'WhoAmI()') {
      this.allow(req, 'GET');
      work.operation = 'whoami';
      return jsonResponse(200, {
        '@odata.context': `${apiRoot}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
        BusinessUnitId: stableGuid('businessunit:root'),
        UserId: ctx.userId ?? stableGuid(`systemuser:${ctx.user}`),
        OrganizationId: stableGuid('organization:emulator'),
      });
    }
    if (path.startsWith('EntityDefinitions')) {
      this.allow(req, 'GET');
      work.operation = 'metadata';
      return jsonResponse(200, metadataRequest(this.model, apiRoot, path, params));
    }
    if (path.startsWith('RetrieveDuplicates(')) {
      this.allow(req, 'GET');
      work.operation = 'duplicates';
      return this.retrieveDuplicates(path, params, apiRoot);
    }
    const { set, key, rest } = splitResource(path);
    const table = this.model.tableBySet(set);
    if (!table) throw errors.segment(set);
    const route: Route = {
      table,
      ...(key !== undefined ? { key } : {}),
      ...(rest !== undefined ? { rest } : {}),
    };
    const prefer = parsePrefer(req.headers.prefer);
    const writeCtx: WriteContext = {
      ...(ctx.userId ? { userId: ctx.userId } : {}),
      ...(ctx.onBehalfOf ? { onBehalfOf: ctx.onBehalfOf } : {}),
      ...(ctx.contentIds ? { contentIds: ctx.contentIds } : {}),
      ...(ctx.duplicateDetection ? { duplicateDetection: true } : {}),
    };

    if (route.key === undefined) {
      if (route.rest === '$count') {
        this.allow(req, 'GET');
        work.operation = 'count';
        const n = runCount(this.store, {
          table,
          params,
          maxCount: s.maxCount,
          now: new Date(),
          deltaTokenLifetimeMs: deltaTokenLifetimeMs(s),
        });
        return {
          status: 200,
          headers: { 'Content-Type': 'text/plain', 'OData-Version': '4.0' },
          body: String(n),
        };
      }
      const bulk = route.rest ? BULK.exec(route.rest) : null;
      if (bulk) {
        this.allow(req, 'POST');
        return this.bulk(bulk[1]!, table, req, apiRoot, writeCtx, work);
      }
      if (route.rest) throw errors.segment(route.rest);
      if (req.method === 'GET') {
        work.operation = 'read';
        const out = runQuery(this.model, this.store, {
          table,
          params,
          prefer,
          requestUrl: req.url.toString(),
          apiRoot,
          maxPageSize: s.maxPageSize,
          maxCount: s.maxCount,
          now: new Date(),
          deltaTokenLifetimeMs: deltaTokenLifetimeMs(s),
        });
        work.countedMs = readMs(s, out.rows, out.columns);
        work.recordsRead = out.rows;
        const headers: Record<string, string> = {};
        if (out.preferenceApplied.length > 0) headers['Preference-Applied'] = out.preferenceApplied.join(',');
        return jsonResponse(200, out.body, headers);
      }
      if (req.method === 'POST') {
        work.operation = 'create';
        const body = this.parseBody(table, req.body);
        const { id, row } = this.records.create(table, body, writeCtx);
        work.countedMs = s.createMs;
        work.recordsWritten = 1;
        if (prefer.includes('return=representation')) {
          return this.representation(201, table, row, params, prefer, apiRoot);
        }
        return {
          status: 204,
          headers: { 'OData-Version': '4.0', 'OData-EntityId': `${apiRoot}${table.entitySetName}(${id})` },
        };
      }
      throw errors.methodNotAllowed(req.method);
    }

    const ref = this.records.parseKey(table, route.key!);
    if (route.rest?.startsWith(`${PRIVILEGE_FUNCTION}(`) && table.logicalName === 'systemuser') {
      this.allow(req, 'GET');
      work.operation = 'privileges';
      return this.userPrivilege(table, ref, route.rest, apiRoot);
    }
    const fileColumn = route.rest
      ? table.spec.fileColumns?.find((f) => f.logicalName === route.rest)
      : undefined;
    if (fileColumn) {
      const { id, row } = this.records.require(table, ref);
      work.operation = 'file';
      work.countedMs = s.updateMs;
      return this.files.handle(req, table, id, fileColumn, apiRoot, (name) => {
        // The read-only `<column>_name` companion follows the stored file.
        if (table.byName.has(`${fileColumn.logicalName}_name`)) row[`${fileColumn.logicalName}_name`] = name;
      });
    }
    if (route.rest) {
      const nav = /^([A-Za-z_]\w*)(?:\(([^)]*)\))?(\/\$ref)?$/.exec(route.rest);
      const side = nav ? this.model.manyToManySide(table, nav[1]!) : undefined;
      if (nav && side) return this.manyToMany(req, side, ref, nav[2], nav[3] !== undefined, apiRoot, work);
      return this.property(req, table, ref, route.rest, apiRoot, writeCtx, work);
    }
    const entityUrl = `${apiRoot}${table.entitySetName}(${ref.kind === 'id' ? ref.id : route.key})`;
    const ifMatch = req.headers['if-match'];
    const ifNoneMatch = req.headers['if-none-match'];
    switch (req.method) {
      case 'GET': {
        work.operation = 'retrieve';
        work.countedMs = s.retrieveMs;
        const { row } = this.records.require(table, ref);
        const { filter } = AnnotationFilter.fromPrefer(prefer);
        if (ifNoneMatch && ifNoneMatch !== 'null' && ifNoneMatch === etagOf(row) && !filter.any) {
          return { status: 304, headers: { 'OData-Version': '4.0', ETag: etagOf(row) } };
        }
        return this.representation(200, table, row, params, prefer, apiRoot, false);
      }
      case 'PATCH': {
        work.operation = ifMatch === '*' ? 'update' : ref.kind === 'key' ? 'upsert-key' : 'upsert-id';
        const body = this.parseBody(table, req.body);
        const cond = {
          ...(ifMatch !== undefined ? { ifMatch } : {}),
          ...(ifNoneMatch !== undefined && ifNoneMatch !== 'null' ? { ifNoneMatch } : {}),
        };
        const result = this.records.upsert(table, ref, body, writeCtx, cond);
        work.countedMs = ifMatch === '*' ? s.updateMs : ref.kind === 'key' ? s.upsertByKeyMs : s.upsertByIdMs;
        work.recordsWritten = 1;
        if (prefer.includes('return=representation')) {
          return this.representation(result.created ? 201 : 200, table, result.row, params, prefer, apiRoot);
        }
        return { status: 204, headers: { 'OData-Version': '4.0', 'OData-EntityId': entityUrl } };
      }
      case 'DELETE': {
        work.operation = 'delete';
        this.records.delete(table, ref, ifMatch !== undefined ? { ifMatch } : {});
        work.countedMs = s.deleteMs;
        work.recordsWritten = 1;
        return { status: 204, headers: { 'OData-Version': '4.0' } };
      }
      default:
        throw errors.methodNotAllowed(req.method);
    }
  }

  /**
   * A many-to-many navigation property: `$ref` POST / DELETE associate and disassociate one pair;
   * a GET lists the related records.
   */
  private manyToMany(
    req: ApiRequest,
    side: ManyToManySide,
    ref: KeyRef,
    otherKey: string | undefined,
    isRef: boolean,
    apiRoot: string,
    work: Work,
  ): ApiResponse {
    const s = this.settings();
    const { id } = this.records.require(side.table, ref);
    if (!isRef) {
      this.allow(req, 'GET');
      if (otherKey !== undefined) throw errors.segment(`${side.navigationProperty}(${otherKey})`);
      work.operation = 'read';
      const rows = this.associations
        .related(side, id)
        .map((otherId) => this.store.get(side.other, otherId))
        .filter((row) => row !== undefined);
      const columns = selectColumns(side.other, req.url.searchParams.get('$select'));
      work.countedMs = readMs(s, rows.length, columns.length);
      work.recordsRead = rows.length;
      return jsonResponse(200, {
        '@odata.context': `${apiRoot}$metadata#${side.other.entitySetName}`,
        value: rows.map((row) =>
          renderRow(this.model, this.store, side.other, row, columns, AnnotationFilter.none),
        ),
      });
    }
    const change = applyRef(
      this.associations,
      this.records,
      side,
      req.method,
      id,
      otherKey,
      req.body,
      req.url.searchParams.get('$id'),
    );
    work.operation = change.kind === 'associated' ? 'associate' : 'disassociate';
    work.countedMs = change.kind === 'associated' ? s.createMs : s.deleteMs;
    work.recordsWritten = 1;
    return { status: 204, headers: { 'OData-Version': '4.0' } };
  }

  /** `GET|PUT|DELETE {set}(key)/{column}` (reference §3: single property update and clear). */
  private property(
    req: ApiRequest,
    table: Table,
    ref: KeyRef,
    name: string,
    apiRoot: string,
    ctx: WriteContext,
    work: Work,
  ): ApiResponse {
    const s = this.settings();
    const attr = table.structural.get(name);
    if (!attr) throw errors.segment(name);
    const { id, row } = this.records.require(table, ref);
    if (req.method === 'GET') {
      work.operation = 'retrieve';
      work.countedMs = s.retrieveMs;
      const value = row[attr.logicalName] ?? null;
      if (value === null) return { status: 204, headers: { 'OData-Version': '4.0' } };
      return jsonResponse(200, {
        '@odata.context': `${apiRoot}$metadata#${table.entitySetName}(${id})/${attr.logicalName}`,
        value,
      });
    }
    if (req.method !== 'PUT' && req.method !== 'DELETE') throw errors.methodNotAllowed(req.method);
    work.operation = 'update';
    work.countedMs = s.updateMs;
    const value = req.method === 'DELETE' ? null : this.parseBody(table, req.body).value;
    if (value === undefined) throw errors.payload(table, 'A property value must be sent as {"value": ...}.');
    this.records.update(table, id, { [attr.logicalName]: value }, ctx);
    work.recordsWritten = 1;
    return { status: 204, headers: { 'OData-Version': '4.0' } };
  }

  /**
   * `systemusers(<id>)/Microsoft.Dynamics.CRM.RetrieveUserPrivilegeByPrivilegeName(PrivilegeName='x')`:
   * the user's role privileges of that name, none when the user lacks it.
   */
  private userPrivilege(table: Table, ref: KeyRef, rest: string, apiRoot: string): ApiResponse {
    const { id } = this.records.require(table, ref);
    const m = /^[^(]+\(PrivilegeName='((?:[^']|'')*)'\)$/.exec(rest);
    if (!m) throw errors.uri(`The function ${PRIVILEGE_FUNCTION} needs PrivilegeName='<name>'.`);
    const name = m[1]!.replace(/''/g, "'");
    const held = this.privileges.has(id, name);
    return jsonResponse(200, {
      '@odata.context': `${apiRoot}$metadata#Microsoft.Dynamics.CRM.RetrieveUserPrivilegeByPrivilegeNameResponse`,
      RolePrivileges: held
        ? [
            {
              Depth: 'Global',
              PrivilegeId: stableGuid(`privilege:${name}`),
              BusinessUnitId: stableGuid('businessunit:root'),
              PrivilegeName: name,
            },
          ]
        : [],
    });
  }

  /**
   * `RetrieveDuplicates(BusinessEntity=@p1,MatchingEntityName=@p2,PagingInfo=@p3)`: the records the
   * published duplicate rules match for an entity given as JSON (with its `@odata.type`).
   */
  private retrieveDuplicates(path: string, params: URLSearchParams, apiRoot: string): ApiResponse {
    const m = /^RetrieveDuplicates\((.*)\)$/.exec(path);
    const args = new Map<string, string>();
    for (const part of (m?.[1] ?? '').split(',')) {
      const eq = part.indexOf('=');
      if (eq > 0) args.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
    const value = (name: string): string | undefined => {
      const raw = args.get(name);
      if (raw === undefined) return undefined;
      return raw.startsWith('@') ? (params.get(raw) ?? undefined) : raw;
    };
    const entityText = value('BusinessEntity');
    const matching = value('MatchingEntityName')?.replace(/^'|'$/g, '');
    if (entityText === undefined || matching === undefined) {
      throw errors.uri('RetrieveDuplicates needs BusinessEntity and MatchingEntityName.');
    }
    let entity: Record<string, unknown>;
    try {
      entity = JSON.parse(entityText) as Record<string, unknown>;
    } catch {
      throw errors.uri('RetrieveDuplicates: BusinessEntity is not a JSON entity.');
    }
    const type = String(entity['@odata.type'] ?? '').replace(/^#?Microsoft\.Dynamics\.CRM\./, '');
    const source = this.model.table(type);
    const target = this.model.table(matching);
    if (!source || !target)
      throw errors.uri(`RetrieveDuplicates: unknown table '${source ? matching : type}'.`);
    const paging = value('PagingInfo');
    const count = paging ? Number((JSON.parse(paging) as { Count?: number }).Count ?? 50) : 50;
    const values = this.records.applyBody(source, entity, 'create', {});
    const ids = this.records.duplicatesOf(target, values, undefined).slice(0, Math.max(1, count));
    const columns = selectColumns(target, null);
    return jsonResponse(200, {
      '@odata.context': `${apiRoot}$metadata#${target.entitySetName}`,
      value: ids.map((id) =>
        renderRow(
          this.model,
          this.store,
          target,
          this.store.get(target, id)! as never,
          columns,
          AnnotationFilter.none,
          [],
        ),
      ),
    });
  }

  private allow(req: ApiRequest, method: string): void {
    if (req.method !== method) throw errors.methodNotAllowed(req.method);
  }

  private parseBody(table: Table, text: string): Record<string, unknown> {
    let body: unknown;
    try {
      body = JSON.parse(text === '' ? '{}' : text);
    } catch (error) {
      throw errors.payload(table, `Invalid JSON. ${error instanceof Error ? error.message : ''}`.trim());
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw errors.payload(table, 'A JSON object was expected for an entry.');
    }
    return body as Record<string, unknown>;
  }

  private representation(
    status: number,
    table: Table,
    row: Record<string, unknown>,
    params: URLSearchParams,
    prefer: readonly string[],
    apiRoot: string,
    applied = true,
  ): ApiResponse {
    const select = params.get('$select');
    const columns = selectColumns(table, select);
    const { filter, applied: annotations } = AnnotationFilter.fromPrefer(prefer);
    // $expand is honoured on GET and ignored on writes (reference §3).
    const expansions = applied ? [] : parseExpand(this.model, table, params.get('$expand'));
    const rendered = renderRow(this.model, this.store, table, row as never, columns, filter, expansions);
    const body = {
      '@odata.context': `${apiRoot}$metadata#${table.entitySetName}${select ? `(${select})` : ''}/$entity`,
      ...rendered,
    };
    const preferenceApplied = [
      ...(applied ? ['return=representation'] : []),
      ...(annotations ? [annotations] : []),
    ];
    return jsonResponse(status, body, {
      ETag: String(rendered['@odata.etag']),
      ...(preferenceApplied.length > 0 ? { 'Preference-Applied': preferenceApplied.join(',') } : {}),
    });
  }

  private bulk(
    message: string,
    table: Table,
    req: ApiRequest,
    apiRoot: string,
    ctx: WriteContext,
    work: Work,
  ): ApiResponse {
    const s = this.settings();
    work.operation = message;
    if (table.spec.bulkMessages === false || this.refuseBulk.has(table.logicalName)) {
      throw errors.messageNotSupported(message, table);
    }
    const elastic = table.spec.tableType === 'Elastic';
    if (message === 'DeleteMultiple' && !elastic) {
      throw new DataverseError(400, '0x80040800', 'DeleteMultiple has not yet been implemented.');
    }
    const body = this.parseBody(table, req.body);
    const targets = body.Targets;
    if (!Array.isArray(targets))
      throw errors.payload(table, "The parameter 'Targets' is required and must be an array of entities.");
    const typeName = table.typeName;
    for (const t of targets) {
      const type =
        typeof t === 'object' && t !== null ? (t as Record<string, unknown>)['@odata.type'] : undefined;
      if (typeof type !== 'string' || type.replace(/^#/, '') !== typeName) {
        throw errors.payload(
          table,
          `Every item of 'Targets' must carry "@odata.type": "${typeName}"${type === undefined ? '' : ` (found '${String(type)}')`}.`,
        );
      }
    }
    const items = targets as Record<string, unknown>[];
    const pk = table.primaryId.logicalName;
    if (elastic) return this.elasticBulk(message, table, items, req, apiRoot, ctx, work);
    // Standard tables: all or nothing; the first failure is the error.
    const response = this.store.atomically((): ApiResponse => {
      if (message === 'CreateMultiple') {
        const ids = items.map((t) => this.records.create(table, t, ctx).id);
        work.countedMs = s.fixedServerMs + s.createMultipleMs * items.length;
        return jsonResponse(200, {
          '@odata.context': `${apiRoot}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse`,
          Ids: ids,
        });
      }
      if (message === 'UpdateMultiple') {
        // Two items for one record: the first is applied, the rest ignored without an error (§13).
        const updated = new Set<string>();
        for (const t of items) {
          const id = t[pk];
          if (typeof id !== 'string') throw errors.invalidArgument('Entity Id must be specified for Update');
          const ref: KeyRef = this.records.parseKey(table, id);
          const found = this.records.require(table, ref);
          if (updated.has(found.id)) continue;
          updated.add(found.id);
          this.records.update(table, found.id, t, ctx);
        }
        work.countedMs = s.fixedServerMs + s.updateMultipleMs * items.length;
        return { status: 204, headers: { 'OData-Version': '4.0' } };
      }
      let counted = s.fixedServerMs;
      for (const t of items) {
        const odataId = t['@odata.id'];
        let ref: KeyRef | undefined;
        if (typeof odataId === 'string') {
          const parsed = parseEntityRef(odataId);
          if (!parsed || parsed.set !== table.entitySetName) {
            throw errors.payload(
              table,
              `The '@odata.id' value '${odataId}' does not identify a ${table.logicalName} record.`,
            );
          }
          ref = this.records.parseKey(table, parsed.key);
        } else if (typeof t[pk] === 'string') {
          ref = this.records.parseKey(table, t[pk] as string);
        }
        counted += ref?.kind === 'key' ? s.upsertMultipleByKeyMs : s.upsertMultipleByIdMs;
        if (ref?.kind === 'key' && this.records.findId(table, ref) === undefined) {
          // The key's columns repeated in the body fail the create path only (§13, UpsertMultiple).
          const named = (a: (typeof ref.key.attributes)[number]) => [
            a.logicalName,
            ...[...a.navByTarget.values()].map((nav) => `${nav}@odata.bind`),
          ];
          const repeated = ref.key.attributes.some((a) => named(a).some((k) => t[k] !== undefined));
          if (repeated) throw new DataverseError(400, '0x80040216', 'An unexpected error occurred.');
        }
        if (ref) this.records.upsert(table, ref, t, ctx);
        else this.records.create(table, t, ctx);
      }
      work.countedMs = counted;
      return { status: 204, headers: { 'OData-Version': '4.0' } };
    });
    work.recordsWritten = items.length;
    work.bulkRecords = items.length;
    return response;
  }

  /**
   * Bulk messages on an elastic table: each record succeeds or fails on its own (reference §7, §13).
   * When some fail, the answer is the first failure's error; with `Prefer: odata.include-annotations`
   * covering `Microsoft.PowerApps.CDS.ErrorDetails.*` it also carries every failed record's
   * `RequestIndex`, `Id` and `StatusCode` as a JSON string.
   */
  private elasticBulk(
    message: string,
    table: Table,
    items: readonly Record<string, unknown>[],
    req: ApiRequest,
    apiRoot: string,
    ctx: WriteContext,
    work: Work,
  ): ApiResponse {
    const s = this.settings();
    const pk = table.primaryId.logicalName;
    const ids: (string | null)[] = [];
    const failures: { index: number; id: string | null; error: DataverseError }[] = [];
    items.forEach((t, index) => {
      const given = typeof t[pk] === 'string' ? (t[pk] as string).toLowerCase() : null;
      try {
        // Each record is its own unit: a failure undoes only that record's changes.
        const id = this.store.atomically((): string => {
          if (message === 'CreateMultiple') return this.records.create(table, t, ctx).id;
          if (message === 'DeleteMultiple' || message === 'UpdateMultiple') {
            if (given === null) throw errors.invalidArgument('Entity Id must be specified');
            const ref = this.records.parseKey(table, given);
            if (message === 'DeleteMultiple') this.records.delete(table, ref, {});
            else this.records.update(table, this.records.require(table, ref).id, t, ctx);
            return given;
          }
          const odataId = t['@odata.id'];
          const parsed = typeof odataId === 'string' ? parseEntityRef(odataId) : undefined;
          const ref = parsed
            ? this.records.parseKey(table, parsed.key)
            : given
              ? this.records.parseKey(table, given)
              : undefined;
          return ref ? this.records.upsert(table, ref, t, ctx).id : this.records.create(table, t, ctx).id;
        });
        ids.push(id);
      } catch (error) {
        if (!isDataverseError(error)) throw error;
        ids.push(null);
        failures.push({ index, id: given, error });
      }
    });
    const written = items.length - failures.length;
    const perRecordMs =
      message === 'CreateMultiple'
        ? s.createMultipleMs
        : message === 'UpdateMultiple'
          ? s.updateMultipleMs
          : message === 'DeleteMultiple'
            ? s.deleteMs
            : s.upsertMultipleByIdMs;
    work.countedMs = s.fixedServerMs + perRecordMs * items.length;
    work.recordsWritten = written;
    work.bulkRecords = written;
    const first = failures[0];
    if (first) {
      const { filter } = AnnotationFilter.fromPrefer(parsePrefer(req.headers.prefer));
      const details = filter.wants('Microsoft.PowerApps.CDS.ErrorDetails.BulkApiErrorDetails')
        ? {
            '@Microsoft.PowerApps.CDS.ErrorDetails.BulkApiErrorDetails': JSON.stringify(
              failures.map((f) => ({ RequestIndex: f.index, Id: f.id, StatusCode: f.error.status })),
            ),
          }
        : {};
      return jsonResponse(first.error.status, {
        error: { code: first.error.code, message: first.error.message, ...details },
      });
    }
    if (message === 'CreateMultiple') {
      return jsonResponse(200, {
        '@odata.context': `${apiRoot}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse`,
        Ids: ids,
      });
    }
    return { status: 204, headers: { 'OData-Version': '4.0' } };
  }

  /** A small CSDL document: entity types with their properties and keys. */
  private csdl(): string {
    const edm = (t: Table) =>
      t.attributes
        .map((a) =>
          a.isLookup
            ? `<Property Name="${a.valueName}" Type="Edm.Guid" />`
            : `<Property Name="${a.logicalName}" Type="${a.type === 'Uniqueidentifier' ? 'Edm.Guid' : 'Edm.String'}" />`,
        )
        .join('');
    const types = this.model.tables
      .map(
        (t) =>
          `<EntityType Name="${t.logicalName}"><Key><PropertyRef Name="${t.primaryId.logicalName}" /></Key>${edm(t)}</EntityType>`,
      )
      .join('');
    const sets = this.model.tables
      .map(
        (t) => `<EntitySet Name="${t.entitySetName}" EntityType="Microsoft.Dynamics.CRM.${t.logicalName}" />`,
      )
      .join('');
    return `<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices><Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">${types}<EntityContainer Name="System">${sets}</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>`;
  }
}
