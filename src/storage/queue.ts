import type { QueueClient } from '@azure/storage-queue';

/** Where work items go. The functions use storage queues; the CLI runs them in-process. */
export interface MessageSender<T> {
  send(message: T): Promise<void>;
}

/**
 * Sends JSON messages base64-encoded, the encoding the Functions queue trigger expects by default
 * (host.json `messageEncoding: base64`).
 */
export class StorageQueueSender<T> implements MessageSender<T> {
  readonly #queue: QueueClient;
  #created = false;

  constructor(queue: QueueClient) {
    this.#queue = queue;
  }

  async send(message: T): Promise<void> {
    if (!this.#created) {
      await this.#queue.createIfNotExists();
      this.#created = true;
    }
    await this.#queue.sendMessage(encodeQueueMessage(message));
  }
}

export function encodeQueueMessage(message: unknown): string {
  return Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
}

/**
 * Queue bodies reach a handler base64-decoded by the host, but Event Grid and older senders have
 * written raw JSON; accept an object, a JSON string or a base64 JSON string.
 */
export function decodeQueueMessage(body: unknown): unknown {
  if (typeof body !== 'string') return body;
  const text = body.trim();
  if (text.startsWith('{') || text.startsWith('[')) return JSON.parse(text);
  const decoded = Buffer.from(text, 'base64').toString('utf8').trim();
  if (decoded.startsWith('{') || decoded.startsWith('[')) return JSON.parse(decoded);
  throw new Error('Queue message is neither JSON nor base64-encoded JSON');
}
