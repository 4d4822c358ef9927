import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../emulator/index.js';
import { createAppStorage, startAzurite, type RunningAzurite } from '../../dev/azurite.js';
import { startLocalHost, type RunningLocalHost } from '../../dev/host.js';
import { packageRoot } from '../../src/app/package-root.js';
import { names } from '../../src/app/runtime.js';
import { inputTags } from '../../src/imports/reconcile.js';

// The compiled app on the local host with no Event Grid at all: a file only the timer-triggered sweep can
// find is imported, every row with its values (issue 16, defect 6, through the Functions host path).
const root = packageRoot();

describe('reconcileIncoming on the local host (Azurite + emulator, no events)', () => {
  let azurite: RunningAzurite;
  let emulator: RunningEmulator;
  let host: RunningLocalHost;
  let blobs: BlobServiceClient;

  beforeAll(async () => {
    if (!existsSync(join(root, 'dist', 'functions', 'reconcileIncoming.js'))) {
      throw new Error('dist/ is missing or stale: run `npm run build` first');
    }
    [azurite, emulator] = await Promise.all([startAzurite(), startEmulator({ profile: 'fast' })]);
    ({ blobs } = await createAppStorage(azurite.connectionString));
    const job = JSON.stringify({
      name: 'people',
      table: 'contact',
      operation: 'upsert',
      key: ['emailaddress1'],
      columns: { Email: 'emailaddress1', 'Last Name': 'lastname' },
    });
    await blobs.getContainerClient(names.jobs).getBlockBlobClient('people.json').upload(job, job.length);
    host = await startLocalHost({
      appRoot: root,
      httpPort: 0,
      settings: {
        FUNCTIONS_WORKER_RUNTIME: 'node',
        AzureWebJobsStorage: azurite.connectionString,
        Storage: azurite.connectionString,
        DATAVERSE_URL: emulator.url,
        NIGHTLY_EXTRACT_SCHEDULE: '0 0 0 1 1 *',
        RECONCILE_SCHEDULE: '0 0 0 1 1 *',
        // Any file without a run is overdue at once.
        RECONCILE_AFTER_MINUTES: '0',
      },
      eventGrid: false,
      hostJson: {
        version: '2.0',
        extensions: { queues: { maxPollingInterval: '00:00:00.200', visibilityTimeout: '00:00:00' } },
      },
      log: () => {},
    });
  });

  afterAll(async () => {
    await host?.stop();
    await emulator?.close();
    await azurite?.stop();
  });

  it('imports a file no event announced when the timer fires, and marks it', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => `quiet${i}@example.com,Quiet ${i}`);
    const body = `Email,Last Name\n${rows.join('\n')}\n`;
    await blobs
      .getContainerClient(names.incoming)
      .getBlockBlobClient('people/quiet.csv')
      .upload(body, body.length);

    await host.fireTimer('reconcileIncoming');
    await host.idle();

    const stored = emulator.store
      .all('contact')
      .map((c) => `${String(c.emailaddress1)},${String(c.lastname)}`)
      .sort();
    expect(stored).toEqual([...rows].sort());
    const { tags } = await blobs
      .getContainerClient(names.incoming)
      .getBlobClient('people/quiet.csv')
      .getTags();
    expect(tags[inputTags.status]).toBe('succeeded');
  });
});
