import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { getRuntime } from '../src/app/runtime.js';
import { rerunFailedRows } from '../src/imports/rerun.js';
import { BlobObjectStore } from '../src/storage/blob-store.js';

/** POST /api/runs/{runId}/rerun-failed: the run's failed rows become a new input file (a new run). */
export async function rerunFailed(request: HttpRequest): Promise<HttpResponseInit> {
  const runtime = getRuntime();
  const runId = request.params.runId ?? '';
  const rerun = await rerunFailedRows(
    runtime.runs,
    runtime.results,
    new BlobObjectStore(runtime.containers.incoming),
    runId,
  );
  if (!rerun) return { status: 404, jsonBody: { error: 'No finished run with that id' } };
  if (rerun.rows === 0) return { status: 200, jsonBody: { runId, message: 'The run has no failed rows.' } };
  return { status: 202, jsonBody: { runId, input: `incoming/${rerun.input}`, rows: rerun.rows } };
}

app.http('rerunFailed', {
  methods: ['POST'],
  route: 'runs/{runId}/rerun-failed',
  authLevel: 'function',
  handler: rerunFailed,
});
