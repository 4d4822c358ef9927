import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RequestLogEntry, type RunningEmulator } from '../../../emulator/index.js';
import { call, JSON_TYPE } from './client.js';

let emu: RunningEmulator;
const entries: RequestLogEntry[] = [];
beforeAll(async () => {
  emu = await startEmulator({ log: (e) => entries.push(e) });
});
afterAll(() => emu.close());

describe('error envelope, headers and auth (behaviours item 9, DESIGN contract)', () => {
  it('[webapi §9] errors are {"error":{"code","message"}} with odata.metadata=minimal and OData-Version 4.0', async () => {
    const r = await call(emu, 'GET', 'accounts(00000000-0000-0000-0000-000000000000)');
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toBe(JSON_TYPE);
    expect(r.headers.get('odata-version')).toBe('4.0');
    expect(Object.keys(r.json)).toEqual(['error']);
    expect(Object.keys(r.json.error)).toEqual(['code', 'message']);
  });

  it('[webapi §8] every response carries x-ms-ratelimit-*, x-ms-dop-hint and an ARRAffinity cookie', async () => {
    const r = await call(emu, 'GET', 'WhoAmI', { user: 'headers-user' });
    expect(r.status).toBe(200);
    // §13: the request counter starts near 8,000.
    expect(r.headers.get('x-ms-ratelimit-burst-remaining-xrm-requests')).toBe('7999');
    expect(r.headers.get('x-ms-ratelimit-time-remaining-xrm-requests')).toMatch(/^1,\d{3}\.\d{2}$/);
    expect(r.headers.get('x-ms-dop-hint')).toBe('4');
    expect(r.headers.get('set-cookie')).toMatch(/^ARRAffinity=[0-9a-f]{64}; path=\/; secure; HttpOnly$/);
    expect(r.json['@odata.context']).toBe(`${emu.apiRoot}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`);
    expect(Object.keys(r.json).sort()).toEqual([
      '@odata.context',
      'BusinessUnitId',
      'OrganizationId',
      'UserId',
    ]);
  });

  it('[webapi §10] no bearer, a non-emulator token or an empty user → 401 with WWW-Authenticate', async () => {
    for (const auth of [undefined, 'Bearer abc.def.ghi', 'Bearer emulator:', 'Basic emulator:x']) {
      const r = await call(emu, 'GET', 'accounts', {
        user: null,
        ...(auth ? { headers: { Authorization: auth } } : {}),
      });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer /);
    }
  });

  it('[webapi §8] per-user usage keys on the token user', async () => {
    await call(emu, 'GET', 'WhoAmI', { user: 'u1' });
    await call(emu, 'GET', 'WhoAmI', { user: 'u1' });
    await call(emu, 'GET', 'WhoAmI', { user: 'u2' });
    const users = Object.fromEntries(emu.stats().users.map((u) => [u.user, u.totalRequests]));
    expect(users.u1).toBe(2);
    expect(users.u2).toBe(1);
  });

  it('request log entries are structured and never contain the token', async () => {
    entries.length = 0;
    await call(emu, 'POST', 'accounts', { body: { name: 'Logged' }, user: 'logger' });
    await call(emu, 'POST', 'accounts', { body: { name: 'x'.repeat(200) }, user: 'logger' });
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({
      method: 'POST',
      url: '/api/data/v9.2/accounts',
      status: 204,
      user: 'logger',
      operation: 'create',
      records: 1,
    });
    expect(entries[1]).toMatchObject({ status: 400, code: '0x80044331' });
    expect(JSON.stringify(entries)).not.toContain('Bearer');
  });

  it('refuses to bind a non-loopback address', async () => {
    await expect(startEmulator({ host: '0.0.0.0' })).rejects.toThrow(/loopback/);
  });

  it('[webapi §9] @Microsoft.PowerApps.CDS.* error keys appear only when annotations are requested', async () => {
    const r = await call(emu, 'POST', 'contacts', {
      body: { lastname: 'x'.repeat(51) },
      headers: { Prefer: 'odata.include-annotations="*"' },
    });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('0x80044331');
    expect(r.json.error['@Microsoft.PowerApps.CDS.HelpLink']).toBe(
      'http://go.microsoft.com/fwlink/?LinkID=398563&error=Microsoft.Crm.CrmException%3a80044331&client=platform',
    );
    expect(r.json.error['@Microsoft.PowerApps.CDS.InnerError.Message']).toBe(r.json.error.message);
    const plain = await call(emu, 'POST', 'contacts', { body: { lastname: 'x'.repeat(51) } });
    expect(Object.keys(plain.json.error)).toEqual(['code', 'message']);
  });
});
