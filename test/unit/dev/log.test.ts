import { describe, expect, it } from 'vitest';
import { formatLogEntry, redactSecrets } from '../../../dev/log.js';

describe('redactSecrets', () => {
  it('removes Authorization values, account keys, SAS signatures and function keys', () => {
    const line = redactSecrets(
      'Authorization: Bearer abc.def AccountKey=Zm9v; url ?code=k1&x=1 sig=s&sig=zzz x-functions-key: k2',
    );
    expect(line).not.toMatch(/abc\.def|Zm9v|k1|zzz|k2/);
    expect(line).toContain('[redacted]');
    expect(line).toContain('x=1');
  });
});

describe('formatLogEntry', () => {
  it('prefixes the function name and the short invocation id', () => {
    expect(
      formatLogEntry({
        time: '2026-01-01T00:00:00.000Z',
        level: 'information',
        category: 'user',
        functionName: 'writeChunk',
        invocationId: '1a2b3c4d-0000-0000-0000-000000000000',
        message: 'hello',
      }),
    ).toBe('2026-01-01T00:00:00.000Z [information] writeChunk (1a2b3c4d): hello');
  });
});
