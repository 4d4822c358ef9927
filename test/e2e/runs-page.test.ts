import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, recordRequests } from '../../dev/browser.js';
import { startAzurite, type RunningAzurite } from '../../dev/azurite.js';
import { startLocalHost, type RunningLocalHost } from '../../dev/host.js';
import { startEmulator, type RunningEmulator } from '../../emulator/index.js';
import { packageRoot } from '../../src/app/package-root.js';
import { names } from '../../src/app/runtime.js';
import type { RunSummary } from '../../src/imports/types.js';

// The runs page served by the compiled app on the local host, in headless Chromium: a run appears while
// it works, the page reloads itself until it has ended, and its links open the report and result files.
const root = packageRoot();
const ROWS = 4_000;

/** A new page that records its requests and counts its own loads (the runs page reloads itself while runs work). */
async function reloadCountingPage(browser: Browser) {
  const page: Page = await browser.newPage();
  const requests = recordRequests(page);
  let loads = 0;
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) loads += 1;
  });
  return { page, requests, navigations: () => loads };
}

describe('the runs page (local host, Chromium)', () => {
  let azurite: RunningAzurite;
  let emulator: RunningEmulator;
  let host: RunningLocalHost;
  let blobs: BlobServiceClient;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(join(root, 'dist', 'functions', 'runsPage.js'))) {
      throw new Error(
        'dist/ is missing or old: run `npm run build` first (npm ci runs it through "prepare")',
      );
    }
    // The realistic profile's server times make a few thousand rows take seconds: long enough to watch.
    [azurite, emulator] = await Promise.all([startAzurite(), startEmulator({ profile: 'realistic' })]);
    blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
    for (const name of [names.incoming, names.runs, names.results, names.extracts, names.jobs]) {
      await blobs.getContainerClient(name).createIfNotExists();
    }
    for (const name of [names.importEvents, names.importChunks])
      await queues.getQueueClient(name).createIfNotExists();
    host = await startLocalHost({
      appRoot: root,
      httpPort: 0,
      settings: {
        FUNCTIONS_WORKER_RUNTIME: 'node',
        AzureWebJobsStorage: azurite.connectionString,
        Storage: azurite.connectionString,
        DATAVERSE_URL: emulator.url,
        IMPORT_CHUNK_SIZE: '250',
        NIGHTLY_EXTRACT_SCHEDULE: '0 0 2 * * *',
        RECONCILE_SCHEDULE: '0 0 0 1 1 *',
      },
      eventGrid: {
        container: names.incoming,
        queue: names.importEvents,
        includeExisting: false,
        pollIntervalMs: 200,
      },
      hostJson: {
        version: '2.0',
        extensions: { queues: { maxPollingInterval: '00:00:00.200', batchSize: 2, newBatchThreshold: 1 } },
      },
      log: () => {},
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await host?.stop();
    await emulator?.close();
    await azurite?.stop();
  });

  it('shows a run while it works, reloads until it ended, and links to its report and files', async () => {
    const lines = ['Email,First Name,Last Name,Company,Contact Method,Birthday'];
    for (let i = 0; i < ROWS; i += 1) lines.push(`w${i}@example.com,First${i},Last${i},,,`);
    lines.push(',NoKey,Row,,,'); // one failed row
    const body = `${lines.join('\n')}\n`;
    await blobs
      .getContainerClient(names.incoming)
      .getBlockBlobClient('contacts/watch.csv')
      .upload(body, body.length);

    const { page, requests, navigations } = await reloadCountingPage(browser);
    const pageUrl = `${host.httpUrl}/api/runs?code=${host.functionKey}`;
    // Until the run has planned, the page may not list it yet: reload until a running row shows.
    const deadline = Date.now() + 60_000;
    for (;;) {
      await page.goto(pageUrl);
      if (await page.$('section[data-job="contacts"] .state.running')) break;
      if (Date.now() > deadline)
        throw new Error(`The run never showed as running: ${(await page.content()).slice(0, 3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const whileRunning = await page.$eval('section[data-job="contacts"] tbody tr', (tr) => ({
      input: tr.children[1]?.textContent,
      progress: tr.querySelector('.progress')?.textContent,
      links: tr.querySelectorAll('a').length,
    }));
    expect(whileRunning.input).toBe('watch.csv');
    expect(whileRunning.progress).toMatch(/^[\d,]+ of 4,001 \(\d+%\)$/);
    expect(whileRunning.links).toBe(0);
    expect(await page.$eval('meta[http-equiv="refresh"]', (m) => m.getAttribute('content'))).toBe('5');

    // From here the page reloads by itself.
    const reloadsBefore = navigations();
    await page.waitForSelector('section[data-job="contacts"] .state.completedWithErrors', {
      timeout: 90_000,
    });
    expect(navigations()).toBeGreaterThan(reloadsBefore);
    const ended = await page.$eval('section[data-job="contacts"] tbody tr', (tr) => ({
      progress: tr.querySelector('.progress')?.textContent,
      succeeded: tr.querySelector('.succeeded-count')?.textContent,
      failed: tr.querySelector('.failed-count')?.textContent,
      links: [...tr.querySelectorAll('a')].map((a) => [a.textContent, a.getAttribute('href')]),
    }));
    expect(ended.progress).toBe('4,001 of 4,001 (100%)');
    expect(ended.succeeded).toBe('4,000');
    expect(ended.failed).toBe('1');
    expect(ended.links.map(([text]) => text)).toEqual([
      'report.html',
      'summary.json',
      'errors.csv',
      'records.csv',
    ]);
    // No reloading once nothing works.
    expect(await page.$('meta[http-equiv="refresh"]')).toBeNull();

    // Every link resolves, with the function key carried along.
    for (const [, href] of ended.links) {
      const response = await fetch(new URL(href!, page.url()));
      expect(`${href} ${response.status} ${response.status === 200 ? '' : await response.text()}`).toBe(
        `${href} 200 `,
      );
      await response.arrayBuffer();
    }
    const summaryHref = ended.links.find(([text]) => text === 'summary.json')![1]!;
    const summary = (await (await fetch(new URL(summaryHref, page.url()))).json()) as RunSummary;
    expect(summary.rows).toMatchObject({ total: 4_001, succeeded: 4_000, failed: 1 });

    // The report opens from the page and shows the same run; its own links work through the app too.
    await page.click('section[data-job="contacts"] a[href*="report.html"]');
    await page.waitForSelector('#summary');
    expect(await page.$eval('body', (b) => b.getAttribute('data-run-id'))).toBe(summary.runId);
    const cells = await page.$$eval('#summary tr', (trs) =>
      Object.fromEntries(trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''))),
    );
    expect(cells['Failed']).toBe('1');
    expect(cells['Succeeded']).toBe('4,000');
    expect(await page.$eval('#failures-by-code .key', (e) => e.textContent)).toBe('MissingKey');
    const reportLinks = await page.$$eval('#files a', (as) => as.map((a) => a.getAttribute('href') ?? ''));
    for (const href of reportLinks) expect((await fetch(new URL(href, page.url()))).status).toBe(200);

    // Nothing but the app itself was asked for anything.
    expect(requests.filter((url) => !url.startsWith(host.httpUrl))).toEqual([]);
    await page.close();
  });

  it('lists an extract run ("run now") with its report, which opens and links to its files', async () => {
    for (let i = 0; i < 300; i += 1)
      emulator.store.put('account', { name: `Extract ${i}`, accountnumber: `X-${i}` });
    const accounts = emulator.store.all('account').filter((a) => a.statecode === 0).length;
    const response = await fetch(
      `${host.httpUrl}/api/extracts/accounts-nightly/run?code=${host.functionKey}`,
      {
        method: 'POST',
      },
    );
    expect(response.status).toBe(200);
    const run = (await response.json()) as {
      manifest: { runId: string; rows: number; partitions: number };
      reportPath: string;
    };
    expect(run.manifest.rows).toBe(accounts);
    expect(run.reportPath).toMatch(
      /^extracts\/accounts-nightly\/\d{4}\/\d\d\/\d\d\/accounts-nightly-\d{8}T\d{6}Z\.report\.html$/,
    );

    const page: Page = await browser.newPage();
    const requests = recordRequests(page);
    await page.goto(`${host.httpUrl}/api/runs?code=${host.functionKey}`);
    const row = await page.$eval('section[data-extract-job="accounts-nightly"] tbody tr', (tr) => ({
      runId: tr.getAttribute('data-run-id'),
      state: tr.querySelector('.state')?.textContent,
      rows: tr.querySelector('.rows')?.textContent,
      links: [...tr.querySelectorAll('a')].map((a) => a.textContent),
    }));
    expect(row).toEqual({
      runId: run.manifest.runId,
      state: 'succeeded',
      rows: accounts.toLocaleString('en-US'),
      links: ['report.html', 'manifest.json'],
    });

    await page.click('section[data-extract-job="accounts-nightly"] a[href*="report.html"]');
    await page.waitForSelector('#summary');
    expect(await page.$eval('body', (b) => b.getAttribute('data-run-id'))).toBe(run.manifest.runId);
    const cells = await page.$$eval('#summary tr', (trs) =>
      Object.fromEntries(trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''))),
    );
    expect(cells['Rows']).toBe(accounts.toLocaleString('en-US'));
    expect(cells['Watermark column']).toBe('modifiedon');
    expect(await page.$$eval('#partitions tbody tr', (trs) => trs.length)).toBe(run.manifest.partitions);
    // The CSV and the manifest beside the report come through the app, with the function key.
    const links = await page.$$eval('#files a', (as) => as.map((a) => a.getAttribute('href') ?? ''));
    expect(links.map((href) => href.split('?')[0])).toEqual([
      run.reportPath.split('/').at(-1)!.replace('.report.html', '.csv'),
      run.reportPath.split('/').at(-1)!.replace('.report.html', '.manifest.json'),
    ]);
    for (const href of links) {
      const file = await fetch(new URL(href, page.url()));
      expect(file.status).toBe(200);
      await file.arrayBuffer();
    }
    expect(requests.filter((url) => !url.startsWith(host.httpUrl))).toEqual([]);
    await page.close();
  });

  it('lists an extract while it works (running, rows read so far, reloading), then finished with its report', async () => {
    const WATCHED = 240;
    for (let i = 0; i < WATCHED; i += 1)
      emulator.store.put('account', { name: `Watched ${i}`, accountnumber: `W-${i}` });
    // Small pages, each made slow (10 ms per row read): about 3 s of reading, long enough to watch.
    const job = {
      name: 'accounts-watch',
      table: 'account',
      columns: ['accountid', 'name'],
      filter: "startswith(accountnumber,'W-')",
      pageSize: 20,
      partitions: 1,
      output: { path: 'extracts/{job}/{job}-{timestamp}.csv' },
    };
    const body = JSON.stringify(job);
    await blobs
      .getContainerClient(names.jobs)
      .getBlockBlobClient(`${job.name}.json`)
      .upload(body, Buffer.byteLength(body));
    const readRowMs = emulator.settings().readRowMs;
    emulator.configure({ settings: { readRowMs: 10 } });
    try {
      const running = fetch(`${host.httpUrl}/api/extracts/accounts-watch/run?code=${host.functionKey}`, {
        method: 'POST',
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { manifest: { runId: string } } }));

      const { page, requests, navigations } = await reloadCountingPage(browser);
      const pageUrl = `${host.httpUrl}/api/runs?code=${host.functionKey}`;
      const row = 'section[data-extract-job="accounts-watch"] tbody tr';
      const readRow = () =>
        page.$eval(row, (tr) => ({
          runId: tr.getAttribute('data-run-id'),
          state: tr.querySelector('.state')?.textContent,
          rows: tr.querySelector('.rows')?.textContent,
          partitions: tr.querySelector('.partitions')?.textContent,
          links: [...tr.querySelectorAll('a')].map((a) => [a.textContent, a.getAttribute('href')]),
          files: tr.children[7]?.textContent,
        }));
      // Reload until the run is listed as running with some rows read (its record moves once a second).
      let whileRunning: Awaited<ReturnType<typeof readRow>> | undefined;
      const deadline = Date.now() + 30_000;
      for (;;) {
        await page.goto(pageUrl);
        whileRunning = (await page.$(`${row} .state.running`)) ? await readRow() : undefined;
        if (whileRunning && Number(whileRunning.rows?.replace(/,/g, '')) > 0) break;
        if (Date.now() > deadline)
          throw new Error(`The extract never showed as running: ${(await page.content()).slice(0, 3000)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const readSoFar = Number(whileRunning.rows!.replace(/,/g, ''));
      expect(readSoFar).toBeGreaterThan(0);
      // Whole pages of 20; the last may be recorded a moment before the run writes its manifest.
      expect(readSoFar).toBeLessThanOrEqual(WATCHED);
      expect(readSoFar % 20).toBe(0);
      expect(whileRunning.state).toBe('running');
      expect(whileRunning.partitions).toMatch(/^partitions [01] of 1 read$/);
      if (readSoFar < WATCHED) expect(whileRunning.partitions).toBe('partitions 0 of 1 read');
      expect(whileRunning.links).toEqual([]);
      expect(whileRunning.files).toBe('when it ends');
      expect(await page.$eval('meta[http-equiv="refresh"]', (m) => m.getAttribute('content'))).toBe('5');

      // The page reloads by itself until the run has ended.
      const reloadsBefore = navigations();
      await page.waitForSelector(`${row} .state.succeeded`, { timeout: 30_000 });
      expect(navigations()).toBeGreaterThan(reloadsBefore);
      const run = await running;
      expect(run.status).toBe(200);
      const ended = await readRow();
      expect(ended.runId).toBe(run.body.manifest.runId);
      expect(ended.runId).toBe(whileRunning.runId);
      expect(ended.rows).toBe(WATCHED.toLocaleString('en-US'));
      expect(ended.links.map(([text]) => text)).toEqual(['report.html', 'manifest.json']);
      // Only one row for the run: its progress record gave way to its manifest.
      expect(await page.$$eval(row, (trs) => trs.length)).toBe(1);
      expect(await page.$('meta[http-equiv="refresh"]')).toBeNull();

      await page.click(`${row} a[href*="report.html"]`);
      await page.waitForSelector('#summary');
      expect(await page.$eval('body', (b) => b.getAttribute('data-run-id'))).toBe(run.body.manifest.runId);
      const cells = await page.$$eval('#summary tr', (trs) =>
        Object.fromEntries(trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''))),
      );
      expect(cells['Rows']).toBe(WATCHED.toLocaleString('en-US'));
      expect(requests.filter((url) => !url.startsWith(host.httpUrl))).toEqual([]);
      await page.close();
    } finally {
      emulator.configure({ settings: { readRowMs } });
    }
  });
});
