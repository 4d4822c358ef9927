import { DeployScriptError } from './errors.js';
import type { HttpResponse, SendHttp } from './http.js';

/**
 * Registers managed identities as Dataverse application users (a `systemuser` row with
 * `applicationid`, in the root business unit) and gives each a security role. Every step looks
 * first, so running it again changes nothing.
 */

export interface AppUserOptions {
  /** Environment URL, e.g. https://contoso.crm.dynamics.com */
  readonly dataverseUrl: string;
  /** Application (client) ids of the managed identities. */
  readonly clientIds: readonly string[];
  /** Security role name (in the root business unit); undefined: no role is assigned. */
  readonly roleName: string | undefined;
  readonly send: SendHttp;
  /** Look only: report what would change, write nothing. */
  readonly dryRun?: boolean;
  readonly log?: (line: string) => void;
}

export interface AppUserOutcome {
  readonly clientId: string;
  /** Undefined only in a dry run for a user that does not exist yet. */
  readonly systemUserId: string | undefined;
  readonly user: 'created' | 'exists' | 'would-create';
  readonly role: 'assigned' | 'had-role' | 'would-assign' | 'not-requested';
  /** A disabled application user cannot call Dataverse; enabling it is left to an administrator. */
  readonly disabled: boolean;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function ensureApplicationUsers(options: AppUserOptions): Promise<AppUserOutcome[]> {
  const clientIds = options.clientIds.map((id) => id.trim().toLowerCase()).filter((id) => id !== '');
  if (clientIds.length === 0) throw new DeployScriptError('No managed identity client ids given.');
  const invalid = clientIds.filter((id) => !GUID.test(id));
  if (invalid.length > 0) throw new DeployScriptError(`Not client ids (GUIDs): ${invalid.join(', ')}`);

  const api = new DataverseAdminApi(options.dataverseUrl, options.send);
  const log = options.log ?? (() => {});
  const businessUnitId = await api.rootBusinessUnitId();
  // Resolve the role before writing anything, so a typo in its name changes nothing.
  const roleId =
    options.roleName === undefined ? undefined : await api.roleId(options.roleName, businessUnitId);

  const outcomes: AppUserOutcome[] = [];
  for (const clientId of [...new Set(clientIds)]) {
    const existing = await api.findApplicationUser(clientId);
    let systemUserId = existing?.systemuserid;
    let user: AppUserOutcome['user'] = 'exists';
    if (!existing) {
      user = options.dryRun ? 'would-create' : 'created';
      if (!options.dryRun) systemUserId = await api.createApplicationUser(clientId, businessUnitId);
    }

    let role: AppUserOutcome['role'] = 'not-requested';
    if (roleId !== undefined) {
      const hasRole = systemUserId !== undefined && (await api.hasRole(systemUserId, roleId));
      if (hasRole) role = 'had-role';
      else if (options.dryRun || systemUserId === undefined) role = 'would-assign';
      else {
        await api.assignRole(systemUserId, roleId);
        role = 'assigned';
      }
    }
    const outcome = { clientId, systemUserId, user, role, disabled: existing?.isdisabled === true };
    log(describe(outcome, options.roleName));
    outcomes.push(outcome);
  }
  return outcomes;
}

function describe(outcome: AppUserOutcome, roleName: string | undefined): string {
  const user = { created: 'created', exists: 'already registered', 'would-create': 'would be created' }[
    outcome.user
  ];
  const role = {
    assigned: `role '${roleName}' assigned`,
    'had-role': `already has role '${roleName}'`,
    'would-assign': `role '${roleName}' would be assigned`,
    'not-requested': 'no role requested',
  }[outcome.role];
  const disabled = outcome.disabled ? ' (DISABLED: enable it in the Power Platform admin center)' : '';
  return `application user ${outcome.clientId}: ${user}, ${role}${disabled}`;
}

interface SystemUserRow {
  readonly systemuserid: string;
  readonly isdisabled?: boolean;
}

/** The few Web API calls this needs (dataverse-webapi.md §4 and §10). */
class DataverseAdminApi {
  readonly #root: string;
  readonly #send: SendHttp;

  constructor(dataverseUrl: string, send: SendHttp) {
    this.#root = `${new URL(dataverseUrl).origin}/api/data/v9.2/`;
    this.#send = send;
  }

  async rootBusinessUnitId(): Promise<string> {
    const rows = await this.#query<{ businessunitid: string }>(
      'businessunits?$select=businessunitid&$filter=_parentbusinessunitid_value eq null',
    );
    const [root] = rows;
    if (!root) throw new DeployScriptError('The environment has no root business unit visible to you.');
    return root.businessunitid;
  }

  async roleId(name: string, businessUnitId: string): Promise<string> {
    const rows = await this.#query<{ roleid: string }>(
      `roles?$select=roleid,name&$filter=name eq '${odataString(name)}' and _businessunitid_value eq ${businessUnitId}`,
    );
    const [role] = rows;
    if (!role) {
      throw new DeployScriptError(`Security role '${name}' not found in the root business unit.`, {
        hint: 'Check the name in Power Platform admin center > Environment > Settings > Security roles.',
      });
    }
    return role.roleid;
  }

  async findApplicationUser(clientId: string): Promise<SystemUserRow | undefined> {
    const rows = await this.#query<SystemUserRow>(
      `systemusers?$select=systemuserid,isdisabled&$filter=applicationid eq ${clientId}`,
    );
    return rows[0];
  }

  async createApplicationUser(clientId: string, businessUnitId: string): Promise<string> {
    const response = await this.#call('POST', 'systemusers', {
      applicationid: clientId,
      'businessunitid@odata.bind': `/businessunits(${businessUnitId})`,
    });
    const fromHeader = /\(([0-9a-f-]{36})\)\s*$/i.exec(response.headers['odata-entityid'] ?? '')?.[1];
    const id =
      fromHeader ?? (parseJson(response.body) as { systemuserid?: string } | undefined)?.systemuserid;
    if (!id) throw new DeployScriptError('Dataverse created the application user but did not return its id.');
    return id.toLowerCase();
  }

  async hasRole(systemUserId: string, roleId: string): Promise<boolean> {
    const rows = await this.#query<{ roleid: string }>(
      `systemusers(${systemUserId})/systemuserroles_association?$select=roleid&$filter=roleid eq ${roleId}`,
    );
    return rows.length > 0;
  }

  async assignRole(systemUserId: string, roleId: string): Promise<void> {
    await this.#call('POST', `systemusers(${systemUserId})/systemuserroles_association/$ref`, {
      '@odata.id': `${this.#root}roles(${roleId})`,
    });
  }

  async #query<T>(path: string): Promise<T[]> {
    const response = await this.#call('GET', path);
    const parsed = parseJson(response.body) as { value?: T[] } | undefined;
    if (!Array.isArray(parsed?.value)) throw new DeployScriptError(`Unexpected answer from GET ${path}`);
    return parsed.value;
  }

  async #call(method: 'GET' | 'POST', path: string, body?: object): Promise<HttpResponse> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'odata-version': '4.0',
      'odata-maxversion': '4.0',
    };
    if (body !== undefined) headers['content-type'] = 'application/json; charset=utf-8';
    // new URL() percent-encodes the spaces and quotes of $filter expressions.
    const request = { method, url: new URL(`${this.#root}${path}`).href, headers };
    const response = await this.#send(
      body === undefined ? request : { ...request, body: JSON.stringify(body) },
    );
    if (response.status >= 200 && response.status < 300) return response;
    throw failure(method, path, response);
  }
}

function failure(method: string, path: string, response: HttpResponse): DeployScriptError {
  const error = (parseJson(response.body) as { error?: { code?: string; message?: string } } | undefined)
    ?.error;
  const permission =
    response.status === 401 || response.status === 403
      ? 'Sign in (az login / azd auth login) as a user with the System Administrator role in this Dataverse ' +
        'environment, or register the application users by hand (docs/deploy.md).'
      : undefined;
  const message = `${method} ${path.split('?')[0]} failed: ${response.status} ${error?.code ?? ''} ${error?.message ?? ''}`;
  return new DeployScriptError(message.replace(/\s+/g, ' ').trim(), {
    status: response.status,
    ...(error?.code ? { code: error.code } : {}),
    ...(permission ? { hint: permission } : {}),
  });
}

/** Escapes a string literal for an OData $filter. */
function odataString(value: string): string {
  return value.replaceAll("'", "''");
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
