// Deterministic record ids: the same (namespace, name) always gives the same id, so repeated work is recognised.
import { createHash } from 'node:crypto';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

/**
 * A name-based UUID (version 5, SHA-1, RFC 9562). `namespace` may be a UUID or any text (a run or job id);
 * text namespaces are first reduced to 16 bytes with SHA-1.
 */
export function deterministicId(namespace: string, name: string): string {
  const ns = uuidPattern.test(namespace)
    ? uuidBytes(namespace)
    : createHash('sha1').update(namespace, 'utf8').digest().subarray(0, 16);
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  const b = Buffer.from(hash.subarray(0, 16));
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
