/** Container and queue names: fixed, and created by the Bicep template (infra/). */
export const names = {
  incoming: 'incoming',
  runs: 'runs',
  results: 'results',
  extracts: 'extracts',
  jobs: 'jobs',
  importEvents: 'import-events',
  importChunks: 'import-chunks',
} as const;
