import { DataverseError, errors } from './errors.js';
import type { Model } from './model.js';
import { GUID } from './values.js';
import type { Store } from './store.js';

// The request headers that change how Dataverse runs a write, and the privileges they need
// (reference dataverse-webapi.md §13, from Learn's "Bypass custom business logic", "Bypass Power
// Automate flows", "Impersonate another user" and "Detect duplicate data" pages).

/** Privilege names as Dataverse spells them. */
export const PRIVILEGES = {
  bypassCustomBusinessLogic: 'prvBypassCustomBusinessLogic',
  bypassCustomPlugins: 'prvBypassCustomPlugins',
  actOnBehalfOfAnotherUser: 'prvActOnBehalfOfAnotherUser',
} as const;

export const KNOWN_PRIVILEGES: readonly string[] = Object.values(PRIVILEGES);

/** Learn: "a maximum of three steps" by default (the org setting BypassBusinessLogicExecutionStepIdsLimit). */
const MAX_BYPASS_STEPS = 3;
const BYPASS_VALUES = new Set(['CustomSync', 'CustomAsync']);

/** Which emulator users hold which privileges (by systemuserid). Nobody holds any until granted. */
export class PrivilegeTable {
  private readonly granted = new Map<string, Set<string>>();

  grant(userId: string, privilege: string): void {
    let set = this.granted.get(userId);
    if (!set) {
      set = new Set();
      this.granted.set(userId, set);
    }
    set.add(privilege);
  }

  revoke(userId: string, privilege: string): void {
    this.granted.get(userId)?.delete(privilege);
  }

  has(userId: string, privilege: string): boolean {
    return this.granted.get(userId)?.has(privilege) ?? false;
  }

  clear(): void {
    this.granted.clear();
  }
}

/** What one request's headers ask of a write. */
export interface WriteOptions {
  /** `MSCRM.SuppressDuplicateDetection: false`: the published duplicate rules apply. */
  readonly duplicateDetection: boolean;
  /** The options in force, for the request log (`BypassBusinessLogicExecution=CustomSync`, ...). */
  readonly applied: readonly string[];
}

function missingPrivilege(userId: string, privilege: string): DataverseError {
  // Dataverse's SecLib access-denied answer names the principal and the privilege it lacks.
  return new DataverseError(
    403,
    '0x80040220',
    `Principal user (Id=${userId}, type=8) is missing ${privilege} privilege.`,
  );
}

function header(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return value === undefined ? undefined : value.trim();
}

/**
 * Reads the bypass and duplicate-detection headers of one request, refusing bad values and callers
 * without the privilege (the effective user's: an impersonated request runs as that user).
 */
export function writeOptions(
  headers: Readonly<Record<string, string>>,
  userId: string | undefined,
  privileges: PrivilegeTable,
): WriteOptions {
  const applied: string[] = [];
  const require = (privilege: string) => {
    if (!userId || !privileges.has(userId, privilege))
      throw missingPrivilege(userId ?? '(unknown)', privilege);
  };
  const bypass = header(headers, 'MSCRM.BypassBusinessLogicExecution');
  if (bypass !== undefined) {
    const values = bypass.split(',').map((v) => v.trim());
    for (const value of values) {
      if (!BYPASS_VALUES.has(value)) {
        throw errors.invalidArgument(
          `'${value}' is not a valid value of MSCRM.BypassBusinessLogicExecution: use CustomSync, CustomAsync or both, separated by a comma.`,
        );
      }
    }
    require(PRIVILEGES.bypassCustomBusinessLogic);
    applied.push(`BypassBusinessLogicExecution=${values.join(',')}`);
  }
  const steps = header(headers, 'MSCRM.BypassBusinessLogicExecutionStepIds');
  if (steps !== undefined) {
    const ids = steps.split(',').map((v) => v.trim());
    for (const id of ids) {
      if (!GUID.test(id)) {
        throw errors.invalidArgument(
          `'${id}' in MSCRM.BypassBusinessLogicExecutionStepIds is not a plug-in step id (a GUID).`,
        );
      }
    }
    if (ids.length > MAX_BYPASS_STEPS) {
      throw errors.invalidArgument(
        `MSCRM.BypassBusinessLogicExecutionStepIds names ${ids.length} steps; at most ${MAX_BYPASS_STEPS} may be bypassed in one request.`,
      );
    }
    require(PRIVILEGES.bypassCustomBusinessLogic);
    applied.push(`BypassBusinessLogicExecutionStepIds=${ids.map((id) => id.toLowerCase()).join(',')}`);
  }
  if (header(headers, 'MSCRM.BypassCustomPluginExecution')?.toLowerCase() === 'true') {
    require(PRIVILEGES.bypassCustomPlugins);
    applied.push('BypassCustomPluginExecution');
  }
  if (header(headers, 'MSCRM.SuppressCallbackRegistrationExpanderJob')?.toLowerCase() === 'true') {
    applied.push('SuppressCallbackRegistrationExpanderJob');
  }
  const duplicateDetection = header(headers, 'MSCRM.SuppressDuplicateDetection')?.toLowerCase() === 'false';
  if (duplicateDetection) applied.push('DuplicateDetection');
  return { duplicateDetection, applied };
}

/**
 * The user a request runs as: the caller, or the user `CallerObjectId` (Entra object id) or
 * `MSCRMCallerID` (systemuserid) names when the caller may act on behalf of others.
 */
export function effectiveUser(
  headers: Readonly<Record<string, string>>,
  callerId: string | undefined,
  privileges: PrivilegeTable,
  model: Model,
  store: Store,
): { readonly userId: string | undefined; readonly impersonating: boolean } {
  const objectId = header(headers, 'CallerObjectId');
  const systemUserId = header(headers, 'MSCRMCallerID');
  if (objectId === undefined && systemUserId === undefined) return { userId: callerId, impersonating: false };
  const value = (objectId ?? systemUserId)!;
  const name = objectId !== undefined ? 'CallerObjectId' : 'MSCRMCallerID';
  if (!GUID.test(value)) throw errors.invalidArgument(`${name} '${value}' is not a GUID.`);
  if (!callerId || !privileges.has(callerId, PRIVILEGES.actOnBehalfOfAnotherUser)) {
    throw missingPrivilege(callerId ?? '(unknown)', PRIVILEGES.actOnBehalfOfAnotherUser);
  }
  const users = model.table('systemuser');
  if (!users) throw errors.invalidArgument('This emulator schema has no systemuser table to impersonate.');
  const wanted = value.toLowerCase();
  const column = objectId !== undefined ? 'azureactivedirectoryobjectid' : users.primaryId.logicalName;
  for (const id of store.sortedIds(users)) {
    const row = store.get(users, id);
    if (typeof row?.[column] === 'string' && (row[column] as string).toLowerCase() === wanted) {
      return { userId: id, impersonating: true };
    }
  }
  throw new DataverseError(404, '0x80040217', `systemuser With ${column} = ${value} Does Not Exist`);
}
