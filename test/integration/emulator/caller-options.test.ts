import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { emulatorUserObjectId } from '../../../emulator/records.js';
import type { RunningEmulator } from '../../../emulator/index.js';
import { stableGuid } from '../../../emulator/model.js';
import { call, idFrom, startFast } from './client.js';

// Conformance with reference/dataverse-webapi.md §13: bypass headers and their privileges, duplicate
// detection, impersonation (CallerObjectId / MSCRMCallerID), and the privilege look-up function.

let emu: RunningEmulator;
beforeAll(async () => {
  emu = await startFast();
});
afterAll(() => emu.close());
beforeEach(async () => {
  await fetch(`${emu.url}/_emulator/reset`, { method: 'POST' });
});

const grant = (privileges: Record<string, Record<string, boolean>>) =>
  fetch(`${emu.url}/_emulator/configure`, { method: 'POST', body: JSON.stringify({ privileges }) });

const lastLog = () => emu.recentLog().at(-1)!;

describe('[webapi §13 bypass] MSCRM.BypassBusinessLogicExecution and friends', () => {
  it('refuses CustomSync,CustomAsync without prvBypassCustomBusinessLogic with 403 0x80040220 naming it, and writes nothing', async () => {
    const r = await call(emu, 'POST', 'accounts', {
      body: { name: 'Refused' },
      headers: { 'MSCRM.BypassBusinessLogicExecution': 'CustomSync,CustomAsync' },
    });
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('0x80040220');
    expect(r.json.error.message).toContain('prvBypassCustomBusinessLogic');
    expect(r.json.error.message).toContain(stableGuid('systemuser:tester'));
    expect(emu.store.count('account')).toBe(0);
  });

  it('accepts it once the user holds the privilege, and the log records what was bypassed', async () => {
    await grant({ tester: { prvBypassCustomBusinessLogic: true } });
    const r = await call(emu, 'POST', 'accounts', {
      body: { name: 'Bypassed' },
      headers: {
        'MSCRM.BypassBusinessLogicExecution': 'CustomSync',
        'MSCRM.SuppressCallbackRegistrationExpanderJob': 'true',
      },
    });
    expect(r.status).toBe(204);
    expect(lastLog().options).toEqual([
      'BypassBusinessLogicExecution=CustomSync',
      'SuppressCallbackRegistrationExpanderJob',
    ]);
    // Taking the privilege back refuses the next request.
    await grant({ tester: { prvBypassCustomBusinessLogic: false } });
    const again = await call(emu, 'POST', 'accounts', {
      body: { name: 'Again' },
      headers: { 'MSCRM.BypassBusinessLogicExecution': 'CustomSync' },
    });
    expect(again.status).toBe(403);
  });

  it('rejects unknown values and more than three step ids with 400', async () => {
    await grant({ tester: { prvBypassCustomBusinessLogic: true } });
    const bad = await call(emu, 'POST', 'accounts', {
      body: { name: 'x' },
      headers: { 'MSCRM.BypassBusinessLogicExecution': 'Everything' },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toContain("'Everything'");
    const ids = [1, 2, 3, 4].map((n) => stableGuid(`step ${n}`));
    const four = await call(emu, 'POST', 'accounts', {
      body: { name: 'x' },
      headers: { 'MSCRM.BypassBusinessLogicExecutionStepIds': ids.join(',') },
    });
    expect(four.status).toBe(400);
    expect(four.json.error.message).toContain('at most 3');
    const three = await call(emu, 'POST', 'accounts', {
      body: { name: 'x' },
      headers: { 'MSCRM.BypassBusinessLogicExecutionStepIds': ids.slice(0, 3).join(',') },
    });
    expect(three.status).toBe(204);
  });

  it('the legacy MSCRM.BypassCustomPluginExecution needs prvBypassCustomPlugins', async () => {
    await grant({ tester: { prvBypassCustomBusinessLogic: true } });
    const r = await call(emu, 'POST', 'accounts', {
      body: { name: 'x' },
      headers: { 'MSCRM.BypassCustomPluginExecution': 'true' },
    });
    expect(r.status).toBe(403);
    expect(r.json.error.message).toContain('prvBypassCustomPlugins');
  });

  it('checks each $batch part on its own', async () => {
    const boundary = 'batch_x';
    const part = (bypass: boolean) =>
      [
        `--${boundary}`,
        'Content-Type: application/http',
        'Content-Transfer-Encoding: binary',
        '',
        `POST ${emu.apiRoot}accounts HTTP/1.1`,
        'Content-Type: application/json',
        ...(bypass ? ['MSCRM.BypassBusinessLogicExecution: CustomAsync'] : []),
        '',
        JSON.stringify({ name: bypass ? 'with' : 'without' }),
      ].join('\r\n');
    const r = await call(emu, 'POST', '$batch', {
      body: [part(false), part(true), `--${boundary}--`, ''].join('\r\n'),
      headers: {
        'Content-Type': `multipart/mixed; boundary=${boundary}`,
        Prefer: 'odata.continue-on-error',
      },
    });
    expect(r.status).toBe(200);
    expect(r.text).toContain('HTTP/1.1 204');
    expect(r.text).toContain('HTTP/1.1 403');
    expect(emu.store.all('account').map((a) => a.name)).toEqual(['without']);
  });
});

describe('[webapi §13 duplicate detection] MSCRM.SuppressDuplicateDetection: false', () => {
  it('is off by default: a second account of the same name is created', async () => {
    expect((await call(emu, 'POST', 'accounts', { body: { name: 'Contoso' } })).status).toBe(204);
    expect((await call(emu, 'POST', 'accounts', { body: { name: 'contoso ' } })).status).toBe(204);
    expect(emu.store.count('account')).toBe(2);
  });

  it('when asked, a create matching a published rule answers 500 0x80040333 and writes nothing', async () => {
    const first = await call(emu, 'POST', 'accounts', { body: { name: 'Contoso' } });
    const headers = { 'MSCRM.SuppressDuplicateDetection': 'false' };
    const r = await call(emu, 'POST', 'accounts', { body: { name: ' CONTOSO' }, headers });
    expect(r.status).toBe(500);
    expect(r.json.error.code).toBe('0x80040333');
    expect(emu.store.count('account')).toBe(1);
    expect(lastLog().options).toEqual(['DuplicateDetection']);
    // An update that would make a duplicate fails the same way; one that does not succeeds.
    const other = idFrom(
      (await call(emu, 'POST', 'accounts', { body: { name: 'Fabrikam' } })).headers.get('OData-EntityId'),
    );
    const clash = await call(emu, 'PATCH', `accounts(${other})`, {
      body: { name: 'contoso' },
      headers: { ...headers, 'If-Match': '*' },
    });
    expect(clash.json.error.code).toBe('0x80040333');
    const fine = await call(emu, 'PATCH', `accounts(${other})`, {
      body: { name: 'Fabrikam Ltd' },
      headers: { ...headers, 'If-Match': '*' },
    });
    expect(fine.status).toBe(204);
    // The record updating itself is not its own duplicate.
    const self = await call(emu, 'PATCH', `accounts(${idFrom(first.headers.get('OData-EntityId'))})`, {
      body: { name: 'Contoso', description: 'same' },
      headers: { ...headers, 'If-Match': '*' },
    });
    expect(self.status).toBe(204);
  });

  it('applies inside CreateMultiple (all or nothing) and RetrieveDuplicates names the matching record', async () => {
    const first = idFrom(
      (await call(emu, 'POST', 'accounts', { body: { name: 'Contoso' } })).headers.get('OData-EntityId'),
    );
    const r = await call(emu, 'POST', 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', {
      body: {
        Targets: [
          { '@odata.type': 'Microsoft.Dynamics.CRM.account', name: 'New one' },
          { '@odata.type': 'Microsoft.Dynamics.CRM.account', name: 'contoso' },
        ],
      },
      headers: { 'MSCRM.SuppressDuplicateDetection': 'false' },
    });
    expect(r.status).toBe(500);
    expect(emu.store.count('account')).toBe(1);
    const entity = encodeURIComponent(
      JSON.stringify({ '@odata.type': 'Microsoft.Dynamics.CRM.account', name: 'CONTOSO' }),
    );
    const dup = await call(
      emu,
      'GET',
      `RetrieveDuplicates(BusinessEntity=@p1,MatchingEntityName=@p2,PagingInfo=@p3)?@p1=${entity}&@p2='account'&@p3=${encodeURIComponent('{"PageNumber":1,"Count":5}')}`,
    );
    expect(dup.status).toBe(200);
    expect(dup.json.value.map((v: { accountid: string; name: string }) => [v.accountid, v.name])).toEqual([
      [first, 'Contoso'],
    ]);
  });
});

describe('[webapi §13 impersonation] CallerObjectId and MSCRMCallerID', () => {
  const seedUser = async () => {
    const r = await fetch(`${emu.url}/_emulator/tables/systemusers`, {
      method: 'POST',
      body: JSON.stringify({
        firstname: 'Ada',
        lastname: 'Lovelace',
        domainname: 'ada@contoso.com',
        internalemailaddress: 'ada@contoso.com',
        azureactivedirectoryobjectid: '0f8fad5b-d9cb-469f-a165-70867728950e',
      }),
    });
    return ((await r.json()) as { ids: string[] }).ids[0]!;
  };

  it('refuses without prvActOnBehalfOfAnotherUser, naming it, and writes nothing', async () => {
    await seedUser();
    const r = await call(emu, 'POST', 'contacts', {
      body: { lastname: 'X' },
      headers: { CallerObjectId: '0f8fad5b-d9cb-469f-a165-70867728950e' },
    });
    expect(r.status).toBe(403);
    expect(r.json.error.message).toContain('prvActOnBehalfOfAnotherUser');
    expect(emu.store.count('contact')).toBe(0);
  });

  it('with the privilege, the record is owned by the impersonated user and WhoAmI answers as them', async () => {
    const ada = await seedUser();
    await grant({ tester: { prvActOnBehalfOfAnotherUser: true } });
    const headers = { CallerObjectId: '0F8FAD5B-D9CB-469F-A165-70867728950E' };
    const r = await call(emu, 'POST', 'contacts', { body: { lastname: 'X' }, headers });
    expect(r.status).toBe(204);
    const row = emu.store.get('contact', idFrom(r.headers.get('OData-EntityId')))!;
    expect(row._ownerid_value).toBe(ada);
    expect(lastLog().impersonating).toBe(ada);
    expect((await call(emu, 'GET', 'WhoAmI', { headers })).json.UserId).toBe(ada);
    const byId = await call(emu, 'POST', 'contacts', {
      body: { lastname: 'Y' },
      headers: { MSCRMCallerID: ada },
    });
    expect(emu.store.get('contact', idFrom(byId.headers.get('OData-EntityId')))!._ownerid_value).toBe(ada);
    // Without the header the caller owns what it creates.
    const own = await call(emu, 'POST', 'contacts', { body: { lastname: 'Z' } });
    expect(emu.store.get('contact', idFrom(own.headers.get('OData-EntityId')))!._ownerid_value).toBe(
      stableGuid('systemuser:tester'),
    );
  });

  // Learn, "Impersonate another user using the Web API", Determine the actual user: its query (the
  // emulator's schema has no owninguser column, so that expansion is left out).
  it('audit columns: createdby is the impersonated user, createdonbehalfby the caller; an update moves only modified*', async () => {
    const ada = await seedUser();
    const tester = stableGuid('systemuser:tester');
    await grant({ tester: { prvActOnBehalfOfAnotherUser: true } });
    const created = await call(emu, 'POST', 'accounts', {
      body: { name: 'Sample Account created using impersonation' },
      headers: { CallerObjectId: '0f8fad5b-d9cb-469f-a165-70867728950e' },
    });
    expect(created.status).toBe(204);
    const id = idFrom(created.headers.get('OData-EntityId'));
    const read = await call(
      emu,
      'GET',
      `accounts(${id})?$select=name&$expand=createdby($select=fullname),createdonbehalfby($select=fullname)`,
    );
    expect(read.status).toBe(200);
    expect(read.json.createdby).toMatchObject({ fullname: 'Ada Lovelace', systemuserid: ada });
    expect(read.json.createdonbehalfby).toMatchObject({ fullname: 'tester', systemuserid: tester });
    const audit = (row: Record<string, unknown>) => ({
      createdby: row._createdby_value,
      createdonbehalfby: row._createdonbehalfby_value,
      modifiedby: row._modifiedby_value,
      modifiedonbehalfby: row._modifiedonbehalfby_value,
    });
    expect(audit(emu.store.get('account', id)!)).toEqual({
      createdby: ada,
      createdonbehalfby: tester,
      modifiedby: ada,
      modifiedonbehalfby: tester,
    });
    // An update by another caller, not impersonating: modified* move, created* stay.
    const other = stableGuid('systemuser:other');
    const updated = await call(emu, 'PATCH', `accounts(${id})`, {
      body: { telephone1: '555' },
      user: 'other',
    });
    expect(updated.status).toBe(204);
    expect(audit(emu.store.get('account', id)!)).toEqual({
      createdby: ada,
      createdonbehalfby: tester,
      modifiedby: other,
      modifiedonbehalfby: null,
    });
    // Without impersonation nobody acted on anyone's behalf.
    const own = await call(emu, 'POST', 'accounts', { body: { name: 'Own' } });
    expect(audit(emu.store.get('account', idFrom(own.headers.get('OData-EntityId')))!)).toEqual({
      createdby: tester,
      createdonbehalfby: null,
      modifiedby: tester,
      modifiedonbehalfby: null,
    });
    // Read-only, as Dataverse has them: a body naming them does not change them.
    await call(emu, 'PATCH', `accounts(${id})`, {
      body: { 'createdby@odata.bind': `/systemusers(${other})` },
    });
    expect(emu.store.get('account', id)!._createdby_value).toBe(ada);
  });

  it('an object id no user has answers 404', async () => {
    await grant({ tester: { prvActOnBehalfOfAnotherUser: true } });
    const r = await call(emu, 'POST', 'contacts', {
      body: { lastname: 'X' },
      headers: { CallerObjectId: '11111111-2222-3333-4444-555555555555' },
    });
    expect(r.status).toBe(404);
    expect(r.json.error.message).toContain('11111111-2222-3333-4444-555555555555');
  });

  it('emulator users have stable Entra object ids', async () => {
    await call(emu, 'GET', 'WhoAmI', { user: 'other' });
    const users = await call(
      emu,
      'GET',
      `systemusers?$select=fullname,azureactivedirectoryobjectid&$filter=fullname eq 'other'`,
    );
    expect(users.json.value[0].azureactivedirectoryobjectid).toBe(emulatorUserObjectId('other'));
  });
});

describe('[webapi §13 privileges] RetrieveUserPrivilegeByPrivilegeName', () => {
  it('lists the privilege when held and nothing when not', async () => {
    const me = (await call(emu, 'GET', 'WhoAmI')).json.UserId as string;
    const ask = () =>
      call(
        emu,
        'GET',
        `systemusers(${me})/Microsoft.Dynamics.CRM.RetrieveUserPrivilegeByPrivilegeName(PrivilegeName='prvBypassCustomBusinessLogic')`,
      );
    expect((await ask()).json.RolePrivileges).toEqual([]);
    await grant({ tester: { prvBypassCustomBusinessLogic: true } });
    const held = await ask();
    expect(held.status).toBe(200);
    expect(held.json.RolePrivileges.map((p: { PrivilegeName: string }) => p.PrivilegeName)).toEqual([
      'prvBypassCustomBusinessLogic',
    ]);
  });

  it('configure refuses an unknown privilege name', async () => {
    const r = await grant({ tester: { prvEverything: true } });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toContain("Unknown privilege 'prvEverything'");
  });
});
