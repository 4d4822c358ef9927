import { describe, expect, it } from 'vitest';
import { resolveConnection } from '../../../dev/connections.js';
import { isDevHostError } from '../../../dev/errors.js';

describe('resolveConnection', () => {
  it('uses AzureWebJobsStorage when the binding names no connection', () => {
    expect(resolveConnection(undefined, { AzureWebJobsStorage: 'UseDevelopmentStorage=true' })).toEqual({
      kind: 'connectionString',
      setting: 'AzureWebJobsStorage',
      connectionString: 'UseDevelopmentStorage=true',
    });
  });

  it('tries AzureWebJobs<name> before <name>, as the host does', () => {
    const both = { Storage: 'A', AzureWebJobsStorage: 'B' };
    expect(resolveConnection('Storage', both)).toMatchObject({
      setting: 'AzureWebJobsStorage',
      connectionString: 'B',
    });
    expect(resolveConnection('Storage', { Storage: 'A' })).toMatchObject({
      setting: 'Storage',
      connectionString: 'A',
    });
    expect(resolveConnection('Storage', { AzureWebJobsStorage: 'B' })).toMatchObject({
      setting: 'AzureWebJobsStorage',
      connectionString: 'B',
    });
  });

  it('reads identity-based connections from <name>__ settings', () => {
    expect(
      resolveConnection('Storage', {
        Storage__queueServiceUri: 'https://acct.queue.core.windows.net',
        Storage__blobServiceUri: 'https://acct.blob.core.windows.net',
        Storage__clientId: '00000000-0000-0000-0000-000000000001',
      }),
    ).toEqual({
      kind: 'identity',
      setting: 'Storage',
      queueServiceUri: 'https://acct.queue.core.windows.net',
      blobServiceUri: 'https://acct.blob.core.windows.net',
      clientId: '00000000-0000-0000-0000-000000000001',
    });
    expect(resolveConnection('Storage', { Storage__accountName: 'acct' })).toMatchObject({
      kind: 'identity',
      queueServiceUri: 'https://acct.queue.core.windows.net',
      blobServiceUri: 'https://acct.blob.core.windows.net',
    });
  });

  it('names the settings it tried when nothing is configured', () => {
    let caught: unknown;
    try {
      resolveConnection('Storage', { Other: 'x' });
    } catch (error) {
      caught = error;
    }
    expect(isDevHostError(caught)).toBe(true);
    expect((caught as Error).message).toMatch(/AzureWebJobsStorage or Storage/);
  });
});
