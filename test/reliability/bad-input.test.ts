import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type BlobCreatedEvent, type Stack } from '../helpers/stack.js';
import { onImportEvent } from '../../src/app/import-handlers.js';
import { blobRunId } from '../helpers/run-ids.js';
import type { RunSummary } from '../../src/imports/types.js';
import { silentLogger } from '../../src/logging.js';
import { contactsJob, drainConcurrently, readCsv, readJson } from './helpers.js';

const csvCorpus = (name: string) => readFileSync(new URL(`../fixtures/csv/${name}`, import.meta.url));
const ownCorpus = (name: string) => readFileSync(new URL(`../fixtures/reliability/${name}`, import.meta.url));

interface Outcome {
  summary: RunSummary;
  errors: Record<string, string>[];
}

describe('the bad-input corpus through the real handlers: a clear error in the result files, never a crash', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ profile: 'fast', timeScale: 0.01 }, { IMPORT_CHUNK_SIZE: '500' });
    await stack.putJob(contactsJob);
  });
  afterAll(async () => stack?.stop());

  /** Finds the run's summary wherever the product put it (job folder, or _rejected/ for untrusted names). */
  async function outcomeOf(event: BlobCreatedEvent): Promise<Outcome> {
    const runId = blobRunId(event.data.url, event.data.eTag, stack.emulator.url);
    for await (const path of stack.runtime.results.list('')) {
      if (path.endsWith(`/${runId}/summary.json`)) {
        const summary = (await readJson<RunSummary>(stack.runtime.results, path))!;
        return { summary, errors: await readCsv(stack.runtime.results, summary.errorsFile) };
      }
    }
    throw new Error(`no summary for run ${runId} (${event.subject})`);
  }

  /** importBlob then the chunk queue: neither may throw, whatever the file holds. */
  async function process(event: BlobCreatedEvent): Promise<Outcome> {
    await expect(onImportEvent(stack.runtime, JSON.stringify(event), silentLogger)).resolves.toBeUndefined();
    const drain = await drainConcurrently(stack, { maxDequeueCount: 1 });
    expect(drain.failures, 'no chunk attempt failed').toBe(0);
    return outcomeOf(event);
  }

  const importFile = async (name: string, body: Buffer | string, job = 'contacts') =>
    process(await stack.dropFile(job, name, body));

  it('an empty file fails with EmptyFile; a file of blank lines fails naming the missing columns', async () => {
    const empty = await importFile('empty.csv', csvCorpus('empty.csv'));
    expect(empty.summary.error?.code).toBe('EmptyFile');
    expect(empty.summary.error?.message).toMatch(/empty/);
    expect(empty.errors[0]?.code).toBe('EmptyFile');
    const blank = await importFile('only-newlines.csv', ownCorpus('only-newlines.csv'));
    expect(blank.summary.error?.code).toBe('MissingColumns');
    expect(blank.summary.error?.message).toMatch(/Email/);
    expect(blank.errors[0]?.code).toBe('MissingColumns');
  });

  it('a header only: a run of zero rows that says so', async () => {
    const { summary, errors } = await importFile('header-only.csv', csvCorpus('header-only.csv'));
    expect(summary.rows).toMatchObject({ total: 0, succeeded: 0, failed: 0 });
    expect(errors).toEqual([]);
  });

  it('a BOM, mixed CRLF/LF/CR and quoted newlines are read, not failed', async () => {
    const bom = await importFile('bom.csv', csvCorpus('bom.csv'));
    expect(bom.summary.rows.failed).toBe(0);
    expect(bom.summary.rows.total).toBeGreaterThan(0);
    const mixed = await importFile('mixed-line-endings.csv', csvCorpus('mixed-line-endings.csv'));
    expect(mixed.summary.rows).toMatchObject({ total: 4, failed: 0 });
    const quoted = await importFile('quoted-newlines.csv', csvCorpus('quoted-newlines.csv'));
    expect(quoted.summary.rows).toMatchObject({ total: 3, failed: 0 });
    const ada = stack.emulator.store.all('contact').find((c) => c.emailaddress1 === 'ada@example.com');
    expect(String(ada?.firstname)).toMatch(/^Ada\r?\nAugusta$/);
  });

  it('an unbalanced quote fails the file naming the row; nothing is written', async () => {
    const before = stack.emulator.stats().recordsWritten;
    const { summary } = await importFile('unbalanced-quotes.csv', csvCorpus('unbalanced-quotes.csv'));
    expect(summary.error?.code).toBe('UnclosedQuote');
    expect(summary.error?.message).toContain('row 3');
    expect(stack.emulator.stats().recordsWritten).toBe(before);
  });

  it('ragged rows fail one by one with their row numbers; the other rows are written', async () => {
    const { summary, errors } = await importFile('ragged-rows.csv', csvCorpus('ragged-rows.csv'));
    expect(errors.map((e) => [e.row, e.code])).toEqual([
      ['3', 'RaggedRow'],
      ['4', 'RaggedRow'],
    ]);
    expect(summary.rows).toMatchObject({ total: 4, succeeded: 2, failed: 2 });
  });

  it('the wrong delimiter fails the file with a hint at the delimiter', async () => {
    const { summary } = await importFile('wrong-delimiter.csv', csvCorpus('wrong-delimiter.csv'));
    expect(summary.error?.code).toBe('MissingColumns');
    expect(summary.error?.message).toMatch(/delimiter/);
  });

  it('bytes that are not UTF-8 (windows-1252, broken sequences, NULs, a binary file) fail rows or the file, clearly', async () => {
    const cp1252 = await importFile('windows-1252.csv', csvCorpus('windows-1252.csv'));
    expect(cp1252.errors.length).toBeGreaterThan(0);
    expect(cp1252.errors.every((e) => e.code === 'BadEncoding')).toBe(true);

    const broken = await importFile('invalid-utf8.csv', ownCorpus('invalid-utf8.csv'));
    expect(broken.errors.map((e) => [e.row, e.code])).toEqual([
      ['3', 'BadEncoding'],
      ['4', 'BadEncoding'],
    ]);
    expect(broken.summary.rows).toMatchObject({ total: 4, succeeded: 2, failed: 2 });

    const nul = await importFile('nul-bytes.csv', ownCorpus('nul-bytes.csv'));
    expect(nul.summary.rows.total).toBe(2);
    expect(nul.summary.rows.succeeded + nul.summary.rows.failed).toBe(2);

    const binary = await importFile('binary.csv', ownCorpus('binary.csv'));
    expect(binary.summary.status).toBe('failed');
    expect(binary.summary.error?.message ?? binary.errors[0]?.message).toBeTruthy();
  });

  it('a single 1 MB cell fails its row as too long; its neighbours are written', async () => {
    const body = `Email,First Name,Last Name\nbig@example.com,${'x'.repeat(1024 * 1024)},Big\nsmall@example.com,Small,Row\n`;
    const { summary, errors } = await importFile('one-mb-cell.csv', body);
    expect(summary.rows).toMatchObject({ total: 2, succeeded: 1, failed: 1 });
    expect(errors[0]).toMatchObject({ row: '2', code: 'StringTooLong', column: 'First Name' });
  });

  it('10,000 columns: the job columns are read, the rest ignored, no crash', async () => {
    const extra = Array.from({ length: 9_997 }, (_, i) => `Extra ${i}`);
    const lines = [['Email', 'First Name', 'Last Name', ...extra].join(',')];
    for (let r = 0; r < 5; r += 1)
      lines.push([`wide${r}@example.com`, `W${r}`, `L${r}`, ...extra.map(() => 'v')].join(','));
    const { summary } = await importFile('wide.csv', `${lines.join('\n')}\n`);
    expect(summary.rows).toMatchObject({ total: 5, succeeded: 5, failed: 0 });
  });

  it('duplicate header names and a header that does not match the job fail the file, naming the columns', async () => {
    const duplicate = await importFile('duplicate-headers.csv', csvCorpus('duplicate-headers.csv'));
    expect(duplicate.summary.error?.code).toBe('DuplicateHeader');
    expect(duplicate.summary.error?.message).toContain('Email');
    const mismatch = await importFile('header-mismatch.csv', csvCorpus('header-mismatch.csv'));
    expect(mismatch.summary.error?.code).toBe('MissingColumns');
    expect(mismatch.summary.error?.message).toMatch(/Email/);
    expect(mismatch.summary.error?.message).toMatch(/Last Name/);
  });

  it('an unknown job folder, and a job file that is not valid, fail the file naming the job', async () => {
    const unknown = await importFile('file.csv', 'a,b\n1,2\n', 'nosuchjob');
    expect(unknown.summary.error?.code).toBe('UnknownJob');
    expect(unknown.summary.error?.message).toContain('nosuchjob');

    await stack.runtime.containers.jobs.getBlockBlobClient('broken.json').upload('{ "name": "broken"', 18);
    const broken = await importFile('file.csv', 'a,b\n1,2\n', 'broken');
    expect(broken.summary.status).toBe('failed');
    expect(broken.summary.error?.message).toMatch(/broken/);
  });

  it('path tricks in blob names are refused under _rejected/, never written outside it', async () => {
    const drop = (name: string) => stack.dropFile('contacts', name, 'Email,First Name,Last Name\n');
    const base = await drop('base.csv');
    const container = base.data.url.slice(0, base.data.url.indexOf('/incoming/') + '/incoming/'.length);
    const crafted = (blobPath: string): BlobCreatedEvent => ({
      ...base,
      id: `trick-${blobPath.length}-${blobPath.slice(0, 8)}`,
      subject: `/blobServices/default/containers/incoming/blobs/${blobPath}`,
      data: { ...base.data, url: container + blobPath },
    });
    const tricks = [
      crafted('contacts/..%2F..%2Fruns%2Fevil.csv'),
      crafted('contacts%5C..%5Cevil.csv'),
      crafted('rootfile.csv'),
      await drop(`${'n'.repeat(600)}.csv`),
    ];
    for (const event of tricks) {
      const { summary, errors } = await process(event);
      expect(summary.error?.code, event.data.url).toBe('InvalidInputName');
      expect(errors[0]?.message).toContain('was not processed');
      expect(summary.errorsFile.startsWith('_rejected/')).toBe(true);
    }
    // Encoded dots are resolved by URL parsing itself: this event names the results container, not
    // incoming, so it is ignored and leaves nothing behind.
    const dots = crafted('contacts/%2E%2E/%2E%2E/results/evil.csv');
    await expect(onImportEvent(stack.runtime, JSON.stringify(dots), silentLogger)).resolves.toBeUndefined();
    expect((await stack.chunkQueue().getProperties()).approximateMessagesCount).toBe(0);
    for await (const path of stack.runtime.results.list('')) {
      expect(path).not.toMatch(/(^|\/)\.\.(\/|$)|evil/);
    }
    for await (const path of stack.runtime.runs.list('')) expect(path).not.toMatch(/\.\.|evil/);
  });

  it('messages that are not events are dropped without failing the queue', async () => {
    for (const body of ['', 'not json', '{"id":1}', '[]', Buffer.from('{"x"').toString('base64')]) {
      await expect(onImportEvent(stack.runtime, body, silentLogger)).resolves.toBeUndefined();
    }
  });
});
