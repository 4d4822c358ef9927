import type { ImportJob } from '../config/job.js';
import { privilegesNeeded, writeHeaders, type WriteOptions } from '../dataverse/write-options.js';
import type { PreflightProblem } from './service.js';
import type { Row, WriteClient } from './write-client.js';

// A job that bypasses business logic or writes as another user needs privileges the identity may
// lack. Checked once before any row is read: a missing privilege fails the run up front, naming it,
// instead of failing every row with the same 403.

/** What the check needs from the Dataverse client (the real client has all of it). */
export interface PrivilegeClient extends Pick<WriteClient, 'query'> {
  whoAmI?(): Promise<{ readonly userId: string }>;
  userHasPrivilege?(userId: string, privilegeName: string): Promise<boolean>;
}

export function writeOptionsOf(job: ImportJob): WriteOptions {
  return {
    ...(job.bypass ? { bypass: job.bypass } : {}),
    duplicateDetection: job.duplicateDetection,
    ...(job.callerObjectId ? { callerObjectId: job.callerObjectId } : {}),
  };
}

/** The headers every write of the job sends (empty for a plain job). */
export function jobWriteHeaders(job: ImportJob): Record<string, string> {
  return writeHeaders(writeOptionsOf(job));
}

export async function checkJobPrivileges(
  client: PrivilegeClient,
  job: ImportJob,
): Promise<PreflightProblem | undefined> {
  const needs = privilegesNeeded(writeOptionsOf(job));
  if (needs.length === 0) return undefined;
  if (!client.whoAmI || !client.userHasPrivilege) {
    throw new Error('This Dataverse client cannot check privileges (whoAmI / userHasPrivilege)');
  }
  const caller = (await client.whoAmI()).userId;
  let writer = caller;
  if (job.callerObjectId) {
    const found = await findUserByObjectId(client, job.callerObjectId);
    if (found === undefined) {
      return {
        code: 'UnknownCaller',
        message: `Job '${job.name}': callerObjectId ${job.callerObjectId} is not the Entra object id of any Dataverse user (systemuser.azureactivedirectoryobjectid); nothing was written.`,
      };
    }
    writer = found;
  }
  for (const need of needs) {
    const holder = need.holder === 'caller' ? caller : writer;
    if (await client.userHasPrivilege(holder, need.privilege)) continue;
    const who =
      need.holder === 'caller' || holder === caller
        ? `the identity running the import (systemuserid ${caller})`
        : `the user it writes as (callerObjectId ${job.callerObjectId ?? ''}, systemuserid ${holder})`;
    return {
      code: 'MissingPrivilege',
      message: `Job '${job.name}' sets ${need.option}, which needs the ${need.privilege} privilege, but ${who} does not hold it; nothing was written. Give it a security role with ${need.privilege}, or remove ${need.option} from the job.`,
    };
  }
  return undefined;
}

async function findUserByObjectId(client: PrivilegeClient, objectId: string): Promise<string | undefined> {
  const rows = client
    .query('systemuser', {
      select: ['systemuserid'],
      filter: `azureactivedirectoryobjectid eq ${objectId.toLowerCase()}`,
      pageSize: 2,
    })
    .rows();
  for await (const row of rows as AsyncIterable<Row>) {
    const id = row.systemuserid;
    if (typeof id === 'string') return id.toLowerCase();
  }
  return undefined;
}
