import { describe, expect, it } from 'vitest';
import { parseIncomingName } from '../../../src/imports/paths.js';
import { runIdFor } from '../../../src/imports/run-id.js';

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
  it('is stable for the same URL and ETag and changes with either or with a re-run nonce', () => {
    const id = runIdFor('https://a/incoming/c/x.csv', '0x1');
    expect(id).toBe(runIdFor('https://a/incoming/c/x.csv', '0x1'));
    expect(id).not.toBe(runIdFor('https://a/incoming/c/x.csv', '0x2'));
    expect(id).not.toBe(runIdFor('https://a/incoming/c/x.csv', '0x1', 'rerun-1'));
    expect(id).toMatch(/^r[0-9a-f]{24}$/);
  });
});
