// Deterministic record ids: the same (namespace, name) always gives the same id, so repeated work is recognised.
import { hash } from 'node:crypto';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

function namespaceBytes(namespace: string): Buffer {
  return uuidPattern.test(namespace)
    ? uuidBytes(namespace)
    : hash('sha1', namespace, 'buffer').subarray(0, 16);
}

// One namespace (a run or a table) serves millions of ids in a row: reduce it once, not per id.
let lastNamespace: { readonly text: string; readonly bytes: Buffer } | undefined;

/**
 * A name-based UUID (version 5, SHA-1, RFC 9562). `namespace` may be a UUID or any text (a run or job id);
 * text namespaces are first reduced to 16 bytes with SHA-1.
 */
export function deterministicId(namespace: string, name: string): string {
  if (lastNamespace?.text !== namespace)
    lastNamespace = { text: namespace, bytes: namespaceBytes(namespace) };
  const ns = lastNamespace.bytes;
  const input = Buffer.allocUnsafe(16 + Buffer.byteLength(name, 'utf8'));
  ns.copy(input, 0);
  input.write(name, 16, 'utf8');
  // The one-shot hash: a Hash object per id cost more than the digest itself.
  const b = hash('sha1', input, 'buffer');
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString('hex', 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
