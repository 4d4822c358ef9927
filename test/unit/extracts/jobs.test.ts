import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { extractJobSchema, type ExtractJob } from '../../../src/config/job.js';
import { runExtractJobs, selectJobs } from '../../../src/extracts/jobs.js';
import { FileBlockSink } from '../../../src/storage/file-block-sink.js';
import { FileObjectStore } from '../../../src/storage/file-store.js';
import { fakeClient } from './fakes.js';

const job = (name: string, extra: Record<string, unknown> = {}): ExtractJob =>
  extractJobSchema.parse({ name, table: 'contact', columns: ['contactid'], ...extra });

const nightly = job('nightly', { schedule: '0 0 2 * * *' });
const adhoc = job('adhoc');
const broken = job('broken', { schedule: '0 0 3 * * *', columns: ['nosuchcolumn'] });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'extract-jobs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('selectJobs', () => {
  it('runs scheduled jobs on a timer, every job otherwise, and named jobs when asked', () => {
    const all = [nightly, adhoc, broken];
    expect(selectJobs(all, { trigger: 'timer' }).map((j) => j.name)).toEqual(['nightly', 'broken']);
    expect(selectJobs(all, { trigger: 'http' }).map((j) => j.name)).toEqual(['nightly', 'adhoc', 'broken']);
    expect(selectJobs(all, { trigger: 'http', only: ['adhoc'] }).map((j) => j.name)).toEqual(['adhoc']);
    expect(() => selectJobs(all, { trigger: 'cli', only: ['missing'] })).toThrow(/missing/);
  });
});

describe('runExtractJobs', () => {
  it('reports each job; a failing job does not stop the others', async () => {
    const deps = {
      client: fakeClient([{ contactid: 'a' }]),
      sink: new FileBlockSink(join(dir, 'out')),
      state: new FileObjectStore(join(dir, 'state')),
    };
    const now = new Date('2026-03-04T02:00:00Z');
    const outcomes = await runExtractJobs(deps, [broken, nightly, adhoc], { now, trigger: 'timer' });
    expect(outcomes.map((o) => [o.job, o.ok])).toEqual([
      ['broken', false],
      ['nightly', true],
    ]);
    const [failed, done] = outcomes;
    expect(failed?.ok === false && failed.code).toBe('UnknownColumn');
    expect(done?.ok === true && done.manifest.path).toBe(
      'extracts/nightly/2026/03/04/nightly-20260304T020000Z.csv',
    );
    expect(done?.ok === true && done.manifest.trigger).toBe('timer');
  });
});
