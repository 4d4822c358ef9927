import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { extractJobSchema, type ExtractJob } from '../../../src/config/job.js';
import { runExtract } from '../../../src/extracts/runner.js';
import type { Logger } from '../../../src/logging.js';
import { FileBlockSink } from '../../../src/storage/file-block-sink.js';
import { FileObjectStore } from '../../../src/storage/file-store.js';
import { recentExtractRuns } from '../../../src/app/runs-page-handler.js';
import { renderRunsPage } from '../../../src/reports/runs-page.js';
import { failsOnSecondPage, fakeClient } from './fakes.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'extract-unit-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function job(extra: Record<string, unknown> = {}): ExtractJob {
  return extractJobSchema.parse({
    name: 'contacts',
    table: 'contact',
    columns: ['contactid', 'firstname'],
    ...extra,
  });
}

function deps(client: ReturnType<typeof fakeClient>, warnings: string[] = []) {
  const log: Logger = { info: () => {}, warn: (m) => warnings.push(m), error: () => {} };
  return {
    client,
    sink: new FileBlockSink(join(dir, 'out')),
    state: new FileObjectStore(join(dir, 'state')),
    log,
  };
}

const rows = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ contactid: `id-${i}`, firstname: `=name ${i}` }));

describe('runExtract (fake client)', () => {
  it('writes one CSV from every page, with BOM, header, neutralised formulas and a manifest holding its sha256', async () => {
    const client = fakeClient(rows(5), 2);
    const { manifest, manifestPath } = await runExtract(deps(client), job(), {
      now: new Date('2026-02-03T04:05:06Z'),
      blockBytes: 16,
    });
    expect(manifest.path).toBe('extracts/contacts/2026/02/03/contacts-20260203T040506Z.csv');
    const bytes = await readFile(join(dir, 'out', manifest.path));
    const text = bytes.toString('utf8');
    expect(text.charCodeAt(0)).toBe(0xfeff);
    expect(text.slice(1).split('\r\n')).toEqual([
      'contactid,firstname',
      ...rows(5).map((r) => `${r.contactid},'${r.firstname}`),
      '',
    ]);
    expect(manifest.rows).toBe(5);
    expect(manifest.columns).toEqual(['contactid', 'firstname']);
    expect(manifest.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(manifest.bytes).toBe(bytes.length);
    expect(manifest.requests).toBe(3);
    const onDisk = JSON.parse(await readFile(join(dir, 'out', manifestPath), 'utf8')) as { sha256: string };
    expect(onDisk.sha256).toBe(manifest.sha256);
    // Staged parts are gone once committed.
    expect((await readdir(join(dir, 'out', 'extracts/contacts/2026/02/03'))).sort()).toEqual([
      'contacts-20260203T040506Z.csv',
      'contacts-20260203T040506Z.manifest.json',
      'contacts-20260203T040506Z.report.html',
    ]);
  });

  it('writes the header even when the table is empty', async () => {
    const { manifest } = await runExtract(deps(fakeClient([])), job({ output: { bom: false } }), {
      path: 'x.csv',
    });
    expect(await readFile(join(dir, 'out', 'x.csv'), 'utf8')).toBe('contactid,firstname\r\n');
    expect(manifest.rows).toBe(0);
  });

  it('change tracking: full tracked read, then only changes with deletes in a column, then a fallback on an expired token', async () => {
    const client = fakeClient(rows(3), 2);
    const warnings: string[] = [];
    const d = deps(client, warnings);
    const ct = job({ incremental: { mode: 'changeTracking' }, output: { deletes: 'column', bom: false } });

    const first = await runExtract(d, ct, { path: 'r1.csv' });
    expect(first.manifest.mode).toBe('full');
    expect(first.manifest.fullReason).toBe('no stored position');
    expect(client.queries.at(-1)?.trackChanges).toBe(true);
    expect(first.manifest.deltaToken?.next).toBe('1');

    client.deltas.set('http://127.0.0.1:1/api/data/v9.2/contacts?$deltatoken=1', [
      { contactid: 'id-1', firstname: 'Changed' },
      { '@odata.context': 'x/$metadata#contacts/$deletedEntity', id: 'id-2', reason: 'deleted' },
    ]);
    client.version = 2;
    const second = await runExtract(d, ct, { path: 'r2.csv' });
    expect(second.manifest.mode).toBe('changeTracking');
    expect(second.manifest.deltaToken).toEqual({ used: '1', next: '2' });
    expect(second.manifest.rows).toBe(1);
    expect(second.manifest.deletedRows).toBe(1);
    expect(await readFile(join(dir, 'out', 'r2.csv'), 'utf8')).toBe(
      'contactid,firstname,$deleted\r\nid-1,Changed,false\r\nid-2,,true\r\n',
    );

    // The fake knows no delta link for version 2: the token is "expired".
    client.version = 3;
    const third = await runExtract(d, ct, { path: 'r3.csv' });
    expect(third.manifest.mode).toBe('full');
    expect(third.manifest.fullReason).toBe('the delta token expired');
    expect(third.manifest.rows).toBe(3);
    expect(warnings.some((w) => w.includes('expired'))).toBe(true);
    const text = await readFile(join(dir, 'out', 'r3.csv'), 'utf8');
    expect(text.split('\r\n')).toHaveLength(5);
    // Its report shows the delta read that failed and the whole-table read that replaced it.
    const partitionsOf = async (report: string) =>
      [
        ...(
          /<table id="partitions">[\s\S]*?<\/table>/.exec(
            await readFile(join(dir, 'out', report), 'utf8'),
          )?.[0] ?? ''
        ).matchAll(
          /<tr><td>(\d+)<\/td><td>([^<]*)<\/td><td>(\d+)<\/td>[\s\S]*?<td class="\w+">(\w+)<\/td><\/tr>/g,
        ),
      ].map((m) => [Number(m[1]), m[2], Number(m[3]), m[4]]);
    expect(await partitionsOf('r3.report.html')).toEqual([
      [1, 'changes since the stored delta token', 0, 'failed'],
      [2, 'whole table (the delta token had expired)', 3, 'read'],
    ]);
    expect(await partitionsOf('r2.report.html')).toEqual([
      [1, 'changes since the stored delta token', 1, 'read'],
    ]);
  });

  it('change tracking with deletes in a separate file', async () => {
    const client = fakeClient(rows(1), 2);
    const d = deps(client);
    const ct = job({
      incremental: { mode: 'changeTracking' },
      output: { deletes: 'separateFile', bom: false },
    });
    await runExtract(d, ct, { path: 'a.csv' });
    client.deltas.set('http://127.0.0.1:1/api/data/v9.2/contacts?$deltatoken=1', [
      { '@odata.context': 'x/$metadata#contacts/$deletedEntity', id: 'id-0', reason: 'deleted' },
    ]);
    const { manifest } = await runExtract(d, ct, { path: 'b.csv' });
    expect(manifest.deletesPath).toBe('b.deletes.csv');
    expect(await readFile(join(dir, 'out', 'b.deletes.csv'), 'utf8')).toBe('contactid\r\nid-0\r\n');
    expect(await readFile(join(dir, 'out', 'b.csv'), 'utf8')).toBe('contactid,firstname\r\n');
  });

  it('refuses change tracking combined with a filter before any request', async () => {
    const client = fakeClient(rows(1));
    await expect(
      runExtract(deps(client), job({ filter: 'statecode eq 0', incremental: { mode: 'changeTracking' } })),
    ).rejects.toMatchObject({ name: 'ExtractError', code: 'InvalidJob' });
    expect(client.queries).toHaveLength(0);
  });

  it('a run that fails mid-read writes a failed report beside where its file would be, and the runs page lists it', async () => {
    const client = fakeClient(rows(5), 2);
    // The second page fails after every retry: a server error the client gave up on.
    client.query = failsOnSecondPage(rows(2));
    // An earlier run finished at the same path (the CLI's fixed --out): its files and report stay as they were.
    await runExtract(deps(fakeClient(rows(4), 2)), job(), {
      path: 'nightly/contacts.csv',
      runId: 'run-ok-0',
    });
    const failing = runExtract(deps(client), job(), { path: 'nightly/contacts.csv', runId: 'run-failed-1' });
    await expect(failing).rejects.toMatchObject({ code: 'ServiceUnavailable' });
    const store = new FileObjectStore(join(dir, 'out'));
    const html = (await store.get('nightly/contacts.failed.report.html'))!.toString('utf8');
    expect(JSON.parse((await store.get('nightly/contacts.manifest.json'))!.toString('utf8'))).toMatchObject({
      runId: 'run-ok-0',
      rows: 4,
    });
    expect((await store.get('nightly/contacts.report.html'))!.toString('utf8')).toContain(
      '<span id="status" class="status succeeded">succeeded</span>',
    );
    expect(html).toContain('<span id="status" class="status failed">failed</span>');
    expect(html).toContain('<strong>ServiceUnavailable</strong>: Service Unavailable');
    expect(/<table id="failed-partitions">[\s\S]*?<\/table>/.exec(html)![0]).toContain(
      '<td>whole table</td><td>2</td><td>failed</td>',
    );

    // Beside it, a run that finished: the runs page lists both, each with its report.
    await runExtract(deps(fakeClient(rows(3), 2)), job(), { path: 'nightly/ok.csv', runId: 'run-ok-1' });
    const runs = await recentExtractRuns(store);
    expect(
      runs
        .map((r) => [r.runId, r.status, r.rows, r.reportPath, r.manifestPath])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    ).toEqual([
      ['run-failed-1', 'failed', 2, 'nightly/contacts.failed.report.html', undefined],
      ['run-ok-0', 'succeeded', 4, 'nightly/contacts.report.html', 'nightly/contacts.manifest.json'],
      ['run-ok-1', 'succeeded', 3, 'nightly/ok.report.html', 'nightly/ok.manifest.json'],
    ]);
    const page = renderRunsPage([], {
      now: new Date(),
      fileHref: () => '',
      extracts: runs,
      extractHref: (p) => `x/${p}`,
    });
    expect(page).toContain('<a href="x/nightly/contacts.failed.report.html">report.html</a></td>');
    expect(page).toContain(
      '<a href="x/nightly/ok.report.html">report.html</a> · <a href="x/nightly/ok.manifest.json">manifest.json</a>',
    );
  });
});
