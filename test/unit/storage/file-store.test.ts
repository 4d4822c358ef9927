import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileObjectStore } from '../../../src/storage/file-store.js';

/** Each test a store of its own in a fresh folder. */
let root: string;
let store: FileObjectStore;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'dvp-file-store-'));
  store = new FileObjectStore(root);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('FileObjectStore.list', () => {
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

describe('FileObjectStore.put with ifNoneMatch', () => {
  it('creates once among racing writers, and a reader sees the whole file or none, never part of it', async () => {
    // Large enough that writing it takes many event-loop turns, so reads land while it is written.
    const bodies = Array.from({ length: 4 }, (_, i) => Buffer.alloc(8 * 1024 * 1024, 65 + i));
    const seen: number[] = [];
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const got = await store.get('runs/r/summary.json');
        if (got) seen.push(got.length);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const created = await Promise.all(
      bodies.map((b) => store.put('runs/r/summary.json', b, { ifNoneMatch: true })),
    );
    writing = false;
    await reader;
    expect(created.filter(Boolean)).toHaveLength(1);
    const winner = bodies[created.indexOf(true)]!;
    expect((await store.get('runs/r/summary.json'))?.equals(winner)).toBe(true);
    expect(seen.every((length) => length === winner.length)).toBe(true);
    // No temp file is left beside it.
    const names: string[] = [];
    for await (const name of store.list('runs/r/')) names.push(name);
    expect(names).toEqual(['runs/r/summary.json']);
  });
});
