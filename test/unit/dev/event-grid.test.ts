import { describe, expect, it } from 'vitest';
import { bareEtag, buildBlobCreatedEvent, encodeEventForQueue } from '../../../dev/event-grid.js';

const input = {
  accountName: 'devstoreaccount1',
  container: 'incoming',
  api: 'PutBlob',
  sequencer: '0000000000000000000000000000002a',
  eventTime: new Date('2026-11-26T10:00:00.000Z'),
  blob: {
    name: 'contacts/2026-11.csv',
    etag: '0x8DE0000000000001',
    url: 'http://127.0.0.1:10000/devstoreaccount1/incoming/contacts/2026-11.csv',
    contentType: 'text/csv',
    contentLength: 1234,
    blobType: 'BlockBlob',
  },
};

describe('buildBlobCreatedEvent', () => {
  it('fills the EventGridEvent schema from the blob', () => {
    const event = buildBlobCreatedEvent(input);
    expect(event).toMatchObject({
      topic:
        '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/' +
        'Microsoft.Storage/storageAccounts/devstoreaccount1',
      subject: '/blobServices/default/containers/incoming/blobs/contacts/2026-11.csv',
      eventType: 'Microsoft.Storage.BlobCreated',
      dataVersion: '',
      metadataVersion: '1',
      eventTime: '2026-11-26T10:00:00.000Z',
      data: {
        api: 'PutBlob',
        eTag: '0x8DE0000000000001',
        contentType: 'text/csv',
        contentLength: 1234,
        blobType: 'BlockBlob',
        url: input.blob.url,
        sequencer: '0000000000000000000000000000002a',
      },
    });
  });

  it('gives every event its own ids', () => {
    const a = buildBlobCreatedEvent(input);
    const b = buildBlobCreatedEvent(input);
    expect(a.id).not.toBe(b.id);
    expect(a.data.requestId).not.toBe(b.data.requestId);
  });

  it('encodes one event per message as base64 JSON', () => {
    const event = buildBlobCreatedEvent(input);
    expect(JSON.parse(Buffer.from(encodeEventForQueue(event), 'base64').toString('utf8'))).toEqual(event);
  });
});

describe('bareEtag', () => {
  it('strips the quotes of an ETag header value and leaves a bare one alone', () => {
    expect(bareEtag('"0x1"')).toBe('0x1');
    expect(bareEtag('0x1')).toBe('0x1');
  });
});
