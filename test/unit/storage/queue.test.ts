import { describe, expect, it } from 'vitest';
import { decodeQueueMessage, encodeQueueMessage } from '../../../src/storage/queue.js';

/** What the Functions host does with `messageEncoding: base64` before a handler runs. */
function hostDecodes(messageText: string): string {
  return Buffer.from(messageText, 'base64').toString('utf8');
}

describe('queue messages', () => {
  const message = { runId: 'r-1', chunk: 7, name: 'Zoë' };

  it('a message the product sends reaches the handler as the same value once the host decoded it', () => {
    const text = hostDecodes(encodeQueueMessage(message));
    expect(decodeQueueMessage(text)).toEqual(message);
    // The Node library parses JSON text itself; the parsed object passes through unchanged.
    expect(decodeQueueMessage(JSON.parse(text))).toEqual(message);
  });

  it('base64 text is not decoded a second time: the host has already decoded it', () => {
    expect(() => decodeQueueMessage(encodeQueueMessage(message))).toThrow('Queue message is not JSON');
  });

  it('text that is not JSON is an error', () => {
    expect(() => decodeQueueMessage('{"runId"')).toThrow('Queue message is not JSON');
  });
});
