// Issue 20's import operations through the Functions app on the local host (Azurite + emulator), the
// way Azure runs them: a job in the `jobs` container, a file dropped in incoming/, Event Grid's event,
// queue-triggered chunk workers, results in the results container.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobServiceClient } from '@azure/storage-blob';
import { type RunningEmulator } from '../../emulator/index.js';
import { startLocalApp, type LocalApp } from '../helpers/local-app.js';
import { names } from '../../src/app/runtime.js';
import type { RunSummary } from '../../src/imports/types.js';
import type { BlobObjectStore } from '../../src/storage/blob-store.js';

describe('issue 20 operations on the local Functions host', () => {
  let app: LocalApp;
  let emulator: RunningEmulator;
  let blobs: BlobServiceClient;
  let results: BlobObjectStore;

  beforeAll(async () => {
    app = await startLocalApp({ IMPORT_CHUNK_SIZE: '200' });
    ({ emulator, blobs, results } = app);
  });

  afterAll(async () => {
    await app?.stop();
  });

  const waitForSummary = (runId: string, timeoutMs?: number) => app.waitForSummary(runId, timeoutMs);
  const putJob = (job: Record<string, unknown>) => app.putJob(job);
  const drop = (name: string, body: string) => app.drop(blobs.getContainerClient(names.incoming), name, body);

  async function errorsOf(summary: RunSummary): Promise<string> {
    const body = await results.get(summary.errorsFile);
    return body?.toString('utf8') ?? '';
  }

  it('associate: a file of (list, email) pairs over several chunks links every pair, idempotently', async () => {
    const list = emulator.store.put('list', { listname: 'Host Members', createdfromcode: 2 });
    const contacts = Array.from({ length: 450 }, (_, i) =>
      emulator.store.put('contact', { emailaddress1: `member${i}@example.com`, lastname: `M${i}` }),
    );
    await putJob({
      name: 'host-list-members',
      table: 'list',
      operation: 'associate',
      relationship: 'listcontact_association',
      columns: {
        List: 'listname',
        Email: { attribute: 'contactid', lookup: 'contact', by: 'emailaddress1' },
      },
    });
    const lines = ['List,Email', ...contacts.map((_, i) => `Host Members,member${i}@example.com`)];
    lines.push('Host Members,stranger@example.com');
    const runId = await drop('host-list-members/members.csv', `${lines.join('\n')}\n`);
    const summary = await waitForSummary(runId);
    expect(summary.chunks).toBe(3);
    expect(summary.rows).toMatchObject({ total: 451, succeeded: 450, failed: 1, associated: 450 });
    expect(emulator.store.related('list', list, 'listcontact_association')).toEqual([...contacts].sort());
    expect(await errorsOf(summary)).toContain(
      'no contact has emailaddress1 ""stranger@example.com"" (column ""Email"")',
    );

    // The same pairs under another name (a new run): the links exist, so they are unchanged, not failed.
    const again = await waitForSummary(
      await drop('host-list-members/members-again.csv', `${lines.join('\n')}\n`),
    );
    expect(again.rows).toMatchObject({ total: 451, succeeded: 450, failed: 1, unchanged: 450 });
    expect(emulator.store.related('list', list, 'listcontact_association')).toHaveLength(450);
  });

  it('file column: a cell names a blob in the job folder; it is uploaded after its row, a missing one fails its row', async () => {
    const guid = (n: number) => `00000000-0000-4000-9000-${String(n).padStart(12, '0')}`;
    await putJob({
      name: 'host-documents',
      table: 'dvp_sample',
      operation: 'create',
      columns: { Id: 'dvp_sampleid', Name: 'dvp_name', Document: 'dvp_document' },
    });
    const incoming = blobs.getContainerClient(names.incoming);
    const contract = Buffer.from('contract body bytes');
    await incoming.getBlockBlobClient('host-documents/docs/contract.pdf').upload(contract, contract.length);
    const runId = await drop(
      'host-documents/documents.csv',
      `Id,Name,Document\n${guid(1)},One,docs/contract.pdf\n${guid(2)},Two,docs/absent.pdf\n`,
    );
    const summary = await waitForSummary(runId);
    expect(summary.rows).toMatchObject({ total: 2, succeeded: 1, failed: 1, created: 1 });
    const stored = emulator.store.file('dvp_sample', guid(1), 'dvp_document');
    expect(stored?.name).toBe('contract.pdf');
    expect(stored?.bytes.equals(contract)).toBe(true);
    expect(emulator.store.get('dvp_sample', guid(2))).toBeUndefined();
    expect(await errorsOf(summary)).toContain(
      'file ""docs/absent.pdf"" not found (incoming/host-documents/docs/absent.pdf); nothing was written for this row',
    );
  });

  it('elastic table: a record the service refuses fails its row only; its neighbours are written', async () => {
    const guid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
    emulator.store.put('contoso_sensordata', { contoso_sensordataid: guid(123), contoso_name: 'existing' });
    await putJob({
      name: 'host-readings',
      table: 'contoso_sensordata',
      operation: 'create',
      columns: { Id: 'contoso_sensordataid', Device: 'contoso_deviceid', Value: 'contoso_value' },
    });
    const lines = ['Id,Device,Value'];
    for (let i = 0; i < 500; i += 1) lines.push(`${guid(i)},dev-${i % 5},${i}`);
    const before = emulator.recentLog().length;
    const summary = await waitForSummary(await drop('host-readings/readings.csv', `${lines.join('\n')}\n`));
    expect(summary.rows).toMatchObject({ total: 500, succeeded: 499, failed: 1, created: 499 });
    expect(await errorsOf(summary)).toContain(`${guid(123)},dev-3,123,125,RecordExists`);
    expect(emulator.store.get('contoso_sensordata', guid(122))?.contoso_value).toBe(122);
    expect(emulator.store.get('contoso_sensordata', guid(124))?.contoso_value).toBe(124);
    const bulk = emulator
      .recentLog()
      .slice(before)
      .filter((e) => e.url.endsWith('contoso_sensordatas/Microsoft.Dynamics.CRM.CreateMultiple'));
    expect(bulk.every((e) => (e.records ?? 0) <= 100)).toBe(true);
  });
});
