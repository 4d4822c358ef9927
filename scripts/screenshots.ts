// The screenshots in docs/reports.md and the README: the real app on the local host (Azurite, the
// emulator with a few 429s, the compiled functions), the samples dropped in, pictured in headless Chromium;
// the runs page while an import and an extract are both at work.
//   npm run build && npx tsx scripts/screenshots.ts
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { startAzurite } from '../dev/azurite.js';
import { launchChromium } from '../dev/browser.js';
import { startLocalHost } from '../dev/host.js';
import { startEmulator } from '../emulator/index.js';
import { packageRoot } from '../src/app/package-root.js';
import { names } from '../src/app/runtime.js';
import { readFile, writeFile } from 'node:fs/promises';
import { withText } from './png-text.js';

const root = packageRoot();
const images = join(root, 'docs', 'images');
await mkdir(images, { recursive: true });
const [azurite, emulator] = await Promise.all([
  startAzurite(),
  startEmulator({ profile: 'realistic', faults: '429=0.03' }),
]);
const host = await startLocalHost({
  appRoot: root,
  httpPort: 0,
  settings: {
    FUNCTIONS_WORKER_RUNTIME: 'node',
    AzureWebJobsStorage: azurite.connectionString,
    Storage: azurite.connectionString,
    DATAVERSE_URL: emulator.url,
    IMPORT_CHUNK_SIZE: '500',
    NIGHTLY_EXTRACT_SCHEDULE: '0 0 2 * * *',
    RECONCILE_SCHEDULE: '0 0 0 1 1 *',
  },
  eventGrid: {
    container: names.incoming,
    queue: names.importEvents,
    includeExisting: false,
    pollIntervalMs: 200,
  },
  log: () => {},
});
const browser = await launchChromium();
try {
  const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
  const queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
  for (const name of [names.incoming, names.runs, names.results, names.extracts, names.jobs])
    await blobs.getContainerClient(name).createIfNotExists();
  for (const name of [names.importEvents, names.importChunks])
    await queues.getQueueClient(name).createIfNotExists();
  const incoming = blobs.getContainerClient(names.incoming);
  const results = blobs.getContainerClient(names.results);
  const drop = async (blob: string, body: string) =>
    incoming.getBlockBlobClient(blob).upload(body, Buffer.byteLength(body));
  const summaries = async () => {
    const found: string[] = [];
    for await (const item of results.listBlobsFlat())
      if (item.name.endsWith('summary.json')) found.push(item.name);
    return found;
  };
  const waitFor = async (count: number) => {
    while ((await summaries()).length < count) await new Promise((resolve) => setTimeout(resolve, 500));
  };

  await drop('accounts/accounts.csv', await readFile(join(root, 'samples', 'accounts.csv'), 'utf8'));
  await waitFor(1);
  await drop('contacts/contacts.csv', await readFile(join(root, 'samples', 'contacts.csv'), 'utf8'));
  await waitFor(2);
  // An extract ("run now" of the bundled nightly job), so the runs page lists one too.
  const extract = await fetch(`${host.httpUrl}/api/extracts/accounts-nightly/run?code=${host.functionKey}`, {
    method: 'POST',
  });
  if (extract.status !== 200) throw new Error(`The extract failed: ${await extract.text()}`);
  // A bigger file still working when the runs page is pictured.
  const big = ['Email,First Name,Last Name,Company,Contact Method,Birthday'];
  for (let i = 0; i < 30_000; i += 1)
    big.push(`big${i}@example.com,First${i},Last${i},ACC-00012,Email,1990-01-01`);
  await drop('contacts/contacts-december.csv', `${big.join('\n')}\n`);

  // And an extract still working beside it: a job of our own in the jobs container reading 60,000
  // contacts (put straight into the emulator) in small pages over four partitions, started with "run
  // now" and not awaited.
  for (let i = 0; i < 60_000; i += 1)
    emulator.store.put('contact', {
      firstname: `Reader${i}`,
      lastname: `Archive${i}`,
      emailaddress1: `r${i}@example.com`,
    });
  const exportJob = {
    name: 'contacts-archive',
    table: 'contact',
    columns: ['contactid', 'firstname', 'lastname', 'emailaddress1', 'modifiedon'],
    partitions: 4,
    pageSize: 250,
  };
  const jobBody = JSON.stringify(exportJob);
  await blobs
    .getContainerClient(names.jobs)
    .getBlockBlobClient('contacts-archive.json')
    .upload(jobBody, Buffer.byteLength(jobBody));
  const running = fetch(`${host.httpUrl}/api/extracts/contacts-archive/run?code=${host.functionKey}`, {
    method: 'POST',
  });

  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 520 });
  const runsUrl = `${host.httpUrl}/api/runs?code=${host.functionKey}`;
  // Both at work, and past their first rows: the import's progress and the extract's rows read so far.
  for (;;) {
    await page.goto(runsUrl);
    const importProgress = await page
      .$eval(
        '#imports ~ section .state.running',
        (e) => e.closest('tr')?.querySelector('.progress')?.textContent,
      )
      .catch(() => undefined);
    const extractRows = await page
      .$eval('[data-extract-job="contacts-archive"] .state.running', (e) =>
        Number(e.closest('tr')?.querySelector('.rows')?.textContent?.replace(/,/g, '')),
      )
      .catch(() => 0);
    if (importProgress && !importProgress.startsWith('0 of') && extractRows > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  // What the picture shows, read from the page pictured, in the PNG itself (test/unit/docs checks it).
  const runningIn = (section: string) =>
    page.$$eval(
      `section[${section}]`,
      (sections, attribute) =>
        sections.filter((s) => s.querySelector('.state.running')).map((s) => s.getAttribute(attribute) ?? ''),
      section,
    );
  const shows = `running imports: ${(await runningIn('data-job')).join(', ')}; running extracts: ${(await runningIn('data-extract-job')).join(', ')}`;
  const png = Buffer.from(await page.screenshot({ fullPage: true }));
  await writeFile(join(images, 'runs-page.png'), withText(png, 'Description', `The runs page: ${shows}`));
  const ran = await running;
  if (ran.status !== 200) throw new Error(`The running extract failed: ${await ran.text()}`);

  const [contacts] = (await summaries()).filter((name) => name.startsWith('contacts/contacts.csv/'));
  await page.setViewport({ width: 1000, height: 800 });
  await page.goto(
    `${host.httpUrl}/api/results/${contacts!.replace(/summary\.json$/, 'report.html')}?code=${host.functionKey}`,
  );
  await page.screenshot({ path: join(images, 'report.png'), fullPage: true });
  console.log(`Wrote ${join(images, 'runs-page.png')} and ${join(images, 'report.png')}`);
} finally {
  await browser.close();
  await host.stop();
  await emulator.close();
  await azurite.stop();
}
