import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { FileObjectStore } from '../../../src/storage/file-store.js';
import { planRun, type SourceRecord } from '../../../src/imports/plan.js';
import {
  processChunk,
  failChunk,
  type ChunkMapper,
  type ChunkWorkerDeps,
} from '../../../src/imports/write-chunk.js';
import type { WriteClient } from '../../../src/imports/write-client.js';
import type { ObjectStore } from '../../../src/storage/object-store.js';
import { tryFinalize } from '../../../src/imports/finalize.js';
import { rerunFailedRows } from '../../../src/imports/rerun.js';
import type { InputRef } from '../../../src/imports/types.js';
import { runPaths } from '../../../src/imports/paths.js';
import { FakeTable } from './fake-write-client.js';
import { wrapStore } from '../../fixtures/wrapped-store.js';

const header = ['Email', 'Last Name'];
const runId = 'r0123456789abcdef01234567';
const input: InputRef = { job: 'contacts', name: 'people.csv', url: 'file:///people.csv', etag: 'e1' };

/** planRun with this file's defaults: the contacts input, lastWins, results under `p/<runId>/`. */
function planOf(
  store: ObjectStore,
  runId: string,
  list: SourceRecord[],
  options: Partial<Parameters<typeof planRun>[0]> = {},
) {
  return planRun({
    runId,
    input,
    jobName: 'contacts',
    job: {},
    header,
    records: records(list),
    chunkSize: 2,
    duplicateKeys: 'lastWins',
    store,
    dryRun: false,
    resultsPrefix: `p/${runId}/`,
    ...options,
  });
}

const byEmail = (cells: readonly string[]) =>
  cells[0] ? { key: cells[0].toLowerCase(), display: cells[0] } : undefined;

/** Chunk-worker dependencies over a fake table, with `mapChunk` standing in for the mapper. */
function chunkDeps(
  runs: ObjectStore,
  client: WriteClient,
  mapChunk: ChunkMapper['mapChunk'],
): ChunkWorkerDeps {
  return {
    runs,
    measure: async (work) => ({ value: await work(), counters: { requests: 1, retries: 0, throttled: 0 } }),
    prepare: async () => ({
      mapper: { mapChunk },
      write: {
        client,
        table: 'contact',
        primaryIdAttribute: 'contactid',
        operation: 'upsert',
        strategy: 'auto',
        newIdFor: (row) => `id-${row.row}`,
      },
    }),
  };
}

async function* records(list: SourceRecord[]): AsyncIterable<SourceRecord> {
  yield* list;
}

describe('plan → chunks → finalize', () => {
  let dir: string;
  let runs: FileObjectStore;
  let results: FileObjectStore;
  const table = new FakeTable('contactid', ['emailaddress1']);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvp-run-'));
    runs = new FileObjectStore(join(dir, 'runs'));
    results = new FileObjectStore(join(dir, 'results'));
    table.rows.clear();
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const deps = (): ChunkWorkerDeps =>
    chunkDeps(runs, table, async (rows) => ({
      writable: rows
        .filter((r) => r.cells[1] !== '')
        .map((r) => ({
          row: r.row,
          data: { emailaddress1: r.cells[0], lastname: r.cells[1] },
          key: { emailaddress1: r.cells[0] ?? '' },
        })),
      failures: rows
        .filter((r) => r.cells[1] === '')
        .map((r) => ({
          row: r.row,
          status: 'failed' as const,
          code: 'Required',
          column: 'Last Name',
          message: 'empty',
        })),
    }));

  const plan = (duplicateKeys: 'lastWins' | 'failAll') =>
    planOf(
      runs,
      runId,
      [
        { row: 2, cells: ['a@x.com', 'A'] },
        { row: 3, cells: ['b@x.com', ''] },
        {
          row: 4,
          error: { code: 'RaggedRow', message: 'expected 2 cells, found 3' },
          cells: ['x', 'y', 'z'],
        },
        { row: 5, cells: ['A@X.COM', 'A2'] },
        { row: 6, cells: ['c@x.com', 'C'] },
      ],
      { keyOf: byEmail, duplicateKeys, resultsPrefix: `contacts/people.csv/${runId}/` },
    );

  it('accounts for every row exactly once with lastWins, and finalizes once', async () => {
    const { manifest, messages, created } = await plan('lastWins');
    expect(created).toBe(true);
    expect(manifest.totalRows).toBe(5);
    expect(messages).toHaveLength(2);
    expect(await tryFinalize({ runs, results }, runId)).toBeUndefined();

    for (const message of messages) await processChunk(deps(), message);
    // A re-delivered chunk message changes nothing.
    const again = await processChunk(deps(), messages[0]!);
    expect(again.fresh).toBe(false);

    const summary = await tryFinalize({ runs, results }, runId);
    // Row 2 lost to row 5 (same key): superseded, a success that is not written and not an error to fix.
    expect(summary?.rows).toMatchObject({ total: 5, succeeded: 3, failed: 2, created: 2, superseded: 1 });
    expect(summary?.requests).toBe(2);
    expect(summary?.status).toBe('completedWithErrors');
    expect([...table.rows.values()].map((r) => r.lastname).sort()).toEqual(['A2', 'C']);

    const errors = parse(await readFile(join(dir, 'results', `contacts/people.csv/${runId}/errors.csv`)), {
      columns: true,
      bom: true,
    }) as Record<string, string>[];
    expect(errors.map((e) => [e.row, e.code])).toEqual([
      ['3', 'Required'],
      ['4', 'RaggedRow'],
    ]);
    expect(errors[0]).toMatchObject({ Email: 'b@x.com', 'Last Name': '' });
    const records = parse(await readFile(join(dir, 'results', `contacts/people.csv/${runId}/records.csv`)), {
      columns: true,
      bom: true,
    }) as Record<string, string>[];
    expect(records.map((r) => [r.row, r.status])).toEqual([
      ['2', 'superseded'],
      ['3', 'failed'],
      ['4', 'failed'],
      ['5', 'created'],
      ['6', 'created'],
    ]);
    expect(Object.keys(errors[0]!)).toEqual(['Email', 'Last Name', 'row', 'code', 'message', 'column']);

    const second = await tryFinalize({ runs, results }, runId);
    expect(second?.finishedAt).toBe(summary?.finishedAt);
  });

  it('waits for every chunk, also when the last chunk finishes first', async () => {
    const { messages } = await plan('lastWins');
    const [first, last] = messages;
    await processChunk(deps(), last!);
    expect(await tryFinalize({ runs, results }, runId)).toBeUndefined();
    await processChunk(deps(), first!);
    const summary = await tryFinalize({ runs, results }, runId);
    expect(summary?.rows.total).toBe(5);
  });

  const rowsOf = (n: number): SourceRecord[] =>
    Array.from({ length: n }, (_, i) => ({ row: i + 2, cells: [`u${i}@x.com`, `L${i}`] }));

  it('appends chunk results in chunk order when later results are read back first', async () => {
    const list = rowsOf(12);
    const { messages } = await planOf(runs, runId, list, {
      chunkSize: 1,
      keyOf: byEmail,
      resultsPrefix: `contacts/people.csv/${runId}/`,
    });
    expect(messages).toHaveLength(12);
    for (const message of messages) await processChunk(deps(), message);
    // The fan-in reads several results at once: the earlier the chunk, the slower its read answers.
    const slowFirst = wrapStore(runs, {
      get: async (path) => {
        const chunk = /results\/(\d+)\.json$/.exec(path)?.[1];
        if (chunk !== undefined) await new Promise((r) => setTimeout(r, 5 * (12 - Number(chunk))));
        return runs.get(path);
      },
    });
    const summary = await tryFinalize({ runs: slowFirst, results }, runId);
    expect(summary?.rows).toMatchObject({ total: 12, succeeded: 12, created: 12 });
    const records = await readResults('records.csv');
    expect(records.map((r) => [r.row, r.status, r.Email])).toEqual(
      list.map((r) => [String(r.row), 'created', r.cells?.[0]]),
    );
  });

  /** `runs` with chunk writes that answer after `delayOf(chunk)` ms, or fail for `failing`. */
  const slowChunkWrites = (delayOf: (chunk: number) => number, failing?: number): ObjectStore =>
    wrapStore(runs, {
      put: async (path, body, options) => {
        const chunk = /chunks\/(\d+)\.jsonl$/.exec(path)?.[1];
        if (chunk !== undefined) {
          await new Promise((r) => setTimeout(r, delayOf(Number(chunk))));
          if (Number(chunk) === failing) throw new Error(`storage refused chunk ${Number(chunk)}`);
        }
        return runs.put(path, body, options);
      },
    });

  it('reads on while chunks are written, and announces each stored chunk in chunk order', async () => {
    const announced: { chunk: number; stored: boolean; rows: number[] }[] = [];
    // Later chunks' writes answer first.
    const store = slowChunkWrites((chunk) => 5 * (6 - chunk));
    const { manifest } = await planOf(store, runId, rowsOf(12), {
      onChunk: (chunk, rows) => {
        const file = join(dir, 'runs', runPaths.chunk(runId, chunk));
        announced.push({ chunk, stored: existsSync(file), rows: rows.map((r) => r.row) });
      },
    });
    expect(manifest.chunkCount).toBe(6);
    expect(announced.map((a) => a.chunk)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(announced.every((a) => a.stored)).toBe(true);
    expect(announced.map((a) => a.rows)).toEqual([
      [2, 3],
      [4, 5],
      [6, 7],
      [8, 9],
      [10, 11],
      [12, 13],
    ]);
    for (let chunk = 0; chunk < 6; chunk += 1) {
      const lines = (await runs.get(runPaths.chunk(runId, chunk)))!
        .toString('utf8')
        .split('\n')
        .map((line) => JSON.parse(line) as { row: number; cells: string[] });
      expect(lines.map((l) => l.cells[0])).toEqual([`u${2 * chunk}@x.com`, `u${2 * chunk + 1}@x.com`]);
    }
  });

  it('commits nothing when a chunk write fails, however many writes were still out', async () => {
    const store = slowChunkWrites((chunk) => (chunk === 1 ? 30 : 1), 1);
    await expect(planOf(store, runId, rowsOf(12))).rejects.toThrow('storage refused chunk 1');
    expect(await runs.exists(runPaths.manifest(runId))).toBe(false);
    expect(await runs.exists(runPaths.planResult(runId))).toBe(false);
  });

  const readResults = async (name: string) =>
    parse(await readFile(join(dir, 'results', `contacts/people.csv/${runId}/${name}`)), {
      columns: true,
      bom: true,
    }) as Record<string, string>[];

  it('lists unreadable rows before, between and after the chunks in row order', async () => {
    const ragged = (row: number): SourceRecord => ({
      row,
      error: { code: 'RaggedRow', message: 'expected 2 cells, found 3' },
      cells: [`r${row}`, 'y', 'z'],
    });
    const { messages } = await planOf(
      runs,
      runId,
      [
        ragged(2),
        { row: 3, cells: ['a@x.com', 'A'] },
        { row: 4, cells: ['b@x.com', 'B'] },
        ragged(5),
        { row: 6, cells: ['c@x.com', 'C'] },
        ragged(7),
        ragged(8),
      ],
      { resultsPrefix: `contacts/people.csv/${runId}/` },
    );
    expect(messages).toHaveLength(2);
    for (const message of messages) await processChunk(deps(), message);

    const summary = await tryFinalize({ runs, results }, runId);
    expect(summary?.rows).toMatchObject({ total: 7, succeeded: 3, failed: 4 });
    const records = await readResults('records.csv');
    expect(records.map((r) => [r.row, r.status, r.Email])).toEqual([
      ['2', 'failed', 'r2'],
      ['3', 'created', 'a@x.com'],
      ['4', 'created', 'b@x.com'],
      ['5', 'failed', 'r5'],
      ['6', 'created', 'c@x.com'],
      ['7', 'failed', 'r7'],
      ['8', 'failed', 'r8'],
    ]);
    expect((await readResults('errors.csv')).map((e) => e.row)).toEqual(['2', '5', '7', '8']);
  });

  it('finalizes a file none of whose rows could be read: no chunk, every row in errors.csv', async () => {
    const { messages, manifest } = await planOf(
      runs,
      runId,
      [2, 3].map((row) => ({ row, error: { code: 'RaggedRow', message: 'ragged' }, cells: [`r${row}`] })),
      { resultsPrefix: `contacts/people.csv/${runId}/` },
    );
    expect([messages.length, manifest.chunkCount]).toEqual([0, 0]);
    const summary = await tryFinalize({ runs, results }, runId);
    expect(summary?.rows).toMatchObject({ total: 2, succeeded: 0, failed: 2 });
    expect(summary?.status).toBe('failed');
    expect((await readResults('errors.csv')).map((e) => [e.row, e.code, e.Email])).toEqual([
      ['2', 'RaggedRow', 'r2'],
      ['3', 'RaggedRow', 'r3'],
    ]);
    expect((await readResults('records.csv')).map((r) => [r.row, r.status])).toEqual([
      ['2', 'failed'],
      ['3', 'failed'],
    ]);
  });

  it('re-runs the failed rows as a new input holding their original cells', async () => {
    const { messages } = await plan('lastWins');
    for (const message of messages) await processChunk(deps(), message);
    await tryFinalize({ runs, results }, runId);
    const incoming = new FileObjectStore(join(dir, 'incoming'));
    const rerun = await rerunFailedRows(runs, results, incoming, runId);
    // Row 2 was superseded by row 5, not failed: re-running it would write it over the winner.
    expect(rerun).toEqual({ input: `contacts/people.rerun-${runId}.csv`, rows: 2 });
    const rows = parse(await readFile(join(dir, 'incoming', rerun!.input)), { bom: true }) as string[][];
    expect(rows).toEqual([header, ['b@x.com', ''], ['x', 'y']]);
    expect(await rerunFailedRows(runs, results, incoming, 'not-a-run')).toBeUndefined();
  });

  it('indexes keys on disk for big inputs with the same outcome', async () => {
    const { messages } = await planOf(
      runs,
      runId,
      [
        { row: 2, cells: ['a@x.com', 'A'] },
        { row: 3, cells: ['b@x.com', 'B'] },
        { row: 4, cells: ['A@X.COM', 'A2'] },
      ],
      { keyOf: byEmail, spillDuplicates: true, resultsPrefix: `contacts/people.csv/${runId}/` },
    );
    for (const message of messages) await processChunk(deps(), message);
    const summary = await tryFinalize({ runs, results }, runId);
    expect(summary?.rows).toMatchObject({ total: 3, succeeded: 3, failed: 0, superseded: 1 });
    expect([...table.rows.values()].map((r) => r.lastname).sort()).toEqual(['A2', 'B']);
  });

  it('fails every row sharing a key with failAll', async () => {
    const { messages } = await plan('failAll');
    for (const message of messages) await processChunk(deps(), message);
    const summary = await tryFinalize({ runs, results }, runId);
    expect(summary?.rows).toMatchObject({ total: 5, succeeded: 1, failed: 4 });
  });

  it('re-planning a planned run writes nothing new', async () => {
    await plan('lastWins');
    const again = await plan('lastWins');
    expect(again.created).toBe(false);
    expect(again.messages).toHaveLength(2);
  });

  it('finalizes a run whose chunk was poisoned, listing every row of it as failed', async () => {
    const { messages } = await plan('lastWins');
    await processChunk(deps(), messages[0]!);
    await failChunk(runs, messages[1]!, 'The chunk failed 5 times: boom');
    const summary = await tryFinalize({ runs, results }, runId);
    expect(summary?.rows.total).toBe(5);
    const errors = parse(await readFile(join(dir, 'results', `contacts/people.csv/${runId}/errors.csv`)), {
      columns: true,
      bom: true,
    }) as Record<string, string>[];
    expect(errors.filter((e) => e.code === 'ChunkFailed').map((e) => e.row)).toEqual(['5', '6']);
  });
});

describe('concurrent finalizers', () => {
  it('two workers finishing at the same moment both succeed and one summary exists', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dvp-race-'));
    try {
      const runs = new FileObjectStore(join(dir, 'runs'));
      const results = new FileObjectStore(join(dir, 'results'));
      const runId = 'r' + 'a'.repeat(24);
      const { messages } = await planOf(
        runs,
        runId,
        [
          { row: 2, cells: ['a@x.com', 'A'] },
          { row: 3, cells: ['b@x.com', 'B'] },
        ],
        { chunkSize: 1 },
      );
      const table = new FakeTable('contactid', ['emailaddress1']);
      const deps = chunkDeps(runs, table, async (rows) => ({
        writable: rows.map((r) => ({
          row: r.row,
          data: { emailaddress1: r.cells[0] },
          key: { emailaddress1: r.cells[0] ?? '' },
        })),
        failures: [],
      }));
      for (const message of messages) await processChunk(deps, message);
      const summaries = await Promise.all(
        Array.from({ length: 6 }, () => tryFinalize({ runs, results }, runId)),
      );
      expect(new Set(summaries.map((s) => s?.finishedAt)).size).toBe(1);
      expect(summaries[0]?.rows.succeeded).toBe(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a fixed errors.csv dropped back in', () => {
  it('keeps one set of row/code/message/column: the new run’s', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dvp-refix-'));
    try {
      const runs = new FileObjectStore(join(dir, 'runs'));
      const results = new FileObjectStore(join(dir, 'results'));
      const runId = 'r' + 'b'.repeat(24);
      const refixHeader = ['Email', 'Last Name', 'row', 'code', 'message', 'column'];
      const { messages } = await planOf(
        runs,
        runId,
        [{ row: 2, cells: ['a@x.com', '', '7', 'Required', 'empty', 'Last Name'] }],
        {
          job: { columns: { Email: 'emailaddress1', 'Last Name': 'lastname' } },
          header: refixHeader,
          chunkSize: 10,
        },
      );
      const deps = chunkDeps(runs, new FakeTable('contactid', []), async (rows) => ({
        writable: [],
        failures: rows.map((r) => ({
          row: r.row,
          status: 'failed' as const,
          code: 'Required',
          column: 'Last Name',
          message: 'still empty',
        })),
      }));
      for (const message of messages) await processChunk(deps, message);
      const summary = await tryFinalize({ runs, results }, runId);
      const rows = parse(await readFile(join(dir, 'results', summary!.errorsFile)), {
        bom: true,
      }) as string[][];
      expect(rows).toEqual([
        ['Email', 'Last Name', 'row', 'code', 'message', 'column'],
        ['a@x.com', '', '2', 'Required', 'still empty', 'Last Name'],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
