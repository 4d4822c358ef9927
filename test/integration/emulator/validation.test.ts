import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../emulator/index.js';
import { call, idFrom, JSON_TYPE, startFast } from './client.js';

let emu: RunningEmulator;
beforeAll(async () => {
  emu = await startFast();
});
afterAll(() => emu.close());
beforeEach(() => emu.store.clear('dvp_sample'));

const PAYLOAD_PREFIX =
  "Error identified in Payload provided by the user for Entity :'dvp_samples', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : Microsoft.OData.ODataException: ";

describe('column validation (behaviours item 3)', () => {
  it('[webapi §9] string too long → 400 0x80044331 with the exact two-space message', async () => {
    const r = await call(emu, 'POST', 'contacts', { body: { lastname: 'x'.repeat(51) } });
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toBe(JSON_TYPE);
    expect(r.json).toEqual({
      error: {
        code: '0x80044331',
        message:
          "A validation error occurred.  The length of the 'lastname' attribute of the 'contact' entity exceeded the maximum allowed length of '50'.",
      },
    });
  });

  it('[webapi §9] a choice value outside the option set → 400 0x8004431A', async () => {
    const r = await call(emu, 'POST', 'contacts', { body: { lastname: 'x', preferredcontactmethodcode: 9 } });
    expect(r.status).toBe(400);
    expect(r.json.error).toEqual({
      code: '0x8004431A',
      message:
        "A validation error occurred. The value 9 of 'preferredcontactmethodcode' on record of type 'contact' is outside the valid range.",
    });
  });

  it('[webapi §9] a multi-select value outside the option set → 400 0x8004431A; valid values are stored normalised', async () => {
    const bad = await call(emu, 'POST', 'dvp_samples', { body: { dvp_name: 'm', dvp_tags: '100000000,5' } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('0x8004431A');
    const ok = await call(emu, 'POST', 'dvp_samples', {
      body: { dvp_name: 'm', dvp_tags: '100000002, 100000000' },
    });
    expect(ok.status).toBe(204);
    expect(emu.store.get('dvp_sample', idFrom(ok.headers.get('odata-entityid')))?.dvp_tags).toBe(
      '100000002,100000000',
    );
  });

  it('[webapi §9] whole number out of MinValue..MaxValue → 400 0x8004432F', async () => {
    const r = await call(emu, 'POST', 'accounts', { body: { name: 'x', numberofemployees: -1 } });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('0x8004432F');
    expect(r.json.error.message).toContain("'numberofemployees'");
  });

  it('[webapi §9] money and decimal out of range → 400 0x80044330', async () => {
    const money = await call(emu, 'POST', 'accounts', { body: { name: 'x', revenue: 100000000000001 } });
    expect(money.status).toBe(400);
    expect(money.json.error.code).toBe('0x80044330');
    const dec = await call(emu, 'POST', 'dvp_samples', { body: { dvp_name: 'x', dvp_amount: 100000000001 } });
    expect(dec.json.error.code).toBe('0x80044330');
  });

  it('[webapi §9] wrong JSON type → 400 0x80048d19 with the payload message', async () => {
    const r = await call(emu, 'POST', 'dvp_samples', { body: { dvp_name: 'x', dvp_quantity: 'Charity' } });
    expect(r.status).toBe(400);
    expect(r.json.error).toEqual({
      code: '0x80048d19',
      message: `${PAYLOAD_PREFIX}Cannot convert the literal 'Charity' to the expected type 'Edm.Int32'.`,
    });
  });

  it('[webapi §9] a number outside Int32 fails deserialisation (0x80048d19), not the range check', async () => {
    const r = await call(emu, 'POST', 'dvp_samples', { body: { dvp_name: 'x', dvp_quantity: 3000000000 } });
    expect(r.json.error.code).toBe('0x80048d19');
  });

  it('[webapi §4] an unknown property → 400 0x80048d19 "does not exist on type"', async () => {
    const r = await call(emu, 'POST', 'accounts', { body: { name: 'x', nosuchcolumn: 1 } });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('0x80048d19');
    expect(r.json.error.message).toContain(
      "The property 'nosuchcolumn' does not exist on type 'Microsoft.Dynamics.CRM.account'. Make sure to only use property names that are defined by the type or mark the type as open type.",
    );
  });

  it('[webapi §1] a lower-cased custom navigation property in @odata.bind → undeclared property error', async () => {
    const r = await call(emu, 'POST', 'dvp_samples', {
      body: { dvp_name: 'x', 'dvp_accountid@odata.bind': '/accounts(00000000-0000-0000-0000-000000000001)' },
    });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('0x80048d19');
    expect(r.json.error.message).toContain(
      "An undeclared property 'dvp_accountid' which only has property annotations",
    );
  });

  it('[webapi §1] columns not valid for create are silently ignored; ApplicationRequired is not enforced', async () => {
    const r = await call(emu, 'POST', 'contacts', {
      body: { firstname: 'Only', fullname: 'Ignored Name', createdon: '2001-01-01T00:00:00Z', statecode: 1 },
      headers: { Prefer: 'return=representation' },
    });
    expect(r.status).toBe(201);
    expect(r.json.fullname).toBe('Only');
    expect(r.json.createdon).not.toBe('2001-01-01T00:00:00Z');
    expect(r.json.statecode).toBe(0);
    expect(r.json.statuscode).toBe(1);
    expect(r.json.lastname).toBeNull();
  });

  it('[webapi §11] dates: DateOnly takes YYYY-MM-DD; DateTimeOffset is stored and returned in UTC with Z', async () => {
    const r = await call(emu, 'POST', 'dvp_samples', {
      body: { dvp_name: 'd', dvp_duedate: '2024-02-29', dvp_measuredat: '2024-03-01T10:15:00+02:00' },
      headers: { Prefer: 'return=representation' },
    });
    expect(r.json.dvp_duedate).toBe('2024-02-29');
    expect(r.json.dvp_measuredat).toBe('2024-03-01T08:15:00Z');
    const bad = await call(emu, 'POST', 'dvp_samples', {
      body: { dvp_name: 'd', dvp_duedate: '2024-02-30' },
    });
    expect(bad.json.error.code).toBe('0x80048d19');
    expect(bad.json.error.message).toContain("'Edm.Date'");
  });

  it('[webapi §11] decimals are rounded to the column precision', async () => {
    const r = await call(emu, 'POST', 'accounts', {
      body: { name: 'geo', address1_latitude: 47.639583 },
      headers: { Prefer: 'return=representation' },
    });
    expect(r.json.address1_latitude).toBe(47.63958);
  });
});
