import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { QueueClient } from '@azure/storage-queue';
import type { HostLogEntry } from '../../../dev/host.js';

export const fixtureApp = fileURLToPath(new URL('../../fixtures/function-app/', import.meta.url));

/** A yearly schedule, so the fixture timer stays quiet unless a test fires it. */
export const QUIET_SCHEDULE = '0 0 0 1 1 *';

/** Collects the host's log lines for assertions. */
export function captureLogs(): { entries: HostLogEntry[]; log: (entry: HostLogEntry) => void } {
  const entries: HostLogEntry[] = [];
  return { entries, log: (entry) => entries.push(entry) };
}

/** Receives and deletes messages until `count` arrived or `timeoutMs` passed; returns decoded bodies. */
export async function drainQueue(queue: QueueClient, count: number, timeoutMs = 20_000): Promise<string[]> {
  const bodies: string[] = [];
  const deadline = Date.now() + timeoutMs;
  while (bodies.length < count && Date.now() < deadline) {
    await queue.createIfNotExists();
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    for (const item of receivedMessageItems) {
      bodies.push(item.messageText);
      await queue.deleteMessage(item.messageId, item.popReceipt);
    }
    if (receivedMessageItems.length === 0) await sleep(50);
  }
  return bodies;
}

export const fromBase64 = (text: string): string => Buffer.from(text, 'base64').toString('utf8');
export const toBase64 = (text: string): string => Buffer.from(text).toString('base64');

/** Receives and deletes messages until one matches `predicate` or `timeoutMs` passed. */
export async function findMessage(
  queue: QueueClient,
  predicate: (body: string) => boolean,
  timeoutMs = 20_000,
): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [body] = await drainQueue(queue, 1, Math.max(0, deadline - Date.now()));
    if (body !== undefined && predicate(body)) return body;
  }
  return undefined;
}
