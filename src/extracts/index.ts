// Public surface of scheduled extracts: what functions/ and the CLI call.
export { runExtract, expiredDeltaCode } from './runner.js';
export type { ExtractDeps, ExtractOptions, ExtractProgress, ExtractResult } from './runner.js';
export { runExtractJobs, selectJobs } from './jobs.js';
export type { JobOutcome, RunJobsOptions } from './jobs.js';
export type { ExtractManifest, ExtractMode, ExtractTrigger } from './manifest.js';
export { ExtractError, isExtractError } from './errors.js';
export type { ExtractErrorCode } from './errors.js';
export { deletedColumn, labelSuffix } from './columns.js';
export { deletesPathOf, manifestPathOf, renderPath, statePathOf } from './paths.js';
export { readState } from './state.js';
export type { ExtractState } from './state.js';
export { progressPathOf, runningExtracts } from './progress.js';
export type { ExtractRunProgress } from './progress.js';
