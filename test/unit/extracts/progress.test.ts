import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recentExtractRuns } from '../../../src/app/runs-page-handler.js';
import { extractJobSchema, type ExtractJob } from '../../../src/config/job.js';
import type { Clock } from '../../../src/dataverse/index.js';
import {
  interruptedKeptForMs,
  progressPathOf,
  progressPrefix,
  ProgressRecorder,
  runningExtracts,
  staleAfterMs,
  type ExtractRunProgress,
} from '../../../src/extracts/progress.js';
import { runExtract } from '../../../src/extracts/runner.js';
import { silentLogger } from '../../../src/logging.js';
import { renderRunsPage } from '../../../src/reports/runs-page.js';
import { FileBlockSink } from '../../../src/storage/file-block-sink.js';
import { FileObjectStore } from '../../../src/storage/file-store.js';
import { wrapStore } from '../../fixtures/wrapped-store.js';
import { putJson, type ObjectStore } from '../../../src/storage/object-store.js';
import { failsOnSecondPage, fakeClient } from './fakes.js';

// The progress record a working extract keeps for the runs page (issue 21): written from the start,
// moved as pages are read, removed only once the manifest or failed report has taken over.

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'extract-progress-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const job = (): ExtractJob =>
  extractJobSchema.parse({ name: 'contacts', table: 'contact', columns: ['contactid', 'firstname'] });
const rows = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ contactid: `id-${i}`, firstname: `n${i}` }));

/** A progress store that remembers every record written and what the output held when it was removed. */
function recordingStore(outDir: string) {
  const inner = new FileObjectStore(join(dir, 'progress'));
  const written: ExtractRunProgress[] = [];
  const removed: { path: string; manifest: boolean; failedReport: boolean }[] = [];
  const store = wrapStore(inner, {
    put: async (path, body, options) => {
      written.push(JSON.parse(body.toString()) as ExtractRunProgress);
      return inner.put(path, body, options);
    },
    delete: async (path) => {
      removed.push({
        path,
        manifest: existsSync(join(outDir, 'nightly', 'contacts.manifest.json')),
        failedReport: existsSync(join(outDir, 'nightly', 'contacts.failed.report.html')),
      });
      return inner.delete(path);
    },
  });
  return { store, written, removed };
}

describe('the progress record of a working extract', () => {
  it('is written at the start, moves with the pages read, and is removed after the manifest is written', async () => {
    const out = join(dir, 'out');
    const progress = recordingStore(out);
    const { manifest } = await runExtract(
      {
        client: fakeClient(rows(7), 2),
        sink: new FileBlockSink(out),
        state: new FileObjectStore(join(dir, 'state')),
        progress: progress.store,
      },
      job(),
      { path: 'nightly/contacts.csv', runId: 'run-1', trigger: 'http', progressIntervalMs: 0 },
    );
    expect(manifest.rows).toBe(7);
    const first = progress.written[0]!;
    expect(first).toMatchObject({
      version: 1,
      runId: 'run-1',
      job: 'contacts',
      table: 'contact',
      trigger: 'http',
      format: 'csv',
      rows: 0,
      startedAt: manifest.startedAt,
    });
    const counts = progress.written.map((r) => r.rows);
    // Pages of 2: the record passes through the counts read so far, never backwards, up to 7.
    expect(counts.length).toBeGreaterThanOrEqual(3);
    expect([...counts].sort((a, b) => a - b)).toEqual(counts);
    expect(counts.at(-1)).toBe(7);
    // Finished partitions only ever grow (page events say 0; the record keeps the most so far).
    const done = progress.written.map((r) => r.partitionsDone);
    expect([...done].sort((a, b) => a - b)).toEqual(done);
    expect(progress.removed).toEqual([
      { path: progressPathOf('run-1'), manifest: true, failedReport: false },
    ]);
    expect(await runningExtracts(progress.store)).toEqual([]);
  });

  it('is removed after the failed report when the run fails', async () => {
    const out = join(dir, 'out');
    const progress = recordingStore(out);
    const client = fakeClient(rows(4), 2);
    client.query = failsOnSecondPage(rows(2));
    const failing = runExtract(
      {
        client,
        sink: new FileBlockSink(out),
        state: new FileObjectStore(join(dir, 'state')),
        progress: progress.store,
      },
      job(),
      { path: 'nightly/contacts.csv', runId: 'run-2', progressIntervalMs: 0 },
    );
    await expect(failing).rejects.toMatchObject({ code: 'ServiceUnavailable' });
    expect(progress.written.map((r) => r.rows)).toContain(2);
    expect(progress.removed).toEqual([
      { path: progressPathOf('run-2'), manifest: false, failedReport: true },
    ]);
  });

  it('is rewritten at most once per interval, with the latest counts, and not after the run ended', async () => {
    let now = 1_000_000;
    const clock: Clock = { now: () => now, sleep: async () => {} };
    const store = new FileObjectStore(join(dir, 'progress'));
    const puts: number[] = [];
    const counting = wrapStore(store, {
      put: async (path, body) => {
        puts.push((JSON.parse(body.toString()) as ExtractRunProgress).rows);
        return store.put(path, body);
      },
    });
    const recorder = new ProgressRecorder(
      counting,
      {
        runId: 'r',
        job: 'j',
        table: 't',
        trigger: 'timer',
        format: 'csv',
        startedAt: new Date(now).toISOString(),
      },
      clock,
      silentLogger,
      1_000,
    );
    await recorder.start();
    const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
    recorder.update({ rows: 10, partitionsDone: 0, partitions: 2 });
    recorder.update({ rows: 20, partitionsDone: 0, partitions: 2 });
    await settle();
    expect(puts).toEqual([0]);
    now += 1_000;
    recorder.update({ rows: 30, partitionsDone: 1, partitions: 2 });
    await settle();
    expect(puts).toEqual([0, 30]);
    // The write is on its way: read until it has landed.
    let record = (await runningExtracts(store))[0];
    for (let tries = 0; record?.rows !== 30 && tries < 100; tries += 1) {
      await settle();
      record = (await runningExtracts(store))[0];
    }
    expect(record).toMatchObject({
      rows: 30,
      partitionsDone: 1,
      partitions: 2,
      updatedAt: new Date(now).toISOString(),
    });
    await recorder.end();
    recorder.update({ rows: 40, partitionsDone: 2, partitions: 2 });
    await settle();
    expect(puts).toEqual([0, 30]);
    expect(await runningExtracts(store)).toEqual([]);
  });
});

/** A progress record of a CSV extract of contacts started by the timer. */
function progressRecord(
  runId: string,
  startedAt: string,
  updatedAt: string,
  rows: number,
  partitionsDone: number,
  partitions: number,
): ExtractRunProgress {
  return {
    version: 1,
    runId,
    job: 'contacts',
    table: 'contact',
    trigger: 'timer',
    format: 'csv',
    startedAt,
    updatedAt,
    rows,
    partitionsDone,
    partitions,
  };
}

describe('the runs page lists working extracts', () => {
  const record = (runId: string, updatedAt: string, rowsRead: number): ExtractRunProgress =>
    progressRecord(runId, '2026-12-03T10:00:00.000Z', updatedAt, rowsRead, 1, 4);

  it('as running (rows read so far, reloading), as interrupted once stale, and as ended once the manifest is there', async () => {
    const now = new Date('2026-12-03T10:01:00.000Z');
    const progress = new FileObjectStore(join(dir, 'progress'));
    const extracts = new FileObjectStore(join(dir, 'extracts'));
    await putJson(progress, progressPathOf('working'), record('working', '2026-12-03T10:00:58.000Z', 12_345));
    const stale = new Date(now.getTime() - staleAfterMs - 1_000).toISOString();
    await putJson(progress, progressPathOf('died'), record('died', stale, 99));
    // A run that has just ended: its manifest is written, its record not yet removed.
    await runExtract(
      { client: fakeClient(rows(3), 2), sink: new FileBlockSink(join(dir, 'extracts')), state: progress },
      job(),
      { path: 'nightly/ended.csv', runId: 'ended' },
    );
    await putJson(progress, progressPathOf('ended'), record('ended', '2026-12-03T10:00:59.000Z', 2));

    const runs = await recentExtractRuns(extracts, progress, now);
    expect(
      runs
        .map((r) => [r.runId, r.status, r.rows, r.reportPath ?? null])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    ).toEqual([
      ['died', 'interrupted', 99, null],
      ['ended', 'succeeded', 3, 'nightly/ended.report.html'],
      ['working', 'running', 12_345, null],
    ]);
    const page = renderRunsPage([], {
      now,
      fileHref: () => '',
      extracts: runs,
      extractHref: (p) => `x/${p}`,
    });
    expect(page).toContain('<meta http-equiv="refresh" content="5">');
    const working = /<tr data-run-id="working">[\s\S]*?<\/tr>/.exec(page)![0];
    expect(working).toContain('<span class="state running">running</span>');
    expect(working).toContain('<div class="muted partitions">partitions 1 of 4 read</div>');
    expect(working).toContain('<td class="n rows">12,345</td><td class="n">58 s</td>');
    expect(working).toContain('when it ends');
    expect(working).not.toContain('<a ');
    const died = /<tr data-run-id="died">[\s\S]*?<\/tr>/.exec(page)![0];
    expect(died).toContain('<span class="state interrupted">interrupted</span>');
    expect(died).not.toContain('<a ');

    // Nothing working (only the interrupted one): no reloading.
    const quiet = renderRunsPage([], {
      now,
      fileHref: () => '',
      extracts: runs.filter((r) => r.status !== 'running'),
    });
    expect(quiet).not.toContain('http-equiv="refresh"');
  });
});

describe('records of interrupted extracts expire', () => {
  const DAY = 24 * 60 * 60_000;
  const record = (runId: string, updatedMs: number): ExtractRunProgress =>
    progressRecord(
      runId,
      new Date(updatedMs - 60_000).toISOString(),
      new Date(updatedMs).toISOString(),
      5,
      0,
      1,
    );
  /** A clock that stands still at `ms` (the run reads no clock-driven waits from the fake client). */
  const clockAt = (ms: number): Clock => ({ now: () => ms, sleep: async () => {} });
  const stored = async (store: ObjectStore) => {
    const paths: string[] = [];
    for await (const path of store.list(progressPrefix)) paths.push(path);
    return paths.sort();
  };

  it('the page hides one older than a week; the next extract removes it and keeps the younger ones', async () => {
    const nowMs = Date.parse('2026-12-10T02:00:00.000Z');
    const progress = new FileObjectStore(join(dir, 'progress'));
    const extracts = new FileObjectStore(join(dir, 'extracts'));
    await putJson(progress, progressPathOf('working'), record('working', nowMs - 30_000));
    await putJson(progress, progressPathOf('died-yesterday'), record('died-yesterday', nowMs - DAY));
    await putJson(
      progress,
      progressPathOf('died-last-week'),
      record('died-last-week', nowMs - interruptedKeptForMs - 60_000),
    );
    expect(interruptedKeptForMs).toBe(7 * DAY);

    const listed = async (atMs: number) =>
      (await recentExtractRuns(extracts, progress, new Date(atMs)))
        .map((r) => [r.runId, r.status])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(await listed(nowMs)).toEqual([
      ['died-yesterday', 'interrupted'],
      ['working', 'running'],
    ]);
    // The page only hides it: it reads, it does not delete.
    expect(await stored(progress)).toEqual([
      'extract-runs/died-last-week.json',
      'extract-runs/died-yesterday.json',
      'extract-runs/working.json',
    ]);

    const infos: string[] = [];
    const log = {
      ...silentLogger,
      info: (m: string, p?: Readonly<Record<string, unknown>>) => {
        infos.push(`${m} ${JSON.stringify(p)}`);
      },
    };
    const sink = new FileBlockSink(join(dir, 'extracts'));
    const state = new FileObjectStore(join(dir, 'state'));
    await runExtract(
      { client: fakeClient(rows(2), 2), sink, state, progress, clock: clockAt(nowMs), log },
      job(),
      {
        path: 'nightly/a.csv',
        runId: 'next',
      },
    );
    // Its own record is gone too (it ended); the two younger ones stay.
    expect(await stored(progress)).toEqual(['extract-runs/died-yesterday.json', 'extract-runs/working.json']);
    expect(infos).toContain('Removed old interrupted extract records {"runIds":"died-last-week"}');

    // Eight days on, the one that died yesterday (and the one that stopped moving then) go the same way.
    const later = nowMs + 8 * DAY;
    expect(await listed(later)).toEqual([['next', 'succeeded']]);
    await runExtract(
      { client: fakeClient(rows(2), 2), sink, state, progress, clock: clockAt(later), log },
      job(),
      {
        path: 'nightly/b.csv',
        runId: 'later',
      },
    );
    expect(await stored(progress)).toEqual([]);
  });
});
