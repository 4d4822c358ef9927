import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../../dev/azurite.js';
import { startLocalHost, type RunningLocalHost } from '../../../dev/host.js';
import { captureLogs, drainQueue, findMessage, fixtureApp, fromBase64 } from './helpers.js';

interface Tick {
  isPastDue: boolean;
  scheduleStatus: { last: string; next: string; lastUpdated: string } | null;
}

describe('local host: timer triggers', () => {
  let azurite: RunningAzurite;
  let host: RunningLocalHost;
  let queues: QueueServiceClient;
  const logs = captureLogs();

  beforeAll(async () => {
    azurite = await startAzurite();
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
    await azurite?.stop();
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
