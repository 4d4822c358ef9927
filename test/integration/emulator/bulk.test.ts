import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../emulator/index.js';
import { call, startFast } from './client.js';

let emu: RunningEmulator;
beforeAll(async () => {
  emu = await startFast();
});
afterAll(() => emu.close());
beforeEach(() => {
  emu.store.clear('dvp_sample');
  emu.store.clear('account');
  emu.configure({ refuseBulk: { dvp_sample: false, account: false } });
});

const T = 'Microsoft.Dynamics.CRM.dvp_sample';
const action = (name: string) => `dvp_samples/Microsoft.Dynamics.CRM.${name}`;

describe('bulk messages (behaviours item 6)', () => {
  it('[webapi §7] CreateMultiple → 200 {"Ids":[...]} in Targets order', async () => {
    const r = await call(emu, 'POST', action('CreateMultiple'), {
      body: { Targets: [1, 2, 3].map((i) => ({ '@odata.type': T, dvp_name: `n${i}`, dvp_code: `c${i}` })) },
    });
    expect(r.status).toBe(200);
    expect(r.json['@odata.context']).toBe(
      `${emu.apiRoot}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse`,
    );
    expect(r.json.Ids).toHaveLength(3);
    expect(r.json.Ids.map((id: string) => emu.store.get('dvp_sample', id)?.dvp_name)).toEqual([
      'n1',
      'n2',
      'n3',
    ]);
    expect(emu.stats().bulkRecordsWritten).toBeGreaterThanOrEqual(3);
  });

  it('[webapi §7] CreateMultiple is all-or-nothing: one bad record → error, nothing written', async () => {
    const r = await call(emu, 'POST', action('CreateMultiple'), {
      body: {
        Targets: [
          { '@odata.type': T, dvp_name: 'good' },
          { '@odata.type': T, dvp_name: 'bad', dvp_quantity: -1 },
        ],
      },
    });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('0x8004432F');
    expect(emu.store.count('dvp_sample')).toBe(0);
  });

  it('[webapi §7] @odata.type is required on every Target', async () => {
    const r = await call(emu, 'POST', action('CreateMultiple'), {
      body: { Targets: [{ dvp_name: 'untyped' }] },
    });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('0x80048d19');
    expect(r.json.error.message).toContain('@odata.type');
    expect(emu.store.count('dvp_sample')).toBe(0);
  });

  it('[webapi §7] UpdateMultiple → 204; targets carry the primary key; a missing row fails the whole request', async () => {
    const ids = [
      emu.store.put('dvp_sample', { dvp_name: 'a' }),
      emu.store.put('dvp_sample', { dvp_name: 'b' }),
    ];
    const r = await call(emu, 'POST', action('UpdateMultiple'), {
      body: { Targets: ids.map((id, i) => ({ '@odata.type': T, dvp_sampleid: id, dvp_quantity: i + 10 })) },
    });
    expect(r.status).toBe(204);
    expect(ids.map((id) => emu.store.get('dvp_sample', id)?.dvp_quantity)).toEqual([10, 11]);
    const missing = '00000000-0000-0000-0000-0000000000ff';
    const bad = await call(emu, 'POST', action('UpdateMultiple'), {
      body: {
        Targets: [
          { '@odata.type': T, dvp_sampleid: ids[0], dvp_quantity: 99 },
          { '@odata.type': T, dvp_sampleid: missing, dvp_quantity: 1 },
        ],
      },
    });
    expect(bad.status).toBe(404);
    expect(bad.json.error.code).toBe('0x80040217');
    expect(emu.store.get('dvp_sample', ids[0]!)?.dvp_quantity).toBe(10);
  });

  it('[webapi §7] UpsertMultiple by alternate key @odata.id creates and updates → 204', async () => {
    emu.store.put('dvp_sample', { dvp_name: 'old', dvp_code: 'K1' });
    const r = await call(emu, 'POST', action('UpsertMultiple'), {
      body: {
        Targets: [
          { '@odata.type': T, '@odata.id': "dvp_samples(dvp_code='K1')", dvp_name: 'updated' },
          { '@odata.type': T, '@odata.id': "dvp_samples(dvp_code='K2')", dvp_name: 'created' },
        ],
      },
    });
    expect(r.status).toBe(204);
    const rows = emu.store.all('dvp_sample').map((row) => [row.dvp_code, row.dvp_name]);
    expect(rows.sort()).toEqual([
      ['K1', 'updated'],
      ['K2', 'created'],
    ]);
  });

  it('[webapi §13 UpdateMultiple] two items for one record: the first is applied, the rest ignored, no error', async () => {
    const id = emu.store.put('dvp_sample', { dvp_name: 'once' });
    const other = emu.store.put('dvp_sample', { dvp_name: 'other' });
    const r = await call(emu, 'POST', action('UpdateMultiple'), {
      body: {
        Targets: [
          { '@odata.type': T, dvp_sampleid: id, dvp_quantity: 1 },
          { '@odata.type': T, dvp_sampleid: other, dvp_quantity: 7 },
          { '@odata.type': T, dvp_sampleid: id, dvp_quantity: 2, dvp_name: 'ignored' },
        ],
      },
    });
    expect(r.status).toBe(204);
    expect(emu.store.get('dvp_sample', id)).toMatchObject({ dvp_quantity: 1, dvp_name: 'once' });
    expect(emu.store.get('dvp_sample', other)?.dvp_quantity).toBe(7);
  });

  it('[webapi §13 UpsertMultiple] the key column also in the body: 400 0x80040216 on the create path, the update path succeeds', async () => {
    emu.store.put('dvp_sample', { dvp_name: 'old', dvp_code: 'K1' });
    const update = await call(emu, 'POST', action('UpsertMultiple'), {
      body: {
        Targets: [
          { '@odata.type': T, '@odata.id': "dvp_samples(dvp_code='K1')", dvp_code: 'K1', dvp_name: 'new' },
        ],
      },
    });
    expect(update.status).toBe(204);
    expect(emu.store.all('dvp_sample').map((row) => row.dvp_name)).toEqual(['new']);
    const create = await call(emu, 'POST', action('UpsertMultiple'), {
      body: {
        Targets: [
          { '@odata.type': T, '@odata.id': "dvp_samples(dvp_code='K1')", dvp_name: 'newer' },
          { '@odata.type': T, '@odata.id': "dvp_samples(dvp_code='K2')", dvp_code: 'K2', dvp_name: 'x' },
        ],
      },
    });
    expect(create.status).toBe(400);
    expect(create.json.error.code).toBe('0x80040216');
    // All or nothing: the update in the same request is not applied either.
    expect(emu.store.all('dvp_sample').map((row) => [row.dvp_code, row.dvp_name])).toEqual([['K1', 'new']]);
  });

  it('[webapi §7] UpsertMultiple by primary key creates with that id', async () => {
    const id = '00000000-0000-0000-0000-0000000000aa';
    const r = await call(emu, 'POST', action('UpsertMultiple'), {
      body: { Targets: [{ '@odata.type': T, dvp_sampleid: id, dvp_name: 'by id' }] },
    });
    expect(r.status).toBe(204);
    expect(emu.store.get('dvp_sample', id)?.dvp_name).toBe('by id');
  });

  it('[webapi §7] a table switched to refuse bulk messages answers like an unsupported table', async () => {
    emu.configure({ refuseBulk: { dvp_sample: true } });
    const r = await call(emu, 'POST', action('CreateMultiple'), {
      body: { Targets: [{ '@odata.type': T, dvp_name: 'x' }] },
    });
    expect(r.status).toBe(400);
    expect(r.json.error).toEqual({
      code: '0x80040800',
      message:
        "The 'CreateMultiple' method does not support entities of type 'dvp_sample'. MessageProcessorCache returned MessageProcessor.Empty.",
    });
    expect(emu.store.count('dvp_sample')).toBe(0);
    const single = await call(emu, 'POST', 'dvp_samples', { body: { dvp_name: 'single still works' } });
    expect(single.status).toBe(204);
  });

  it('[webapi §7] DeleteMultiple on a standard table → "DeleteMultiple has not yet been implemented."', async () => {
    const r = await call(emu, 'POST', action('DeleteMultiple'), { body: { Targets: [] } });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toBe('DeleteMultiple has not yet been implemented.');
  });

  it('[webapi §7] bulk messages on accounts use real logical names in @odata.type', async () => {
    const r = await call(emu, 'POST', 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', {
      body: { Targets: [{ '@odata.type': 'Microsoft.Dynamics.CRM.account', name: 'Bulk account' }] },
    });
    expect(r.status).toBe(200);
    expect(emu.store.count('account')).toBe(1);
  });
});
