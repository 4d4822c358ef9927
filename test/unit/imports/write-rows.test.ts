import { describe, expect, it } from 'vitest';
import { writeRows, type WritableRow, type WriteContext } from '../../../src/imports/write-rows.js';
import type { WriteClient } from '../../../src/imports/write-client.js';
import { DataverseError } from '../../../src/dataverse/errors.js';
import { FakeTable } from './fake-write-client.js';

function context(table: WriteClient, overrides: Partial<WriteContext> = {}): WriteContext {
  return {
    client: table,
    table: 'contact',
    primaryIdAttribute: 'contactid',
    operation: 'upsert',
    strategy: 'auto',
    newIdFor: (row) => `id-${String(row.key?.emailaddress1 ?? row.row).toLowerCase()}`,
    recovering: false,
    dryRun: false,
    ...overrides,
  };
}

const row = (n: number, email: string, lastname = `L${n}`): WritableRow => ({
  row: n,
  data: { emailaddress1: email, lastname },
  key: { emailaddress1: email },
});

describe('writeRows upsert (auto strategy)', () => {
  it('creates new keys and updates existing ones, one outcome per row', async () => {
    const table = new FakeTable('contactid', ['emailaddress1']);
    table.rows.set('existing', { contactid: 'existing', emailaddress1: 'Old@x.com', lastname: 'Before' });
    const outcomes = await writeRows(context(table), [row(2, 'new@x.com'), row(3, 'old@x.com', 'After')]);
    expect(outcomes).toEqual([
      { row: 2, status: 'created', id: 'id-new@x.com' },
      { row: 3, status: 'updated', id: 'existing' },
    ]);
    expect(table.rows.get('existing')?.lastname).toBe('After');
    expect(table.calls).toEqual(['query', 'create:1', 'update:1']);
  });

  it('turns a create that meets a duplicate key (a racing writer) into an update', async () => {
    const table = new FakeTable('contactid', ['emailaddress1']);
    let first = true;
    // The key lookup misses, then another writer inserts the record before our create lands.
    const racing: WriteClient = {
      createMultiple: (name, records) => table.createMultiple(name, records),
      updateMultiple: (name, records) => table.updateMultiple(name, records),
      upsertMultiple: (name, records) => table.upsertMultiple(name, records),
      deleteMultiple: (name, targets) => table.deleteMultiple(name, targets),
      query: (name, options) => {
        if (!first) return table.query(name, options);
        first = false;
        table.rows.set('theirs', { contactid: 'theirs', emailaddress1: 'a@x.com', lastname: 'Theirs' });
        return { rows: async function* () {} };
      },
    };
    const outcomes = await writeRows(context(racing), [row(2, 'a@x.com', 'Ours')]);
    expect(outcomes).toEqual([{ row: 2, status: 'updated', id: 'theirs' }]);
    expect(table.rows.get('theirs')?.lastname).toBe('Ours');
    expect(table.rows.size).toBe(1);
  });

  it('reports a failed record against its own row and writes the others', async () => {
    const table = new FakeTable('contactid', ['emailaddress1']);
    table.failIds.add('id-bad@x.com');
    const outcomes = await writeRows(context(table), [row(2, 'ok@x.com'), row(3, 'bad@x.com')]);
    expect(outcomes[0]).toMatchObject({ row: 2, status: 'created' });
    expect(outcomes[1]).toMatchObject({ row: 3, status: 'failed', code: '0x80044331' });
  });

  it('writes nothing in a dry run but says what would happen', async () => {
    const table = new FakeTable('contactid', ['emailaddress1']);
    table.rows.set('e', { contactid: 'e', emailaddress1: 'e@x.com' });
    const outcomes = await writeRows(context(table, { dryRun: true }), [
      row(2, 'n@x.com'),
      row(3, 'e@x.com'),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['created', 'updated']);
    expect(table.calls).toEqual(['query']);
  });
});

describe('writeRows create', () => {
  it('counts records already created under our deterministic id as created when recovering', async () => {
    const table = new FakeTable('contactid', []);
    const rows = [2, 3].map((n) => ({ row: n, data: { lastname: `L${n}` } }));
    const ctx = context(table, {
      operation: 'create',
      newIdFor: (r) => `00000000-0000-0000-0000-00000000000${r.row}`,
    });
    await writeRows(ctx, rows.slice(0, 1));
    const outcomes = await writeRows({ ...ctx, recovering: true }, rows);
    expect(outcomes.map((o) => o.status)).toEqual(['created', 'created']);
    expect(table.rows.size).toBe(2);
  });

  it('treats a duplicate of our own id as created even without recovery mode', async () => {
    const table = new FakeTable('contactid', []);
    const ctx = context(table, { operation: 'create', newIdFor: () => 'fixed-id' });
    await writeRows(ctx, [{ row: 2, data: { lastname: 'A' } }]);
    const outcomes = await writeRows(ctx, [{ row: 2, data: { lastname: 'A' } }]);
    expect(outcomes).toEqual([{ row: 2, status: 'created', id: 'fixed-id' }]);
    expect(table.rows.size).toBe(1);
  });
});

describe('writeRows create against records from elsewhere', () => {
  it('fails a keyed create whose key another record holds, and leaves that record as it was', async () => {
    const table = new FakeTable('contactid', ['emailaddress1']);
    table.rows.set('theirs', { contactid: 'theirs', emailaddress1: 'a@x.com', lastname: 'Theirs' });
    const ctx = context(table, { operation: 'create', newIdFor: (r) => `run1-${r.row}` });
    const outcomes = await writeRows(ctx, [row(2, 'a@x.com', 'Ours'), row(3, 'b@x.com', 'New')]);
    expect(outcomes.find((o) => o.row === 2)).toMatchObject({ status: 'failed', code: 'RecordExists' });
    expect(outcomes.find((o) => o.row === 2)?.message).toContain('emailaddress1=a@x.com already exists');
    expect(outcomes.find((o) => o.row === 3)).toEqual({ row: 3, status: 'created', id: 'run1-3' });
    expect(table.rows.get('theirs')?.lastname).toBe('Theirs');
  });

  it('fails a create whose own id (from the file) another record holds, outside recovery', async () => {
    const table = new FakeTable('contactid', []);
    table.rows.set('given-id', { contactid: 'given-id', lastname: 'Theirs' });
    const outcomes = await writeRows(context(table, { operation: 'create' }), [
      { row: 2, id: 'given-id', data: { lastname: 'Ours' } },
    ]);
    expect(outcomes).toEqual([expect.objectContaining({ row: 2, status: 'failed', code: 'RecordExists' })]);
    expect(table.rows.get('given-id')?.lastname).toBe('Theirs');
  });
});

describe('writeRows upsert when records change under it', () => {
  it('creates a row whose record was deleted after the look-up', async () => {
    const table = new FakeTable('contactid', ['emailaddress1']);
    // The look-up found `gone`, which another writer deleted before the update.
    const outcomes = await writeRows(
      context(table, { resolved: new Map([['emailaddress1=a@x.com', 'gone']]) }),
      [row(2, 'a@x.com', 'Ours')],
    );
    expect(outcomes).toEqual([{ row: 2, status: 'created', id: 'id-a@x.com' }]);
    expect(table.rows.get('id-a@x.com')?.lastname).toBe('Ours');
  });

  it('UpsertMultiple: a duplicate answer from a racing insert is sent again and lands as an update', async () => {
    const table = new FakeTable('contactid', ['emailaddress1']);
    let raced = false;
    const racing: WriteClient = {
      createMultiple: (name, records) => table.createMultiple(name, records),
      updateMultiple: (name, records) => table.updateMultiple(name, records),
      deleteMultiple: (name, targets) => table.deleteMultiple(name, targets),
      query: (name, options) => table.query(name, options),
      upsertMultiple: async (name, records) => {
        if (raced) return table.upsertMultiple(name, records);
        raced = true;
        table.rows.set('theirs', { contactid: 'theirs', emailaddress1: 'a@x.com', lastname: 'Theirs' });
        return records.map((_, index) => ({
          index,
          ok: false as const,
          error: new DataverseError({
            status: 412,
            code: '0x80040237',
            message: 'Cannot insert duplicate key.',
          }),
        }));
      },
    };
    const outcomes = await writeRows(context(racing, { strategy: 'upsertMultiple' }), [
      row(2, 'a@x.com', 'Ours'),
    ]);
    expect(outcomes).toEqual([{ row: 2, status: 'upserted', id: 'theirs' }]);
    expect(table.rows.get('theirs')?.lastname).toBe('Ours');
  });
});

describe('writeRows update and delete', () => {
  it('fails updates of unknown keys with RecordNotFound and updates the rest', async () => {
    const table = new FakeTable('contactid', ['emailaddress1']);
    table.rows.set('k', { contactid: 'k', emailaddress1: 'k@x.com' });
    const outcomes = await writeRows(context(table, { operation: 'update' }), [
      row(2, 'k@x.com', 'New'),
      row(3, 'missing@x.com'),
    ]);
    expect(outcomes.find((o) => o.row === 2)).toMatchObject({ status: 'updated', id: 'k' });
    expect(outcomes.find((o) => o.row === 3)).toMatchObject({ status: 'failed', code: 'RecordNotFound' });
  });

  it('deletes by key and reports already-absent records as unchanged', async () => {
    const table = new FakeTable('contactid', ['emailaddress1']);
    table.rows.set('k', { contactid: 'k', emailaddress1: "o'neil@x.com" });
    const outcomes = await writeRows(context(table, { operation: 'delete' }), [
      row(2, "o'neil@x.com"),
      row(3, 'gone@x.com'),
    ]);
    expect(outcomes.find((o) => o.row === 2)).toMatchObject({ status: 'deleted', id: 'k' });
    expect(outcomes.find((o) => o.row === 3)).toMatchObject({ status: 'unchanged' });
    expect(table.rows.size).toBe(0);
  });
});
