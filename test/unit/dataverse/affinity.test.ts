import { describe, expect, it } from 'vitest';
import { affinityCookie, affinityOf, ServerDirectory } from '../../../src/dataverse/affinity.js';

describe('affinityOf', () => {
  it('reads the ARRAffinity token from a Set-Cookie, alone or among other cookies', () => {
    expect(affinityOf({ 'set-cookie': 'ARRAffinity=abc123; path=/; secure; HttpOnly' })).toBe('abc123');
    expect(
      affinityOf({ 'set-cookie': 'ARRAffinitySameSite=zz; path=/, ARRAffinity=def; path=/; secure' }),
    ).toBe('def');
    expect(affinityOf({ 'set-cookie': 'other=1; path=/' })).toBeUndefined();
    expect(affinityOf({})).toBeUndefined();
  });

  it('sends the token back as the cookie the balancer reads', () => {
    expect(affinityCookie('abc123')).toBe('ARRAffinity=abc123');
  });
});

describe('ServerDirectory', () => {
  it('adds each server an unpinned answer names once, and keeps a pinned answer on its server', () => {
    const d = new ServerDirectory();
    expect(d.answered(undefined, 's1', true)).toEqual({ server: 's1', add: true });
    expect(d.answered(undefined, 's2', true)).toEqual({ server: 's2', add: true });
    expect(d.answered(undefined, 's1', true)).toEqual({ server: 's1', add: false });
    // A pinned answer without Set-Cookie (the balancer honoured the cookie) is its own server's.
    expect(d.answered('s1', undefined, true)).toEqual({ server: 's1', add: false });
    expect(d.answered('s2', 's2', true)).toEqual({ server: 's2', add: false });
    expect(d.servers).toBe(2);
  });

  it('stops discovering after 2 × known + 2 unpinned answers in a row name only known servers', () => {
    const d = new ServerDirectory();
    d.answered(undefined, 's1', true);
    d.answered(undefined, 's2', true);
    d.answered(undefined, 's3', true);
    // 3 known: 8 quiet answers needed; a new server at the 7th starts the count again.
    for (let i = 0; i < 6; i += 1) d.answered(undefined, `s${(i % 3) + 1}`, true);
    expect(d.discovering).toBe(true);
    d.answered(undefined, 's4', true);
    for (let i = 0; i < 9; i += 1) d.answered(undefined, 's1', true);
    expect(d.discovering).toBe(true); // 4 known now: 10 needed
    d.answered(undefined, 's2', true);
    expect(d.discovering).toBe(false);
  });

  it('does not add a server without room, nor count an answer that names none', () => {
    const d = new ServerDirectory();
    expect(d.answered(undefined, 's1', false)).toEqual({ server: 's1', add: false });
    expect(d.answered(undefined, undefined, true)).toEqual({ add: false });
    expect(d.servers).toBe(0);
  });

  it('retires a pinned server the balancer moved away from, and looks for servers again', () => {
    const d = new ServerDirectory();
    d.answered(undefined, 's1', true);
    for (let i = 0; i < 4; i += 1) d.answered(undefined, 's1', true);
    expect(d.discovering).toBe(false);
    expect(d.answered('s1', 's9', true)).toEqual({ server: 's9', add: true, retire: 's1' });
    expect(d.discovering).toBe(true);
    expect(d.servers).toBe(1);
  });
});
