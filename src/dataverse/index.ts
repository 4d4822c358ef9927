// Public surface of the Dataverse client.
export { createDataverseClient, apiRootOf } from './client.js';
export type { BulkCallOptions, DataverseClient, DataverseClientOptions, QueryRequest } from './client.js';
export type { Row } from './api.js';
export {
  azureTokenProvider,
  credentialsFromSettings,
  emulatorTokenProvider,
  isLoopbackUrl,
  scopeFor,
} from './auth.js';
export type { TokenProvider } from './auth.js';
export type { BudgetShare } from './governor.js';
export type { BatchRequest, BatchResponse } from './batch.js';
export type { RecordResult } from './bulk.js';
export type { UploadSource } from './files.js';
export { systemClock } from './clock.js';
export type { Clock } from './clock.js';
export {
  ClientCodes,
  DataverseCodes,
  DataverseError,
  isDataverseError,
  isDuplicateCode,
  isNotFoundCode,
  redactHeaders,
} from './errors.js';
export { deterministicId } from './ids.js';
export { clearMetadataCache } from './metadata.js';
export type { ClientEvent, ClientMetrics, ConcurrencySample } from './metrics.js';
export { formattedValueSuffix, isDeletedEntity, lookupLogicalNameSuffix, QueryResult } from './query.js';
export type { DeletedEntity, QueryOptions } from './query.js';
export { formatKey, odataString } from './records.js';
export type { RecordTarget, UpsertMode } from './records.js';
export type * from './model.js';
