import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../../dev/azurite.js';
import { startLocalHost, type RunningLocalHost } from '../../../dev/host.js';
import { captureLogs, drainQueue, fixtureApp, fromBase64, QUIET_SCHEDULE } from './helpers.js';

const STATUS_PATH = 'timers/local-dev-host/Host.Functions.tick/status';

describe('local host: monitored timer schedules survive restarts', () => {
  let azurite: RunningAzurite;
  let host: RunningLocalHost;
  let blobs: BlobServiceClient;
  const logs = captureLogs();

  beforeAll(async () => {
    azurite = await startAzurite();
    blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
    // A previous host ran on 2026-01-01 and expected the next run on 2026-01-02: long missed.
    const hosts = blobs.getContainerClient('azure-webjobs-hosts');
    await hosts.create();
    const status = JSON.stringify({
      Last: '2026-01-01T00:00:00.000Z',
      Next: '2026-01-02T00:00:00.000Z',
      LastUpdated: '2026-01-01T00:00:01.000Z',
    });
    await hosts.getBlockBlobClient(STATUS_PATH).upload(status, status.length);
    host = await startLocalHost({
      appRoot: fixtureApp,
      settings: { AzureWebJobsStorage: azurite.connectionString, TICK_SCHEDULE: QUIET_SCHEDULE },
      eventGrid: false,
      log: logs.log,
    });
  });

  afterAll(async () => {
    await host?.stop();
    await azurite?.stop();
  });

  it('fires the missed occurrence once at start with isPastDue and the stored status', async () => {
    const queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
    const [tick] = await drainQueue(queues.getQueueClient('tick-out'), 1);
    expect(JSON.parse(fromBase64(tick ?? '{}'))).toEqual({
      isPastDue: true,
      scheduleStatus: {
        last: '2026-01-01T00:00:00.000Z',
        next: '2026-01-02T00:00:00.000Z',
        lastUpdated: '2026-01-01T00:00:01.000Z',
      },
    });
  });

  it('stores the new status where the Functions host keeps it', async () => {
    await host.idle();
    const blob = blobs.getContainerClient('azure-webjobs-hosts').getBlobClient(STATUS_PATH);
    const stored = JSON.parse((await blob.downloadToBuffer()).toString()) as Record<string, string>;
    expect(stored.Last).toBe('2026-01-02T00:00:00.000Z');
    // The quiet schedule runs at 00:00:00 on January 1st.
    expect(stored.Next).toMatch(/^\d{4}-01-01T00:00:00\.000Z$/);
    expect(new Date(stored.Next ?? '').getTime()).toBeGreaterThan(Date.now());
  });
});
