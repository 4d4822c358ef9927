import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../emulator/index.js';
import { call, startFast } from './client.js';

let emu: RunningEmulator;
beforeAll(async () => {
  emu = await startFast();
  const rows = [
    {
      dvp_name: 'Alpha',
      dvp_code: 'A',
      dvp_quantity: 5,
      dvp_category: 100000000,
      dvp_duedate: '2024-01-10',
      dvp_active: true,
    },
    {
      dvp_name: 'beta',
      dvp_code: 'B',
      dvp_quantity: 15,
      dvp_category: 100000001,
      dvp_duedate: '2024-02-10',
      dvp_active: false,
    },
    {
      dvp_name: "O'Brien",
      dvp_code: 'C',
      dvp_quantity: 25,
      dvp_category: 100000002,
      dvp_duedate: '2024-03-10',
    },
    { dvp_name: 'Delta', dvp_code: 'D', dvp_quantity: 35 },
  ];
  for (const r of rows) emu.store.put('dvp_sample', r);
  for (let i = 0; i < 23; i += 1) emu.store.put('account', { name: `Paged ${String(i).padStart(2, '0')}` });
});
afterAll(() => emu.close());

const names = (r: { json: { value: { dvp_name: string }[] } }) => r.json.value.map((v) => v.dvp_name);

describe('query (behaviours item 8)', () => {
  it('[webapi §5] $select returns only the named columns plus the primary key and @odata.etag', async () => {
    const r = await call(emu, 'GET', "dvp_samples?$select=dvp_name&$filter=dvp_code eq 'A'");
    expect(r.status).toBe(200);
    expect(r.json['@odata.context']).toBe(`${emu.apiRoot}$metadata#dvp_samples(dvp_name)`);
    expect(Object.keys(r.json.value[0]).sort()).toEqual(['@odata.etag', 'dvp_name', 'dvp_sampleid']);
  });

  it('[webapi §5] an unknown $select or $filter property → 400 0x80060888 "Could not find a property named"', async () => {
    const r = await call(emu, 'GET', 'dvp_samples?$select=nope');
    expect(r.status).toBe(400);
    expect(r.json.error).toEqual({
      code: '0x80060888',
      message: "Could not find a property named 'nope' on type 'Microsoft.Dynamics.CRM.dvp_sample'.",
    });
    const f = await call(emu, 'GET', 'dvp_samples?$filter=nope eq 1');
    expect(f.json.error.code).toBe('0x80060888');
  });

  it.each([
    ['dvp_quantity gt 10 and dvp_quantity lt 30', ['beta', "O'Brien"]],
    ['dvp_quantity le 5 or dvp_quantity ge 35', ['Alpha', 'Delta']],
    ['not (dvp_quantity gt 5)', ['Alpha']],
    ["dvp_name eq 'ALPHA'", ['Alpha']],
    ["contains(dvp_name,'TA')", ['beta', 'Delta']],
    ["startswith(dvp_name,'o''b')", ["O'Brien"]],
    ["endswith(dvp_name,'A')", ['Alpha', 'beta', 'Delta']],
    ['dvp_category eq null', ['Delta']],
    ['dvp_category ne null and dvp_active eq false', ['beta', "O'Brien"]],
    ['dvp_duedate ge 2024-02-01', ['beta', "O'Brien"]],
    ['dvp_quantity ne 5', ['beta', "O'Brien", 'Delta']],
    ['Microsoft.Dynamics.CRM.In(PropertyName=\'dvp_code\',PropertyValues=["a","D"])', ['Alpha', 'Delta']],
    [
      'Microsoft.Dynamics.CRM.Between(PropertyName=\'dvp_quantity\',PropertyValues=["10","30"])',
      ['beta', "O'Brien"],
    ],
  ])('[webapi §5] $filter=%s', async (filter, expected) => {
    const r = await call(
      emu,
      'GET',
      `dvp_samples?$select=dvp_name&$orderby=dvp_code&$filter=${encodeURIComponent(filter)}`,
    );
    expect(r.status).toBe(200);
    expect(names(r)).toEqual(expected);
  });

  it('[webapi §5] In on a one-column alternate key answers like the `or` of `eq` (case-insensitive)', async () => {
    for (const email of ['In.One@example.com', "in.o'two@example.com", 'in.three@example.com']) {
      emu.store.put('contact', { lastname: email.split('@')[0], emailaddress1: email });
    }
    const list = async (filter: string) =>
      (
        await call(
          emu,
          'GET',
          `contacts?$select=emailaddress1&$orderby=emailaddress1&$filter=${encodeURIComponent(filter)}`,
        )
      ).json.value.map((v: { emailaddress1: string }) => v.emailaddress1);
    const viaIn = await list(
      'Microsoft.Dynamics.CRM.In(PropertyName=\'emailaddress1\',PropertyValues=["IN.ONE@example.com","in.o\'two@example.com","none@example.com"])',
    );
    expect(viaIn).toEqual(["in.o'two@example.com", 'In.One@example.com']);
    expect(
      await list(
        "emailaddress1 eq 'IN.ONE@example.com' or emailaddress1 eq 'in.o''two@example.com' or emailaddress1 eq 'none@example.com'",
      ),
    ).toEqual(viaIn);
    // A number column takes the values as text too.
    const r = await call(
      emu,
      'GET',
      `dvp_samples?$select=dvp_name&$orderby=dvp_code&$filter=${encodeURIComponent('Microsoft.Dynamics.CRM.In(PropertyName=\'dvp_quantity\',PropertyValues=["5","35"])')}`,
    );
    expect(names(r)).toEqual(['Alpha', 'Delta']);
  });

  it('[webapi §13 In] single-quoted PropertyValues items are refused with a syntax error, as an OData parser would', async () => {
    const filter = "Microsoft.Dynamics.CRM.In(PropertyName='dvp_code',PropertyValues=['a','D'])";
    const r = await call(emu, 'GET', `dvp_samples?$select=dvp_name&$filter=${encodeURIComponent(filter)}`);
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('0x80060888');
    expect(r.json.error.message).toContain('Syntax error at position 66');
  });

  it('[webapi §5] DateTimeOffset literals compare in UTC', async () => {
    const id = emu.store.put('dvp_sample', { dvp_name: 'timed', dvp_measuredat: '2024-05-01T12:00:00Z' });
    const filter = encodeURIComponent('dvp_measuredat gt 2024-05-01T13:00:00+02:00');
    const r = await call(emu, 'GET', `dvp_samples?$select=dvp_name&$filter=${filter}`);
    expect(names(r)).toEqual(['timed']);
    const later = encodeURIComponent('dvp_measuredat gt 2024-05-01T12:00:00Z');
    expect(names(await call(emu, 'GET', `dvp_samples?$select=dvp_name&$filter=${later}`))).toEqual([]);
    expect((await call(emu, 'DELETE', `dvp_samples(${id})`)).status).toBe(204);
  });

  it('[webapi §5] an unterminated literal → 400 0x80060888 with the position', async () => {
    const r = await call(emu, 'GET', `contacts?$filter=${encodeURIComponent("lastname eq 'O'Bryan'")}`);
    expect(r.status).toBe(400);
    expect(r.json.error).toEqual({
      code: '0x80060888',
      message: "There is an unterminated literal at position 20 in 'lastname eq 'O'Bryan''.",
    });
  });

  it('[webapi §5] $orderby desc, choice columns by integer value, $top', async () => {
    const r = await call(
      emu,
      'GET',
      'dvp_samples?$select=dvp_name&$filter=dvp_code ne null&$orderby=dvp_quantity desc&$top=2',
    );
    expect(names(r)).toEqual(['Delta', "O'Brien"]);
    expect(r.json['@odata.nextLink']).toBeUndefined();
    const byChoice = await call(
      emu,
      'GET',
      'dvp_samples?$select=dvp_name&$filter=dvp_category ne null&$orderby=dvp_category desc',
    );
    expect(names(byChoice)).toEqual(["O'Brien", 'beta', 'Alpha']);
  });

  it('[webapi §5] $count=true adds @odata.count; /$count is text/plain', async () => {
    const r = await call(emu, 'GET', 'dvp_samples?$select=dvp_name&$count=true&$filter=dvp_quantity gt 10');
    expect(r.json['@odata.count']).toBe(3);
    const c = await call(emu, 'GET', 'accounts/$count');
    expect(c.status).toBe(200);
    expect(c.headers.get('content-type')).toBe('text/plain');
    expect(c.text).toBe('23');
  });

  it('[webapi §5] unsupported $skip → 400', async () => {
    const r = await call(emu, 'GET', 'accounts?$skip=5');
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('0x80060888');
  });

  it('[webapi §5] odata.maxpagesize pages with opaque $skiptoken cookies and echoes Preference-Applied', async () => {
    const seen: string[] = [];
    let url: string | undefined = 'accounts?$select=name';
    let pages = 0;
    while (url) {
      const r = await call(emu, 'GET', url, { headers: { Prefer: 'odata.maxpagesize=10' } });
      expect(r.status).toBe(200);
      expect(r.headers.get('preference-applied')).toBe('odata.maxpagesize=10');
      seen.push(...r.json.value.map((v: { name: string }) => v.name));
      url = r.json['@odata.nextLink'];
      if (url) {
        expect(url.startsWith(`${emu.apiRoot}accounts?`)).toBe(true);
        const token = new URL(url).searchParams.get('$skiptoken')!;
        expect(token).toMatch(/^<cookie pagenumber="\d+" pagingcookie="[^"]+" istracking="False" \/>$/);
      }
      pages += 1;
    }
    expect(pages).toBe(3);
    expect(seen).toHaveLength(23);
    expect(new Set(seen).size).toBe(23);
  });

  it('[webapi §5] paging with $orderby keeps the order across pages', async () => {
    const seen: string[] = [];
    let url: string | undefined = 'accounts?$select=name&$orderby=name desc';
    while (url) {
      const r = await call(emu, 'GET', url, { headers: { Prefer: 'odata.maxpagesize=7' } });
      seen.push(...r.json.value.map((v: { name: string }) => v.name));
      url = r.json['@odata.nextLink'];
    }
    expect(seen).toEqual([...seen].sort().reverse());
    expect(seen).toHaveLength(23);
  });

  it('[webapi §5] FormattedValue annotations for choices, booleans, dates and money when asked', async () => {
    const r = await call(
      emu,
      'GET',
      "dvp_samples?$select=dvp_category,dvp_active,dvp_duedate&$filter=dvp_code eq 'A'",
      {
        headers: { Prefer: 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"' },
      },
    );
    const row = r.json.value[0];
    expect(row['dvp_category@OData.Community.Display.V1.FormattedValue']).toBe('Bronze');
    expect(row['dvp_active@OData.Community.Display.V1.FormattedValue']).toBe('Yes');
    expect(row['dvp_duedate@OData.Community.Display.V1.FormattedValue']).toBe('1/10/2024');
    const plain = await call(emu, 'GET', "dvp_samples?$select=dvp_category&$filter=dvp_code eq 'A'");
    expect(Object.keys(plain.json.value[0]).some((k) => k.includes('FormattedValue'))).toBe(false);
  });
});
