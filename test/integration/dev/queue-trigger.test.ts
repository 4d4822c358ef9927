import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../../dev/azurite.js';
import { startLocalHost, type RunningLocalHost } from '../../../dev/host.js';
import { captureLogs, drainQueue, fixtureApp, fromBase64, QUIET_SCHEDULE, toBase64 } from './helpers.js';

let azurite: RunningAzurite;

// One Azurite for the file; each describe runs its own host (the app's registrations load once per process).
beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await azurite?.stop();
});

describe('local host: queue triggers against Azurite', () => {
  let host: RunningLocalHost;
  let queues: QueueServiceClient;
  const logs = captureLogs();

  beforeAll(async () => {
    queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
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

  it('loads every registration from the package.json main glob', () => {
    expect([...host.functions].sort()).toEqual([
      'echo',
      'echoBody',
      'fails',
      'fanOut',
      'gauge',
      'getRun',
      'save',
      'slow',
      'tick',
    ]);
  });

  it('delivers a base64 message decoded and JSON-parsed, with the trigger metadata', async () => {
    const sent = await queues
      .getQueueClient('echo-in')
      .sendMessage(toBase64(JSON.stringify({ hello: 'world' })));
    const [out] = await drainQueue(queues.getQueueClient('echo-out'), 1);
    const echoed = JSON.parse(fromBase64(out ?? '')) as Record<string, unknown>;
    expect(echoed.message).toEqual({ hello: 'world' });
    expect(echoed.type).toBe('object');
    expect(echoed.dequeueCount).toBe(1);
    expect(echoed.id).toBe(sent.messageId);
    expect(echoed.queueTrigger).toEqual({ hello: 'world' });
    expect(typeof echoed.popReceipt).toBe('string');
    expect(new Date(String(echoed.insertionTime)).getTime()).toBe(sent.insertedOn.getTime());
    expect(new Date(String(echoed.expirationTime)).getTime()).toBe(sent.expiresOn.getTime());
    expect(Number.isNaN(new Date(String(echoed.nextVisibleTime)).getTime())).toBe(false);
    await host.idle();
    const left = await queues.getQueueClient('echo-in').getProperties();
    expect(left.approximateMessagesCount).toBe(0);
  });

  it('passes a plain-text body as a string', async () => {
    await queues.getQueueClient('echo-in').sendMessage(toBase64('just text'));
    const [out] = await drainQueue(queues.getQueueClient('echo-out'), 1);
    const echoed = JSON.parse(fromBase64(out ?? '')) as Record<string, unknown>;
    expect(echoed.message).toBe('just text');
    expect(echoed.type).toBe('string');
  });

  it('retries a failing message with a rising dequeueCount, then moves it to <queue>-poison', async () => {
    const body = toBase64(JSON.stringify({ doomed: true }));
    await queues.getQueueClient('fail-in').sendMessage(body);
    const poisoned = await drainQueue(queues.getQueueClient('fail-in-poison'), 1);
    expect(poisoned).toEqual([body]);
    const attempts = logs.entries
      .filter((e) => e.functionName === 'fails' && e.category === 'user')
      .map((e) => e.message);
    expect(attempts).toEqual([
      'attempt 1 for {"doomed":true}',
      'attempt 2 for {"doomed":true}',
      'attempt 3 for {"doomed":true}',
    ]);
    const moved = logs.entries.find((e) => e.message.includes("Moving message to queue 'fail-in-poison'"));
    expect(moved?.functionName).toBe('fails');
    await host.idle();
    expect((await queues.getQueueClient('fail-in').getProperties()).approximateMessagesCount).toBe(0);
  });

  it('moves a raw (not base64) body straight to poison under the default base64 encoding', async () => {
    await queues.getQueueClient('echo-in').sendMessage('{"raw":true}');
    const poisoned = await drainQueue(queues.getQueueClient('echo-in-poison'), 1);
    expect(poisoned).toEqual(['{"raw":true}']);
    expect(
      logs.entries.some((e) => e.functionName === 'echo' && /could not be decoded/.test(e.message)),
    ).toBe(true);
  });

  it('writes one output message per element of a returned array', async () => {
    await queues.getQueueClient('fanout-in').sendMessage(toBase64(JSON.stringify({ count: 7 })));
    await host.idle();
    const out = await drainQueue(queues.getQueueClient('fanout-out'), 7, 2_000);
    const items = out.map((m) => JSON.parse(fromBase64(m)) as { index: number; of: number });
    expect(items.map((i) => i.index).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(items.every((i) => i.of === 7)).toBe(true);
  });

  it('runs at most batchSize + newBatchThreshold messages of a function at once (host.json 4 + 2)', async () => {
    const gauge = queues.getQueueClient('gauge-in');
    await Promise.all(Array.from({ length: 14 }, () => gauge.sendMessage(toBase64('{"ms":250}'))));
    await host.idle();
    const active = logs.entries
      .filter((e) => e.functionName === 'gauge' && e.message.startsWith('active '))
      .map((e) => Number(e.message.slice('active '.length)));
    expect(active).toHaveLength(14);
    expect(Math.max(...active)).toBeLessThanOrEqual(6);
    // The first batch of four runs together.
    expect(Math.max(...active)).toBeGreaterThanOrEqual(4);
  });

  it('routes context.log lines to the log hook with function name and invocation id', async () => {
    await queues.getQueueClient('echo-in').sendMessage(toBase64('"logged"'));
    await drainQueue(queues.getQueueClient('echo-out'), 1);
    const line = logs.entries.find((e) => e.functionName === 'echo' && e.message.startsWith('echo received'));
    expect(line?.category).toBe('user');
    expect(line?.invocationId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

// host.json messageEncoding "none": bodies reach the handler as written, and outputs are written as text.
describe('local host: messageEncoding none', () => {
  let host: RunningLocalHost;
  let queues: QueueServiceClient;
  const logs = captureLogs();

  beforeAll(async () => {
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
