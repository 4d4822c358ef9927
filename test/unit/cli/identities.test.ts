import { describe, expect, it } from 'vitest';
import { emulatorUsersFor, parseIdentities } from '../../../src/cli/identities.js';

describe('--identities: a count or a list, one reading for import and extract', () => {
  it('reads a whole number as a count', () => {
    expect(parseIdentities('3')).toEqual({ count: 3 });
    expect(parseIdentities(' 1 ')).toEqual({ count: 1 });
  });

  it('reads a comma-separated list as the identities named, once each, and counts them', () => {
    expect(parseIdentities('alice, bob,alice')).toEqual({ count: 2, list: ['alice', 'bob'] });
    expect(parseIdentities('8f2c1e0a-3b4d-4c5e-9f60-718293a4b5c6')).toEqual({
      count: 1,
      list: ['8f2c1e0a-3b4d-4c5e-9f60-718293a4b5c6'],
    });
  });

  it.each([
    ['0', "got '0' (at least one identity)"],
    ['', "got '' (an empty entry is neither)"],
    ['a,,b', "got 'a,,b' (an empty entry is neither)"],
    ['1,2', "got '1,2' ('1' is neither)"],
    ['two words', "got 'two words' ('two words' is neither)"],
    ['-1', "got '-1' ('-1' is neither)"],
    ['2.5', "got '2.5' ('2.5' is neither)"],
  ])('refuses %j, saying what it expects', (text, detail) => {
    expect(() => parseIdentities(text)).toThrow(
      'expected a count (a whole number from 1) or a comma-separated list of client ids ' +
        `(emulator user names on a loopback URL); ${detail}`,
    );
  });

  it('stands for a count of emulator users with numbered names', () => {
    expect(emulatorUsersFor(1)).toEqual(['dvpipe']);
    expect(emulatorUsersFor(3)).toEqual(['dvpipe-1', 'dvpipe-2', 'dvpipe-3']);
  });
});
