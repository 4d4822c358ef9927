import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../../dev/azurite.js';
import { BlobObjectStore } from '../../../src/storage/blob-store.js';
import type { StagedParts } from '../../../src/storage/object-store.js';

// The block-blob parts the result files are joined from (src/imports/result-parts.ts), on Azurite.

let azurite: RunningAzurite;
let store: BlobObjectStore;
let parts: StagedParts;
beforeAll(async () => {
  azurite = await startAzurite();
  const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
    'parts',
  );
  await container.createIfNotExists();
  store = new BlobObjectStore(container, 'run');
  parts = store.parts;
}, 60_000);
afterAll(async () => azurite?.stop());

describe('BlobObjectStore parts', () => {
  it('joins parts staged out of order in the order named, with their sizes known before and after', async () => {
    expect(await parts.sizes('a.csv')).toEqual(new Map());
    await parts.stage('a.csv', 3, 'three,ü\n');
    await parts.stage('a.csv', 1, 'one\n');
    await parts.stage('a.csv', 0, 'header\n');
    // A part staged again is replaced.
    await parts.stage('a.csv', 1, 'one again\n');
    // Bytes, not characters: ü takes two.
    const sizes = new Map([
      [0, 7],
      [1, 10],
      [3, 9],
    ]);
    expect(await parts.sizes('a.csv')).toEqual(sizes);
    await parts.join('a.csv', [0, 1, 3], { contentType: 'text/csv; charset=utf-8' });
    expect((await store.get('a.csv'))?.toString('utf8')).toBe('header\none again\nthree,ü\n');
    // Joined parts are still known, and joining again (a second finalizer) gives the same object.
    expect(await parts.sizes('a.csv')).toEqual(sizes);
    await parts.join('a.csv', [0, 1, 3], { contentType: 'text/csv; charset=utf-8' });
    expect((await store.get('a.csv'))?.toString('utf8')).toBe('header\none again\nthree,ü\n');
  });

  it('leaves out a staged part the join does not name, and refuses a join naming a part never staged', async () => {
    await parts.stage('b.csv', 0, 'h\n');
    await parts.stage('b.csv', 2, 'two\n');
    await parts.stage('b.csv', 5, 'five\n');
    await parts.join('b.csv', [0, 5]);
    expect((await store.get('b.csv'))?.toString('utf8')).toBe('h\nfive\n');
    await expect(parts.join('b.csv', [0, 5, 7])).rejects.toThrow(/block/i);
    expect((await store.get('b.csv'))?.toString('utf8')).toBe('h\nfive\n');
  });
});
