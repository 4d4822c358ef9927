import {
  createDataverseClient,
  credentialsFromSettings,
  emulatorTokenProvider,
  isLoopbackUrl,
  type BudgetShare,
  type DataverseClient,
  type TokenProvider,
} from '../dataverse/index.js';
import type { ClientEvent } from '../dataverse/metrics.js';

export interface ClientSettings {
  readonly url: string;
  /** Managed identity client ids; on a loopback URL (the emulator) each one is an emulator user. */
  readonly identities: readonly string[];
  readonly maxConcurrency?: number;
  readonly bulkSize?: number;
  /** This process's part of each identity's budget when other instances share the identities. */
  readonly budgetShare?: BudgetShare;
  readonly onEvent?: (event: ClientEvent) => void;
}

/**
 * A real Dataverse never listens on loopback, so a loopback URL means the project's emulator and
 * its `emulator:<user>` tokens; anything else goes through @azure/identity.
 */
export function tokenProvidersFor(url: string, identities: readonly string[]): TokenProvider[] {
  if (isLoopbackUrl(url)) {
    const users = identities.length > 0 ? identities : ['dvpipe'];
    return users.map((user) => emulatorTokenProvider(url, user));
  }
  return credentialsFromSettings(url, identities);
}

export function createClient(settings: ClientSettings): DataverseClient {
  return createDataverseClient({
    url: settings.url,
    tokenProviders: tokenProvidersFor(settings.url, settings.identities),
    maxConcurrency: settings.maxConcurrency,
    bulkSize: settings.bulkSize,
    ...(settings.budgetShare ? { budgetShare: settings.budgetShare } : {}),
    onEvent: settings.onEvent,
  });
}

export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
}

/**
 * The CLI's `--user` names an emulator user; against a real environment there is no such user, and the
 * sign-in is the default credential chain (your `az login`, or the managed identity in Azure).
 */
export function emulatorUser(url: string, user: string): string[] {
  return isLoopbackUrl(url) ? [user] : [];
}
