import type { TokenCredential } from '@azure/identity';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';

export interface StorageClients {
  readonly blobs: BlobServiceClient;
  readonly queues: QueueServiceClient;
}

/**
 * Resolves a Functions-style connection name the way the host does: an app setting holding a
 * connection string wins; otherwise `<name>__blobServiceUri` / `__queueServiceUri` with a managed
 * identity (`<name>__clientId` for a user-assigned one). Secrets never leave this function.
 */
export function storageClientsFromSettings(
  connectionName: string,
  env: NodeJS.ProcessEnv = process.env,
  credentialFactory: (clientId: string | undefined) => TokenCredential = defaultCredential,
): StorageClients {
  const connectionString = env[connectionName];
  if (connectionString) {
    const resolved =
      connectionString.trim() === 'UseDevelopmentStorage=true'
        ? 'UseDevelopmentStorage=true'
        : connectionString;
    return {
      blobs: BlobServiceClient.fromConnectionString(resolved),
      queues: QueueServiceClient.fromConnectionString(resolved),
    };
  }
  const blobUri = env[`${connectionName}__blobServiceUri`];
  const queueUri = env[`${connectionName}__queueServiceUri`];
  const accountName = env[`${connectionName}__accountName`];
  const blobServiceUri =
    blobUri ?? (accountName ? `https://${accountName}.blob.core.windows.net` : undefined);
  const queueServiceUri =
    queueUri ?? (accountName ? `https://${accountName}.queue.core.windows.net` : undefined);
  if (!blobServiceUri || !queueServiceUri) {
    throw new Error(
      `Storage connection '${connectionName}' is not configured: set '${connectionName}' to a connection string, ` +
        `or '${connectionName}__blobServiceUri' and '${connectionName}__queueServiceUri' for a managed identity.`,
    );
  }
  const credential = credentialFactory(env[`${connectionName}__clientId`]);
  return {
    blobs: new BlobServiceClient(blobServiceUri, credential),
    queues: new QueueServiceClient(queueServiceUri, credential),
  };
}

function defaultCredential(clientId: string | undefined): TokenCredential {
  return clientId ? new ManagedIdentityCredential({ clientId }) : new DefaultAzureCredential();
}
