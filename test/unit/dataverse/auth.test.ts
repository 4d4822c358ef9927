import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { describe, expect, it } from 'vitest';
import {
  azureTokenProvider,
  credentialsFromSettings,
  emulatorTokenProvider,
  isLoopbackUrl,
  scopeFor,
} from '../../../src/dataverse/auth.js';
import type { Clock } from '../../../src/dataverse/clock.js';

function fakeClock(start = 0): Clock & { set(t: number): void } {
  let t = start;
  return { now: () => t, sleep: async () => {}, set: (v) => (t = v) };
}

/** A credential handing out numbered tokens that live `lifetimeMs` from the clock's now. */
function countingCredential(clock: Clock, lifetimeMs: number, fail?: () => boolean) {
  const calls: string[] = [];
  const credential: TokenCredential = {
    async getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken | null> {
      calls.push(Array.isArray(scopes) ? scopes.join(' ') : scopes);
      if (fail?.()) throw new Error('identity endpoint unavailable');
      return { token: `t${calls.length}`, expiresOnTimestamp: clock.now() + lifetimeMs };
    },
  };
  return { credential, calls };
}

describe('azureTokenProvider', () => {
  it('asks for <org>/.default', async () => {
    const clock = fakeClock();
    const { credential, calls } = countingCredential(clock, 3_600_000);
    await azureTokenProvider(credential, 'https://contoso.crm.dynamics.com/', { clock }).getToken();
    expect(calls).toEqual(['https://contoso.crm.dynamics.com/.default']);
    expect(scopeFor('https://x.crm4.dynamics.com/api/data/v9.2/')).toBe(
      'https://x.crm4.dynamics.com/.default',
    );
  });

  it('caches until the refresh margin, then refreshes once', async () => {
    const clock = fakeClock();
    const { credential, calls } = countingCredential(clock, 60 * 60_000);
    const p = azureTokenProvider(credential, 'https://o.crm.dynamics.com', {
      clock,
      refreshBeforeMs: 5 * 60_000,
    });
    expect(await p.getToken()).toBe('t1');
    clock.set(54 * 60_000);
    expect(await p.getToken()).toBe('t1');
    clock.set(56 * 60_000);
    const [a, b] = await Promise.all([p.getToken(), p.getToken()]);
    expect([a, b]).toEqual(['t2', 't2']);
    expect(calls).toHaveLength(2);
  });

  it('forceRefresh bypasses the cache (the 401 path)', async () => {
    const clock = fakeClock();
    const { credential } = countingCredential(clock, 60 * 60_000);
    const p = azureTokenProvider(credential, 'https://o.crm.dynamics.com', { clock });
    await p.getToken();
    expect(await p.getToken({ forceRefresh: true })).toBe('t2');
  });

  it('keeps using a still-valid token when an early refresh fails', async () => {
    const clock = fakeClock();
    let failing = false;
    const { credential } = countingCredential(clock, 60 * 60_000, () => failing);
    const p = azureTokenProvider(credential, 'https://o.crm.dynamics.com', { clock });
    await p.getToken();
    failing = true;
    clock.set(58 * 60_000);
    expect(await p.getToken()).toBe('t1');
    clock.set(61 * 60_000);
    await expect(p.getToken()).rejects.toThrow('unavailable');
  });
});

describe('emulatorTokenProvider', () => {
  it('hands out emulator:<user> for loopback URLs', async () => {
    expect(await emulatorTokenProvider('http://127.0.0.1:7071').getToken()).toBe('emulator:dvpipe');
    const p = emulatorTokenProvider('http://localhost:1234/', 'alice');
    expect(p.identity).toBe('alice');
    expect(await p.getToken()).toBe('emulator:alice');
    expect(await emulatorTokenProvider('http://[::1]:80').getToken()).toBe('emulator:dvpipe');
  });

  it('refuses any other URL', () => {
    expect(() => emulatorTokenProvider('https://contoso.crm.dynamics.com')).toThrow(/loopback/);
    expect(() => emulatorTokenProvider('http://10.0.0.5:8080')).toThrow(/loopback/);
    expect(() => emulatorTokenProvider('http://127.0.0.1.evil.example')).toThrow(/loopback/);
    expect(isLoopbackUrl('not a url')).toBe(false);
    expect(isLoopbackUrl('http://127.1.2.3:9')).toBe(true);
  });
});

describe('credentialsFromSettings', () => {
  it('gives one provider per distinct client id, named by it', () => {
    const providers = credentialsFromSettings('https://o.crm.dynamics.com', [' id-1 ', 'id-2', 'id-1', '']);
    expect(providers.map((p) => p.identity)).toEqual(['id-1', 'id-2']);
  });

  it('falls back to the default credential chain when no client id is configured', () => {
    expect(credentialsFromSettings('https://o.crm.dynamics.com', []).map((p) => p.identity)).toEqual([
      'default',
    ]);
  });
});
