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
 * Reads a queue message body as a handler receives it. host.json sets `messageEncoding: base64`, so
 * the host base64-decodes every message before the handler runs (a message that is not base64 never
 * reaches it: the host moves it to the `-poison` queue), and the Functions Node library hands JSON
 * text over already parsed. A handler therefore sees an object, or a string when the text was not
 * JSON (or when a test or the in-process path passes the text itself); it never sees base64.
 */
export function decodeQueueMessage(body: unknown): unknown {
  if (typeof body !== 'string') return body;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new Error('Queue message is not JSON');
  }
}
