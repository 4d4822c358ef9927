import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { MockAgent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDataverseError } from '../../../src/dataverse/errors.js';
import { createTransport, odataHeaders } from '../../../src/dataverse/transport.js';

let url = '';
const seen: Record<string, string | string[] | undefined>[] = [];
const server = createServer((req, res) => {
  seen.push(req.headers);
  if (req.url === '/gzip') {
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'set-cookie': 'ARRAffinity=x',
    });
    res.end(gzipSync(JSON.stringify({ value: [1, 2, 3] })));
  } else if (req.url === '/hang') {
    // never answers
  } else if (req.url === '/drop') {
    req.socket.destroy();
  } else {
    res.writeHead(204, { 'set-cookie': 'ARRAffinity=abc; path=/' });
    res.end();
  }
});

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('transport (loopback server)', () => {
  it('decompresses gzip reads and never sends cookies back', async () => {
    const t = createTransport({ connections: 2 });
    await t.send({
      method: 'GET',
      url: `${url}/first`,
      headers: odataHeaders({ read: true, hasBody: false }),
    });
    const res = await t.send({
      method: 'GET',
      url: `${url}/gzip`,
      headers: odataHeaders({ read: true, hasBody: false }),
    });
    expect(JSON.parse(res.body)).toEqual({ value: [1, 2, 3] });
    expect(seen.at(-1)!['accept-encoding']).toBe('gzip');
    expect(seen.at(-1)!['cookie']).toBeUndefined();
    expect(seen.at(-1)!['odata-version']).toBe('4.0');
    await t.close();
  });

  it('times out, and redacts the Authorization header in the error', async () => {
    const t = createTransport({ timeoutMs: 200 });
    const e = await t
      .send({ method: 'GET', url: `${url}/hang`, headers: { authorization: 'Bearer top-secret' } })
      .catch((x: unknown) => x);
    expect(isDataverseError(e) && [e.code, e.retryable]).toEqual(['TIMEOUT', true]);
    expect(JSON.stringify(e)).not.toContain('top-secret');
    await t.close();
  });

  it('reports dropped connections as retryable network errors and caller aborts as not retryable', async () => {
    const t = createTransport();
    const dropped = await t.send({ method: 'GET', url: `${url}/drop`, headers: {} }).catch((x: unknown) => x);
    expect(isDataverseError(dropped) && [dropped.code, dropped.retryable]).toEqual(['NETWORK', true]);
    const ac = new AbortController();
    const pending = t
      .send({ method: 'GET', url: `${url}/hang`, headers: {}, signal: ac.signal })
      .catch((x: unknown) => x);
    ac.abort();
    const aborted = await pending;
    expect(isDataverseError(aborted) && [aborted.code, aborted.retryable]).toEqual(['ABORTED', false]);
    await t.close();
  });

  it('reports a refused connection as UNREACHABLE, naming the origin and what to check', async () => {
    // A port that was just free: nothing listens on it.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((r) => probe.close(() => r()));
    const t = createTransport();
    const e = await t
      .send({ method: 'GET', url: `http://127.0.0.1:${port}/api/data/v9.2/accounts`, headers: {} })
      .catch((x: unknown) => x);
    expect(isDataverseError(e) && [e.code, e.retryable, e.message]).toEqual([
      'UNREACHABLE',
      true,
      `Cannot reach http://127.0.0.1:${port}: the connection was refused (ECONNREFUSED). Check the URL, and that the environment (or the emulator) is running and reachable from here.`,
    ]);
    await t.close();
  });

  it('reports a host name that does not resolve as UNREACHABLE', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    agent
      .get('https://contoso.crm.dynamics.com')
      .intercept({ path: '/api/data/v9.2/WhoAmI' })
      .replyWithError(
        Object.assign(new Error('getaddrinfo ENOTFOUND contoso.crm.dynamics.com'), { code: 'ENOTFOUND' }),
      );
    const t = createTransport({ dispatcher: agent });
    const e = await t
      .send({ method: 'GET', url: 'https://contoso.crm.dynamics.com/api/data/v9.2/WhoAmI', headers: {} })
      .catch((x: unknown) => x);
    expect(isDataverseError(e) && [e.code, e.message.split('. ')[0]]).toEqual([
      'UNREACHABLE',
      'Cannot reach https://contoso.crm.dynamics.com: the host name does not resolve (ENOTFOUND)',
    ]);
    await agent.close();
  });
});
