import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../../dev/azurite.js';
import { startLocalHost, type RunningLocalHost } from '../../../dev/host.js';
import { captureLogs, fixtureApp, QUIET_SCHEDULE } from './helpers.js';

const KEY = 'local-test-function-key';

describe('local host: HTTP triggers', () => {
  let azurite: RunningAzurite;
  let host: RunningLocalHost;
  const logs = captureLogs();

  beforeAll(async () => {
    azurite = await startAzurite();
    host = await startLocalHost({
      appRoot: fixtureApp,
      settings: { AzureWebJobsStorage: azurite.connectionString, TICK_SCHEDULE: QUIET_SCHEDULE },
      httpPort: 0,
      functionKey: KEY,
      eventGrid: false,
      log: logs.log,
    });
  });

  afterAll(async () => {
    await host?.stop();
    await azurite?.stop();
  });

  it('listens on a loopback port', () => {
    expect(host.httpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(host.functionKey).toBe(KEY);
  });

  it('answers 401 to a function-level route without a valid key', async () => {
    expect((await fetch(`${host.httpUrl}/api/runs/r-1`)).status).toBe(401);
    expect((await fetch(`${host.httpUrl}/api/runs/r-1?code=wrong-key-value`)).status).toBe(401);
  });

  it('passes route params and query to the handler with the key in ?code=', async () => {
    const response = await fetch(`${host.httpUrl}/api/runs/run%2042?view=summary&code=${KEY}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    expect(await response.json()).toEqual({ runId: 'run 42', view: 'summary', method: 'GET' });
  });

  it('accepts the key in the x-functions-key header', async () => {
    const response = await fetch(`${host.httpUrl}/api/runs/abc`, { headers: { 'x-functions-key': KEY } });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { runId: string }).runId).toBe('abc');
  });

  it('maps status, headers and body of an anonymous POST both ways', async () => {
    const response = await fetch(`${host.httpUrl}/api/echo`, {
      method: 'POST',
      headers: { 'x-input': 'hello', 'content-type': 'text/plain' },
      body: 'a,b\n1,2\n',
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-echo')).toBe('hello');
    expect(await response.text()).toBe('a,b\n1,2\n');
  });

  it('writes a blob output binding, with the path filled from route parameters', async () => {
    const response = await fetch(`${host.httpUrl}/api/save/note-1`, { method: 'PUT', body: 'kept' });
    expect(response.status).toBe(204);
    const blob = BlobServiceClient.fromConnectionString(azurite.connectionString)
      .getContainerClient('saved')
      .getBlobClient('note-1.txt');
    expect((await blob.downloadToBuffer()).toString()).toBe('kept');
  });

  it('answers 404 for unknown routes and methods a function does not accept', async () => {
    expect((await fetch(`${host.httpUrl}/api/nothing-here`)).status).toBe(404);
    expect((await fetch(`${host.httpUrl}/api/echo`)).status).toBe(404);
  });

  it('never logs the function key', () => {
    expect(logs.entries.some((e) => e.message.includes(KEY))).toBe(false);
  });
});
