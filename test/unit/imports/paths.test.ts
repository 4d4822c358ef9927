import { describe, expect, it } from 'vitest';
import { parseIncomingName } from '../../../src/imports/paths.js';
import { blobRunKey, environmentOf, runIdFor } from '../../../src/imports/run-id.js';

describe('parseIncomingName', () => {
  it('splits the job folder from the file name', () => {
    expect(parseIncomingName('contacts/2026/nov.csv')).toEqual({ job: 'contacts', name: '2026/nov.csv' });
  });

  it.each([
    ['contacts/../accounts/x.csv', "'..'"],
    ['contacts/%2e%2e/x.csv', "'..'"],
    ['contacts%2Fx.csv', 'encoded'],
    ['contacts\\x.csv', 'backslash'],
    ['x.csv', 'job folder'],
    [`contacts/${'a'.repeat(600)}.csv`, 'longer than 512'],
    ['contacts/a\u0001.csv', 'control'],
  ])('refuses %s', (name, reason) => {
    expect(() => parseIncomingName(name)).toThrow(reason);
  });
});

describe('runIdFor', () => {
  const key = blobRunKey(
    { url: 'https://a/incoming/c/x.csv', etag: '"0x1"', job: 'c' },
    'https://Contoso.crm.dynamics.com/',
  );

  it('is stable for the same input version, job and environment', () => {
    expect(runIdFor(key)).toBe(runIdFor({ ...key }));
    expect(runIdFor(key)).toBe(
      runIdFor(
        blobRunKey(
          { url: 'https://a/incoming/c/x.csv', etag: '0x1', job: 'c' },
          'https://contoso.crm.dynamics.com',
        ),
      ),
    );
    expect(runIdFor(key)).toMatch(/^r[0-9a-f]{24}$/);
  });

  it('changes with the version, the job, the environment or a nonce (a re-run, a dry run)', () => {
    const id = runIdFor(key);
    expect(id).not.toBe(runIdFor({ ...key, version: '0x2' }));
    expect(id).not.toBe(runIdFor({ ...key, job: 'other' }));
    expect(id).not.toBe(
      runIdFor({ ...key, environment: environmentOf('https://fabrikam.crm.dynamics.com') }),
    );
    expect(id).not.toBe(runIdFor(key, 'rerun-1'));
  });
});
