// Public API of the Dataverse Web API emulator (dev and test only, never deployed).
export {
  startEmulator,
  runtimeChangeSchema,
  type EmulatorOptions,
  type EmulatorStats,
  type EmulatorStore,
  type RequestLogEntry,
  type RunningEmulator,
  type RuntimeChange,
} from './server.js';
export {
  ceiling,
  countedMs,
  FAST,
  REALISTIC,
  profileSettings,
  type CeilingAnswer,
  type CeilingLimit,
  type CeilingOperation,
  type CeilingQuery,
  type EmulatorSettings,
  type Profile,
} from './settings.js';
export { DEFAULT_SCHEMA } from './schema/default.js';
export { loadSchemaFile, parseSchema, schemaFormatJsonSchema, type EmulatorSchema } from './schema/format.js';
export { parseFaults, type FaultKind, type FaultRates } from './faults.js';
export type { UserUsage } from './limits.js';
