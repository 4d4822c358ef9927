// The extract report's screenshot in docs/reports.md: a real extract (the product's runner, against the
// emulator's realistic profile with a few 429s) of 20,000 contacts in parallel partitions, its
// report.html pictured in headless Chromium.
//   npx tsx scripts/extract-report-screenshot.ts
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchChromium } from '../dev/browser.js';
import { startEmulator } from '../emulator/index.js';
import { createClient } from '../src/app/dataverse.js';
import { packageRoot } from '../src/app/package-root.js';
import { extractJobSchema } from '../src/config/job.js';
import { runExtract } from '../src/extracts/index.js';
import { FileBlockSink } from '../src/storage/file-block-sink.js';
import { FileObjectStore } from '../src/storage/file-store.js';

const images = join(packageRoot(), 'docs', 'images');
await mkdir(images, { recursive: true });
const emulator = await startEmulator({ profile: 'realistic', faults: '429=0.05' });
const client = createClient({ url: emulator.url, identities: ['screenshot'] });
const dir = await mkdtemp(join(tmpdir(), 'dvp-extract-shot-'));
const browser = await launchChromium();
try {
  for (let i = 0; i < 20_000; i += 1)
    emulator.store.put('contact', {
      firstname: `First${i}`,
      lastname: `Last${i}`,
      emailaddress1: `c${i}@example.com`,
    });
  const job = extractJobSchema.parse({
    name: 'contacts-nightly',
    table: 'contact',
    columns: ['contactid', 'firstname', 'lastname', 'emailaddress1', 'createdon'],
    partitions: 6,
    pageSize: 1_000,
  });
  const { reportPath } = await runExtract(
    { client, sink: new FileBlockSink(dir), state: new FileObjectStore(join(dir, '.state')) },
    job,
    { path: 'contacts-nightly/contacts.csv', trigger: 'timer' },
  );
  const page = await browser.newPage();
  await page.setViewport({ width: 1000, height: 800 });
  await page.goto(pathToFileURL(join(dir, reportPath!)).href);
  await page.screenshot({ path: join(images, 'extract-report.png'), fullPage: true });
  console.log(`Wrote ${join(images, 'extract-report.png')}`);
} finally {
  await browser.close();
  await client.close();
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
}
