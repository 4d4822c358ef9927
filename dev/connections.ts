import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { DevHostError } from './errors.js';

export type StorageConnection =
  | { readonly kind: 'connectionString'; readonly setting: string; readonly connectionString: string }
  | {
      readonly kind: 'identity';
      readonly setting: string;
      readonly blobServiceUri?: string;
      readonly queueServiceUri?: string;
      readonly clientId?: string;
    };

const HOST_STORAGE = 'AzureWebJobsStorage';

/**
 * Resolves a binding's `connection` name against app settings as the Functions host does
 * (WebJobs GetWebJobsConnectionStringSection): an empty name means `AzureWebJobsStorage`; the
 * prefixed `AzureWebJobs<name>` is tried before `<name>`. Each is either a connection string or a
 * section of `__queueServiceUri` / `__blobServiceUri` / `__serviceUri` / `__accountName` settings
 * describing an identity-based connection.
 */
export function resolveConnection(
  connection: string | undefined,
  settings: Readonly<Record<string, string | undefined>>,
): StorageConnection {
  const name = connection?.trim() || HOST_STORAGE;
  const candidates = name.startsWith('AzureWebJobs') ? [name] : [`AzureWebJobs${name}`, name];
  for (const setting of candidates) {
    const value = settings[setting]?.trim();
    if (value) return { kind: 'connectionString', setting, connectionString: value };
    const identity = identityConnection(setting, settings);
    if (identity) return identity;
  }
  throw new DevHostError(
    `Connection "${name}" is not configured: set ${candidates.join(' or ')} to a connection string, ` +
      `or ${name}__queueServiceUri / ${name}__blobServiceUri for an identity-based connection.`,
  );
}

function identityConnection(
  prefix: string,
  settings: Readonly<Record<string, string | undefined>>,
): StorageConnection | undefined {
  const read = (suffix: string): string | undefined => settings[`${prefix}__${suffix}`]?.trim() || undefined;
  const accountName = read('accountName');
  const serviceUri = read('serviceUri');
  const blobServiceUri = read('blobServiceUri') ?? serviceUri ?? accountUri(accountName, 'blob');
  const queueServiceUri = read('queueServiceUri') ?? serviceUri ?? accountUri(accountName, 'queue');
  if (!blobServiceUri && !queueServiceUri) return undefined;
  const clientId = read('clientId');
  return {
    kind: 'identity',
    setting: prefix,
    ...(blobServiceUri ? { blobServiceUri } : {}),
    ...(queueServiceUri ? { queueServiceUri } : {}),
    ...(clientId ? { clientId } : {}),
  };
}

function accountUri(accountName: string | undefined, service: 'blob' | 'queue'): string | undefined {
  return accountName ? `https://${accountName}.${service}.core.windows.net` : undefined;
}

/** Service clients per resolved connection, shared by every binding that names it. */
export class StorageClients {
  readonly #settings: Readonly<Record<string, string | undefined>>;
  readonly #queues = new Map<string, QueueServiceClient>();
  readonly #blobs = new Map<string, BlobServiceClient>();

  constructor(settings: Readonly<Record<string, string | undefined>>) {
    this.#settings = settings;
  }

  queueService(connection: string | undefined): QueueServiceClient {
    const resolved = resolveConnection(connection, this.#settings);
    const key = cacheKey(resolved);
    let client = this.#queues.get(key);
    if (!client) {
      if (resolved.kind === 'connectionString') {
        client = QueueServiceClient.fromConnectionString(resolved.connectionString);
      } else if (resolved.queueServiceUri) {
        client = new QueueServiceClient(resolved.queueServiceUri, credential(resolved.clientId));
      } else {
        throw new DevHostError(`Connection "${resolved.setting}" has no queue service URI.`);
      }
      this.#queues.set(key, client);
    }
    return client;
  }

  blobService(connection: string | undefined): BlobServiceClient {
    const resolved = resolveConnection(connection, this.#settings);
    const key = cacheKey(resolved);
    let client = this.#blobs.get(key);
    if (!client) {
      if (resolved.kind === 'connectionString') {
        client = BlobServiceClient.fromConnectionString(resolved.connectionString);
      } else if (resolved.blobServiceUri) {
        client = new BlobServiceClient(resolved.blobServiceUri, credential(resolved.clientId));
      } else {
        throw new DevHostError(`Connection "${resolved.setting}" has no blob service URI.`);
      }
      this.#blobs.set(key, client);
    }
    return client;
  }
}

function cacheKey(connection: StorageConnection): string {
  return connection.kind === 'connectionString'
    ? `cs:${connection.connectionString}`
    : `id:${connection.setting}:${connection.clientId ?? ''}`;
}

function credential(clientId: string | undefined): DefaultAzureCredential {
  return new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
}
