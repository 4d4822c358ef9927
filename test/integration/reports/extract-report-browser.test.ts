import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, recordRequests } from '../../../dev/browser.js';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';
import { createClient } from '../../../src/app/dataverse.js';
import { extractJobSchema } from '../../../src/config/job.js';
import type { DataverseClient } from '../../../src/dataverse/index.js';
import { runExtract, type ExtractManifest } from '../../../src/extracts/index.js';
import { FileBlockSink } from '../../../src/storage/file-block-sink.js';
import { FileObjectStore } from '../../../src/storage/file-store.js';

// A real extract (the product's runner against the emulator, in parallel partitions, with 429s
// injected) and its report.html opened in headless Chromium: what a person sees must be what the
// manifest says, drawn through every data point, and the page must fetch nothing.
const ROWS = 2_400;
const PERSONAL = 'Pers0nal-Extract-Name';

describe('an extract report in Chromium', () => {
  let emulator: RunningEmulator;
  let client: DataverseClient;
  let browser: Browser;
  let page: Page;
  let requests: string[];
  let dir: string;
  let reportUrl: string;
  let manifest: ExtractManifest;

  beforeAll(async () => {
    let seed = 11;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    emulator = await startEmulator({ profile: 'fast', faults: '429=0.15', random });
    for (let i = 0; i < ROWS; i += 1)
      emulator.store.put('contact', { firstname: `${PERSONAL}${i}`, lastname: `L${i}` });
    client = createClient({ url: emulator.url, identities: ['extract-report'] });
    dir = await mkdtemp(join(tmpdir(), 'dvp-extract-report-'));
    const job = extractJobSchema.parse({
      name: 'contacts-nightly',
      table: 'contact',
      columns: ['contactid', 'firstname', 'lastname'],
      partitions: 4,
      pageSize: 150,
      format: 'parquet',
    });
    const result = await runExtract(
      { client, sink: new FileBlockSink(dir), state: new FileObjectStore(join(dir, '.state')) },
      job,
      { path: 'nightly/contacts.parquet', trigger: 'timer' },
    );
    manifest = result.manifest;
    expect(result.reportPath).toBe('nightly/contacts.parquet.report.html');
    browser = await launchChromium();
    page = await browser.newPage();
    requests = recordRequests(page);
    reportUrl = pathToFileURL(join(dir, result.reportPath!)).href;
    await page.goto(reportUrl);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await client?.close();
    await emulator?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shows the summary of the manifest', async () => {
    expect(manifest.rows).toBe(ROWS);
    expect(manifest.throttled).toBeGreaterThan(0);
    const cells = await page.$$eval('#summary tr', (trs) =>
      Object.fromEntries(trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''))),
    );
    expect(cells).toMatchObject({
      Table: 'contact',
      Format: 'parquet',
      Read: 'full (every row)',
      Rows: '2,400',
      'Files written': '1',
      Partitions: String(manifest.partitions),
      Requests: String(manifest.requests),
      '429 answers': String(manifest.throttled),
      Bytes: manifest.bytes.toLocaleString('en-US'),
    });
    expect(await page.$eval('#status', (e) => e.textContent)).toBe('succeeded');
    expect(await page.title()).toBe(`contacts-nightly: extract of contact (${manifest.runId})`);
  });

  it('draws rows read through every data point, ending at the rows of the file', async () => {
    const points = await page.$$eval('figure[data-chart="1"] details tbody tr', (trs) =>
      trs.map((tr) =>
        [...tr.querySelectorAll('td')].map((td) => Number((td.textContent ?? '').replace(/,/g, ''))),
      ),
    );
    expect(points.length).toBeGreaterThan(2);
    expect(points.at(-1)?.[1]).toBe(ROWS);
    const line = await page.$eval('figure[data-chart="1"] path[stroke="#2f6fb3"][fill="none"]', (p) =>
      p.getAttribute('d'),
    );
    expect((line ?? '').match(/[ML]/g)?.length).toBe(points.length);
  });

  it('marks the 429s: their labels add up to the manifest, and partitions reading never exceed the job', async () => {
    const labels = await page.$$eval('figure[data-chart="2"] text', (ts) =>
      ts.map((t) => t.textContent ?? ''),
    );
    const triangles = await page.$$(
      'figure[data-chart="2"] path[ecmeta_ssr_type="chart"][ecmeta_series_index="1"]',
    );
    const marks = await page.$$eval('figure[data-chart="2"] details table:nth-of-type(2) tbody tr', (trs) =>
      trs.map((tr) => Number(tr.querySelectorAll('td')[1]?.textContent)),
    );
    expect(triangles.length).toBe(marks.length);
    expect(marks.reduce((a, b) => a + b, 0)).toBe(manifest.throttled);
    for (const count of marks) expect(labels).toContain(String(count));
    const reading = await page.$$eval('figure[data-chart="2"] details table:nth-of-type(1) tbody tr', (trs) =>
      trs.map((tr) => Number(tr.querySelectorAll('td')[1]?.textContent)),
    );
    expect(Math.max(...reading)).toBeGreaterThan(1);
    expect(Math.max(...reading)).toBeLessThanOrEqual(4);
  });

  it('lists every partition with rows adding up to the file, one bar each labelled with its rows', async () => {
    const rows = await page.$$eval('#partitions tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    expect(rows).toHaveLength(manifest.partitions);
    expect(rows.every((r) => r[6] === 'read')).toBe(true);
    const counts = rows.map((r) => Number(r[2]!.replace(/,/g, '')));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(ROWS);
    const labels = await page.$$eval('figure[data-chart="3"] text', (ts) =>
      ts.map((t) => t.textContent ?? ''),
    );
    for (const count of counts) expect(labels).toContain(count.toLocaleString('en-US'));
    // The category axis names each partition once.
    for (const r of rows) expect(labels).toContain(`#${r[0]}`);
    const bars = await page.$$(
      'figure[data-chart="3"] path[ecmeta_ssr_type="chart"][ecmeta_series_index="1"]',
    );
    expect(bars.length).toBe(rows.length);
  });

  it('links to the files beside it, shows no cell value, and fetches nothing', async () => {
    const hrefs = (await page.$$eval('#files a', (as) => as.map((a) => a.getAttribute('href') ?? ''))).map(
      (href) => new URL(href, page.url()).href,
    );
    expect(hrefs.map((h) => h.split('/').at(-1))).toEqual([
      'contacts.parquet',
      'contacts.parquet.manifest.json',
    ]);
    for (const href of hrefs) expect((await stat(fileURLToPath(href))).size).toBeGreaterThan(0);
    const onDisk = JSON.parse(await readFile(fileURLToPath(hrefs[1]!), 'utf8')) as ExtractManifest;
    expect(onDisk.runId).toBe(manifest.runId);
    expect(await page.content()).not.toContain(PERSONAL);
    expect(requests).toEqual([reportUrl]);
  });
});
