import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { startAzurite, type RunningAzurite } from '../../../dev/azurite.js';

describe('startAzurite', () => {
  let azurite: RunningAzurite;
  beforeAll(async () => {
    azurite = await startAzurite();
  });
  afterAll(async () => {
    await azurite?.stop();
  });

  it('listens on free loopback ports and serves blobs and queues', async () => {
    expect(azurite.blobEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/);
    const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const container = blobs.getContainerClient('probe');
    await container.create();
    await container.getBlockBlobClient('a.txt').upload('hello', 5);
    const text = (await container.getBlobClient('a.txt').downloadToBuffer()).toString();
    expect(text).toBe('hello');

    const queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
    const queue = queues.getQueueClient('probe');
    await queue.create();
    await queue.sendMessage(Buffer.from('{"n":1}').toString('base64'));
    const received = await queue.receiveMessages();
    expect(received.receivedMessageItems[0]?.dequeueCount).toBe(1);
  });
});
