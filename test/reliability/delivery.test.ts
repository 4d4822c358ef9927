import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';
import { onChunkMessage, onImportEvent } from '../../src/app/import-handlers.js';
import { createRuntime } from '../../src/app/runtime.js';
import { loadSettings } from '../../src/config/settings.js';
import { tryFinalize } from '../../src/imports/finalize.js';
import { runPaths } from '../../src/imports/paths.js';
import { blobRunId } from '../helpers/run-ids.js';
import { resultHeaders } from '../../src/imports/result-lines.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import type { ChunkMessage, ChunkResult, RunManifest, RunSummary } from '../../src/imports/types.js';
import { silentLogger } from '../../src/logging.js';
import {
  contactsCsv,
  contactsJob,
  drainConcurrently,
  expectAccountedFor,
  expectStoredOnce,
  readJson,
} from './helpers.js';

const ROWS = 4_000;

describe('at-least-once delivery: duplicates, reordering, racing runs, crashed finalizers', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ profile: 'fast', timeScale: 0.01 }, { IMPORT_CHUNK_SIZE: '500' });
    await stack.putJob(contactsJob);
  });
  beforeEach(() => stack.emulator.store.clear('contact'));
  afterAll(async () => stack?.stop());

  const runIdOf = (event: { data: { url: string; eTag: string } }) =>
    blobRunId(event.data.url, event.data.eTag, stack.emulator.url);

  /** Takes every queued chunk message off the queue (as a broker holding them would). */
  async function takeQueued(): Promise<ChunkMessage[]> {
    const queue = stack.chunkQueue();
    const taken: ChunkMessage[] = [];
    for (;;) {
      const batch = await queue.receiveMessages({ numberOfMessages: 32 });
      if (batch.receivedMessageItems.length === 0) return taken;
      for (const item of batch.receivedMessageItems) {
        taken.push(JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8')) as ChunkMessage);
        await queue.deleteMessage(item.messageId, item.popReceipt);
      }
    }
  }

  async function summaryCount(summary: RunSummary): Promise<number> {
    const folder = summary.errorsFile.slice(0, summary.errorsFile.lastIndexOf('/') + 1);
    let count = 0;
    for await (const path of stack.runtime.results.list(folder))
      if (path.endsWith('summary.json')) count += 1;
    return count;
  }

  it('the same event delivered twice at once plans one run; every row once', async () => {
    const expected = contactsCsv(ROWS, 'twice');
    const event = await stack.dropFile('contacts', 'twice.csv', expected.csv);
    await Promise.all([
      // As the Functions Node library hands it over (parsed) and as text.
      onImportEvent(stack.runtime, event, silentLogger),
      onImportEvent(stack.runtime, JSON.stringify(event), silentLogger),
    ]);
    const drain = await drainConcurrently(stack, { concurrency: 4 });
    const summary = drain.summary!;
    expect(summary.runId).toBe(runIdOf(event));
    await expectAccountedFor(stack, summary, expected, ROWS);
    expect(await summaryCount(summary)).toBe(1);

    // Delivered once more after the run ended: nothing is sent to Dataverse.
    const requests = stack.emulator.stats().requests;
    await onImportEvent(stack.runtime, JSON.stringify(event), silentLogger);
    expect((await stack.chunkQueue().getProperties()).approximateMessagesCount).toBe(0);
    expect(stack.emulator.stats().requests).toBe(requests);
  });

  it('events of two versions of a file delivered newest first: the newer runs, the stale one is skipped', async () => {
    const v1 = contactsCsv(600, 'version', 0);
    const v2 = contactsCsv(900, 'version', 0);
    const old = await stack.dropFile('contacts', 'versions.csv', v1.csv);
    const current = await stack.dropFile('contacts', 'versions.csv', v2.csv);
    await onImportEvent(stack.runtime, JSON.stringify(current), silentLogger);
    const drain = await drainConcurrently(stack);
    expect(drain.summary?.rows.total).toBe(900);
    const requests = stack.emulator.stats().requests;
    // The first upload's event arrives late: its version is gone, so no run starts for it.
    await onImportEvent(stack.runtime, JSON.stringify(old), silentLogger);
    expect((await stack.chunkQueue().getProperties()).approximateMessagesCount).toBe(0);
    expect(await stack.runtime.runs.exists(runPaths.manifest(runIdOf(old)))).toBe(false);
    expect(stack.emulator.stats().requests).toBe(requests);
    expectStoredOnce(stack, 'version', v2.goodEmails);
  });

  it('chunk messages delivered twice, in reverse order and interleaved: one result per chunk, no duplicates', async () => {
    const expected = contactsCsv(ROWS, 'reorder');
    const event = await stack.dropFile('contacts', 'reorder.csv', expected.csv);
    await onImportEvent(stack.runtime, JSON.stringify(event), silentLogger);
    const messages = await takeQueued();
    expect(messages.length).toBe(ROWS / 500);
    // Last chunk first, every message twice, the copies spread apart.
    const reversed = [...messages].reverse();
    for (const message of [...reversed, ...reversed.filter((_, i) => i % 2 === 0), ...messages]) {
      await stack.runtime.chunkQueue.send(message);
    }
    const drain = await drainConcurrently(stack, { concurrency: 6 });
    const summary = drain.summary!;
    await expectAccountedFor(stack, summary, expected, ROWS);
    expect(summary.rows.created).toBe(expected.goodEmails.size);
    expect(await summaryCount(summary)).toBe(1);
  });

  it('two files of the same job with overlapping keys, processed at the same time: each key once', async () => {
    // a.csv has keys 0..2999, b.csv has 1500..4499: 1,500 keys are in both runs.
    const a = contactsCsv(3_000, 'race', 0);
    const bRows = contactsCsv(4_500, 'race', 0);
    const bCsv = [bRows.csv.split('\n')[0], ...bRows.csv.split('\n').slice(1 + 1_500)].join('\n');
    const [eventA, eventB] = [
      await stack.dropFile('contacts', 'race-a.csv', a.csv),
      await stack.dropFile('contacts', 'race-b.csv', bCsv),
    ];
    await Promise.all([
      onImportEvent(stack.runtime, JSON.stringify(eventA), silentLogger),
      onImportEvent(stack.runtime, JSON.stringify(eventB), silentLogger),
    ]);
    // Interleave the two runs' chunks so they write the shared keys concurrently.
    const messages = await takeQueued();
    const runA = messages.filter((m) => m.runId === runIdOf(eventA));
    const runB = messages.filter((m) => m.runId === runIdOf(eventB));
    for (let i = 0; i < Math.max(runA.length, runB.length); i += 1) {
      if (runB[i]) await stack.runtime.chunkQueue.send(runB[i]!);
      if (runA[i]) await stack.runtime.chunkQueue.send(runA[i]!);
    }
    const other = createRuntime(loadSettings(stack.env), stack.env);
    // Two workers (two processes' worth of runtime) drain the queue side by side.
    await Promise.all([
      drainConcurrently(stack, { concurrency: 3 }),
      drainConcurrently(stack, { concurrency: 3, runtime: other }),
    ]);
    await other.client.close();

    const summaries = await Promise.all(
      [eventA, eventB].map(async (event) => {
        const manifest = await readJson<{ resultsPrefix: string }>(
          stack.runtime.runs,
          runPaths.manifest(runIdOf(event)),
        );
        return readJson<RunSummary>(stack.runtime.results, `${manifest!.resultsPrefix}summary.json`);
      }),
    );
    expect(summaries[0]?.rows).toMatchObject({ total: 3_000, failed: 0 });
    expect(summaries[1]?.rows).toMatchObject({ total: 3_000, failed: 0 });
    expectStoredOnce(stack, 'race', bRows.goodEmails);
  });

  it('finalizers that crash mid-finalize, then race: exactly one summary, and it adds up', async () => {
    const expected = contactsCsv(2_000, 'final');
    const event = await stack.dropFile('contacts', 'final.csv', expected.csv);
    const runId = runIdOf(event);
    await onImportEvent(stack.runtime, JSON.stringify(event), silentLogger);

    // Workers whose process dies after errors.csv/records.csv are written but before summary.json.
    const crashing = createRuntime(loadSettings(stack.env), stack.env);
    const realPut = crashing.results.put.bind(crashing.results);
    crashing.results.put = async (path, body, options) => {
      if (path.endsWith('summary.json')) throw new Error('finalizer killed');
      return realPut(path, body, options);
    };
    const messages = await takeQueued();
    for (const message of messages) {
      const attempt = onChunkMessage(crashing, JSON.stringify(message), silentLogger);
      // Only the worker that completes the last chunk finalizes, and it dies doing so.
      if (message === messages.at(-1)) await expect(attempt).rejects.toThrow('finalizer killed');
      else await attempt;
    }
    await crashing.client.close();
    expect(await readJson(stack.runtime.results, `contacts/final.csv/${runId}/summary.json`)).toBeUndefined();
    expect(await stack.runtime.results.exists(`contacts/final.csv/${runId}/errors.csv`)).toBe(true);

    // The last message is redelivered to several workers at once; each one tries to finalize. A
    // loser's result files can be refused while the winner's are committed (storage rejects its
    // block list): it writes again, and if that keeps failing its message is delivered again.
    const racing = await Promise.allSettled(
      Array.from({ length: 5 }, () =>
        onChunkMessage(stack.runtime, JSON.stringify(messages.at(-1)), silentLogger),
      ),
    );
    const finals: (RunSummary | undefined)[] = [];
    for (const attempt of racing) {
      if (attempt.status === 'rejected') expect(String(attempt.reason)).toMatch(/block list/i);
      finals.push(
        attempt.status === 'fulfilled'
          ? attempt.value
          : await onChunkMessage(stack.runtime, JSON.stringify(messages.at(-1)), silentLogger),
      );
    }
    console.info(
      `[reliability] racing finalizers: ${racing.filter((r) => r.status === 'rejected').length} of 5 failed and were redelivered`,
    );
    const first = finals[0]!;
    for (const summary of finals) expect(summary?.finishedAt).toBe(first.finishedAt);
    expect(await summaryCount(first)).toBe(1);
    expect(await tryFinalize(stack.runtime.importDeps(silentLogger), runId)).toEqual(first);
    await expectAccountedFor(stack, first, expected, 2_000);
  });
  /**
   * records.csv and errors.csv are what appending the chunks' stored lines in chunk order gives, byte for
   * byte, whichever way the fan-in built them (joined from parts or appended).
   */
  async function expectResultFilesInChunkOrder(runId: string, summary: RunSummary): Promise<void> {
    const manifest = (await readJson<RunManifest>(stack.runtime.runs, runPaths.manifest(runId)))!;
    const headers = resultHeaders(manifest);
    let records = headers.records;
    let errors = headers.errors;
    for (let chunk = 0; chunk < manifest.chunkCount; chunk += 1) {
      const result = (await readJson<ChunkResult>(stack.runtime.runs, runPaths.chunkResult(runId, chunk)))!;
      records += result.lines.records;
      errors += result.lines.errors;
    }
    expect((await stack.runtime.results.get(summary.recordsFile))?.toString('utf8')).toBe(records);
    expect((await stack.runtime.results.get(summary.errorsFile))?.toString('utf8')).toBe(errors);
  }

  /**
   * Imports 1,000 rows with a runtime whose results store `refuseOnce` adjusts so that its first write of
   * records.csv is refused (as storage refuses a block list); the fan-in must write it again and finish.
   */
  async function refusedOnce(
    name: string,
    refuseOnce: (results: ObjectStore, refuse: (path: string) => void) => void,
  ): Promise<void> {
    const expected = contactsCsv(1_000, name.replace(/\W/g, ''));
    const event = await stack.dropFile('contacts', `${name}.csv`, expected.csv);
    await onImportEvent(stack.runtime, JSON.stringify(event), silentLogger);
    const flaky = createRuntime(loadSettings(stack.env), stack.env);
    let refused = 0;
    refuseOnce(flaky.results, (path) => {
      if (path.endsWith('records.csv') && refused === 0) {
        refused += 1;
        throw new Error('The specified block list is invalid.');
      }
    });
    const drain = await drainConcurrently(stack, { runtime: flaky });
    await flaky.client.close();
    expect(refused).toBe(1);
    expect(drain.failures).toBe(0);
    await expectAccountedFor(stack, drain.summary!, expected, 1_000);
    await expectResultFilesInChunkOrder(runIdOf(event), drain.summary!);
  }

  it('a finalizer whose join of a result file is refused by storage writes it again and finishes', async () => {
    await refusedOnce('refused-join', (results, refuse) => {
      const parts = results.parts!;
      const realJoin = parts.join.bind(parts);
      parts.join = async (path, list, options) => {
        refuse(path);
        return realJoin(path, list, options);
      };
    });
  });

  it('a store that cannot join parts: the fan-in appends the lines, and writes a refused file again', async () => {
    await refusedOnce('refused-file', (results, refuse) => {
      Object.defineProperty(results, 'parts', { value: undefined });
      const realPutStream = results.putStream.bind(results);
      results.putStream = async (path, body, options) => {
        refuse(path);
        return realPutStream(path, body, options);
      };
    });
  });

  it('chunks whose workers stopped before staging their lines, and a part that was replaced: the fan-in stages them from the results', async () => {
    const expected = contactsCsv(2_000, 'unstaged', 250);
    const event = await stack.dropFile('contacts', 'unstaged.csv', expected.csv);
    const runId = runIdOf(event);
    await onImportEvent(stack.runtime, JSON.stringify(event), silentLogger);
    // Workers that die after storing chunks 1 and 2's results, before their lines are staged; the fan-in
    // the last chunk's worker then tries cannot stage them either.
    const dying = createRuntime(loadSettings(stack.env), stack.env);
    const dyingParts = dying.results.parts!;
    const realStage = dyingParts.stage.bind(dyingParts);
    dyingParts.stage = async (path, part, body) => {
      if (part === 2 || part === 3) throw new Error('worker stopped');
      return realStage(path, part, body);
    };
    const messages = (await takeQueued()).sort((a, b) => a.chunk - b.chunk);
    expect(messages.map((m) => m.chunk)).toEqual([0, 1, 2, 3]);
    await onChunkMessage(dying, JSON.stringify(messages[0]), silentLogger);
    for (const message of messages.slice(1)) {
      await expect(onChunkMessage(dying, JSON.stringify(message), silentLogger)).rejects.toThrow(
        'worker stopped',
      );
    }
    await dying.client.close();
    const staged = await Promise.all(
      [0, 1, 2, 3].map((chunk) => stack.runtime.runs.exists(runPaths.chunkParts(runId, chunk))),
    );
    expect(staged).toEqual([true, false, false, true]);
    expect(
      await readJson(stack.runtime.results, `contacts/unstaged.csv/${runId}/summary.json`),
    ).toBeUndefined();
    // Chunk 0's records part replaced by other text after it was marked staged: its size gives it away.
    const manifest = (await readJson<RunManifest>(stack.runtime.runs, runPaths.manifest(runId)))!;
    await stack.runtime.results.parts!.stage(`${manifest.resultsPrefix}records.csv`, 1, 'not,these,lines\n');

    // The failed messages come back: their results exist, so they only try the fan-in.
    const summaries: (RunSummary | undefined)[] = [];
    for (const message of messages.slice(1))
      summaries.push(await onChunkMessage(stack.runtime, JSON.stringify(message), silentLogger));
    const summary = summaries[0];
    for (const other of summaries) expect(other?.finishedAt).toBe(summary?.finishedAt);
    expect(summary?.rows).toMatchObject({ total: 2_000, failed: expected.bad.size });
    await expectAccountedFor(stack, summary!, expected, 2_000);
    await expectResultFilesInChunkOrder(runId, summary!);
  });
});
