import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../../dev/azurite.js';
import { BlobCreatedWatcher, type EventGridEvent } from '../../../dev/event-grid.js';
import { startLocalHost, type RunningLocalHost } from '../../../dev/host.js';
import { HostLogger } from '../../../dev/log.js';
import { captureLogs, drainQueue, fixtureApp, fromBase64, QUIET_SCHEDULE } from './helpers.js';

describe('local host: Event Grid BlobCreated emulation', () => {
  let azurite: RunningAzurite;
  let host: RunningLocalHost;
  let blobs: BlobServiceClient;
  let queues: QueueServiceClient;
  const logs = captureLogs();
  const decode = (message: string): EventGridEvent => JSON.parse(fromBase64(message)) as EventGridEvent;

  beforeAll(async () => {
    azurite = await startAzurite();
    blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
    queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
    const incoming = blobs.getContainerClient('incoming');
    await incoming.create();
    await incoming.getBlockBlobClient('before/start.csv').upload('a\n1\n', 4);
    host = await startLocalHost({
      appRoot: fixtureApp,
      settings: { AzureWebJobsStorage: azurite.connectionString, TICK_SCHEDULE: QUIET_SCHEDULE },
      eventGrid: { container: 'incoming', queue: 'import-events', pollIntervalMs: 100 },
      log: logs.log,
    });
  });

  afterAll(async () => {
    await host?.stop();
    await azurite?.stop();
  });

  it('emits one event for a blob that was there when the host started', async () => {
    const [message] = await drainQueue(queues.getQueueClient('import-events'), 1);
    expect(decode(message ?? '').subject).toBe(
      '/blobServices/default/containers/incoming/blobs/before/start.csv',
    );
  });

  it('writes exactly one base64 BlobCreated event per new blob, in the EventGridEvent schema', async () => {
    const blob = blobs.getContainerClient('incoming').getBlockBlobClient('contacts/new file.csv');
    const body = 'Email,First Name\na@example.com,Ann\n';
    const uploaded = await blob.upload(body, Buffer.byteLength(body), {
      blobHTTPHeaders: { blobContentType: 'text/csv' },
    });
    const [message, ...extra] = await drainQueue(queues.getQueueClient('import-events'), 1);
    // More scans must not repeat the event.
    await host.idle();
    await host.idle();
    extra.push(...(await drainQueue(queues.getQueueClient('import-events'), 1, 500)));
    expect(extra).toEqual([]);

    const event = decode(message ?? '');
    expect(event).toMatchObject({
      topic: expect.stringMatching(/\/providers\/Microsoft\.Storage\/storageAccounts\/devstoreaccount1$/),
      subject: '/blobServices/default/containers/incoming/blobs/contacts/new file.csv',
      eventType: 'Microsoft.Storage.BlobCreated',
      dataVersion: '',
      metadataVersion: '1',
      data: {
        api: 'PutBlob',
        // Event Grid carries the ETag without the header's quotes.
        eTag: uploaded.etag?.replace(/"/g, ''),
        contentType: 'text/csv',
        contentLength: Buffer.byteLength(body),
        blobType: 'BlockBlob',
        url: blob.url,
      },
    });
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.data.sequencer).toMatch(/^[0-9a-f]{32}$/);
    expect(event.data.storageDiagnostics.batchId).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Date(event.eventTime).getTime()).toBe(uploaded.lastModified?.getTime());
  });

  it('emits another event when the same name is written again with a new ETag', async () => {
    const blob = blobs.getContainerClient('incoming').getBlockBlobClient('again.csv');
    const first = await blob.upload('x\n1\n', 4);
    const second = await drainQueue(queues.getQueueClient('import-events'), 1).then(async (one) => {
      const rewritten = await blob.upload('x\n2\n', 4);
      return { one, rewritten, two: await drainQueue(queues.getQueueClient('import-events'), 1) };
    });
    const events = [...second.one, ...second.two].map(decode);
    expect(events.map((e) => `"${e.data.eTag}"`)).toEqual([first.etag, second.rewritten.etag]);
    expect(first.etag).not.toBe(second.rewritten.etag);
    expect(events[0]?.data.sequencer.localeCompare(events[1]?.data.sequencer ?? '')).toBe(-1);
  });

  it('reports a block-list commit as PutBlockList', async () => {
    const blob = blobs.getContainerClient('incoming').getBlockBlobClient('blocks.csv');
    const id = Buffer.from('block-0').toString('base64');
    await blob.stageBlock(id, 'h\n1\n', 4);
    await blob.commitBlockList([id]);
    const [message] = await drainQueue(queues.getQueueClient('import-events'), 1);
    expect(decode(message ?? '').data.api).toBe('PutBlockList');
  });

  it('with includeExisting false, emits only for blobs written after the watcher started', async () => {
    const incoming = blobs.getContainerClient('incoming');
    const events = queues.getQueueClient('later-events');
    const watcher = new BlobCreatedWatcher({
      container: incoming,
      queue: events,
      pollIntervalMs: 60_000,
      includeExisting: false,
      logger: new HostLogger(() => {}),
    });
    await watcher.start();
    try {
      await incoming.getBlockBlobClient('after-start.csv').upload('a\n', 2);
      await watcher.scanOnce();
      const subjects = (await drainQueue(events, 2, 500)).map((m) => decode(m).subject);
      expect(subjects).toEqual(['/blobServices/default/containers/incoming/blobs/after-start.csv']);
    } finally {
      await watcher.stop();
    }
  });
});
