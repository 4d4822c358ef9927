import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileObjectStore } from '../../../src/storage/file-store.js';

describe('FileObjectStore.list', () => {
  let root: string;
  let store: FileObjectStore;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'dvp-file-store-'));
    store = new FileObjectStore(root);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const collect = async (prefix: string) => {
    const names: string[] = [];
    for await (const name of store.list(prefix)) names.push(name);
    return names;
  };

  it('lists files under a prefix, nested ones too, sorted, with / separators', async () => {
    await store.put('runs/r1/results/2.json', '{}');
    await store.put('runs/r1/results/10.json', '{}');
    await store.put('runs/r1/results/plan/x.json', '{}');
    await store.put('runs/r1/manifest.json', '{}');
    await store.put('runs/r2/results/1.json', '{}');

    expect(await collect('runs/r1/results/')).toEqual([
      'runs/r1/results/10.json',
      'runs/r1/results/2.json',
      'runs/r1/results/plan/x.json',
    ]);
    // A prefix may end inside a name, as with blob listings.
    expect(await collect('runs/r1/m')).toEqual(['runs/r1/manifest.json']);
  });

  it('leaves out folders, unfinished temp files, and prefixes that do not exist', async () => {
    await store.put('a/b/c.json', '{}');
    await writeFile(join(root, 'a', 'b', 'd.json.123.tmp'), 'partial');

    expect(await collect('a/')).toEqual(['a/b/c.json']);
    expect(await collect('missing/')).toEqual([]);
  });
});
