import type { AccessToken, TokenCredential } from '@azure/identity';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerHttp } from '../../scripts/lib/http.js';

// bearerHttp over a real loopback HTTP server: the token goes in the header, for the right scope,
// and is reused while it is valid.

const seen: { method: string; url: string; authorization: string | undefined; body: string }[] = [];
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString()));
  req.on('end', () => {
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      body,
    });
    res.writeHead(204, { 'OData-EntityId': 'http://x/api/data/v9.2/systemusers(abc)' });
    res.end();
  });
});
let origin = '';

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

class CountingCredential implements TokenCredential {
  readonly scopes: string[] = [];
  constructor(private readonly lifetimeMs: number) {}
  async getToken(scopes: string | string[]): Promise<AccessToken> {
    this.scopes.push(...(Array.isArray(scopes) ? scopes : [scopes]));
    return { token: `token-${this.scopes.length}`, expiresOnTimestamp: Date.now() + this.lifetimeMs };
  }
}

describe('bearerHttp', () => {
  it('sends the deployer token for <origin>/.default and reuses it', async () => {
    const credential = new CountingCredential(3_600_000);
    const send = bearerHttp(credential, origin);

    const first = await send({
      method: 'POST',
      url: `${origin}/api/data/v9.2/systemusers`,
      headers: {},
      body: '{"a":1}',
    });
    await send({ method: 'GET', url: `${origin}/api/data/v9.2/roles`, headers: {} });

    expect(first.status).toBe(204);
    expect(first.headers['odata-entityid']).toBe('http://x/api/data/v9.2/systemusers(abc)');
    expect(credential.scopes).toEqual([`${origin}/.default`]);
    expect(seen.slice(-2).map((r) => [r.method, r.url, r.authorization])).toEqual([
      ['POST', '/api/data/v9.2/systemusers', 'Bearer token-1'],
      ['GET', '/api/data/v9.2/roles', 'Bearer token-1'],
    ]);
    expect(seen.at(-2)?.body).toBe('{"a":1}');
  });

  it('asks for a new token when the cached one is about to expire', async () => {
    const credential = new CountingCredential(30_000);
    const send = bearerHttp(credential, origin);
    await send({ method: 'GET', url: `${origin}/a`, headers: {} });
    await send({ method: 'GET', url: `${origin}/b`, headers: {} });
    expect(credential.scopes).toHaveLength(2);
    expect(seen.at(-1)?.authorization).toBe('Bearer token-2');
  });
});
