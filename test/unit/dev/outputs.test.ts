import { describe, expect, it } from 'vitest';
import {
  decodeQueueMessage,
  encodeQueueMessage,
  resolveBindingPath,
  toQueueMessages,
} from '../../../dev/outputs.js';

describe('toQueueMessages', () => {
  it('writes one message per array element, strings as they are and objects as JSON', () => {
    const messages = toQueueMessages({ json: JSON.stringify([{ row: 1 }, 'plain', 3]) });
    expect(messages.map(String)).toEqual(['{"row":1}', 'plain', '3']);
  });

  it('writes a single message for an object, a string or bytes', () => {
    expect(toQueueMessages({ json: '{"a":1}' }).map(String)).toEqual(['{"a":1}']);
    expect(toQueueMessages({ string: 'hello' }).map(String)).toEqual(['hello']);
    expect(toQueueMessages({ bytes: new Uint8Array([104, 105]) }).map(String)).toEqual(['hi']);
  });
});

describe('queue message encoding', () => {
  it('round-trips base64 and leaves text alone with encoding none', () => {
    const encoded = encodeQueueMessage(Buffer.from('{"é":1}'), 'base64');
    expect(encoded).toBe(Buffer.from('{"é":1}').toString('base64'));
    expect(decodeQueueMessage(encoded, 'base64')).toBe('{"é":1}');
    expect(encodeQueueMessage(Buffer.from('{"a":1}'), 'none')).toBe('{"a":1}');
    expect(decodeQueueMessage('{"a":1}', 'none')).toBe('{"a":1}');
  });

  it('fails to decode a raw JSON body when base64 is expected, as the queue extension does', () => {
    expect(() => decodeQueueMessage('{"a":1}', 'base64')).toThrow(/not base64/);
  });
});

describe('resolveBindingPath', () => {
  it('fills trigger values case-insensitively and generates rand-guid', () => {
    expect(resolveBindingPath('results/{RunId}/{name}.json', { runId: 'r1', name: 'a' })).toBe(
      'results/r1/a.json',
    );
    expect(resolveBindingPath('out/{rand-guid}', {})).toMatch(/^out\/[0-9a-f-]{36}$/);
  });

  it('rejects an expression with no value', () => {
    expect(() => resolveBindingPath('x/{missing}', {})).toThrow(/\{missing\}/);
  });
});
