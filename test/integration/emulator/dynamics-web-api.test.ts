import { DynamicsWebApi } from 'dynamics-web-api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../emulator/index.js';
import { startFast } from './client.js';

// Conformance through a third-party client: dynamics-web-api, written and used against the real service,
// runs documented behaviours against the emulator. Where it agrees with the emulator, the emulator
// speaks the service's protocol as real clients read it (reference §13 names the facts checked).

let emu: RunningEmulator;
let api: DynamicsWebApi;
beforeAll(async () => {
  emu = await startFast();
  api = new DynamicsWebApi({
    serverUrl: emu.url,
    dataApi: { version: '9.2' },
    onTokenRefresh: async () => 'emulator:conformance',
  });
});
afterAll(() => emu.close());
beforeEach(() => {
  emu.store.clear('dvp_sample');
  emu.store.clear('contact');
  emu.store.clear('account');
});

interface Failure {
  readonly status?: number;
  readonly code?: string;
  readonly message?: string;
}

async function failure(promise: Promise<unknown>): Promise<Failure> {
  try {
    await promise;
  } catch (error) {
    return error as Failure;
  }
  throw new Error('expected the call to fail');
}

const T = 'Microsoft.Dynamics.CRM.dvp_sample';

describe('dynamics-web-api against the emulator', () => {
  it('[webapi §2-§4] create, retrieve, update, upsert by alternate key and delete', async () => {
    const id = await api.create<unknown, string>({
      collection: 'accounts',
      data: { name: 'Contoso', accountnumber: 'C-1' },
    });
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const read = await api.retrieve<{ name: string; accountnumber: string }>({
      collection: 'accounts',
      key: id,
      select: ['name', 'accountnumber'],
    });
    expect(read).toMatchObject({ name: 'Contoso', accountnumber: 'C-1' });
    await api.update({ collection: 'accounts', key: id, data: { name: 'Contoso Ltd' } });
    expect(emu.store.get('account', id)?.name).toBe('Contoso Ltd');

    await api.upsert({ collection: 'dvp_samples', key: "dvp_code='U1'", data: { dvp_name: 'created' } });
    await api.upsert({ collection: 'dvp_samples', key: "dvp_code='U1'", data: { dvp_name: 'updated' } });
    expect(emu.store.all('dvp_sample').map((r) => [r.dvp_code, r.dvp_name])).toEqual([['U1', 'updated']]);

    await api.deleteRecord({ collection: 'accounts', key: id });
    const missing = await failure(api.retrieve({ collection: 'accounts', key: id }));
    expect(missing.status).toBe(404);
    expect(missing.code).toBe('0x80040217');
  });

  it('[webapi §5] retrieveMultiple with $filter, $orderby and $top; retrieveAll follows nextLink pages', async () => {
    for (let i = 0; i < 7; i += 1) emu.store.put('dvp_sample', { dvp_name: `n${i}`, dvp_quantity: i });
    const some = await api.retrieveMultiple<{ dvp_name: string }>({
      collection: 'dvp_samples',
      select: ['dvp_name'],
      filter: 'dvp_quantity ge 3',
      orderBy: ['dvp_quantity desc'],
      top: 2,
    });
    expect(some.value.map((r) => r.dvp_name)).toEqual(['n6', 'n5']);
    const all = await api.retrieveAll<{ dvp_name: string }>({
      collection: 'dvp_samples',
      select: ['dvp_name'],
      orderBy: ['dvp_quantity'],
      maxPageSize: 3,
    });
    expect(all.value.map((r) => r.dvp_name)).toEqual(['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6']);
    expect(await api.count({ collection: 'dvp_samples' })).toBe(7);
  });

  it('[webapi §13 In] the documented double-quoted value list filters; a single-quoted one is a 400 syntax error', async () => {
    for (const code of ['a', 'b', 'c']) emu.store.put('dvp_sample', { dvp_name: code, dvp_code: code });
    const found = await api.retrieveMultiple<{ dvp_code: string }>({
      collection: 'dvp_samples',
      select: ['dvp_code'],
      orderBy: ['dvp_code'],
      filter: `Microsoft.Dynamics.CRM.In(PropertyName='dvp_code',PropertyValues=["a","c"])`,
    });
    expect(found.value.map((r) => r.dvp_code)).toEqual(['a', 'c']);
    const refused = await failure(
      api.retrieveMultiple({
        collection: 'dvp_samples',
        filter: `Microsoft.Dynamics.CRM.In(PropertyName='dvp_code',PropertyValues=['a','c'])`,
      }),
    );
    expect(refused.status).toBe(400);
    expect(refused.code).toBe('0x80060888');
  });

  it('[webapi §13 $batch outer status] a failed change set rejects the whole batch (outer 400) and writes nothing', async () => {
    api.startBatch();
    api.create({ collection: 'accounts', data: { name: 'in the change set' } });
    api.create({ collection: 'contacts', data: { firstname: 'x'.repeat(51) } });
    const rejected = await failure(api.executeBatch());
    // dynamics-web-api rejects only when the outer status is an error, with the failed items' answers
    // (an outer 200 would have resolved with the error as a value).
    expect(Array.isArray(rejected)).toBe(true);
    const [only, ...rest] = rejected as unknown as { status: number; error: { code: string } }[];
    expect(rest).toEqual([]);
    expect(only?.status).toBe(400);
    expect(only?.error.code).toBe('0x80044331');
    expect(emu.store.count('account')).toBe(0);
  });

  it('[webapi §13 $batch outer status] with continue-on-error the batch resolves with every item, errors as values', async () => {
    const missing = '00000000-0000-0000-0000-00000000dead';
    api.startBatch();
    api.retrieve({ collection: 'accounts', key: missing, select: ['name'] });
    api.retrieveMultiple({ collection: 'accounts', select: ['name'] });
    const results = await api.executeBatch({ inChangeSet: false, continueOnError: true });
    expect(results).toHaveLength(2);
    expect(results[0]).toBeInstanceOf(Error);
    expect((results[0] as Failure).status).toBe(404);
    expect(results[1]).toMatchObject({ value: [] });
  });

  it('[webapi §7, §13 bulk] CreateMultiple and UpsertMultiple through callAction', async () => {
    const created = await api.callAction<{ Ids: string[] }>({
      collection: 'dvp_samples',
      actionName: 'Microsoft.Dynamics.CRM.CreateMultiple',
      action: { Targets: [1, 2].map((i) => ({ '@odata.type': T, dvp_name: `m${i}`, dvp_code: `M${i}` })) },
    });
    expect(created.Ids).toHaveLength(2);
    expect(created.Ids.map((id) => emu.store.get('dvp_sample', id)?.dvp_name)).toEqual(['m1', 'm2']);
    await api.callAction({
      collection: 'dvp_samples',
      actionName: 'Microsoft.Dynamics.CRM.UpsertMultiple',
      action: {
        Targets: [
          { '@odata.type': T, '@odata.id': "dvp_samples(dvp_code='M1')", dvp_name: 'm1 again' },
          { '@odata.type': T, '@odata.id': "dvp_samples(dvp_code='M3')", dvp_name: 'm3' },
        ],
      },
    });
    expect(emu.store.all('dvp_sample').map((r) => [r.dvp_code, r.dvp_name])).toEqual(
      expect.arrayContaining([
        ['M1', 'm1 again'],
        ['M2', 'm2'],
        ['M3', 'm3'],
      ]),
    );
    // §13: the key column also in the body fails the create path with 0x80040216.
    const keyed = await failure(
      api.callAction({
        collection: 'dvp_samples',
        actionName: 'Microsoft.Dynamics.CRM.UpsertMultiple',
        action: {
          Targets: [{ '@odata.type': T, '@odata.id': "dvp_samples(dvp_code='M4')", dvp_code: 'M4' }],
        },
      }),
    );
    expect(keyed.status).toBe(400);
    expect(keyed.code).toBe('0x80040216');
  });

  it('[webapi §5 change tracking, §13] trackChanges gives a deltaLink whose delta lists the changes', async () => {
    emu.store.put('dvp_sample', { dvp_name: 'before' });
    const initial = await api.retrieveMultiple({
      collection: 'dvp_samples',
      select: ['dvp_name'],
      trackChanges: true,
    });
    expect(initial.value).toHaveLength(1);
    const deltaLink = initial.oDataDeltaLink;
    expect(deltaLink).toContain('$deltatoken=');
    emu.store.put('dvp_sample', { dvp_name: 'after' });
    const delta = await api.retrieveMultiple({ collection: 'dvp_samples', trackChanges: true }, deltaLink);
    expect(delta.value.map((r: { dvp_name?: string }) => r.dvp_name)).toEqual(['after']);
  });
});
