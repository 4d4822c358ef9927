import { describe, expect, it } from 'vitest';
import { parseBlobCreated } from '../../../src/imports/blob-event.js';

const event = (url: string, eventType = 'Microsoft.Storage.BlobCreated') => ({
  id: 'e1',
  topic: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/acct',
  subject: '/blobServices/default/containers/incoming/blobs/contacts/a.csv',
  eventType,
  eventTime: '2026-11-26T10:00:00Z',
  dataVersion: '',
  metadataVersion: '1',
  data: { api: 'PutBlob', url, eTag: '0x8DC', contentLength: 42, blobType: 'BlockBlob' },
});

describe('parseBlobCreated', () => {
  it('reads container, blob name and ETag from an Azure blob URL', () => {
    expect(
      parseBlobCreated(event('https://acct.blob.core.windows.net/incoming/contacts/my%20file.csv')),
    ).toEqual({
      url: 'https://acct.blob.core.windows.net/incoming/contacts/my%20file.csv',
      container: 'incoming',
      blobName: 'contacts/my file.csv',
      etag: '0x8DC',
      contentLength: 42,
      eventId: 'e1',
    });
  });

  it('understands Azurite path-style URLs', () => {
    const parsed = parseBlobCreated(event('http://127.0.0.1:10000/devstoreaccount1/incoming/contacts/a.csv'));
    expect(parsed).toMatchObject({ container: 'incoming', blobName: 'contacts/a.csv' });
  });

  it('accepts a CloudEvents envelope and a one-element array', () => {
    const cloud = {
      id: 'c1',
      type: 'Microsoft.Storage.BlobCreated',
      source: 's',
      data: event('https://a.blob.core.windows.net/incoming/j/x.csv').data,
    };
    expect(parseBlobCreated([cloud])).toMatchObject({ blobName: 'j/x.csv', eventId: 'c1' });
  });

  it('ignores other event types and rejects messages that are not events', () => {
    expect(
      parseBlobCreated(
        event('https://a.blob.core.windows.net/incoming/j/x.csv', 'Microsoft.Storage.BlobDeleted'),
      ),
    ).toBeUndefined();
    expect(() => parseBlobCreated({ hello: 'world' })).toThrow('not an Event Grid');
  });
});
