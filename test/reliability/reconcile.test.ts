import { stringify } from 'csv-stringify/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onImportEvent, onPoisonedImportEvent } from '../../src/app/import-handlers.js';
import { onReconcileTimer } from '../../src/app/reconcile-handler.js';
import { names } from '../../src/app/runtime.js';
import { inputTags } from '../../src/imports/reconcile.js';
import type { RunSummary } from '../../src/imports/types.js';
import { silentLogger } from '../../src/logging.js';
import { blobRunId } from '../helpers/run-ids.js';
import { startStack, type BlobCreatedEvent, type Stack } from '../helpers/stack.js';

// An event that never arrives (dead-lettered after 24 hours, or lost), a run whose chunk messages are
// gone, a run whose input kept saying "running": the sweep leaves no file in incoming/ without a run
// (issue 16, defect 6).
const job = {
  name: 'people',
  table: 'contact',
  operation: 'upsert',
  key: ['emailaddress1'],
  chunkSize: 50,
  columns: { Email: 'emailaddress1', 'Last Name': 'lastname' },
};
const minutes = (n: number) => new Date(Date.now() + n * 60_000);

describe('the reconciliation sweep (Azurite + emulator)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ profile: 'fast' }, { RECONCILE_AFTER_MINUTES: '15' });
    await stack.putJob(job);
  });
  afterAll(async () => stack?.stop());

  const rows = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => [`${prefix}${i}@example.com`, `${prefix}-${i}`]);
  const csv = (data: string[][]) => stringify([['Email', 'Last Name'], ...data]);
  const runIdOf = (event: BlobCreatedEvent) => blobRunId(event.data.url, event.data.eTag, stack.emulator.url);
  const eventQueue = () => stack.runtime.storage.queues.getQueueClient(names.importEvents);
  const tagsOf = async (name: string) =>
    (await stack.runtime.containers.incoming.getBlobClient(`people/${name}`).getTags()).tags;
  const lastNames = (prefix: string) =>
    stack.emulator.store
      .all('contact')
      .filter((c) => String(c.emailaddress1).startsWith(prefix))
      .map((c) => [c.emailaddress1, c.lastname])
      .sort();
  const expected = (data: string[][]) => [...data].sort();
  const summaryOf = async (event: BlobCreatedEvent, name: string) => {
    const body = await stack.runtime.results.get(`people/${name}/${runIdOf(event)}/summary.json`);
    return body && (JSON.parse(body.toString('utf8')) as RunSummary);
  };

  /** Runs importBlob for every queued event (as the host would), then the chunks they queued. */
  async function drainEvents(): Promise<number> {
    let handled = 0;
    for (;;) {
      const batch = await eventQueue().receiveMessages({ numberOfMessages: 32 });
      if (batch.receivedMessageItems.length === 0) break;
      for (const item of batch.receivedMessageItems) {
        await onImportEvent(
          stack.runtime,
          Buffer.from(item.messageText, 'base64').toString('utf8'),
          silentLogger,
        );
        await eventQueue().deleteMessage(item.messageId, item.popReceipt);
        handled += 1;
      }
    }
    await stack.drainChunks();
    return handled;
  }

  it('starts a file whose event never came, once it is overdue, and the run lands every row', async () => {
    const data = rows('lost', 120);
    const event = await stack.dropFile('people', 'lost.csv', csv(data));

    // Within the grace period the event may still come: the sweep leaves the file alone.
    expect(await onReconcileTimer(stack.runtime, silentLogger, minutes(5))).toMatchObject({ started: 0 });
    const report = await onReconcileTimer(stack.runtime, silentLogger, minutes(20));
    expect(report).toMatchObject({ started: 1, resumed: 0, marked: 0 });
    expect(await drainEvents()).toBe(1);

    expect(lastNames('lost')).toEqual(expected(data));
    expect(await summaryOf(event, 'lost.csv')).toMatchObject({ status: 'succeeded', rows: { total: 120 } });
    expect(await tagsOf('lost.csv')).toMatchObject({
      [inputTags.run]: runIdOf(event),
      [inputTags.status]: 'succeeded',
      [inputTags.etag]: event.data.eTag.replace(/"/g, ''),
    });
    // Done: later sweeps leave it alone.
    expect(await onReconcileTimer(stack.runtime, silentLogger, minutes(600))).toMatchObject({
      started: 0,
      resumed: 0,
      marked: 0,
    });
  });

  it('resumes a run whose chunk messages were lost, and re-queues only the unfinished chunks', async () => {
    const data = rows('stalled', 200);
    const event = await stack.dropFile('people', 'stalled.csv', csv(data));
    await onImportEvent(stack.runtime, JSON.stringify(event), silentLogger);
    // One chunk is written; the other three messages are lost.
    await stack.drainChunks(1);
    await stack.chunkQueue().clearMessages();
    expect(lastNames('stalled')).toHaveLength(50);
    expect(await tagsOf('stalled.csv')).toMatchObject({ [inputTags.status]: 'running' });

    expect(await onReconcileTimer(stack.runtime, silentLogger, minutes(30))).toMatchObject({ resumed: 0 });
    const writes = stack.emulator.stats().recordsWritten;
    expect(await onReconcileTimer(stack.runtime, silentLogger, minutes(120))).toMatchObject({ resumed: 1 });
    await drainEvents();

    expect(stack.emulator.stats().recordsWritten - writes).toBe(150);
    expect(lastNames('stalled')).toEqual(expected(data));
    expect(await summaryOf(event, 'stalled.csv')).toMatchObject({
      status: 'succeeded',
      rows: { total: 200, succeeded: 200, created: 200 },
    });
    expect(await tagsOf('stalled.csv')).toMatchObject({ [inputTags.status]: 'succeeded' });
  });

  it('marks an input whose run ended while its tag said running, without running anything again', async () => {
    const event = await stack.dropFile('people', 'ended.csv', csv(rows('ended', 10)));
    await stack.importEvent(event);
    // The final marking was lost (it is best effort): the tag still says running.
    await stack.runtime.containers.incoming.getBlobClient('people/ended.csv').setTags({
      [inputTags.run]: runIdOf(event),
      [inputTags.status]: 'running',
      [inputTags.at]: new Date().toISOString(),
      [inputTags.etag]: event.data.eTag.replace(/"/g, ''),
    });
    const requests = stack.emulator.stats().requests;
    expect(await onReconcileTimer(stack.runtime, silentLogger, minutes(120))).toMatchObject({
      started: 0,
      resumed: 0,
      marked: 1,
    });
    expect((await eventQueue().getProperties()).approximateMessagesCount).toBe(0);
    expect(stack.emulator.stats().requests).toBe(requests);
    expect(await tagsOf('ended.csv')).toMatchObject({ [inputTags.status]: 'succeeded' });
  });

  it('leaves a file whose event poisoned: it has its failed summary and is marked failed', async () => {
    const event = await stack.dropFile('people', 'poisoned.csv', csv(rows('poisoned', 5)));
    await onPoisonedImportEvent(stack.runtime, JSON.stringify(event), silentLogger);
    expect(await summaryOf(event, 'poisoned.csv')).toMatchObject({
      status: 'failed',
      error: { code: 'PlanFailed' },
    });
    expect(await tagsOf('poisoned.csv')).toMatchObject({ [inputTags.status]: 'failed' });
    expect(await onReconcileTimer(stack.runtime, silentLogger, minutes(600))).toMatchObject({
      started: 0,
      resumed: 0,
      marked: 0,
    });
    expect(lastNames('poisoned')).toEqual([]);
  });
});
