// Who is calling and what they may do: WhoAmI, a user's privilege by name, and duplicate look-ups.
import { parseJson, type ApiSender, type Row } from './api.js';
import { entityInfo } from './metadata.js';
import { odataString } from './records.js';

export interface WhoAmI {
  readonly userId: string;
  readonly businessUnitId?: string;
  readonly organizationId?: string;
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export async function whoAmI(api: ApiSender): Promise<WhoAmI> {
  const res = await api.send({ method: 'GET', path: 'WhoAmI', idempotent: true });
  const body = parseJson<{ UserId?: string; BusinessUnitId?: string; OrganizationId?: string }>(res);
  if (typeof body?.UserId !== 'string') throw new Error('WhoAmI answered without a UserId');
  return {
    userId: body.UserId.toLowerCase(),
    ...(body.BusinessUnitId ? { businessUnitId: body.BusinessUnitId.toLowerCase() } : {}),
    ...(body.OrganizationId ? { organizationId: body.OrganizationId.toLowerCase() } : {}),
  };
}

/**
 * `systemusers(<id>)/Microsoft.Dynamics.CRM.RetrieveUserPrivilegeByPrivilegeName(PrivilegeName='…')`
 * lists the user's role privileges of that name (through roles and teams); none means the user lacks it.
 */
export async function userHasPrivilege(
  api: ApiSender,
  userId: string,
  privilegeName: string,
): Promise<boolean> {
  if (!GUID.test(userId)) throw new Error(`Not a systemuserid: ${userId}`);
  const res = await api.send({
    method: 'GET',
    path: `systemusers(${userId})/Microsoft.Dynamics.CRM.RetrieveUserPrivilegeByPrivilegeName(PrivilegeName=${encodeURIComponent(odataString(privilegeName))})`,
    idempotent: true,
    table: 'systemuser',
  });
  const body = parseJson<{ RolePrivileges?: { PrivilegeName?: string }[] }>(res);
  return (body?.RolePrivileges ?? []).some(
    (p) => p.PrivilegeName?.toLowerCase() === privilegeName.toLowerCase(),
  );
}

/**
 * The unbound `RetrieveDuplicates(BusinessEntity=@p1,MatchingEntityName=@p2,PagingInfo=@p3)` function:
 * the records of `table` the published rules match for `data` (a create body).
 */
export async function retrieveDuplicates(api: ApiSender, table: string, data: Row, max = 5): Promise<Row[]> {
  const info = await entityInfo(api, table);
  const entity = { '@odata.type': `Microsoft.Dynamics.CRM.${info.logicalName}`, ...data };
  const res = await api.send({
    method: 'GET',
    path: 'RetrieveDuplicates(BusinessEntity=@p1,MatchingEntityName=@p2,PagingInfo=@p3)',
    query: {
      '@p1': JSON.stringify(entity),
      '@p2': odataString(info.logicalName),
      '@p3': JSON.stringify({ PageNumber: 1, Count: max }),
    },
    idempotent: true,
    table,
  });
  return parseJson<{ value?: Row[] }>(res)?.value ?? [];
}
