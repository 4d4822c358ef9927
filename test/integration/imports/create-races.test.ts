import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';
import { createClient } from '../../../src/app/dataverse.js';
import type { DataverseClient } from '../../../src/dataverse/index.js';
import { deterministicId } from '../../../src/dataverse/ids.js';
import { writeRows, type WritableRow, type WriteContext } from '../../../src/imports/write-rows.js';

// A create that meets "this id already exists" was reported `created` without being written: the values
// of the second of two runs racing on one key were lost (issue 16, defect 1). These tests put the other
// run's record in place between the key look-up and the create, through the real client and bulk layer.
describe('creates that meet an existing id (emulator)', () => {
  let emulator: RunningEmulator;
  let client: DataverseClient;

  beforeAll(async () => {
    emulator = await startEmulator({ profile: 'fast' });
    client = createClient({ url: emulator.url, identities: ['races'] });
  });
  afterAll(async () => {
    await client?.close();
    await emulator?.close();
  });

  const keyedId = (row: WritableRow) =>
    deterministicId('dvpipe:contact', `emailaddress1=${String(row.key?.emailaddress1).toLowerCase()}`);

  function context(overrides: Partial<WriteContext> = {}): WriteContext {
    return {
      client,
      table: 'contact',
      primaryIdAttribute: 'contactid',
      operation: 'upsert',
      strategy: 'auto',
      newIdFor: keyedId,
      recovering: false,
      dryRun: false,
      // The look-up ran before the other run created these keys: every row looks new.
      resolved: new Map(),
      ...overrides,
    };
  }

  const row = (n: number, email: string, lastname: string): WritableRow => ({
    row: n,
    data: { emailaddress1: email, lastname },
    key: { emailaddress1: email },
  });

  it('upsert: the raced row goes the update way, is written and is reported updated', async () => {
    const rows = [row(2, 'race1@example.com', 'Second'), row(3, 'fresh1@example.com', 'Fresh')];
    // The first run created race1 with the same deterministic id, and its own values.
    emulator.store.put('contact', {
      contactid: keyedId(rows[0]!),
      emailaddress1: 'race1@example.com',
      lastname: 'First',
    });

    const outcomes = await writeRows(context(), rows);

    expect(outcomes.sort((a, b) => a.row - b.row)).toEqual([
      { row: 2, status: 'updated', id: keyedId(rows[0]!) },
      { row: 3, status: 'created', id: keyedId(rows[1]!) },
    ]);
    expect(emulator.store.get('contact', keyedId(rows[0]!))?.lastname).toBe('Second');
    expect(emulator.store.get('contact', keyedId(rows[1]!))?.lastname).toBe('Fresh');
  });

  it('upsert through the $batch fallback: the same', async () => {
    emulator.configure({ refuseBulk: { contact: true } });
    try {
      const rows = [row(2, 'race2@example.com', 'Second')];
      emulator.store.put('contact', {
        contactid: keyedId(rows[0]!),
        emailaddress1: 'race2@example.com',
        lastname: 'First',
      });
      const outcomes = await writeRows(context(), rows);
      expect(outcomes).toEqual([{ row: 2, status: 'updated', id: keyedId(rows[0]!) }]);
      expect(emulator.store.get('contact', keyedId(rows[0]!))?.lastname).toBe('Second');
    } finally {
      emulator.configure({ refuseBulk: { contact: false } });
    }
  });

  it('upsert: a key whose derived id is held by a record with another key is created under another id', async () => {
    const rows = [row(2, 'moved@example.com', 'New')];
    // dvpipe created moved@ once; then someone changed that record's email. The id is taken, the key free.
    emulator.store.put('contact', {
      contactid: keyedId(rows[0]!),
      emailaddress1: 'renamed@example.com',
      lastname: 'Old',
    });

    const outcomes = await writeRows(context(), rows);

    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ row: 2, status: 'created' });
    expect(outcomes[0]?.id).not.toBe(keyedId(rows[0]!));
    const stored = emulator.store.all('contact').filter((c) => c.emailaddress1 === 'moved@example.com');
    expect(stored.map((c) => [c.contactid, c.lastname])).toEqual([[outcomes[0]?.id, 'New']]);
    expect(emulator.store.get('contact', keyedId(rows[0]!))?.emailaddress1).toBe('renamed@example.com');
  });
});
