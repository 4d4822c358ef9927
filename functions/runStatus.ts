import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { getRuntime } from '../src/app/runtime.js';
import { readRunStatus } from '../src/imports/status.js';

/** GET /api/runs/{runId}: progress counts while a run works, its summary once it ended. */
export async function runStatus(request: HttpRequest): Promise<HttpResponseInit> {
  const runtime = getRuntime();
  const status = await readRunStatus(runtime.runs, runtime.results, request.params.runId ?? '');
  return status ? { status: 200, jsonBody: status } : { status: 404, jsonBody: { error: 'No such run' } };
}

app.http('runStatus', { methods: ['GET'], route: 'runs/{runId}', authLevel: 'function', handler: runStatus });
