import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../../dev/azurite.js';
import { startLocalHost, type RunningLocalHost } from '../../../dev/host.js';
import { captureLogs, drainQueue, findMessage, fixtureApp, fromBase64, QUIET_SCHEDULE } from './helpers.js';

const STATUS_PATH = 'timers/local-dev-host/Host.Functions.tick/status';

interface Tick {
  isPastDue: boolean;
  scheduleStatus: { last: string; next: string; lastUpdated: string } | null;
}

let azurite: RunningAzurite;

// One Azurite for the file; each describe runs its own host (the app's registrations load once per process).
beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await azurite?.stop();
});

describe('local host: timer triggers', () => {
  let host: RunningLocalHost;
  let queues: QueueServiceClient;
  const logs = captureLogs();

  beforeAll(async () => {
    queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
    host = await startLocalHost({
      appRoot: fixtureApp,
      // Every second, from the app setting the fixture's schedule names (%TICK_SCHEDULE%).
      settings: { AzureWebJobsStorage: azurite.connectionString, TICK_SCHEDULE: '*/1 * * * * *' },
      eventGrid: false,
      log: logs.log,
    });
  });

  afterAll(async () => {
    await host?.stop();
  });

  it('fires on its six-field NCRONTAB schedule', async () => {
    const ticks = await drainQueue(queues.getQueueClient('tick-out'), 2);
    expect(ticks).toHaveLength(2);
    const parsed = ticks.map((t) => JSON.parse(fromBase64(t)) as Tick);
    for (const tick of parsed) {
      expect(typeof tick.isPastDue).toBe('boolean');
      // Occurrences under a minute apart are not monitored, as in the real host.
      expect(tick.scheduleStatus).toBeNull();
    }
    const runs = logs.entries.filter(
      (e) => e.functionName === 'tick' && e.message.startsWith("Executed 'tick'"),
    );
    expect(runs.length).toBeGreaterThanOrEqual(2);
  });

  it('fires on demand through fireTimer, including as a past-due run', async () => {
    await host.fireTimer('tick', { isPastDue: true });
    // Scheduled ticks keep arriving too; the fired one is the one marked past due.
    const found = await findMessage(
      queues.getQueueClient('tick-out'),
      (t) => (JSON.parse(fromBase64(t)) as Tick).isPastDue,
    );
    expect(found).toBeDefined();
  });

  it('rejects fireTimer for a function that is not a timer', async () => {
    await expect(host.fireTimer('echo')).rejects.toThrow(/No timer function named "echo"/);
  });
});

describe('local host: monitored timer schedules survive restarts', () => {
  let host: RunningLocalHost;
  let blobs: BlobServiceClient;
  const logs = captureLogs();

  beforeAll(async () => {
    blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
    // A previous host ran on 2026-01-01 and expected the next run on 2026-01-02: long missed.
    const hosts = blobs.getContainerClient('azure-webjobs-hosts');
    await hosts.createIfNotExists();
    // Ticks of the previous describe's host must not be mistaken for this one's.
    await QueueServiceClient.fromConnectionString(azurite.connectionString)
      .getQueueClient('tick-out')
      .clearMessages();
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

describe('local host: a timer whose schedule setting is missing', () => {
  let host: RunningLocalHost;
  const logs = captureLogs();

  beforeAll(async () => {
    // Earlier hosts in this process copied TICK_SCHEDULE into process.env.
    delete process.env.TICK_SCHEDULE;
    host = await startLocalHost({
      appRoot: fixtureApp,
      settings: { AzureWebJobsStorage: azurite.connectionString },
      eventGrid: false,
      log: logs.log,
    });
  });

  afterAll(async () => {
    await host?.stop();
  });

  it('is disabled with the reason logged, while the other functions run', async () => {
    const error = logs.entries.find((e) => e.functionName === 'tick' && e.level === 'error');
    expect(error?.message).toMatch(/disabled: .*"TICK_SCHEDULE"/);
    await expect(host.fireTimer('tick')).rejects.toThrow(/Function "tick" is disabled/);
    expect((await fetch(`${host.httpUrl}/api/echo`, { method: 'POST', body: 'still up' })).status).toBe(201);
  });
});
