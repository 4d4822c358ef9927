import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DequeuedMessageItem, QueueClient } from '@azure/storage-queue';
import type { RpcTypedData } from './core-api.js';
import type { HostedFunction, LoadedApp } from './function-app.js';
import type { QueueSettings } from './host-json.js';
import type { InFlight } from './in-flight.js';
import { invokeHostedFunction } from './invoker.js';
import type { HostLogger } from './log.js';
import { decodeQueueMessage, type OutputWriter } from './outputs.js';

/** The queue extension's fastest poll; idle polls back off from here to maxPollingInterval. */
const MIN_POLLING_INTERVAL_MS = 100;

export interface QueueListenerOptions {
  readonly app: LoadedApp;
  readonly fn: HostedFunction;
  readonly queue: QueueClient;
  readonly poisonQueue: QueueClient;
  readonly settings: QueueSettings;
  readonly outputs: OutputWriter;
  readonly logger: HostLogger;
  readonly inFlight: InFlight;
  readonly functionTimeoutMs: number | undefined;
  /** How long a message being processed stays invisible; renewed at half-time while it runs. */
  readonly leaseMs: number;
}

/**
 * Polls one trigger's queue like the Storage Queues extension: batches of `batchSize`, a new batch
 * once no more than `newBatchThreshold` run, delete on success, visibilityTimeout on failure, and
 * `<queue>-poison` after maxDequeueCount attempts.
 */
export class QueueTriggerListener {
  readonly #options: QueueListenerOptions;
  readonly #stopping = new AbortController();
  #active = 0;
  #slotFreed: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: QueueListenerOptions) {
    this.#options = options;
  }

  get queueName(): string {
    return this.#options.queue.name;
  }

  /** Visible and invisible messages: a message waiting for its retry still counts. */
  async approximateMessageCount(): Promise<number> {
    const properties = await this.#options.queue.getProperties();
    return properties.approximateMessagesCount ?? 0;
  }

  async start(): Promise<void> {
    await this.#options.queue.createIfNotExists();
    this.#loop = this.#poll();
  }

  /** Stops fetching; running invocations finish on their own (the host drains them). */
  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#slotFreed?.();
    await this.#loop;
  }

  async #poll(): Promise<void> {
    const { queue, settings, logger, fn } = this.#options;
    let delay = MIN_POLLING_INTERVAL_MS;
    while (!this.#stopping.signal.aborted) {
      if (this.#active > settings.newBatchThreshold) {
        await new Promise<void>((resolve) => (this.#slotFreed = resolve));
        continue;
      }
      let messages: DequeuedMessageItem[];
      try {
        const received = await queue.receiveMessages({
          numberOfMessages: settings.batchSize,
          visibilityTimeout: toSeconds(this.#options.leaseMs),
          abortSignal: this.#stopping.signal,
        });
        messages = received.receivedMessageItems;
      } catch (error) {
        if (this.#stopping.signal.aborted) break;
        logger.host('warning', `Polling queue "${queue.name}" failed: ${describe(error)}`, fn.name);
        messages = [];
      }
      if (messages.length === 0) {
        await this.#idleWait(delay);
        delay = Math.min(delay * 2, Math.max(settings.maxPollingIntervalMs, MIN_POLLING_INTERVAL_MS));
        continue;
      }
      delay = MIN_POLLING_INTERVAL_MS;
      if (this.#stopping.signal.aborted) {
        // Fetched while stopping: hand them back at once rather than start new work.
        await Promise.allSettled(
          messages.map((m) => queue.updateMessage(m.messageId, m.popReceipt, undefined, 0)),
        );
        break;
      }
      for (const message of messages) {
        this.#active += 1;
        void this.#options.inFlight
          .run(() => this.#process(message))
          .finally(() => {
            this.#active -= 1;
            this.#slotFreed?.();
            this.#slotFreed = undefined;
          });
      }
    }
  }

  async #idleWait(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.#stopping.signal });
    } catch {
      // Aborted by stop().
    }
  }

  async #process(message: DequeuedMessageItem): Promise<void> {
    const { app, fn, settings, logger, outputs, functionTimeoutMs } = this.#options;
    const lease = new MessageLease(this.#options.queue, message, this.#options.leaseMs);
    try {
      if (message.dequeueCount > settings.maxDequeueCount) {
        await this.#poison(lease, message);
        return;
      }
      let body: string;
      try {
        body = decodeQueueMessage(message.messageText, settings.messageEncoding);
      } catch (error) {
        logger.host(
          'error',
          `Message ${message.messageId} could not be decoded: ${describe(error)}`,
          fn.name,
        );
        await this.#poison(lease, message);
        return;
      }
      const invocationId = randomUUID();
      try {
        const outcome = await invokeHostedFunction(
          app,
          fn,
          {
            invocationId,
            triggerData: { string: body },
            triggerMetadata: queueTriggerMetadata(fn, message, body),
          },
          logger,
          functionTimeoutMs,
        );
        await outputs.write(fn, outcome.response, queuePathValues(message, body));
      } catch (error) {
        logger.write({
          level: 'error',
          category: 'host',
          functionName: fn.name,
          invocationId,
          message: `Message ${message.messageId} failed on attempt ${message.dequeueCount}: ${describe(error)}`,
        });
        if (message.dequeueCount >= settings.maxDequeueCount) {
          await this.#poison(lease, message);
        } else {
          await lease.release(settings.visibilityTimeoutMs);
        }
        return;
      }
      await lease.complete();
    } catch (error) {
      logger.host('error', `Settling message ${message.messageId} failed: ${describe(error)}`, fn.name);
    } finally {
      lease.end();
    }
  }

  async #poison(lease: MessageLease, message: DequeuedMessageItem): Promise<void> {
    const { poisonQueue, settings, logger, fn } = this.#options;
    logger.host(
      'warning',
      `Message has reached MaxDequeueCount of ${settings.maxDequeueCount}. ` +
        `Moving message to queue '${poisonQueue.name}'.`,
      fn.name,
    );
    await poisonQueue.createIfNotExists();
    await poisonQueue.sendMessage(message.messageText);
    await lease.complete();
  }
}

/** Keeps a message invisible while it is processed, and settles it with the latest pop receipt. */
class MessageLease {
  readonly #queue: QueueClient;
  readonly #messageId: string;
  #popReceipt: string;
  #renewing: Promise<void> = Promise.resolve();
  readonly #timer: NodeJS.Timeout;

  constructor(queue: QueueClient, message: DequeuedMessageItem, leaseMs: number) {
    this.#queue = queue;
    this.#messageId = message.messageId;
    this.#popReceipt = message.popReceipt;
    this.#timer = setInterval(() => {
      this.#renewing = this.#renewing.then(() => this.#update(leaseMs)).catch(() => {});
    }, leaseMs / 2);
    this.#timer.unref();
  }

  async complete(): Promise<void> {
    this.end();
    await this.#renewing;
    await this.#queue.deleteMessage(this.#messageId, this.#popReceipt);
  }

  /** Makes the message visible again after `visibilityMs`: the next attempt. */
  async release(visibilityMs: number): Promise<void> {
    this.end();
    await this.#renewing;
    await this.#update(visibilityMs);
  }

  end(): void {
    clearInterval(this.#timer);
  }

  async #update(visibilityMs: number): Promise<void> {
    const updated = await this.#queue.updateMessage(
      this.#messageId,
      this.#popReceipt,
      undefined,
      toSeconds(visibilityMs),
    );
    if (updated.popReceipt) this.#popReceipt = updated.popReceipt;
  }
}

/** The metadata the host sends with a queue trigger, PascalCase; the library camel-cases the keys. */
export function queueTriggerMetadata(
  fn: Pick<HostedFunction, 'name'>,
  message: DequeuedMessageItem,
  body: string,
): Record<string, RpcTypedData> {
  const date = (value: Date | undefined): RpcTypedData => ({
    json: JSON.stringify(value?.toISOString() ?? null),
  });
  return {
    QueueTrigger: { string: body },
    DequeueCount: { json: String(message.dequeueCount) },
    Id: { string: message.messageId },
    PopReceipt: { string: message.popReceipt },
    InsertionTime: date(message.insertedOn),
    ExpirationTime: date(message.expiresOn),
    NextVisibleTime: date(message.nextVisibleOn),
    sys: {
      json: JSON.stringify({ MethodName: fn.name, UtcNow: new Date().toISOString(), RandGuid: randomUUID() }),
    },
  };
}

/** Values binding expressions in output paths can use, e.g. `{id}` or a property of a JSON message. */
function queuePathValues(message: DequeuedMessageItem, body: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const fromBody = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed : {};
  return { ...fromBody, queueTrigger: body, id: message.messageId, dequeueCount: message.dequeueCount };
}

function toSeconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
