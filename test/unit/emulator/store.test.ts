import { describe, expect, it } from 'vitest';
import { Model } from '../../../emulator/model.js';
import { Records } from '../../../emulator/records.js';
import { DEFAULT_SCHEMA } from '../../../emulator/schema/default.js';
import { parseSchema } from '../../../emulator/schema/format.js';
import { Store } from '../../../emulator/store.js';

function setup() {
  const model = new Model(parseSchema(DEFAULT_SCHEMA).tables);
  const store = new Store(model);
  const records = new Records(model, store, () => new Date('2025-01-02T03:04:05.678Z'));
  return { model, store, records, account: model.table('account')! };
}

describe('Store and Records', () => {
  it('atomically() undoes inserts, updates, deletes and key indexes, also when nested', () => {
    const { store, records, account } = setup();
    const keep = records.create(account, { name: 'keep', accountnumber: 'K' }).id;
    expect(() =>
      store.atomically(() => {
        records.create(account, { name: 'temp', accountnumber: 'T' });
        records.update(account, keep, { name: 'changed', accountnumber: 'K2' });
        store.atomically(() => store.remove(account, keep));
        throw new Error('roll back');
      }),
    ).toThrow('roll back');
    expect(store.count(account)).toBe(1);
    expect(store.get(account, keep)?.name).toBe('keep');
    expect(store.deletions(account)).toEqual([]);
    expect(records.findId(account, records.parseKey(account, "accountnumber='K'"))).toBe(keep);
    expect(records.findId(account, records.parseKey(account, "accountnumber='K2'"))).toBeUndefined();
    expect(records.findId(account, records.parseKey(account, "accountnumber='T'"))).toBeUndefined();
  });

  it('an inner failure caught inside an outer transaction keeps the outer changes', () => {
    const { store, records, account } = setup();
    store.atomically(() => {
      records.create(account, { name: 'outer' });
      try {
        store.atomically(() => {
          records.create(account, { name: 'inner' });
          throw new Error('inner');
        });
      } catch {
        // the inner part rolled back on its own
      }
    });
    expect([...store.rows(account)].map((r) => r.name)).toEqual(['outer']);
  });

  it('parses key forms: GUID, named primary key, alternate key with quotes', () => {
    const { records, account, model } = setup();
    expect(records.parseKey(account, '3F2504E0-4F89-11D3-9A0C-0305E82C3301')).toEqual({
      kind: 'id',
      id: '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
    });
    expect(records.parseKey(account, 'accountid=3f2504e0-4f89-11d3-9a0c-0305e82c3301').kind).toBe('id');
    const key = records.parseKey(account, "accountnumber='O''Hara, Inc'");
    expect(key.kind === 'key' && key.values.get('accountnumber')).toBe("O'Hara, Inc");
    expect(() => records.parseKey(account, "name='x'")).toThrow(/key in the request URI is not valid/);
    expect(() => records.parseKey(model.table('contact')!, "emailaddress1='a',lastname='b'")).toThrow();
  });

  it('stamps createdon/modifiedon in UTC seconds, versions and the computed contact fullname', () => {
    const { model, records } = setup();
    const contact = model.table('contact')!;
    const { row } = records.create(contact, { firstname: 'Ada', lastname: 'Lovelace' });
    expect(row.createdon).toBe('2025-01-02T03:04:05Z');
    expect(row.fullname).toBe('Ada Lovelace');
    expect(row.statecode).toBe(0);
    expect(row.followemail).toBe(true);
    const updated = records.update(contact, String(row.contactid), { firstname: null });
    expect(updated.fullname).toBe('Lovelace');
    expect(Number(updated.versionnumber)).toBeGreaterThan(Number(row.versionnumber));
  });
});
