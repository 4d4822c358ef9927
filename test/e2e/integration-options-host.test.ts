// Issue 20 through the Functions app on the local host (Azurite + emulator): a job that bypasses
// business logic fails up front without the privilege and writes with the headers once it is granted;
// owners are resolved from user emails / domain names and team names; impersonation shows in the audit
// columns, and an extract of them reads the users back with their names.
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import type { RunningEmulator } from '../../emulator/index.js';
import { startLocalApp, type LocalApp } from '../helpers/local-app.js';
import { names } from '../../src/app/runtime.js';
import type { RunSummary } from '../../src/imports/types.js';
import type { BlobObjectStore } from '../../src/storage/blob-store.js';
import { getJson } from '../../src/storage/object-store.js';
import { stableGuid } from '../../emulator/model.js';

describe('integration options on the local Functions host', () => {
  let app: LocalApp;
  let emulator: RunningEmulator;
  let blobs: BlobServiceClient;
  let results: BlobObjectStore;

  beforeAll(async () => {
    app = await startLocalApp();
    ({ emulator, blobs, results } = app);
    await putJob({
      name: 'quiet-accounts',
      table: 'account',
      operation: 'create',
      columns: { Name: 'name', Number: 'accountnumber' },
      bypass: { customSync: true, powerAutomateFlows: true },
    });
    await putJob({
      name: 'owned-accounts',
      table: 'account',
      operation: 'create',
      columns: { Name: 'name', Owner: 'ownerid' },
    });
  });

  afterAll(async () => {
    await app?.stop();
  });

  const waitForSummary = (runId: string, timeoutMs?: number) => app.waitForSummary(runId, timeoutMs);
  const putJob = (job: Record<string, unknown>) => app.putJob(job);
  const drop = (container: ContainerClient, name: string, body: string) => app.drop(container, name, body);

  /** A run refused before planning has no manifest: its summary is in results/<job>/<input>/<runId>/. */
  async function waitForRejection(prefix: string, runId: string, timeoutMs = 60_000): Promise<RunSummary> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const summary = await getJson<RunSummary>(results, `${prefix}/${runId}/summary.json`);
      if (summary) return summary;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`run ${runId} was not refused within ${timeoutMs} ms`);
  }

  it('bypass: a missing privilege fails the run before any row is written; granted, every write carries the headers', async () => {
    const incoming = blobs.getContainerClient(names.incoming);
    const refusedRun = await drop(
      incoming,
      'quiet-accounts/first.csv',
      'Name,Number\nContoso,Q-1\nFabrikam,Q-2\n',
    );
    const refused = await waitForRejection('quiet-accounts/first.csv', refusedRun);
    expect(refused.status).toBe('failed');
    expect(refused.error?.code).toBe('MissingPrivilege');
    expect(refused.error?.message).toContain('prvBypassCustomBusinessLogic');
    // The host's identity is the emulator user "dvpipe" (no DATAVERSE_CLIENT_IDS set).
    expect(refused.error?.message).toContain(stableGuid('systemuser:dvpipe'));
    expect(emulator.store.count('account')).toBe(0);

    await fetch(`${emulator.url}/_emulator/configure`, {
      method: 'POST',
      body: JSON.stringify({ privileges: { dvpipe: { prvBypassCustomBusinessLogic: true } } }),
    });
    const mark = emulator.recentLog().length;
    const grantedRun = await drop(
      incoming,
      'quiet-accounts/second.csv',
      'Name,Number\nContoso,Q-1\nFabrikam,Q-2\n',
    );
    const granted = await waitForSummary(grantedRun);
    expect(granted.rows).toMatchObject({ total: 2, succeeded: 2, failed: 0 });
    expect(
      emulator.store
        .all('account')
        .map((a) => a.name)
        .sort(),
    ).toEqual(['Contoso', 'Fabrikam']);
    const writes = emulator
      .recentLog()
      .slice(mark)
      .filter((e) => e.method !== 'GET');
    expect(writes.length).toBeGreaterThan(0);
    for (const write of writes) {
      expect(write.options).toEqual([
        'BypassBusinessLogicExecution=CustomSync',
        'SuppressCallbackRegistrationExpanderJob',
      ]);
    }
  });

  it('associate with bypass: the $batch links carry the headers on the host too', async () => {
    // The host identity "dvpipe" may bypass (granted here, whatever order the tests run in).
    await fetch(`${emulator.url}/_emulator/configure`, {
      method: 'POST',
      body: JSON.stringify({ privileges: { dvpipe: { prvBypassCustomBusinessLogic: true } } }),
    });
    const list = emulator.store.put('list', { listname: 'Quiet Members', createdfromcode: 2 });
    const members = ['q1@example.com', 'q2@example.com'].map((email) =>
      emulator.store.put('contact', { emailaddress1: email, lastname: email.slice(0, 2) }),
    );
    await putJob({
      name: 'quiet-members',
      table: 'list',
      operation: 'associate',
      relationship: 'listcontact_association',
      columns: {
        List: 'listname',
        Email: { attribute: 'contactid', lookup: 'contact', by: 'emailaddress1' },
      },
      bypass: { customSync: true, customAsync: true },
    });
    const mark = emulator.recentLog().length;
    const runId = await drop(
      blobs.getContainerClient(names.incoming),
      'quiet-members/pairs.csv',
      'List,Email\nQuiet Members,q1@example.com\nQuiet Members,q2@example.com\n',
    );
    const summary = await waitForSummary(runId);
    expect(summary.rows).toMatchObject({ total: 2, succeeded: 2, associated: 2 });
    expect(emulator.store.related('list', list, 'listcontact_association')).toEqual([...members].sort());
    const batches = emulator
      .recentLog()
      .slice(mark)
      .filter((e) => e.operation === 'batch');
    expect(batches).toHaveLength(1);
    expect(batches[0]!.options).toEqual(['BypassBusinessLogicExecution=CustomSync,CustomAsync']);
  });

  it('impersonation: rows are created as the user callerObjectId names, the host identity as the delegate; an update run moves only modified*', async () => {
    const adaObjectId = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
    const alanObjectId = '9b2d3c4e-5f60-4a7b-8c9d-0e1f2a3b4c5d';
    const ada = emulator.store.put('systemuser', {
      firstname: 'Ada',
      lastname: 'Byron',
      domainname: 'ada.byron@contoso.com',
      azureactivedirectoryobjectid: adaObjectId,
    });
    const alan = emulator.store.put('systemuser', {
      firstname: 'Alan',
      lastname: 'Kay',
      domainname: 'alan.kay@contoso.com',
      azureactivedirectoryobjectid: alanObjectId,
    });
    const host = stableGuid('systemuser:dvpipe');
    await fetch(`${emulator.url}/_emulator/configure`, {
      method: 'POST',
      body: JSON.stringify({ privileges: { dvpipe: { prvActOnBehalfOfAnotherUser: true } } }),
    });
    const people = {
      name: 'people-as-ada',
      table: 'contact',
      operation: 'create',
      columns: { Email: 'emailaddress1', 'Last Name': 'lastname' },
      callerObjectId: adaObjectId,
    };
    await putJob(people);
    await putJob({
      ...people,
      name: 'people-as-alan',
      operation: 'update',
      key: ['emailaddress1'],
      callerObjectId: alanObjectId,
    });
    const incoming = blobs.getContainerClient(names.incoming);
    const emails = ['imp1@example.com', 'imp2@example.com', 'imp3@example.com'];
    const created = await waitForSummary(
      await drop(
        incoming,
        'people-as-ada/people.csv',
        `Email,Last Name\n${emails.map((e, i) => `${e},Person ${i}`).join('\n')}\n`,
      ),
    );
    expect(created.rows).toMatchObject({ total: 3, succeeded: 3, failed: 0 });
    const audit = () =>
      Object.fromEntries(
        emulator.store
          .all('contact')
          .filter((c) => emails.includes(String(c.emailaddress1)))
          .map((c) => [
            c.emailaddress1,
            [
              c._createdby_value,
              c._createdonbehalfby_value,
              c._modifiedby_value,
              c._modifiedonbehalfby_value,
            ],
          ]),
      );
    expect(audit()).toEqual(Object.fromEntries(emails.map((e) => [e, [ada, host, ada, host]])));

    const updated = await waitForSummary(
      await drop(incoming, 'people-as-alan/people.csv', `Email,Last Name\n${emails[0]},Renamed\n`),
    );
    expect(updated.rows).toMatchObject({ total: 1, succeeded: 1, failed: 0 });
    expect(audit()).toEqual({
      [emails[0]!]: [ada, host, alan, host],
      [emails[1]!]: [ada, host, ada, host],
      [emails[2]!]: [ada, host, ada, host],
    });

    // An extract ("run now") of the audit columns with labels: the ids and the users' names.
    await putJob({
      name: 'people-audit',
      table: 'contact',
      columns: ['emailaddress1', 'createdby', 'createdonbehalfby', 'modifiedby', 'modifiedonbehalfby'],
      filter: "startswith(emailaddress1,'imp')",
      output: { path: 'extracts/{job}/{job}-{timestamp}.csv', formattedValues: true },
    });
    const ran = await fetch(
      `${app.host.httpUrl}/api/extracts/people-audit/run?code=${app.host.functionKey}`,
      { method: 'POST' },
    );
    expect(ran.status).toBe(200);
    const { manifest } = (await ran.json()) as { manifest: { path: string; rows: number } };
    expect(manifest.rows).toBe(3);
    const csv = await blobs
      .getContainerClient(names.extracts)
      .getBlobClient(manifest.path.replace(/^extracts\//, ''))
      .downloadToBuffer();
    const extracted = (parse(csv, { columns: true, bom: true }) as Record<string, string>[]).sort((a, b) =>
      a.emailaddress1!.localeCompare(b.emailaddress1!),
    );
    const named = (email: string, modifiedBy: string, modifiedByName: string) => ({
      emailaddress1: email,
      createdby: ada,
      'createdby@label': 'Ada Byron',
      createdonbehalfby: host,
      'createdonbehalfby@label': 'dvpipe',
      modifiedby: modifiedBy,
      'modifiedby@label': modifiedByName,
      modifiedonbehalfby: host,
      'modifiedonbehalfby@label': 'dvpipe',
    });
    expect(extracted).toEqual([
      named(emails[0]!, alan, 'Alan Kay'),
      named(emails[1]!, ada, 'Ada Byron'),
      named(emails[2]!, ada, 'Ada Byron'),
    ]);
  });

  it('owners: ownerid from a user email or domain name, or a team name', async () => {
    const ada = emulator.store.put('systemuser', {
      firstname: 'Ada',
      lastname: 'Lovelace',
      domainname: 'ada@contoso.com',
      internalemailaddress: 'ada.lovelace@contoso.com',
    });
    const support = emulator.store.put('team', { name: 'Support', teamtype: 0 });
    const incoming = blobs.getContainerClient(names.incoming);
    const runId = await drop(
      incoming,
      'owned-accounts/owners.csv',
      'Name,Owner\nOwned One,ada@contoso.com\nOwned Two,ADA.LOVELACE@contoso.com\nOwned Three,Support\nOwned Four,nobody@contoso.com\n',
    );
    const summary = await waitForSummary(runId);
    expect(summary.rows).toMatchObject({ total: 4, succeeded: 3, failed: 1 });
    const owners = Object.fromEntries(
      emulator.store
        .all('account')
        .filter((a) => String(a.name).startsWith('Owned'))
        .map((a) => [a.name, a._ownerid_value]),
    );
    expect(owners).toEqual({ 'Owned One': ada, 'Owned Two': ada, 'Owned Three': support });
  });
});
