import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { onExtractTrigger } from '../src/app/extract-handlers.js';
import { getRuntime } from '../src/app/runtime.js';
import { loggerFor } from './lib/logger.js';

/** POST /api/extracts/{job}/run[?full=true]: run one extract job now. */
export async function runExtract(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const job = request.params.job ?? '';
  const outcomes = await onExtractTrigger(
    getRuntime(),
    { trigger: 'http', now: new Date(), only: [job], full: request.query.get('full') === 'true' },
    loggerFor(context),
  ).catch((error: unknown) => [
    { job, ok: false as const, error: error instanceof Error ? error.message : String(error) },
  ]);
  const outcome = outcomes[0];
  if (!outcome) return { status: 404, jsonBody: { error: `No extract job '${job}'` } };
  if (!outcome.ok) return { status: 500, jsonBody: { job, error: outcome.error } };
  return {
    status: 200,
    jsonBody: {
      job,
      manifest: outcome.manifest,
      manifestPath: outcome.manifestPath,
      ...(outcome.reportPath ? { reportPath: outcome.reportPath } : {}),
    },
  };
}

app.http('runExtract', {
  methods: ['POST'],
  route: 'extracts/{job}/run',
  authLevel: 'function',
  handler: runExtract,
});
