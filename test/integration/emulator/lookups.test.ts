import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../emulator/index.js';
import { call, idFrom, startFast } from './client.js';

let emu: RunningEmulator;
let accountId: string;
beforeAll(async () => {
  emu = await startFast();
});
afterAll(() => emu.close());
beforeEach(async () => {
  emu.store.clear('account');
  emu.store.clear('contact');
  const r = await call(emu, 'POST', 'accounts', { body: { name: 'Parent Co', accountnumber: 'P-1' } });
  accountId = idFrom(r.headers.get('odata-entityid'));
});

async function contactWith(bind: Record<string, unknown>) {
  return call(emu, 'POST', 'contacts?$select=_parentcustomerid_value', {
    body: { lastname: 'Child', ...bind },
    headers: { Prefer: 'return=representation' },
  });
}

describe('lookups (behaviours item 4)', () => {
  it.each([
    ['leading slash', () => `/accounts(${accountId})`],
    ['no slash', () => `accounts(${accountId})`],
    ['absolute URL', () => `${emu.apiRoot}accounts(${accountId})`],
    ['alternate key', () => `/accounts(accountnumber='P-1')`],
  ])('[webapi §4] polymorphic customer bind by %s sets _parentcustomerid_value', async (_name, value) => {
    const r = await contactWith({ 'parentcustomerid_account@odata.bind': value() });
    expect(r.status).toBe(201);
    expect(r.json._parentcustomerid_value).toBe(accountId);
  });

  it('[webapi §4] lookuplogicalname and associatednavigationproperty annotations tell the target', async () => {
    const parent = await call(emu, 'POST', 'contacts', { body: { lastname: 'Parent' } });
    const parentId = idFrom(parent.headers.get('odata-entityid'));
    const r = await call(emu, 'POST', 'contacts?$select=_parentcustomerid_value', {
      body: { lastname: 'Child', 'parentcustomerid_contact@odata.bind': `/contacts(${parentId})` },
      headers: { Prefer: 'return=representation,odata.include-annotations="*"' },
    });
    expect(r.json['_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname']).toBe('contact');
    expect(r.json['_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty']).toBe(
      'parentcustomerid_contact',
    );
    expect(r.json['_parentcustomerid_value@OData.Community.Display.V1.FormattedValue']).toBe('Parent');
    const keys = Object.keys(r.json);
    expect(keys.indexOf('_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname')).toBeLessThan(
      keys.indexOf('_parentcustomerid_value'),
    );
  });

  it('[webapi §4] a missing bind target → 404 0x80040217 naming the target', async () => {
    const missing = '99999999-9999-9999-9999-999999999999';
    const r = await contactWith({ 'parentcustomerid_account@odata.bind': `/accounts(${missing})` });
    expect(r.status).toBe(404);
    expect(r.json.error).toEqual({
      code: '0x80040217',
      message: `account With Id = ${missing} Does Not Exist`,
    });
  });

  it('[webapi §4] a bind to a set the navigation property does not target → 400', async () => {
    const r = await contactWith({ 'parentcustomerid_account@odata.bind': `/contacts(${accountId})` });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('0x80048d19');
  });

  it('[webapi §4] binding null clears the lookup; ownerid binds to teams', async () => {
    const created = await contactWith({ 'parentcustomerid_account@odata.bind': `/accounts(${accountId})` });
    const id = created.json.contactid as string;
    const team = emu.store.all('team')[0]!;
    const r = await call(emu, 'PATCH', `contacts(${id})`, {
      body: {
        'parentcustomerid_account@odata.bind': null,
        'ownerid@odata.bind': `/teams(${String(team.teamid)})`,
      },
    });
    expect(r.status).toBe(204);
    const after = await call(emu, 'GET', `contacts(${id})?$select=_parentcustomerid_value,_ownerid_value`, {
      headers: { Prefer: 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"' },
    });
    expect(after.json._parentcustomerid_value).toBeNull();
    expect(after.json._ownerid_value).toBe(team.teamid);
    expect(after.json['_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname']).toBe('team');
  });

  it('[webapi §4] ownerid defaults to the calling user (WhoAmI UserId)', async () => {
    const created = await contactWith({});
    const who = await call(emu, 'GET', 'WhoAmI');
    const row = await call(emu, 'GET', `contacts(${String(created.json.contactid)})?$select=_ownerid_value`);
    expect(row.json._ownerid_value).toBe(who.json.UserId);
  });

  it('[webapi §5] $filter on _x_value with an unquoted GUID', async () => {
    await contactWith({ 'parentcustomerid_account@odata.bind': `/accounts(${accountId})` });
    await contactWith({});
    const r = await call(
      emu,
      'GET',
      `contacts?$select=lastname&$filter=_parentcustomerid_value eq ${accountId}`,
    );
    expect(r.status).toBe(200);
    expect(r.json.value).toHaveLength(1);
  });

  it('[webapi §5 $expand] single-valued navigation properties expand with $select; other targets give null', async () => {
    const created = await contactWith({ 'parentcustomerid_account@odata.bind': `/accounts(${accountId})` });
    const id = String(created.json.contactid);
    const r = await call(
      emu,
      'GET',
      `contacts(${id})?$select=lastname&$expand=parentcustomerid_account($select=name,accountnumber),parentcustomerid_contact($select=fullname)`,
    );
    expect(r.status).toBe(200);
    expect(r.json.parentcustomerid_account).toMatchObject({
      name: 'Parent Co',
      accountnumber: 'P-1',
      accountid: accountId,
    });
    expect(r.json.parentcustomerid_account['@odata.etag']).toMatch(/^W\/"\d+"$/);
    expect(r.json.parentcustomerid_contact).toBeNull();
    const list = await call(
      emu,
      'GET',
      `contacts?$select=lastname&$expand=parentcustomerid_account($select=name)`,
    );
    expect(list.json.value[0].parentcustomerid_account.name).toBe('Parent Co');
    const bad = await call(emu, 'GET', `contacts?$select=lastname&$expand=nosuchnav`);
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('0x80060888');
  });

  it('[webapi §5 $orderby] ordering by a lookup sorts by the related primary name', async () => {
    const zed = idFrom(
      (await call(emu, 'POST', 'accounts', { body: { name: 'Zed Corp' } })).headers.get('odata-entityid'),
    );
    const abc = idFrom(
      (await call(emu, 'POST', 'accounts', { body: { name: 'Abc Ltd' } })).headers.get('odata-entityid'),
    );
    await call(emu, 'POST', 'contacts', {
      body: { lastname: 'z', 'parentcustomerid_account@odata.bind': `/accounts(${zed})` },
    });
    await call(emu, 'POST', 'contacts', {
      body: { lastname: 'a', 'parentcustomerid_account@odata.bind': `/accounts(${abc})` },
    });
    const r = await call(emu, 'GET', 'contacts?$select=lastname&$orderby=_parentcustomerid_value');
    expect(r.json.value.map((v: { lastname: string }) => v.lastname)).toEqual(['a', 'z']);
  });
});
