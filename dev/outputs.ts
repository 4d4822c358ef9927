import { randomUUID } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import type { QueueClient } from '@azure/storage-queue';
import type { RpcInvocationResponse, RpcTypedData } from './core-api.js';
import { DevHostError } from './errors.js';
import { bindingOption, type HostedFunction } from './function-app.js';
import type { StorageClients } from './connections.js';
import type { HostLogger } from './log.js';

export type MessageEncoding = 'base64' | 'none';

/** The real host writes one message per element when a queue output is an array. */
export function toQueueMessages(data: RpcTypedData): Buffer[] {
  if (data.json != null) {
    const value = JSON.parse(data.json) as unknown;
    const items = Array.isArray(value) ? value : [value];
    return items.map((item) => Buffer.from(typeof item === 'string' ? item : JSON.stringify(item)));
  }
  if (data.string != null) return [Buffer.from(data.string)];
  if (data.bytes != null) return [Buffer.from(data.bytes)];
  if (data.int != null) return [Buffer.from(String(data.int))];
  if (data.double != null) return [Buffer.from(String(data.double))];
  return [];
}

export function encodeQueueMessage(body: Buffer, encoding: MessageEncoding): string {
  return encoding === 'base64' ? body.toString('base64') : body.toString('utf8');
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes a queue message body as the queue extension does. With base64 encoding a body that is
 * not base64 (for example raw JSON) fails decoding; the real host moves it to the poison queue.
 */
export function decodeQueueMessage(text: string, encoding: MessageEncoding): string {
  if (encoding === 'none') return text;
  const compact = text.replace(/\s+/g, '');
  if (!BASE64.test(compact)) {
    throw new DevHostError('The message body is not base64; set messageEncoding "none" to accept raw text.');
  }
  return Buffer.from(compact, 'base64').toString('utf8');
}

/**
 * Fills `{token}` binding expressions in an output path: `{rand-guid}`, `{DateTime}`, and any
 * trigger metadata value (case-insensitive), e.g. `results/{id}.json`.
 */
export function resolveBindingPath(path: string, values: Readonly<Record<string, unknown>>): string {
  return path.replace(/\{([^}]+)\}/g, (_, token: string) => {
    if (token.toLowerCase() === 'rand-guid') return randomUUID();
    if (token.toLowerCase() === 'datetime') return new Date().toISOString();
    const key = Object.keys(values).find((k) => k.toLowerCase() === token.toLowerCase());
    const value = key === undefined ? undefined : values[key];
    if (value === undefined || value === null || typeof value === 'object') {
      throw new DevHostError(`Binding expression {${token}} in "${path}" has no value.`);
    }
    return String(value as string | number | boolean);
  });
}

/** Writes queue and blob outputs of one finished invocation (HTTP results are the HTTP layer's job). */
export class OutputWriter {
  readonly #clients: StorageClients;
  readonly #encoding: MessageEncoding;
  readonly #logger: HostLogger;
  readonly #ensured = new Map<string, Promise<unknown>>();

  constructor(clients: StorageClients, encoding: MessageEncoding, logger: HostLogger) {
    this.#clients = clients;
    this.#encoding = encoding;
    this.#logger = logger;
  }

  async write(
    fn: HostedFunction,
    response: RpcInvocationResponse,
    pathValues: Readonly<Record<string, unknown>> = {},
  ): Promise<void> {
    const values: { name: string; data: RpcTypedData }[] = [];
    for (const output of response.outputData ?? []) {
      if (output.name && output.data) values.push({ name: output.name, data: output.data });
    }
    if (fn.outputs.has('$return') && response.returnValue) {
      values.push({ name: '$return', data: response.returnValue });
    }
    for (const { name, data } of values) {
      const binding = fn.outputs.get(name);
      const type = binding?.type?.toLowerCase();
      if (!binding || type === 'http') continue;
      const connection = bindingOption(binding, 'connection');
      if (type === 'queue') {
        const queueName = resolveBindingPath(required(binding, 'queueName', fn.name), pathValues);
        const queue = this.#clients.queueService(connection).getQueueClient(queueName);
        await this.#ensureQueue(queue);
        for (const message of toQueueMessages(data)) {
          await queue.sendMessage(encodeQueueMessage(message, this.#encoding));
        }
      } else if (type === 'blob') {
        const path = resolveBindingPath(required(binding, 'path', fn.name), pathValues);
        const slash = path.indexOf('/');
        if (slash <= 0) throw new DevHostError(`Blob output path "${path}" must be <container>/<name>.`);
        const container = this.#clients.blobService(connection).getContainerClient(path.slice(0, slash));
        await this.#ensureContainer(container);
        const body = blobBody(data);
        await container.getBlockBlobClient(path.slice(slash + 1)).upload(body, body.length);
      } else {
        this.#logger.host(
          'warning',
          `Output binding type "${binding.type}" is not supported locally.`,
          fn.name,
        );
      }
    }
  }

  #ensureQueue(queue: QueueClient): Promise<unknown> {
    return this.#once(queue.url, () => queue.createIfNotExists());
  }

  #ensureContainer(container: ContainerClient): Promise<unknown> {
    return this.#once(container.url, () => container.createIfNotExists());
  }

  #once(key: string, create: () => Promise<unknown>): Promise<unknown> {
    let pending = this.#ensured.get(key);
    if (!pending) {
      pending = create().catch((error: unknown) => {
        this.#ensured.delete(key);
        throw error;
      });
      this.#ensured.set(key, pending);
    }
    return pending;
  }
}

function blobBody(data: RpcTypedData): Buffer {
  if (data.bytes != null) return Buffer.from(data.bytes);
  if (data.string != null) return Buffer.from(data.string);
  if (data.json != null) return Buffer.from(data.json);
  if (data.int != null) return Buffer.from(String(data.int));
  if (data.double != null) return Buffer.from(String(data.double));
  return Buffer.alloc(0);
}

function required(binding: Parameters<typeof bindingOption>[0], option: string, fnName: string): string {
  const value = bindingOption(binding, option);
  if (!value) throw new DevHostError(`Function "${fnName}": binding "${binding.name}" has no ${option}.`);
  return value;
}
