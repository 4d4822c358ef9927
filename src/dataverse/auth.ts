// Bearer tokens for Dataverse: any @azure/identity credential, or the local emulator's fixed tokens.
import { lookup } from 'node:dns/promises';
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { systemClock, type Clock } from './clock.js';
import { ClientCodes, DataverseError } from './errors.js';
import { unreachableError } from './transport.js';

export interface TokenProvider {
  /** Stable name of the identity (client id, `default`, or emulator user): keys its governor and metrics. */
  readonly identity: string;
  /** A bearer token; `forceRefresh` skips the cache (after a 401). */
  getToken(options?: { forceRefresh?: boolean; signal?: AbortSignal }): Promise<string>;
}

/** The scope a confidential client asks for: `<org>/.default`. */
export function scopeFor(orgUrl: string): string {
  return `${new URL(orgUrl).origin}/.default`;
}

export interface AzureTokenProviderOptions {
  readonly identity?: string;
  readonly clock?: Clock;
  /** Refresh this long before expiry, so a request never leaves with a token about to lapse. */
  readonly refreshBeforeMs?: number;
  /** Resolves a host name, rejecting when it does not resolve (default: the system resolver). */
  readonly resolveHost?: (hostname: string) => Promise<unknown>;
}

/**
 * Wraps a TokenCredential with a cache: one token is shared by all requests, refreshed once (not per caller)
 * when it comes within `refreshBeforeMs` of expiry. If an early refresh fails, the still-valid token is used.
 */
export function azureTokenProvider(
  credential: TokenCredential,
  orgUrl: string,
  options: AzureTokenProviderOptions = {},
): TokenProvider {
  const scope = scopeFor(orgUrl);
  const clock = options.clock ?? systemClock;
  const refreshBeforeMs = options.refreshBeforeMs ?? 5 * 60_000;
  let cached: { token: string; expiresOn: number } | undefined;
  let inFlight: Promise<string> | undefined;

  const refresh = (signal?: AbortSignal): Promise<string> => {
    inFlight ??= (async () => {
      try {
        let token;
        try {
          token = await credential.getToken(scope, signal ? { abortSignal: signal } : {});
        } catch (e) {
          // A mistyped or unreachable org URL fails the sign-in before any request is sent (the token
          // is asked for that URL); say that the host does not resolve rather than send the user to `az login`.
          throw (
            (await hostUnresolved(orgUrl, options.resolveHost ?? lookup)) ??
            signInError(orgUrl, options.identity, e)
          );
        }
        if (!token) throw signInError(orgUrl, options.identity, new Error(`no token for scope ${scope}`));
        cached = { token: token.token, expiresOn: token.expiresOnTimestamp };
        return token.token;
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };

  return {
    identity: options.identity ?? 'default',
    async getToken(opts = {}) {
      const now = clock.now();
      if (!opts.forceRefresh && cached && now < cached.expiresOn - refreshBeforeMs) return cached.token;
      try {
        return await refresh(opts.signal);
      } catch (e) {
        if (!opts.forceRefresh && cached && now < cached.expiresOn) return cached.token;
        throw e;
      }
    },
  };
}

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return loopbackHosts.has(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The emulator accepts `emulator:<user>` as a bearer token. Refused for anything but loopback, so a fake token
 * can never be sent to a real environment by misconfiguration.
 */
export function emulatorTokenProvider(orgUrl: string, user = 'dvpipe'): TokenProvider {
  if (!isLoopbackUrl(orgUrl)) {
    throw new Error(
      `The emulator token provider only talks to loopback addresses, not ${new URL(orgUrl).host}`,
    );
  }
  const token = `emulator:${user}`;
  return { identity: user, getToken: async () => token };
}

/**
 * One token provider per configured identity: a user-assigned managed identity per client id, or the default
 * credential chain (managed identity in Azure, developer sign-in locally) when none are configured.
 */
export function credentialsFromSettings(
  orgUrl: string,
  clientIds: readonly string[],
  options: { clock?: Clock } = {},
): TokenProvider[] {
  const ids = clientIds.map((id) => id.trim()).filter((id) => id.length > 0);
  if (ids.length === 0) {
    return [azureTokenProvider(new DefaultAzureCredential(), orgUrl, { identity: 'default', ...options })];
  }
  return [...new Set(ids)].map((clientId) =>
    azureTokenProvider(new ManagedIdentityCredential({ clientId }), orgUrl, {
      identity: clientId,
      ...options,
    }),
  );
}

/**
 * One message for a failed sign-in: which credentials were tried and why each gave no token (the first
 * line of its message), then what to do. @azure/identity's chained credential reports every attempt
 * in an AggregateAuthenticationError's `errors`.
 */
export function signInError(orgUrl: string, identity: string | undefined, cause: unknown): DataverseError {
  const origin = new URL(orgUrl).origin;
  const attempts =
    cause instanceof Error && 'errors' in cause && Array.isArray(cause.errors)
      ? (cause.errors as unknown[])
      : [cause];
  const tried = attempts.map((attempt) => `  - ${firstLine(attempt)}`);
  const managed = identity !== undefined && identity !== 'default';
  const advice = managed
    ? [
        `What to do: in Azure, check that the user-assigned managed identity ${identity} is assigned to the app`,
        '  and registered as an application user in the environment (docs/deploy.md).',
      ]
    : [
        'What to do: sign in with `az login` (add --tenant <tenant id> for another tenant) as a user with a',
        '  security role in the environment, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET',
        "  for a service principal. In Azure: set DATAVERSE_CLIENT_IDS to the managed identity's client id.",
      ];
  return new DataverseError({
    status: 0,
    code: ClientCodes.signIn,
    message: [`Could not sign in to ${origin}. Tried:`, ...tried, ...advice].join('\n'),
    cause,
  });
}

/** The unreachable error when the org URL's host name does not resolve; undefined when it does. */
async function hostUnresolved(
  orgUrl: string,
  resolveHost: (hostname: string) => Promise<unknown>,
): Promise<DataverseError | undefined> {
  const url = new URL(orgUrl);
  try {
    await resolveHost(url.hostname);
    return undefined;
  } catch (e) {
    return unreachableError(url.origin, e, { retryable: false });
  }
}

/** The first sentence of an attempt's message ("Azure CLI could not be found"): what was tried and why it failed. */
function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = (text.split('\n')[0] ?? '').replace(/^Error: /, '').trim();
  const sentence = line.split(/\.\s/)[0] ?? line;
  return sentence.length > 120 ? `${sentence.slice(0, 120)}…` : sentence;
}
