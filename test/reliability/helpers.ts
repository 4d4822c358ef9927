import pMap from 'p-map';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { expect } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { onChunkMessage, onPoisonedChunk } from '../../src/app/import-handlers.js';
import type { Runtime } from '../../src/app/runtime.js';
import { silentLogger, type Logger } from '../../src/logging.js';
import type { RunSummary } from '../../src/imports/types.js';
import type { ObjectStore } from '../../src/storage/object-store.js';

/** An upsert job by alternate key: exercises key resolution, CreateMultiple and UpdateMultiple. */
export const contactsJob = {
  name: 'contacts',
  table: 'contact',
  operation: 'upsert',
  key: ['emailaddress1'],
  columns: { Email: 'emailaddress1', 'First Name': 'firstname', 'Last Name': 'lastname' },
};

export const header = ['Email', 'First Name', 'Last Name'];

export interface GeneratedCsv {
  readonly csv: string;
  /** Every email of this file is `<prefix><n>@example.com`. */
  readonly prefix: string;
  /** Row number (header = 1) -> expected failure code. */
  readonly bad: Map<number, string>;
  readonly goodEmails: Set<string>;
}

/**
 * `total` rows; every `badEvery`-th row has a last name longer than the column allows, so it must
 * fail with a row error while the rows around it are written.
 */
export function contactsCsv(total: number, prefix: string, badEvery = 1_000): GeneratedCsv {
  const rows: string[][] = [];
  const bad = new Map<number, string>();
  const goodEmails = new Set<string>();
  for (let i = 0; i < total; i += 1) {
    const email = `${prefix}${i}@example.com`;
    if (badEvery > 0 && i % badEvery === badEvery - 1) {
      rows.push([email, `F${i}`, 'x'.repeat(60)]);
      bad.set(i + 2, 'StringTooLong');
    } else {
      rows.push([email, `F${i}`, `L${i}`]);
      goodEmails.add(email);
    }
  }
  return { csv: stringify([header, ...rows]), prefix, bad, goodEmails };
}

export async function readCsv(store: ObjectStore, path: string): Promise<Record<string, string>[]> {
  const body = await store.get(path);
  return parse(body ?? '', { columns: true, bom: true, relax_column_count: true }) as Record<
    string,
    string
  >[];
}

export async function readJson<T>(store: ObjectStore, path: string): Promise<T | undefined> {
  const body = await store.get(path);
  return body ? (JSON.parse(body.toString('utf8')) as T) : undefined;
}

/** Every input row has exactly one outcome, bad rows fail with their code, good rows are stored once. */
export async function expectAccountedFor(
  stack: Stack,
  summary: RunSummary,
  expected: GeneratedCsv,
  total: number,
): Promise<void> {
  expect(summary.rows.total).toBe(total);
  expect(summary.rows.succeeded + summary.rows.failed).toBe(total);
  expect(summary.rows.failed).toBe(expected.bad.size);

  const errors = await readCsv(stack.runtime.results, summary.errorsFile);
  expect(errors.map((e) => Number(e.row)).sort((a, b) => a - b)).toEqual(
    [...expected.bad.keys()].sort((a, b) => a - b),
  );
  for (const error of errors) expect(error.code, error.message).toBe(expected.bad.get(Number(error.row)));

  const records = await readCsv(stack.runtime.results, summary.recordsFile);
  expect(records).toHaveLength(total);
  expect(new Set(records.map((r) => r.row)).size).toBe(total);

  expectStoredOnce(stack, expected.prefix, expected.goodEmails);
}

/** The emulator holds each of `emails` exactly once, and no other row of this prefix. */
export function expectStoredOnce(stack: Stack, prefix: string, emails: ReadonlySet<string>): void {
  const ours = new RegExp(`^${prefix}\\d+@example\\.com$`);
  const stored = stack.emulator.store
    .all('contact')
    .map((row) => String(row.emailaddress1))
    .filter((email) => ours.test(email));
  const counts = new Map<string, number>();
  for (const email of stored) counts.set(email, (counts.get(email) ?? 0) + 1);
  const duplicates = [...counts].filter(([, n]) => n > 1);
  expect(duplicates.slice(0, 5), `${duplicates.length} duplicated keys`).toEqual([]);
  const missing = [...emails].filter((email) => !counts.has(email));
  expect(missing.slice(0, 5), `${missing.length} good rows missing`).toEqual([]);
  expect(stored.length).toBe(emails.size);
}

export interface DrainOptions {
  /** Chunk messages handled at once, as host.json batchSize lets one instance do. */
  readonly concurrency?: number;
  /** Attempts before a message goes to the poison handler (host.json maxDequeueCount). */
  readonly maxDequeueCount?: number;
  readonly runtime?: Runtime;
  readonly log?: Logger;
  /** Stop once this many messages were handled (the rest stay queued). */
  readonly stopAfter?: number;
  /** Called for every failed attempt (the host would log it). */
  readonly onFailure?: (error: unknown) => void;
}

export interface DrainReport {
  summary: RunSummary | undefined;
  attempts: number;
  failures: number;
  poisoned: number;
}

/**
 * A small queue loop over the real chunk queue, as the Functions host runs it: several messages at
 * once, a failed message becomes visible again, and after maxDequeueCount it goes to the poison handler.
 */
export async function drainConcurrently(stack: Stack, options: DrainOptions = {}): Promise<DrainReport> {
  const runtime = options.runtime ?? stack.runtime;
  const log = options.log ?? silentLogger;
  const maxDequeueCount = options.maxDequeueCount ?? 5;
  const queue = stack.chunkQueue();
  const report: DrainReport = { summary: undefined, attempts: 0, failures: 0, poisoned: 0 };
  const stopAfter = options.stopAfter ?? Infinity;
  for (let idle = 0; idle < 3 && report.attempts < stopAfter;) {
    const batch = await queue.receiveMessages({
      numberOfMessages: Math.min(16, stopAfter - report.attempts),
      visibilityTimeout: 120,
    });
    if (batch.receivedMessageItems.length === 0) {
      const { approximateMessagesCount } = await queue.getProperties();
      if (!approximateMessagesCount) idle += 1;
      await new Promise((resolve) => setTimeout(resolve, 50));
      continue;
    }
    idle = 0;
    await pMap(
      batch.receivedMessageItems,
      async (item) => {
        const body = Buffer.from(item.messageText, 'base64').toString('utf8');
        report.attempts += 1;
        try {
          report.summary = (await onChunkMessage(runtime, body, log)) ?? report.summary;
          await queue.deleteMessage(item.messageId, item.popReceipt);
        } catch (error) {
          report.failures += 1;
          options.onFailure?.(error);
          if (item.dequeueCount >= maxDequeueCount) {
            report.poisoned += 1;
            await onPoisonedChunk(runtime, body, log);
            await queue.deleteMessage(item.messageId, item.popReceipt);
          } else {
            await queue.updateMessage(item.messageId, item.popReceipt, undefined, 0);
          }
        }
      },
      { concurrency: options.concurrency ?? 4 },
    );
  }
  return report;
}
