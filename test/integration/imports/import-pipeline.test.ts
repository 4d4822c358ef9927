import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { startStack, statusOf, type Stack } from '../../helpers/stack.js';
import type { RunSummary } from '../../../src/imports/types.js';
import { createRuntime } from '../../../src/app/runtime.js';
import { loadSettings } from '../../../src/config/settings.js';
import type { ObjectStore } from '../../../src/storage/object-store.js';
import { designColumns } from '../../fixtures/design-job.js';

const contactsJob = {
  name: 'contacts',
  table: 'contact',
  operation: 'upsert',
  key: ['emailaddress1'],
  columns: {
    ...designColumns,
    'Credit Limit': 'creditlimit',
    'Do Not Email': 'donotemail',
  },
};

const header = [
  'Email',
  'First Name',
  'Last Name',
  'Company',
  'Contact Method',
  'Birthday',
  'Credit Limit',
  'Do Not Email',
];
const good = (i: number) => [
  `person${i}@example.com`,
  `First${i}`,
  `Last${i}`,
  `ACC-${i % 20}`,
  'Email',
  '1980-05-17',
  '1000.50',
  'no',
];

/** Ten kinds of bad row, each with the code the pipeline must report for it. */
const badKinds: { code: string; make: (i: number) => string[] }[] = [
  { code: 'BadDate', make: (i) => withCell(good(i), 5, '1980-02-31') },
  { code: 'BadChoice', make: (i) => withCell(good(i), 4, 'Telegraph') },
  { code: 'LookupNotFound', make: (i) => withCell(good(i), 3, 'ACC-404') },
  { code: 'StringTooLong', make: (i) => withCell(good(i), 2, 'x'.repeat(51)) },
  { code: 'MissingKey', make: (i) => withCell(good(i), 0, '') },
  { code: 'OutOfRange', make: (i) => withCell(good(i), 6, '-1') },
  { code: 'NotANumber', make: (i) => withCell(good(i), 6, 'lots') },
  { code: 'NotABoolean', make: (i) => withCell(good(i), 7, 'perhaps') },
  { code: 'RaggedRow', make: (i) => [...good(i), 'surplus'] },
  // A later row repeats this row's key: with lastWins this (earlier) row is superseded, not failed.
  { code: 'superseded', make: (i) => good(i) },
];

function withCell(row: string[], index: number, value: string): string[] {
  const copy = [...row];
  copy[index] = value;
  return copy;
}

interface Generated {
  csv: string;
  expectedFailures: Map<number, string>;
  superseded: Set<number>;
  goodEmails: Set<string>;
}

function generate(total: number, badEvery: number): Generated {
  const rows: string[][] = [];
  const expectedFailures = new Map<number, string>();
  const superseded = new Set<number>();
  const goodEmails = new Set<string>();
  const duplicates: { earlierRow: number; values: string[] }[] = [];
  for (let i = 0; i < total; i += 1) {
    const rowNumber = i + 2;
    if (i > 0 && i % badEvery === 0) {
      const kind = badKinds[(i / badEvery) % badKinds.length]!;
      rows.push(kind.make(i));
      if (kind.code === 'superseded') {
        superseded.add(rowNumber);
        duplicates.push({ earlierRow: rowNumber, values: good(i) });
      } else expectedFailures.set(rowNumber, kind.code);
      continue;
    }
    // Repeat each duplicate's key a little later; this later row wins.
    const pending = duplicates.find((d) => rowNumber === d.earlierRow + 7);
    const values = pending ? withCell(pending.values, 1, 'Winner') : good(i);
    rows.push(values);
    goodEmails.add(values[0]!);
  }
  return { csv: stringify([header, ...rows]), expectedFailures, superseded, goodEmails };
}

async function readCsv(store: ObjectStore, path: string): Promise<Record<string, string>[]> {
  const body = await store.get(path);
  return parse(body ?? '', { columns: true, bom: true, relax_column_count: true }) as Record<
    string,
    string
  >[];
}

describe('CSV import through the functions handlers (Azurite + emulator)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ profile: 'fast' });
    await stack.putJob(contactsJob);
    for (let i = 0; i < 20; i += 1)
      stack.emulator.store.put('account', { name: `Account ${i}`, accountnumber: `ACC-${i}` });
  });
  afterAll(async () => stack?.stop());

  it('imports 25,000 rows with 10 kinds of bad rows: counts add up, every bad row explained, every good row once', async () => {
    const total = 25_000;
    const { csv, expectedFailures, superseded, goodEmails } = generate(total, 500);
    const event = await stack.dropFile('contacts', 'big.csv', csv);
    const summary = (await stack.importEvent(event)) as RunSummary;

    expect(summary.rows.total).toBe(total);
    expect(summary.rows.succeeded + summary.rows.failed).toBe(total);
    expect(summary.rows.failed).toBe(expectedFailures.size);
    expect(new Set(expectedFailures.values()).size).toBe(9);
    expect(summary.rows.superseded).toBe(superseded.size);
    expect(superseded.size).toBeGreaterThan(0);
    const records = await readCsv(stack.runtime.results, summary.recordsFile);
    expect(records.filter((r) => r.status === 'superseded').map((r) => Number(r.row))).toEqual([
      ...superseded,
    ]);

    const errors = await readCsv(stack.runtime.results, summary.errorsFile);
    expect(errors).toHaveLength(expectedFailures.size);
    for (const error of errors) {
      expect(expectedFailures.get(Number(error.row)), `row ${error.row}: ${error.message}`).toBe(error.code);
      expect(error.message).not.toBe('');
    }

    const stored = stack.emulator.store.all('contact');
    const emails = stored.map((row) => String(row.emailaddress1));
    expect(new Set(emails).size).toBe(emails.length);
    expect(new Set(emails)).toEqual(goodEmails);
    const winner = stored.find((row) => row.firstname === 'Winner');
    expect(winner).toBeDefined();

    const status = await statusOf(stack, summary.runId);
    expect(status?.state).toBe('completedWithErrors');
  });

  it('writes nothing new when the same blob version is delivered again', async () => {
    const { csv } = generate(2_000, 400);
    const event = await stack.dropFile('contacts', 'again.csv', csv);
    const first = (await stack.importEvent(event)) as RunSummary;
    const writesBefore = stack.emulator.stats().recordsWritten;
    const requestsBefore = stack.emulator.stats().requests;

    const second = await stack.importEvent(event);
    expect(second).toBeUndefined();
    const chunksLeft = await stack.chunkQueue().getProperties();
    expect(chunksLeft.approximateMessagesCount).toBe(0);
    expect(stack.emulator.stats().recordsWritten).toBe(writesBefore);
    expect(stack.emulator.stats().requests).toBe(requestsBefore);
    const status = await statusOf(stack, first.runId);
    expect(status?.summary?.finishedAt).toBe(first.finishedAt);
  });

  it('resumes a run whose worker died mid-chunk (after writing, before storing the result) without duplicates', async () => {
    await stack.putJob({ ...contactsJob, name: 'newcontacts', operation: 'create', key: undefined });
    const rows = Array.from({ length: 3_000 }, (_, i) => withCell(good(100_000 + i), 3, 'ACC-1'));
    const event = await stack.dropFile('newcontacts', 'crash.csv', stringify([header, ...rows]));
    const before = stack.emulator.store.count('contact');

    // A worker whose run store refuses to save chunk results: it writes its rows to Dataverse, then dies.
    const crashing = createRuntime(loadSettings(stack.env), stack.env);
    const realPut = crashing.runs.put.bind(crashing.runs);
    crashing.runs.put = async (path, body, options) => {
      if (/\/results\/\d+\.json$/.test(path)) throw new Error('worker killed');
      return realPut(path, body, options);
    };
    const { onImportEvent } = await import('../../../src/app/import-handlers.js');
    const { silentLogger } = await import('../../../src/logging.js');
    await onImportEvent(stack.runtime, JSON.stringify(event), silentLogger);
    await stack.drainChunks(1);
    await expect(stack.drainChunks(1, crashing)).rejects.toThrow('worker killed');
    expect(stack.emulator.store.count('contact')).toBeGreaterThan(before + 1_000);

    // The message becomes visible again after its visibility timeout; here we resend it, as the queue would.
    const { runs } = stack.runtime;
    const manifestPaths: string[] = [];
    for await (const path of runs.list('')) if (path.endsWith('manifest.json')) manifestPaths.push(path);
    const runId = await findRunId(stack, 'crash.csv', manifestPaths);
    const pending = (await statusOf(stack, runId))!;
    for (let chunk = 0; chunk < pending.chunks.total; chunk += 1) {
      if (!(await runs.exists(`${runId}/results/${String(chunk).padStart(5, '0')}.json`))) {
        await stack.runtime.chunkQueue.send({ runId, chunk });
      }
    }
    const summary = (await stack.drainChunks()) as RunSummary;
    expect(summary.rows).toMatchObject({ total: 3_000, succeeded: 3_000, failed: 0, created: 3_000 });
    expect(stack.emulator.store.count('contact')).toBe(before + 3_000);
  });
});

describe('an import event that poisons', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ profile: 'fast' });
    await stack.putJob(contactsJob);
  });
  afterAll(async () => stack?.stop());

  it('still gives the file a failed summary saying why, and leaves planned runs alone', async () => {
    const { onPoisonedImportEvent } = await import('../../../src/app/import-handlers.js');
    const { silentLogger } = await import('../../../src/logging.js');
    const { blobRunId } = await import('../../helpers/run-ids.js');
    const event = await stack.dropFile('contacts', 'never-planned.csv', generate(10, 1000).csv);
    await onPoisonedImportEvent(stack.runtime, JSON.stringify(event), silentLogger);
    const runId = blobRunId(event.data.url, event.data.eTag, stack.emulator.url);
    const summary = await stack.runtime.results.get(`contacts/never-planned.csv/${runId}/summary.json`);
    expect(JSON.parse(summary!.toString('utf8'))).toMatchObject({
      runId,
      status: 'failed',
      error: { code: 'PlanFailed' },
    });

    const planned = await stack.dropFile('contacts', 'planned.csv', generate(10, 1000).csv);
    const done = (await stack.importEvent(planned)) as RunSummary;
    await onPoisonedImportEvent(stack.runtime, JSON.stringify(planned), silentLogger);
    const after = await stack.runtime.results.get(`contacts/planned.csv/${done.runId}/summary.json`);
    // The run that was planned keeps its own summary (its rows failed on lookups here: no accounts).
    expect(JSON.parse(after!.toString('utf8'))).toEqual(done);
    expect(done.error).toBeUndefined();
  });
});

async function findRunId(stack: Stack, name: string, manifests: string[]): Promise<string> {
  for (const path of manifests) {
    const body = await stack.runtime.runs.get(path);
    const manifest = JSON.parse(body!.toString('utf8')) as { runId: string; input: { name: string } };
    if (manifest.input.name === name) return manifest.runId;
  }
  throw new Error(`no run for ${name}`);
}
