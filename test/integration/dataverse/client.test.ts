import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';
import {
  createDataverseClient,
  deterministicId,
  emulatorTokenProvider,
  isDataverseError,
  isDeletedEntity,
  type ClientEvent,
  type DataverseClient,
} from '../../../src/dataverse/index.js';

/** Functional behaviour on the fast profile (no latency, no limits). */
describe('Dataverse client against the emulator (fast profile)', () => {
  let emu: RunningEmulator;
  let client: DataverseClient;
  const events: ClientEvent[] = [];

  beforeAll(async () => {
    emu = await startEmulator({ profile: 'fast' });
    client = createDataverseClient({
      url: emu.url,
      tokenProviders: [emulatorTokenProvider(emu.url)],
      onEvent: (e) => events.push(e),
    });
  });
  afterAll(async () => {
    await client?.close();
    await emu?.close();
  });

  it('answers a table named by its entity set name with the logical name to use', async () => {
    const plural = await client.metadata('contacts').catch((e: unknown) => e);
    expect(isDataverseError(plural) && [plural.status, plural.message]).toEqual([
      404,
      "There is no table 'contacts'. Did you mean 'contact'? Jobs name a table by its logical name; 'contacts' is its entity set name (the plural in Web API URLs).",
    ]);
    const unknown = await client.metadata('nosuchtables').catch((e: unknown) => e);
    expect(isDataverseError(unknown) && unknown.message).toMatch(
      /^There is no table 'nosuchtables' \(tables are named/,
    );
  });

  it('reads table metadata: entity set, limits, choices, keys, polymorphic navigation', async () => {
    const m = await client.metadata('contact');
    expect(m.entitySetName).toBe('contacts');
    expect(m.primaryIdAttribute).toBe('contactid');
    expect(m.attributes.get('firstname')).toMatchObject({ type: 'String', maxLength: 50 });
    expect(m.attributes.get('birthdate')).toMatchObject({ type: 'DateTime', dateTimeBehavior: 'DateOnly' });
    expect(m.attributes.get('parentcustomerid')?.targets).toEqual(['account', 'contact']);
    expect(m.attributes.get('preferredcontactmethodcode')?.options?.length).toBeGreaterThan(1);
    expect(m.keys.map((k) => k.keyAttributes)).toContainEqual(['emailaddress1']);
    expect(m.navigationProperties).toContainEqual({
      name: 'parentcustomerid_account',
      attribute: 'parentcustomerid',
      target: 'account',
    });
    // Cached per process: the same object comes back.
    expect(await client.metadata('contact')).toBe(m);
  });

  it('creates, retrieves, updates, upserts by key and deletes single records', async () => {
    const id = deterministicId('it-single', 'a1');
    expect(await client.create('account', { name: 'Alpha', accountnumber: 'S-1' }, { id })).toEqual({
      id,
      created: true,
    });
    // The same create again (a redelivery) finds its own record: success, not a duplicate.
    expect(await client.create('account', { name: 'Alpha', accountnumber: 'S-1' }, { id })).toEqual({
      id,
      created: false,
    });
    expect(await client.retrieve('account', { id }, { select: ['name'] })).toMatchObject({ name: 'Alpha' });
    await client.update('account', { key: { accountnumber: 'S-1' } }, { name: 'Alpha 2' });
    expect(emu.store.get('account', id)?.['name']).toBe('Alpha 2');
    await expect(
      client.update('account', { id: deterministicId('it-single', 'missing') }, { name: 'x' }),
    ).rejects.toMatchObject({
      status: 404,
    });
    const up = await client.upsert(
      'account',
      { key: { accountnumber: "S-2 O'Hara" } },
      { name: 'Beta' },
      { returnId: true },
    );
    expect(up.created).toBe(true);
    expect(emu.store.get('account', up.id!)?.['accountnumber']).toBe("S-2 O'Hara");
    const again = await client.upsert(
      'account',
      { key: { accountnumber: "S-2 O'Hara" } },
      { name: 'Beta' },
      { returnId: true },
    );
    expect(again).toEqual({ id: up.id, created: false });
    await expect(
      client.upsert(
        'account',
        { key: { accountnumber: "S-2 O'Hara" } },
        { name: 'B' },
        { mode: 'createOnly' },
      ),
    ).rejects.toMatchObject({ status: 412 });
    await expect(
      client.upsert('account', { key: { accountnumber: 'S-3' } }, { name: 'C' }, { mode: 'updateOnly' }),
    ).rejects.toMatchObject({ status: 404 });
    await client.delete('account', { id });
    expect(await client.retrieve('account', { id })).toBeUndefined();
    await expect(client.delete('account', { id })).rejects.toSatisfy(isDataverseError);
  });

  it('falls back to $batch for a table that refuses bulk messages, and remembers it', async () => {
    emu.configure({ refuseBulk: { dvp_sample: true } });
    try {
      const rows = Array.from({ length: 30 }, (_, i) => ({
        id: deterministicId('it-fallback', String(i)),
        data: { dvp_name: `n${i}`, dvp_quantity: i },
      }));
      const before = events.filter((e) => e.type === 'fallback').length;
      const first = await client.createMultiple('dvp_sample', rows.slice(0, 20));
      const second = await client.createMultiple('dvp_sample', rows.slice(20));
      expect([...first, ...second].every((r) => r.ok)).toBe(true);
      expect(emu.store.count('dvp_sample')).toBe(30);
      expect(events.filter((e) => e.type === 'fallback').length - before).toBe(1);
    } finally {
      emu.configure({ refuseBulk: { dvp_sample: false } });
      emu.store.clear('dvp_sample');
    }
  });

  it('bulk write of 1,000 with 3 invalid records reports exactly those 3, with their codes, and writes 997', async () => {
    const rows = Array.from({ length: 1000 }, (_, i) => ({
      id: deterministicId('it-bulk', String(i)),
      data: { dvp_name: `sample ${i}`, dvp_quantity: i } as Record<string, unknown>,
    }));
    rows[10]!.data['dvp_name'] = 'x'.repeat(101); // too long
    rows[500]!.data['dvp_quantity'] = 2_000_000; // out of range
    rows[999]!.data['dvp_name'] = 'y'.repeat(500);
    const results = await client.createMultiple('dvp_sample', rows);
    const failed = results.filter((r) => !r.ok);
    expect(failed.map((r) => r.index)).toEqual([10, 500, 999]);
    const codes = failed.map((r) => (r.ok ? '' : r.error.code.toLowerCase()));
    expect(codes).toEqual(['0x80044331', '0x8004432f', '0x80044331']);
    for (const f of failed) if (!f.ok) expect(f.error.recordIndex).toBe(f.index);
    expect(results.filter((r) => r.ok)).toHaveLength(997);
    expect(emu.store.count('dvp_sample')).toBe(997);
    expect(emu.store.get('dvp_sample', rows[10]!.id)).toBeUndefined();
    expect(emu.store.get('dvp_sample', rows[11]!.id)).toBeDefined();
    emu.store.clear('dvp_sample');
  });

  it('pages 12,000 rows with page size 5,000, each row exactly once, one page at a time', async () => {
    for (let i = 0; i < 12_000; i++)
      emu.store.put('dvp_sample', { dvp_name: `p${i}`, dvp_quantity: i % 1000 });
    const result = client.query('dvp_sample', { select: ['dvp_name'], pageSize: 5000 });
    const sizes: number[] = [];
    const seen = new Set<string>();
    for await (const page of result.pages()) {
      sizes.push(page.length);
      for (const row of page) seen.add(String(row['dvp_sampleid']));
    }
    expect(sizes).toEqual([5000, 5000, 2000]);
    expect(seen.size).toBe(12_000);
    expect(await client.count('dvp_sample')).toBe(12_000);
    expect(await client.count('dvp_sample', 'dvp_quantity lt 10')).toBe(120);
    emu.store.clear('dvp_sample');
  });

  it('returns formatted values when asked', async () => {
    emu.store.put('account', { name: 'Formatted', accountnumber: 'F-1', industrycode: 1 });
    const rows = [];
    for await (const row of client.query('account', {
      select: ['industrycode'],
      filter: "accountnumber eq 'F-1'",
      formattedValues: true,
    })) {
      rows.push(row);
    }
    expect(rows).toHaveLength(1);
    expect(typeof rows[0]!['industrycode@OData.Community.Display.V1.FormattedValue']).toBe('string');
  });

  it('tracks changes: a delta link, then changed rows and deletions', async () => {
    emu.store.clear('dvp_sample');
    const ids = await Promise.all(
      [0, 1, 2].map(async (i) => (await client.create('dvp_sample', { dvp_name: `d${i}` })).id),
    );
    const initial = client.query('dvp_sample', { select: ['dvp_name'], trackChanges: true });
    let n = 0;
    for await (const _row of initial) n++;
    expect(n).toBe(3);
    expect(initial.deltaLink).toMatch(/deltatoken/);
    await client.update('dvp_sample', { id: ids[0]! }, { dvp_name: 'changed' });
    await client.delete('dvp_sample', { id: ids[1]! });
    const changes = [];
    const d = client.delta(initial.deltaLink!);
    for await (const row of d) changes.push(row);
    const deleted = changes.filter(isDeletedEntity);
    expect(deleted.map((r) => r.id)).toEqual([ids[1]]);
    expect(changes.filter((r) => !isDeletedEntity(r)).map((r) => r['dvp_name'])).toEqual(['changed']);
    expect(d.deltaLink).toBeDefined();
  });

  it('runs $batch with an atomic change set and continue-on-error', async () => {
    emu.store.clear('dvp_sample');
    const responses = await client.batch(
      [
        { method: 'POST', path: 'dvp_samples', body: { dvp_name: 'ok in set' }, changeSet: 'a' },
        { method: 'POST', path: 'dvp_samples', body: { dvp_name: 'z'.repeat(200) }, changeSet: 'a' },
        { method: 'POST', path: 'dvp_samples', body: { dvp_name: 'alone' } },
        { method: 'GET', path: 'dvp_samples?$select=dvp_name' },
      ],
      { continueOnError: true },
    );
    expect(responses.map((r) => r.status)).toEqual([400, 400, 204, 200]);
    expect(responses[0]!.error?.code.toLowerCase()).toBe('0x80044331');
    expect(emu.store.all('dvp_sample').map((r) => r['dvp_name'])).toEqual(['alone']);
  });

  it('reads the multipart answer of a $batch that stopped at a failure (outer 400, reference §13)', async () => {
    emu.store.clear('dvp_sample');
    const responses = await client.batch([
      { method: 'POST', path: 'dvp_samples', body: { dvp_name: 'first' } },
      { method: 'POST', path: 'dvp_samples', body: { dvp_name: 'z'.repeat(200) } },
      { method: 'POST', path: 'dvp_samples', body: { dvp_name: 'never sent' } },
    ]);
    expect(responses.map((r) => r.status)).toEqual([204, 400, 0]);
    expect(responses[1]!.error?.code.toLowerCase()).toBe('0x80044331');
    expect(emu.store.all('dvp_sample').map((r) => r['dvp_name'])).toEqual(['first']);
  });

  it('deletes many records through $batch, reporting missing ones per record', async () => {
    emu.store.clear('dvp_sample');
    const ids = Array.from({ length: 5 }, (_, i) => emu.store.put('dvp_sample', { dvp_name: `del${i}` }));
    const missing = deterministicId('it-del', 'missing');
    const results = await client.deleteMultiple('dvp_sample', [
      ...ids.map((id) => ({ id })),
      { id: missing },
    ]);
    expect(results.slice(0, 5).every((r) => r.ok)).toBe(true);
    expect(results[5]).toMatchObject({ index: 5, ok: false, error: { status: 404 } });
    expect(emu.store.count('dvp_sample')).toBe(0);
  });

  it('reports metrics and events', () => {
    const m = client.metrics();
    expect(m.requests).toBeGreaterThan(10);
    expect(m.recordsSucceeded).toBeGreaterThan(1000);
    expect(m.recordsFailed).toBeGreaterThanOrEqual(3);
    expect(events.some((e) => e.type === 'request')).toBe(true);
    expect(Object.keys(m.byIdentity)).toEqual(['dvpipe']);
  });
});
