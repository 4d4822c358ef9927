// Request headers that change how Dataverse runs writes, and the privileges they need
// (reference dataverse-webapi.md §13, from Learn's "Bypass custom business logic", "Bypass Power
// Automate flows", "Impersonate another user" and "Detect duplicate data" pages).

export const Privileges = {
  /** MSCRM.BypassBusinessLogicExecution and MSCRM.BypassBusinessLogicExecutionStepIds. */
  bypassCustomBusinessLogic: 'prvBypassCustomBusinessLogic',
  /** CallerObjectId / MSCRMCallerID: "Act on Behalf of Another User". */
  actOnBehalfOfAnotherUser: 'prvActOnBehalfOfAnotherUser',
} as const;

export interface WriteOptions {
  readonly bypass?: {
    readonly customSync: boolean;
    readonly customAsync: boolean;
    readonly powerAutomateFlows: boolean;
    readonly stepIds?: readonly string[];
  };
  /** Send `MSCRM.SuppressDuplicateDetection: false` (the Web API skips detection otherwise). */
  readonly duplicateDetection: boolean;
  /** Entra object id of the user to write as. */
  readonly callerObjectId?: string;
}

/** The headers every write of a job carries. Empty when the job asks for nothing special. */
export function writeHeaders(options: WriteOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const bypass = options.bypass;
  if (bypass) {
    const kinds = [
      ...(bypass.customSync ? ['CustomSync'] : []),
      ...(bypass.customAsync ? ['CustomAsync'] : []),
    ];
    if (kinds.length > 0) headers['MSCRM.BypassBusinessLogicExecution'] = kinds.join(',');
    if (bypass.stepIds?.length) {
      headers['MSCRM.BypassBusinessLogicExecutionStepIds'] = bypass.stepIds.join(',');
    }
    if (bypass.powerAutomateFlows) headers['MSCRM.SuppressCallbackRegistrationExpanderJob'] = 'true';
  }
  if (options.duplicateDetection) headers['MSCRM.SuppressDuplicateDetection'] = 'false';
  if (options.callerObjectId) headers.CallerObjectId = options.callerObjectId.toLowerCase();
  return headers;
}

/** What needs which privilege, for the check before any row is written. */
export interface PrivilegeNeed {
  readonly privilege: string;
  /** The job option that needs it, as the job file spells it. */
  readonly option: string;
  /** Whose privilege: the identity running the import, or the user it writes as. */
  readonly holder: 'caller' | 'writer';
}

export function privilegesNeeded(options: WriteOptions): PrivilegeNeed[] {
  const needs: PrivilegeNeed[] = [];
  if (options.callerObjectId) {
    needs.push({
      privilege: Privileges.actOnBehalfOfAnotherUser,
      option: 'callerObjectId',
      holder: 'caller',
    });
  }
  const bypass = options.bypass;
  const logic = bypass
    ? [
        ...(bypass.customSync ? ['bypass.customSync'] : []),
        ...(bypass.customAsync ? ['bypass.customAsync'] : []),
        ...(bypass.stepIds?.length ? ['bypass.stepIds'] : []),
      ]
    : [];
  if (logic.length > 0) {
    // An impersonated request runs in the security context of the user it names.
    needs.push({
      privilege: Privileges.bypassCustomBusinessLogic,
      option: logic.join(', '),
      holder: 'writer',
    });
  }
  return needs;
}
