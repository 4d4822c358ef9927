import { describe, expect, it } from 'vitest';
import { createLookupResolver, resolveLookups, type QueryRow } from '../../../src/mapping/lookups.js';
import { account, contact, getTable } from './fixtures.js';

const accounts: QueryRow[] = [
  { accountid: 'A1', accountnumber: 'ACC-1', name: 'Contoso', numberofemployees: 7 },
  { accountid: 'A2', accountnumber: "O'Brien & Co", name: 'Fabrikam', numberofemployees: 12 },
  { accountid: 'A3', accountnumber: 'ACC-3', name: 'Contoso', numberofemployees: 7 },
];

/** A tiny stand-in for the Dataverse query: understands `<col> eq <literal>` terms joined by `or`. */
function fakeQuery(rows: QueryRow[]) {
  const calls: { table: string; filter: string; select: readonly string[] }[] = [];
  async function* query(table: string, filter: string, select: readonly string[]) {
    calls.push({ table, filter, select });
    const terms = [...filter.matchAll(/(\w+) eq ('(?:[^']|'')*'|[^ ]+)/g)].map(([, col, lit]) => {
      const text = (lit as string).startsWith("'")
        ? (lit as string).slice(1, -1).replace(/''/g, "'")
        : (lit as string);
      return { col: col as string, text: text.toLowerCase() };
    });
    for (const row of rows) {
      if (terms.some((t) => String(row[t.col]).toLowerCase() === t.text)) yield row;
    }
  }
  return { query, calls };
}

describe('createLookupResolver', () => {
  it('returns ids per value, case-insensitively, with misses and ambiguities', async () => {
    const { query, calls } = fakeQuery(accounts);
    const resolver = createLookupResolver(query, getTable);
    const found = await resolver.resolve('account', 'name', ['contoso', 'Fabrikam', 'Nobody']);
    expect(found.get('contoso')).toEqual(['a1', 'a3']);
    expect(found.get('fabrikam')).toEqual(['a2']);
    expect(found.get('nobody')).toEqual([]);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.select).toEqual(['accountid', 'name']);
    expect(calls[0]?.filter).toBe("name eq 'contoso' or name eq 'Fabrikam' or name eq 'Nobody'");
  });

  it('escapes quotes in string literals', async () => {
    const { query, calls } = fakeQuery(accounts);
    const found = await createLookupResolver(query, getTable).resolve('account', 'accountnumber', [
      "o'brien & co",
    ]);
    expect(found.get("o'brien & co")).toEqual(['a2']);
    expect(calls[0]?.filter).toBe("accountnumber eq 'o''brien & co'");
  });

  it('caches per run: a value is read once, misses included', async () => {
    const { query, calls } = fakeQuery(accounts);
    const resolver = createLookupResolver(query, getTable);
    await resolver.resolve('account', 'accountnumber', ['ACC-1', 'ACC-9']);
    const again = await resolver.resolve('account', 'accountnumber', ['acc-1', 'ACC-9', 'ACC-3']);
    expect(again.get('acc-1')).toEqual(['a1']);
    expect(again.get('acc-9')).toEqual([]);
    expect(again.get('acc-3')).toEqual(['a3']);
    expect(calls.map((c) => c.filter)).toEqual([
      "accountnumber eq 'ACC-1' or accountnumber eq 'ACC-9'",
      "accountnumber eq 'ACC-3'",
    ]);
  });

  it('concurrent requests for the same values share one read', async () => {
    const { query, calls } = fakeQuery(accounts);
    const resolver = createLookupResolver(query, getTable);
    const [a, b] = await Promise.all([
      resolver.resolve('account', 'accountnumber', ['ACC-1']),
      resolver.resolve('account', 'accountnumber', ['ACC-1']),
    ]);
    expect(a.get('acc-1')).toEqual(['a1']);
    expect(b.get('acc-1')).toEqual(['a1']);
    expect(calls).toHaveLength(1);
  });

  it('splits many values into filters within the length and count limits', async () => {
    const many: QueryRow[] = Array.from({ length: 1_000 }, (_, i) => ({
      accountid: `id${i}`,
      accountnumber: `N-${i}`,
    }));
    const { query, calls } = fakeQuery(many);
    const resolver = createLookupResolver(query, getTable, { maxFilterLength: 2_000, maxValuesPerQuery: 50 });
    const values = many.map((r) => String(r.accountnumber));
    const found = await resolver.resolve('account', 'accountnumber', values);
    expect([...found.values()].every((ids) => ids.length === 1)).toBe(true);
    expect(calls.length).toBeGreaterThan(1_000 / 50 - 1);
    for (const call of calls) {
      expect(encodeURIComponent(call.filter).length).toBeLessThanOrEqual(2_000);
      expect(call.filter.split(' or ').length).toBeLessThanOrEqual(50);
    }
  });

  it('numbers are unquoted and compared by value; text that cannot be a number matches nothing', async () => {
    const { query, calls } = fakeQuery(accounts);
    const found = await createLookupResolver(query, getTable).resolve('account', 'numberofemployees', [
      '012',
      '7',
      'seven',
    ]);
    expect(found.get('7')).toEqual(['a1', 'a3']);
    expect(found.get('012')).toEqual(['a2']);
    expect(found.get('seven')).toEqual([]);
    expect(calls[0]?.filter).toBe('numberofemployees eq 12 or numberofemployees eq 7');
  });

  it('can use Microsoft.Dynamics.CRM.In', async () => {
    const { calls } = fakeQuery([]);
    async function* query(table: string, filter: string, select: readonly string[]) {
      calls.push({ table, filter, select });
      yield* [];
    }
    await createLookupResolver(query, getTable, { filterStyle: 'in' }).resolve('contact', 'emailaddress1', [
      'a@x.io',
      'b"@x.io',
      "o'brien@x.io",
    ]);
    // The documented form (reference §13): double-quoted JSON strings, `"` escaped, an apostrophe as is.
    expect(calls[0]?.filter).toBe(
      `Microsoft.Dynamics.CRM.In(PropertyName='emailaddress1',PropertyValues=["a@x.io","b\\"@x.io","o'brien@x.io"])`,
    );
  });

  it('a failed read is not cached', async () => {
    let fail = true;
    async function* query() {
      if (fail) throw new Error('503');
      yield { contactid: 'C1', emailaddress1: 'a@x.io' };
    }
    const resolver = createLookupResolver(query, getTable);
    await expect(resolver.resolve('contact', 'emailaddress1', ['a@x.io'])).rejects.toThrow('503');
    fail = false;
    expect((await resolver.resolve('contact', 'emailaddress1', ['a@x.io'])).get('a@x.io')).toEqual(['c1']);
  });

  it('resolveLookups indexes the answers per (table, by)', async () => {
    const { query } = fakeQuery(accounts);
    const results = await resolveLookups(
      [
        { table: 'account', by: 'accountnumber', values: ['ACC-1'] },
        { table: 'account', by: 'name', values: ['Contoso'] },
      ],
      createLookupResolver(query, getTable),
    );
    expect(results.ids('account', 'accountnumber', ' acc-1 ')).toEqual(['a1']);
    expect(results.ids('account', 'name', 'CONTOSO')).toEqual(['a1', 'a3']);
    expect(results.ids('contact', 'fullname', 'x')).toBeUndefined();
    expect(account.entitySetName).toBe('accounts');
    expect(contact.primaryIdAttribute).toBe('contactid');
  });
});
