// Issue 20 on the local Functions host: with several identities (DATAVERSE_CLIENT_IDS), the privilege
// check before any row is written asks each of them, and names the one lacking it by client id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobServiceClient } from '@azure/storage-blob';
import type { RunningEmulator } from '../../emulator/index.js';
import { stableGuid } from '../../emulator/model.js';
import { startLocalApp, type LocalApp } from '../helpers/local-app.js';
import { names } from '../../src/app/runtime.js';
import type { RunSummary } from '../../src/imports/types.js';
import type { BlobObjectStore } from '../../src/storage/blob-store.js';
import { getJson } from '../../src/storage/object-store.js';

describe('privilege preflight over a pool of identities on the local Functions host', () => {
  let app: LocalApp;
  let emulator: RunningEmulator;
  let blobs: BlobServiceClient;
  let results: BlobObjectStore;

  beforeAll(async () => {
    // On a loopback URL each client id is an emulator user.
    app = await startLocalApp({ DATAVERSE_CLIENT_IDS: 'pool-one,pool-two' });
    ({ emulator, blobs, results } = app);
    await app.putJob({
      name: 'pool-accounts',
      table: 'account',
      operation: 'create',
      columns: { Name: 'name' },
      bypass: { customSync: true },
    });
  });
  afterAll(async () => {
    await app?.stop();
  });

  async function waitForRejection(prefix: string, runId: string, timeoutMs = 60_000): Promise<RunSummary> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const summary = await getJson<RunSummary>(results, `${prefix}/${runId}/summary.json`);
      if (summary) return summary;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`run ${runId} was not refused within ${timeoutMs} ms`);
  }

  it('refuses the run naming the identity without the privilege; runs once both hold it', async () => {
    const configure = (privileges: Record<string, Record<string, boolean>>) =>
      fetch(`${emulator.url}/_emulator/configure`, { method: 'POST', body: JSON.stringify({ privileges }) });
    await configure({ 'pool-one': { prvBypassCustomBusinessLogic: true } });
    const incoming = blobs.getContainerClient(names.incoming);
    const refusedRun = await app.drop(incoming, 'pool-accounts/first.csv', 'Name\nOne\nTwo\n');
    const refused = await waitForRejection('pool-accounts/first.csv', refusedRun);
    expect(refused.error?.code).toBe('MissingPrivilege');
    expect(refused.error?.message).toContain(
      `1 of the 2 identities running the import do not hold it (client id pool-two, systemuserid ${stableGuid('systemuser:pool-two')})`,
    );
    expect(refused.error?.message).not.toContain('client id pool-one');
    expect(emulator.store.count('account')).toBe(0);

    await configure({ 'pool-two': { prvBypassCustomBusinessLogic: true } });
    const summary = await app.waitForSummary(
      await app.drop(incoming, 'pool-accounts/second.csv', 'Name\nOne\nTwo\n'),
    );
    expect(summary.rows).toMatchObject({ total: 2, succeeded: 2 });
    expect(emulator.store.count('account')).toBe(2);
  });
});
