import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../emulator/index.js';
import { call, idFrom, JSON_TYPE, startFast } from './client.js';

let emu: RunningEmulator;
beforeAll(async () => {
  emu = await startFast();
});
afterAll(() => emu.close());
beforeEach(() => {
  emu.store.clear('account');
  emu.store.clear('contact');
});

describe('create (POST)', () => {
  it('[webapi §2] POST returns 204 with OData-EntityId and no body', async () => {
    const r = await call(emu, 'POST', 'accounts', { body: { name: 'Contoso' } });
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    expect(r.headers.get('odata-version')).toBe('4.0');
    const entityId = r.headers.get('odata-entityid');
    expect(entityId).toMatch(
      new RegExp(`^${emu.apiRoot.replace(/[.]/g, '\\.')}accounts\\([0-9a-f-]{36}\\)$`),
    );
    expect(emu.store.get('account', idFrom(entityId))?.name).toBe('Contoso');
  });

  it('[webapi §2] Prefer: return=representation gives 201, body, ETag, Preference-Applied and no OData-EntityId', async () => {
    const r = await call(emu, 'POST', 'accounts?$select=name,accountnumber', {
      body: { name: 'Fabrikam', accountnumber: 'F-1' },
      headers: { Prefer: 'return=representation' },
    });
    expect(r.status).toBe(201);
    expect(r.headers.get('content-type')).toBe(JSON_TYPE);
    expect(r.headers.get('preference-applied')).toBe('return=representation');
    expect(r.headers.get('odata-entityid')).toBeNull();
    expect(r.headers.get('etag')).toMatch(/^W\/"\d+"$/);
    expect(r.json['@odata.context']).toBe(`${emu.apiRoot}$metadata#accounts(name,accountnumber)/$entity`);
    expect(r.json['@odata.etag']).toBe(r.headers.get('etag'));
    expect(r.json.name).toBe('Fabrikam');
    expect(r.json.accountnumber).toBe('F-1');
    expect(r.json.accountid).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('[webapi §2] a client-supplied primary id is used; sending it again gives 412 0x80040237', async () => {
    const id = '00000000-0000-0000-0000-0000000000a1';
    const r = await call(emu, 'POST', 'accounts', { body: { accountid: id, name: 'Chosen' } });
    expect(r.status).toBe(204);
    expect(r.headers.get('odata-entityid')).toBe(`${emu.apiRoot}accounts(${id})`);
    const again = await call(emu, 'POST', 'accounts', { body: { accountid: id, name: 'Again' } });
    expect(again.status).toBe(412);
    expect(again.json).toEqual({ error: { code: '0x80040237', message: 'Cannot insert duplicate key.' } });
  });

  it('[webapi §3] duplicate alternate key on create gives 412 0x80060892', async () => {
    await call(emu, 'POST', 'accounts', { body: { name: 'One', accountnumber: 'DUP' } });
    const r = await call(emu, 'POST', 'accounts', { body: { name: 'Two', accountnumber: 'dup' } });
    expect(r.status).toBe(412);
    expect(r.json.error.code).toBe('0x80060892');
    expect(r.json.error.message).toContain('already exists');
    expect(emu.store.count('account')).toBe(1);
  });
});

describe('retrieve (GET by key)', () => {
  it('[webapi §5] GET by id returns the entity with @odata.context, @odata.etag and ETag', async () => {
    const created = await call(emu, 'POST', 'accounts', { body: { name: 'Get me', numberofemployees: 12 } });
    const id = idFrom(created.headers.get('odata-entityid'));
    const r = await call(emu, 'GET', `accounts(${id})?$select=name,numberofemployees`);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      '@odata.context': `${emu.apiRoot}$metadata#accounts(name,numberofemployees)/$entity`,
      '@odata.etag': r.headers.get('etag'),
      name: 'Get me',
      numberofemployees: 12,
      accountid: id,
    });
  });

  it('[webapi §1] GET by named primary key and by alternate key', async () => {
    const created = await call(emu, 'POST', 'accounts', { body: { name: 'Keyed', accountnumber: 'K-9' } });
    const id = idFrom(created.headers.get('odata-entityid'));
    const named = await call(emu, 'GET', `accounts(accountid=${id})?$select=name`);
    expect(named.json.name).toBe('Keyed');
    const byKey = await call(emu, 'GET', `accounts(accountnumber='K-9')?$select=accountid`);
    expect(byKey.json.accountid).toBe(id);
  });

  it('[webapi §5] a missing id gives 404 0x80040217; a missing key gives 404 0x80060891', async () => {
    const id = '11111111-2222-3333-4444-555555555555';
    const r = await call(emu, 'GET', `accounts(${id})`);
    expect(r.status).toBe(404);
    expect(r.json).toEqual({
      error: { code: '0x80040217', message: `account With Id = ${id} Does Not Exist` },
    });
    const k = await call(emu, 'GET', `accounts(accountnumber='nope')`);
    expect(k.status).toBe(404);
    expect(k.json.error.code).toBe('0x80060891');
  });

  it('[webapi §1] key properties that match no key give 400 with the documented text', async () => {
    const r = await call(emu, 'GET', `accounts(name='x')`);
    expect(r.status).toBe(400);
    expect(r.json.error.message).toBe(
      "The key in the request URI is not valid for resource 'Microsoft.Dynamics.CRM.account'. Ensure that the names and number of key properties match the declared or alternate key properties for the resource 'Microsoft.Dynamics.CRM.account'.",
    );
  });

  it('[webapi §3] conditional GET with a matching If-None-Match gives 304', async () => {
    const created = await call(emu, 'POST', 'accounts', { body: { name: 'Cached' } });
    const id = idFrom(created.headers.get('odata-entityid'));
    const first = await call(emu, 'GET', `accounts(${id})`);
    const r = await call(emu, 'GET', `accounts(${id})`, {
      headers: { 'If-None-Match': first.headers.get('etag')! },
    });
    expect(r.status).toBe(304);
  });
});

describe('update and upsert (PATCH)', () => {
  it('[webapi §3] PATCH of an existing row is 204 with OData-EntityId and bumps the ETag', async () => {
    const created = await call(emu, 'POST', 'accounts', { body: { name: 'Before' } });
    const id = idFrom(created.headers.get('odata-entityid'));
    const before = await call(emu, 'GET', `accounts(${id})`);
    const r = await call(emu, 'PATCH', `accounts(${id})`, { body: { name: 'After' } });
    expect(r.status).toBe(204);
    expect(r.headers.get('odata-entityid')).toBe(`${emu.apiRoot}accounts(${id})`);
    const after = await call(emu, 'GET', `accounts(${id})`);
    expect(after.json.name).toBe('After');
    const n = (etag: string | null) => Number(/W\/"(\d+)"/.exec(etag ?? '')?.[1]);
    expect(n(after.headers.get('etag'))).toBeGreaterThan(n(before.headers.get('etag')));
  });

  it('[webapi §3] PATCH of a missing id creates it (204); with representation 201 then 200', async () => {
    const id = '00000000-0000-0000-0000-00000000c0de';
    const r = await call(emu, 'PATCH', `accounts(${id})`, { body: { name: 'Upserted' } });
    expect(r.status).toBe(204);
    expect(emu.store.get('account', id)?.name).toBe('Upserted');
    emu.store.clear('account');
    const created = await call(emu, 'PATCH', `accounts(${id})`, {
      body: { name: 'Rep' },
      headers: { Prefer: 'return=representation' },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('etag')).toMatch(/^W\/"\d+"$/);
    const updated = await call(emu, 'PATCH', `accounts(${id})`, {
      body: { name: 'Rep 2' },
      headers: { Prefer: 'return=representation' },
    });
    expect(updated.status).toBe(200);
    expect(updated.json.name).toBe('Rep 2');
  });

  it('[webapi §3] If-Match: * on a missing row → 404 0x80040217', async () => {
    const id = '00000000-0000-0000-0000-000000000001';
    const r = await call(emu, 'PATCH', `accounts(${id})`, {
      body: { name: 'x' },
      headers: { 'If-Match': '*' },
    });
    expect(r.status).toBe(404);
    expect(r.json).toEqual({
      error: { code: '0x80040217', message: `account With Id = ${id} Does Not Exist` },
    });
    expect(emu.store.count('account')).toBe(0);
  });

  it('[webapi §3] If-None-Match: * on an existing row → 412 "A record with matching key values already exists."', async () => {
    const created = await call(emu, 'POST', 'accounts', { body: { name: 'Exists' } });
    const id = idFrom(created.headers.get('odata-entityid'));
    const r = await call(emu, 'PATCH', `accounts(${id})`, {
      body: { name: 'x' },
      headers: { 'If-None-Match': '*' },
    });
    expect(r.status).toBe(412);
    expect(r.json.error).toEqual({
      code: '0x80040237',
      message: 'A record with matching key values already exists.',
    });
    expect(emu.store.get('account', id)?.name).toBe('Exists');
  });

  it('[webapi §3] If-Match with a stale ETag → 412 0x80060882; the current ETag succeeds', async () => {
    const created = await call(emu, 'POST', 'accounts', { body: { name: 'v1' } });
    const id = idFrom(created.headers.get('odata-entityid'));
    const etag = (await call(emu, 'GET', `accounts(${id})`)).headers.get('etag')!;
    await call(emu, 'PATCH', `accounts(${id})`, { body: { name: 'v2' } });
    const stale = await call(emu, 'PATCH', `accounts(${id})`, {
      body: { name: 'v3' },
      headers: { 'If-Match': etag },
    });
    expect(stale.status).toBe(412);
    expect(stale.json.error).toEqual({
      code: '0x80060882',
      message: "The version of the existing record doesn't match the RowVersion property provided.",
    });
    const fresh = (await call(emu, 'GET', `accounts(${id})`)).headers.get('etag')!;
    const ok = await call(emu, 'PATCH', `accounts(${id})`, {
      body: { name: 'v3' },
      headers: { 'If-Match': fresh },
    });
    expect(ok.status).toBe(204);
  });

  it('[webapi §3] alternate-key upsert creates with the URL key values and echoes the key form', async () => {
    const r = await call(emu, 'PATCH', `contacts(emailaddress1='new@example.com')`, {
      body: { lastname: 'New' },
    });
    expect(r.status).toBe(204);
    expect(r.headers.get('odata-entityid')).toBe(`${emu.apiRoot}contacts(emailaddress1='new@example.com')`);
    const rows = emu.store.all('contact');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.emailaddress1).toBe('new@example.com');
  });

  it('[webapi §3] alternate-key upsert on an existing row strips key values from the body', async () => {
    await call(emu, 'POST', 'contacts', { body: { lastname: 'Old', emailaddress1: 'keep@example.com' } });
    const r = await call(emu, 'PATCH', `contacts(emailaddress1='keep@example.com')`, {
      body: { lastname: 'Changed', emailaddress1: 'other@example.com' },
    });
    expect(r.status).toBe(204);
    const [row] = emu.store.all('contact');
    expect(row!.lastname).toBe('Changed');
    expect(row!.emailaddress1).toBe('keep@example.com');
  });

  it('[webapi §3] alternate-key upsert that creates lets body key values win', async () => {
    await call(emu, 'PATCH', `contacts(emailaddress1='url@example.com')`, {
      body: { lastname: 'Body', emailaddress1: 'body@example.com' },
    });
    const [row] = emu.store.all('contact');
    expect(row!.emailaddress1).toBe('body@example.com');
  });

  it('[webapi §3] If-Match: * with an alternate key that matches nothing → 404 0x80060891', async () => {
    const r = await call(emu, 'PATCH', `contacts(emailaddress1='none@example.com')`, {
      body: { lastname: 'x' },
      headers: { 'If-Match': '*' },
    });
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe('0x80060891');
  });
});

describe('delete', () => {
  it('[webapi §4] DELETE is 204, then 404 0x80040217', async () => {
    const created = await call(emu, 'POST', 'accounts', { body: { name: 'Doomed' } });
    const id = idFrom(created.headers.get('odata-entityid'));
    const r = await call(emu, 'DELETE', `accounts(${id})`);
    expect(r.status).toBe(204);
    expect(emu.store.count('account')).toBe(0);
    const again = await call(emu, 'DELETE', `accounts(${id})`);
    expect(again.status).toBe(404);
    expect(again.json.error.code).toBe('0x80040217');
  });

  it('[webapi §4] DELETE by alternate key, and If-Match mismatch → 412', async () => {
    await call(emu, 'POST', 'accounts', { body: { name: 'K', accountnumber: 'DEL-1' } });
    const stale = await call(emu, 'DELETE', `accounts(accountnumber='DEL-1')`, {
      headers: { 'If-Match': 'W/"1"' },
    });
    expect(stale.status).toBe(412);
    const r = await call(emu, 'DELETE', `accounts(accountnumber='DEL-1')`);
    expect(r.status).toBe(204);
    expect(emu.store.count('account')).toBe(0);
  });

  it('[webapi §3] single property: PUT {"value"} updates, DELETE clears, GET reads', async () => {
    const created = await call(emu, 'POST', 'accounts', { body: { name: 'Prop', description: 'to clear' } });
    const id = idFrom(created.headers.get('odata-entityid'));
    expect((await call(emu, 'PUT', `accounts(${id})/name`, { body: { value: 'Renamed' } })).status).toBe(204);
    expect((await call(emu, 'DELETE', `accounts(${id})/description`)).status).toBe(204);
    const name = await call(emu, 'GET', `accounts(${id})/name`);
    expect(name.json.value).toBe('Renamed');
    expect(emu.store.get('account', id)?.description).toBeNull();
    const tooLong = await call(emu, 'PUT', `accounts(${id})/name`, { body: { value: 'x'.repeat(161) } });
    expect(tooLong.json.error.code).toBe('0x80044331');
  });
});
