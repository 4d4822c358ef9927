import type { ImportJob } from '../config/job.js';
import {
  privilegesNeeded,
  writeHeaders,
  type PrivilegeNeed,
  type WriteOptions,
} from '../dataverse/write-options.js';
import type { PreflightProblem } from './service.js';
import type { Row, WriteClient } from './write-client.js';

// A job that bypasses business logic or writes as another user needs privileges the identity may
// lack. Checked once before any row is read: a missing privilege fails the run up front, naming it,
// instead of failing every row with the same 403.

/** What the check needs from the Dataverse client (the real client has all of it). */
export interface PrivilegeClient extends Pick<WriteClient, 'query'> {
  whoAmI?(): Promise<{ readonly userId: string }>;
  userHasPrivilege?(userId: string, privilegeName: string): Promise<boolean>;
  /** The pool's identities (client ids): each one writes, so each one is checked. */
  readonly identities?: readonly string[];
  /** The client sending as that one identity. */
  asIdentity?(identity: string): PrivilegeClient;
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

/** One identity of the pool and the Dataverse user it signs in as. */
interface Identity {
  readonly name: string | undefined;
  readonly userId: string;
}

/**
 * Checks every privilege the job's options need, for every identity of the client's pool (requests
 * are spread over all of them, so one lacking a privilege would fail its share of the rows). A
 * problem names the option, the privilege and each identity lacking it, by client id and systemuserid.
 */
export async function checkJobPrivileges(
  client: PrivilegeClient,
  job: ImportJob,
): Promise<PreflightProblem | undefined> {
  const needs = privilegesNeeded(writeOptionsOf(job));
  if (needs.length === 0) return undefined;
  if (!client.whoAmI || !client.userHasPrivilege) {
    throw new Error('This Dataverse client cannot check privileges (whoAmI / userHasPrivilege)');
  }
  let writer: string | undefined;
  if (job.callerObjectId) {
    writer = await findUserByObjectId(client, job.callerObjectId);
    if (writer === undefined) {
      return {
        code: 'UnknownCaller',
        message: `Job '${job.name}': callerObjectId ${job.callerObjectId} is not the Entra object id of any Dataverse user (systemuser.azureactivedirectoryobjectid); nothing was written.`,
      };
    }
  }
  const identities = await identitiesOf(client);
  for (const need of needs) {
    // An impersonated request runs as the user it names: that user's privilege, checked once.
    if (need.holder === 'writer' && writer !== undefined) {
      if (await hasPrivilege(client, writer, need.privilege)) continue;
      return missing(
        job,
        need,
        `the user it writes as (callerObjectId ${job.callerObjectId ?? ''}, systemuserid ${writer}) does not hold it`,
      );
    }
    const lacking: Identity[] = [];
    for (const identity of identities) {
      const asked =
        identity.name !== undefined && client.asIdentity ? client.asIdentity(identity.name) : client;
      if (!(await hasPrivilege(asked, identity.userId, need.privilege))) lacking.push(identity);
    }
    if (lacking.length === 0) continue;
    const named = lacking.map(describeIdentity).join('; ');
    const who =
      identities.length === 1
        ? `the identity running the import (${named}) does not hold it`
        : `${lacking.length} of the ${identities.length} identities running the import do not hold it (${named})`;
    return missing(job, need, who);
  }
  return undefined;
}

function missing(job: ImportJob, need: PrivilegeNeed, who: string): PreflightProblem {
  return {
    code: 'MissingPrivilege',
    message: `Job '${job.name}' sets ${need.option}, which needs the ${need.privilege} privilege, but ${who}; nothing was written. Give it a security role with ${need.privilege}, or remove ${need.option} from the job.`,
  };
}

async function hasPrivilege(client: PrivilegeClient, userId: string, privilege: string): Promise<boolean> {
  return client.userHasPrivilege!(userId, privilege);
}

/** A client id names an identity without personal data; the systemuserid finds it in Dataverse. */
function describeIdentity(identity: Identity): string {
  return identity.name !== undefined && identity.name !== 'default'
    ? `client id ${identity.name}, systemuserid ${identity.userId}`
    : `systemuserid ${identity.userId}`;
}

/** Each identity of the pool with its user (WhoAmI sent as that identity); one when there is no pool. */
async function identitiesOf(client: PrivilegeClient): Promise<Identity[]> {
  const names = client.identities ?? [];
  if (names.length <= 1 || !client.asIdentity) {
    return [{ name: names[0], userId: (await client.whoAmI!()).userId }];
  }
  const found: Identity[] = [];
  for (const name of names) {
    const asked = client.asIdentity(name);
    if (!asked.whoAmI) throw new Error('This Dataverse client cannot check privileges (whoAmI)');
    found.push({ name, userId: (await asked.whoAmI()).userId });
  }
  return found;
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
