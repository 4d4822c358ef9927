import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, recordRequests } from '../../../dev/browser.js';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';
import { createClient } from '../../../src/app/dataverse.js';
import { parseImportJob } from '../../../src/config/job.js';
import type { DataverseClient } from '../../../src/dataverse/index.js';
import { runLocalImport } from '../../../src/imports/local-run.js';
import { RequestMeter } from '../../../src/imports/request-meter.js';
import type { RunSummary } from '../../../src/imports/types.js';
import { silentLogger } from '../../../src/logging.js';

// A real import (the CLI's runner against the emulator, with 429s injected) and its report.html opened
// in headless Chromium: what a person sees must be what the run's result files say.
const job = parseImportJob(
  {
    name: 'report-contacts',
    table: 'contact',
    operation: 'upsert',
    key: ['emailaddress1'],
    chunkSize: 100,
    columns: { Email: 'emailaddress1', 'First Name': 'firstname', 'Last Name': 'lastname' },
  },
  'test job',
);
const SECRET_CELL = 'Pers0nal-' + 'q'.repeat(200);

describe('report.html in Chromium', () => {
  let emulator: RunningEmulator;
  let client: DataverseClient;
  let browser: Browser;
  let page: Page;
  let requests: string[];
  let out: string;
  let summary: RunSummary;

  beforeAll(async () => {
    // A seeded generator: the same share of 429s on every run.
    let seed = 21;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    emulator = await startEmulator({ profile: 'fast', faults: '429=0.1', random });
    const meter = new RequestMeter();
    client = createClient({ url: emulator.url, identities: ['report'], onEvent: meter.onEvent });
    const dir = await mkdtemp(join(tmpdir(), 'dvp-report-'));
    const rows: string[][] = [];
    for (let i = 0; i < 600; i += 1) rows.push([`r${i}@example.com`, `First${i}`, `Last${i}`]);
    rows[10] = ['r10@example.com', 'First10', SECRET_CELL]; // lastname is 50 characters at most
    rows[20] = ['r20@example.com', 'First20', SECRET_CELL];
    rows[30] = ['', 'First30', 'Last30']; // no key
    const file = join(dir, 'contacts.csv');
    await writeFile(file, stringify([['Email', 'First Name', 'Last Name'], ...rows]));
    out = join(dir, 'out');
    const result = await runLocalImport({
      file,
      job,
      client,
      environment: emulator.url,
      meter,
      outDir: out,
      log: silentLogger,
    });
    summary = result.summary;
    browser = await launchChromium();
    page = await browser.newPage();
    requests = recordRequests(page);
    await page.goto(pathToFileURL(join(out, 'report.html')).href);
  });
  afterAll(async () => {
    await browser?.close();
    await client?.close();
    await emulator?.close();
  });

  it('shows the summary of summary.json', async () => {
    expect(summary.rows).toMatchObject({ total: 600, succeeded: 597, failed: 3 });
    expect(summary.throttled).toBeGreaterThan(0);
    const cells = await page.$$eval('#summary tr', (trs) =>
      Object.fromEntries(trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''))),
    );
    expect(cells['Rows in the file']).toBe('600');
    expect(cells['Succeeded']).toBe('597');
    expect(cells['Failed']).toBe('3');
    expect(cells['Requests']).toBe(summary.requests.toLocaleString('en-US'));
    expect(cells['429 answers']).toBe(String(summary.throttled));
    expect(await page.$eval('#status', (e) => e.textContent)).toBe('completedWithErrors');
    expect(await page.title()).toContain(summary.runId);
  });

  it('draws the rows chart through every data point, ending at the rows written', async () => {
    const points = await page.$$eval('figure[data-chart="1"] details tbody tr', (trs) =>
      trs.map((tr) =>
        [...tr.querySelectorAll('td')].map((td) => Number((td.textContent ?? '').replace(/,/g, ''))),
      ),
    );
    // Every row Dataverse answered for: the 597 written (the three failed in mapping never reached it).
    expect(points.at(-1)?.[1]).toBe(597);
    expect(points.length).toBeGreaterThan(2);
    const line = await page.$eval('figure[data-chart="1"] path[stroke="#2f6fb3"][fill="none"]', (p) =>
      p.getAttribute('d'),
    );
    const vertices = (line ?? '').match(/[ML]/g)?.length ?? 0;
    expect(vertices).toBe(points.length);
  });

  it('marks each 429 answer with a triangle and shows requests in flight within the client cap', async () => {
    const triangles = await page.$$(
      'figure[data-chart="2"] path[ecmeta_ssr_type="chart"][ecmeta_series_index="1"]',
    );
    expect(triangles.length).toBe(summary.throttled);
    const inFlight = await page.$$eval('figure[data-chart="2"] details tbody tr td:nth-child(2)', (tds) =>
      tds.map((td) => Number(td.textContent)),
    );
    expect(Math.max(...inFlight)).toBeGreaterThan(0);
    expect(Math.max(...inFlight)).toBeLessThanOrEqual(16);
    const caption = await page.$eval('figure[data-chart="2"] figcaption', (e) => e.textContent);
    expect(caption).toContain(
      summary.throttled === 1 ? '1 answer was 429' : `${summary.throttled} answers were 429`,
    );
  });

  it('shows time per phase adding up to no more than the whole run', async () => {
    const phases = await page.$$eval('figure[data-chart="3"] details tbody tr', (trs) =>
      Object.fromEntries(
        trs.map((tr) => {
          const [name, ms] = [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '');
          return [name, Number((ms ?? '').replace(/,/g, ''))];
        }),
      ),
    );
    expect(phases['Whole run']).toBe(summary.durationMs);
    expect(phases['Writes (busy)']).toBeGreaterThan(0);
    expect(phases['Read and plan']! + phases['Result files']!).toBeLessThanOrEqual(summary.durationMs);
    // The bars are drawn: one per phase, labelled with its value.
    const labels = await page.$$eval('figure[data-chart="3"] text', (ts) => ts.map((t) => t.textContent));
    expect(labels).toContain(String(phases['Writes (busy)']));
  });

  it('lists the failures by code and by column with the counts of errors.csv, and no cell values', async () => {
    const errors = parse(await readFile(join(out, 'errors.csv')), { bom: true, columns: true }) as Record<
      string,
      string
    >[];
    const tally = (key: string) => {
      const counts: Record<string, number> = {};
      for (const e of errors) counts[e[key]!] = (counts[e[key]!] ?? 0) + 1;
      return counts;
    };
    const shown = (id: string) =>
      page.$$eval(`#${id} tbody tr`, (trs) =>
        Object.fromEntries(
          trs.map((tr) => [
            tr.querySelector('.key')?.textContent,
            Number(tr.querySelector('.count')?.textContent),
          ]),
        ),
      );
    expect(await shown('failures-by-code')).toEqual(tally('code'));
    expect(await shown('failures-by-code')).toEqual({ StringTooLong: 2, MissingKey: 1 });
    expect(await shown('failures-by-column')).toEqual(tally('column'));
    const examples = await page.$eval('#failures-by-code', (t) => t.textContent ?? '');
    expect(examples).toContain('row 12 (Last Name)');
    expect(await page.content()).not.toContain(SECRET_CELL.slice(0, 20));
  });

  it('links to result files that exist beside it, and fetches nothing', async () => {
    const hrefs = (await page.$$eval('#files a', (as) => as.map((a) => a.getAttribute('href') ?? ''))).map(
      (href) => new URL(href, page.url()).href,
    );
    expect(hrefs.map((h) => h.split('/').at(-1))).toEqual(['summary.json', 'errors.csv', 'records.csv']);
    for (const href of hrefs) expect((await stat(fileURLToPath(href))).size).toBeGreaterThan(0);
    expect(requests).toEqual([pathToFileURL(join(out, 'report.html')).href]);
    const csp = await page.$eval('meta[http-equiv="Content-Security-Policy"]', (m) =>
      m.getAttribute('content'),
    );
    expect(csp).toContain("default-src 'none'");
  });
});
