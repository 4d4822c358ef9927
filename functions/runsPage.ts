import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { Readable } from 'node:stream';
import { getRuntime } from '../src/app/runtime.js';
import { readExtractFile, readResultFile, runsPageHtml } from '../src/app/runs-page-handler.js';

/** The function key the request came with, for the page's links (none behind Entra sign-in). */
function linkQuery(request: HttpRequest): string {
  const code = request.query.get('code');
  return code ? `?code=${encodeURIComponent(code)}` : '';
}

/** GET /api/runs: recent runs per job, progress while running, links to reports and result files. */
export async function runsPage(request: HttpRequest): Promise<HttpResponseInit> {
  const html = await runsPageHtml(getRuntime(), linkQuery(request));
  return {
    status: 200,
    body: html,
    headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' },
  };
}

/** GET /api/results/{*path}: a run's report.html, summary.json, errors.csv or records.csv. */
export async function resultFile(request: HttpRequest): Promise<HttpResponseInit> {
  const file = await readResultFile(getRuntime(), request.params.path ?? '', linkQuery(request));
  if (!file) return { status: 404, jsonBody: { error: 'No such result file' } };
  return {
    status: 200,
    body: Readable.toWeb(file.body) as ReadableStream<Uint8Array>,
    headers: file.headers,
  };
}

/** GET /api/extract-files/{*path}: an extract run's report.html, manifest or output file. */
export async function extractFile(request: HttpRequest): Promise<HttpResponseInit> {
  const file = await readExtractFile(getRuntime(), request.params.path ?? '', linkQuery(request));
  if (!file) return { status: 404, jsonBody: { error: 'No such extract file' } };
  return {
    status: 200,
    body: Readable.toWeb(file.body) as ReadableStream<Uint8Array>,
    headers: file.headers,
  };
}

app.http('runsPage', { methods: ['GET'], route: 'runs', authLevel: 'function', handler: runsPage });
app.http('resultFile', {
  methods: ['GET'],
  route: 'results/{*path}',
  authLevel: 'function',
  handler: resultFile,
});
app.http('extractFile', {
  methods: ['GET'],
  route: 'extract-files/{*path}',
  authLevel: 'function',
  handler: extractFile,
});
