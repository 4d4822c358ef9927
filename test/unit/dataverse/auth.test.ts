import {
  AggregateAuthenticationError,
  CredentialUnavailableError,
  type AccessToken,
  type GetTokenOptions,
  type TokenCredential,
} from '@azure/identity';
import { isDataverseError } from '../../../src/dataverse/errors.js';
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
    const p = azureTokenProvider(credential, 'https://o.crm.dynamics.com', {
      clock,
      resolveHost: async () => ({ address: '192.0.2.1', family: 4 }),
    });
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

describe('a failed sign-in', () => {
  const chainFailure = new AggregateAuthenticationError(
    [
      new CredentialUnavailableError(
        'EnvironmentCredential is unavailable. No underlying credential could be used. To troubleshoot, visit https://aka.ms/x.',
      ),
      new CredentialUnavailableError(
        'ManagedIdentityCredential: Authentication failed. Message client_error\nHttp status code: 403',
      ),
      new CredentialUnavailableError(
        "Azure CLI could not be found. Please visit https://aka.ms/azure-cli and then 'az login'.",
      ),
    ],
    'ChainedTokenCredential authentication failed.',
  );
  const failing: TokenCredential = {
    getToken: () => Promise.reject(chainFailure),
  };

  /** The org's host resolves (so the failure is the sign-in's), whatever this machine's DNS says. */
  const resolves = { resolveHost: async () => ({ address: '192.0.2.1', family: 4 }) };

  it('names each credential tried and says what to do, in one message', async () => {
    const error = await azureTokenProvider(failing, 'https://contoso.crm.dynamics.com/', resolves)
      .getToken()
      .catch((e: unknown) => e);
    expect(isDataverseError(error) && [error.code, error.retryable]).toEqual(['SIGN_IN', false]);
    expect((error as Error).message).toBe(
      [
        'Could not sign in to https://contoso.crm.dynamics.com. Tried:',
        '  - EnvironmentCredential is unavailable',
        '  - ManagedIdentityCredential: Authentication failed',
        '  - Azure CLI could not be found',
        'What to do: sign in with `az login` (add --tenant <tenant id> for another tenant) as a user with a',
        '  security role in the environment, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET',
        "  for a service principal. In Azure: set DATAVERSE_CLIENT_IDS to the managed identity's client id.",
      ].join('\n'),
    );
  });

  it('for a configured managed identity, points at that identity', async () => {
    const error = await azureTokenProvider(
      { getToken: () => Promise.reject(new Error('ManagedIdentityCredential: no identity. More text')) },
      'https://contoso.crm.dynamics.com',
      { identity: '11111111-2222-3333-4444-555555555555', ...resolves },
    )
      .getToken()
      .catch((e: unknown) => e);
    expect((error as Error).message.split('\n')).toEqual([
      'Could not sign in to https://contoso.crm.dynamics.com. Tried:',
      '  - ManagedIdentityCredential: no identity',
      'What to do: in Azure, check that the user-assigned managed identity 11111111-2222-3333-4444-555555555555 is assigned to the app',
      '  and registered as an application user in the environment (docs/deploy.md).',
    ]);
  });
  it('for a host name that does not resolve, says so instead of sending the user to az login', async () => {
    const asked: string[] = [];
    const error = await azureTokenProvider(failing, 'https://contosso.crm.dynamics.com/api/data/v9.2/', {
      resolveHost: (hostname) => {
        asked.push(hostname);
        return Promise.reject(
          Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }),
        );
      },
    })
      .getToken()
      .catch((e: unknown) => e);
    expect(asked).toEqual(['contosso.crm.dynamics.com']);
    expect(isDataverseError(error) && [error.code, error.retryable, error.message]).toEqual([
      'UNREACHABLE',
      false,
      'Cannot reach https://contosso.crm.dynamics.com: the host name does not resolve (ENOTFOUND). Check the URL, and that the environment (or the emulator) is running and reachable from here.',
    ]);
  });

  it('a resolver failure that is not about the name (say, a timeout) keeps the sign-in message', async () => {
    const error = await azureTokenProvider(failing, 'https://contoso.crm.dynamics.com', {
      resolveHost: () => Promise.reject(Object.assign(new Error('query timed out'), { code: 'ETIMEOUT' })),
    })
      .getToken()
      .catch((e: unknown) => e);
    expect(isDataverseError(error) && error.code).toBe('SIGN_IN');
  });
});
