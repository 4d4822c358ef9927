import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../../dev/azurite.js';
import { startLocalHost, type RunningLocalHost } from '../../../dev/host.js';
import { captureLogs, drainQueue, fixtureApp, QUIET_SCHEDULE, toBase64 } from './helpers.js';

// host.json messageEncoding "none": bodies reach the handler as written, and outputs are written as text.
describe('local host: messageEncoding none', () => {
  let azurite: RunningAzurite;
  let host: RunningLocalHost;
  let queues: QueueServiceClient;
  const logs = captureLogs();

  beforeAll(async () => {
    azurite = await startAzurite();
    queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
    host = await startLocalHost({
      appRoot: fixtureApp,
      settings: { AzureWebJobsStorage: azurite.connectionString, TICK_SCHEDULE: QUIET_SCHEDULE },
      hostJson: {
        version: '2.0',
        extensions: { queues: { maxPollingInterval: '00:00:00.200', messageEncoding: 'none' } },
      },
      eventGrid: false,
      log: logs.log,
    });
  });

  afterAll(async () => {
    await host?.stop();
    await azurite?.stop();
  });

  it('delivers a raw JSON body parsed', async () => {
    await queues.getQueueClient('echo-in').sendMessage(JSON.stringify({ raw: true }));
    const [out] = await drainQueue(queues.getQueueClient('echo-out'), 1);
    const echoed = JSON.parse(out ?? '') as Record<string, unknown>;
    expect(echoed.message).toEqual({ raw: true });
    expect(echoed.type).toBe('object');
  });

  it('delivers a base64 body as its text, undecoded, as the real host does', async () => {
    const encoded = toBase64(JSON.stringify({ wrapped: 1 }));
    await queues.getQueueClient('echo-in').sendMessage(encoded);
    const [out] = await drainQueue(queues.getQueueClient('echo-out'), 1);
    expect((JSON.parse(out ?? '') as Record<string, unknown>).message).toBe(encoded);
  });
});
