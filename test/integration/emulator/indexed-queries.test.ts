import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';

// Index-assisted filters must answer exactly what a full scan answers. `not (not (...))` keeps the
// same meaning but hides the shape the index looks for, so it always takes the scan.
describe('[webapi §5] filters served from indexes match a full scan', () => {
  let emu: RunningEmulator;
  beforeAll(async () => {
    emu = await startEmulator();
    for (let i = 0; i < 3_000; i += 1) {
      emu.store.put('account', {
        name: `Account ${i}`,
        accountnumber: `N-${i}`,
        numberofemployees: (i * 7919) % 1_000,
        ...(i % 10 === 0 ? {} : { address1_city: i % 3 === 0 ? 'Oslo' : 'Paris' }),
      });
    }
  });
  afterAll(async () => emu?.close());

  async function ids(filter: string, extra = '', pageSize = 500): Promise<string[]> {
    const out: string[] = [];
    let url: string | undefined =
      `${emu.apiRoot}accounts?$select=accountid&$filter=${encodeURIComponent(filter)}${extra}`;
    while (url) {
      const response = await fetch(url, {
        headers: { authorization: 'Bearer emulator:idx', prefer: `odata.maxpagesize=${pageSize}` },
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { value: { accountid: string }[]; '@odata.nextLink'?: string };
      out.push(...body.value.map((row) => row.accountid));
      url = body['@odata.nextLink'];
    }
    return out;
  }

  it.each([
    'numberofemployees ge 100 and numberofemployees lt 250',
    "numberofemployees gt 100 and numberofemployees le 250 and address1_city eq 'Oslo'",
    '250 gt numberofemployees',
    "accountnumber eq 'N-5' or accountnumber eq 'n-17' or accountnumber eq 'N-99999'",
    "address1_city ge 'oslo' and address1_city lt 'P'",
  ])('%s', async (filter) => {
    const indexed = await ids(filter);
    const scanned = await ids(`not (not (${filter}))`);
    expect(indexed.length).toBeGreaterThan(0);
    expect(indexed).toEqual(scanned);
  });

  it('a small $top with $orderby returns the first rows in order', async () => {
    const response = await fetch(
      `${emu.apiRoot}accounts?$select=numberofemployees,accountnumber&$orderby=numberofemployees desc,accountnumber asc&$top=3&$filter=${encodeURIComponent('numberofemployees lt 500')}`,
      { headers: { authorization: 'Bearer emulator:idx' } },
    );
    const body = (await response.json()) as { value: { numberofemployees: number; accountnumber: string }[] };
    const all = emu.store
      .all('account')
      .filter((row) => Number(row.numberofemployees) < 500)
      .sort(
        (a, b) =>
          Number(b.numberofemployees) - Number(a.numberofemployees) ||
          String(a.accountnumber).localeCompare(String(b.accountnumber)),
      )
      .slice(0, 3);
    expect(body.value.map((r) => r.accountnumber)).toEqual(all.map((r) => r.accountnumber));
  });

  it('small ordered pages (top-k per page) page through exactly what one sorted page holds', async () => {
    const filter = 'numberofemployees lt 40';
    const order = '&$orderby=numberofemployees desc,accountnumber asc';
    const large = await ids(filter, order, 5000);
    const small = await ids(filter, order, 7);
    expect(large.length).toBeGreaterThan(50);
    expect(small).toEqual(large);
  });

  it.each(['asc', 'desc'])(
    'the first rows by one indexed column (%s) match a sort of every row',
    async (dir) => {
      const response = await fetch(
        `${emu.apiRoot}accounts?$select=accountid,numberofemployees&$orderby=numberofemployees ${dir}&$top=5&$filter=${encodeURIComponent('numberofemployees ne 999')}`,
        { headers: { authorization: 'Bearer emulator:idx' } },
      );
      const body = (await response.json()) as { value: { accountid: string }[] };
      const sign = dir === 'asc' ? 1 : -1;
      const expected = emu.store
        .all('account')
        .filter((row) => row.numberofemployees !== 999)
        .sort(
          (a, b) =>
            sign * (Number(a.numberofemployees) - Number(b.numberofemployees)) ||
            String(a.accountid).localeCompare(String(b.accountid)),
        )
        .slice(0, 5)
        .map((row) => row.accountid);
      expect(body.value.map((r) => r.accountid)).toEqual(expected);
    },
  );

  it('a column some rows lack orders them first, as nulls sort first', async () => {
    const response = await fetch(
      `${emu.apiRoot}accounts?$select=accountid,address1_city&$orderby=address1_city&$top=2`,
      {
        headers: { authorization: 'Bearer emulator:idx' },
      },
    );
    const body = (await response.json()) as { value: { address1_city: string | null }[] };
    expect(body.value.map((r) => r.address1_city)).toEqual([null, null]);
  });
});
