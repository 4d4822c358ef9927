import { describe, expect, it } from 'vitest';
import { createApiSender } from '../../../src/dataverse/api.js';
import type { TokenProvider } from '../../../src/dataverse/auth.js';
import { isDataverseError } from '../../../src/dataverse/errors.js';
import { IdentityPool } from '../../../src/dataverse/identity-pool.js';
import { authPolicy } from '../../../src/dataverse/policies/auth.js';
import { composePolicies } from '../../../src/dataverse/policies/pipeline.js';
import { defaultRetryOptions, retryPolicy } from '../../../src/dataverse/policies/retry.js';
import { throttlePolicy } from '../../../src/dataverse/policies/throttle.js';
import type { HttpRequest, HttpResponse } from '../../../src/dataverse/transport.js';
import { DataverseError } from '../../../src/dataverse/errors.js';
import { manualClock } from '../../fixtures/manual-clock.js';

function tokens(identity: string): TokenProvider & { refreshes: number } {
  let n = 0;
  const p = {
    identity,
    refreshes: 0,
    async getToken(o?: { forceRefresh?: boolean }) {
      if (o?.forceRefresh) {
        p.refreshes++;
        n++;
      }
      return `${identity}-token-${n}`;
    },
  };
  return p;
}

type Script = (req: HttpRequest, call: number) => HttpResponse | Error;

function setup(script: Script, providers = [tokens('a')]) {
  const clock = manualClock(1_000_000);
  const calls: { at: number; req: HttpRequest }[] = [];
  const transport = async (req: HttpRequest): Promise<HttpResponse> => {
    calls.push({ at: clock.now(), req });
    const out = script(req, calls.length);
    if (out instanceof Error) throw out;
    return out;
  };
  const pool = new IdentityPool(providers, clock, { max: 8 });
  const pipeline = composePolicies(
    [
      retryPolicy({ ...defaultRetryOptions, baseDelayMs: 100 }, clock, () => 0.5),
      throttlePolicy(pool, clock),
      authPolicy(),
    ],
    transport,
  );
  const api = createApiSender('http://127.0.0.1:9/api/data/v9.2/', pipeline);
  return { api, calls, clock, pool, providers };
}

const ok: HttpResponse = { status: 204, headers: {}, body: '' };
const dropped = () =>
  new DataverseError({
    status: 0,
    code: 'NETWORK',
    message: 'Connection failed: other side closed',
    retryable: true,
  });

const refused = () =>
  new DataverseError({
    status: 0,
    code: 'UNREACHABLE',
    message: 'Cannot reach http://127.0.0.1:9: the connection was refused (ECONNREFUSED).',
    retryable: true,
  });

describe('policies over a fake transport', () => {
  it('gives up on a refused endpoint after one more try when it never answered', async () => {
    const { api, calls } = setup(() => refused());
    const error = await api
      .send({ method: 'GET', path: 'accounts', idempotent: true })
      .catch((e: unknown) => e);
    expect(isDataverseError(error) && error.code).toBe('UNREACHABLE');
    expect(calls).toHaveLength(2);
  });

  it('rides out refused connections once the endpoint has answered (a blip during a run)', async () => {
    const { api, calls } = setup((_req, n) => (n === 1 || n === 6 ? ok : refused()));
    await api.send({ method: 'GET', path: 'accounts', idempotent: true });
    await api.send({ method: 'GET', path: 'accounts', idempotent: true });
    expect(calls).toHaveLength(6);
  });

  it('refreshes the token once on 401 and sends once more', async () => {
    const { api, calls, providers } = setup((_req, n) =>
      n === 1 ? { status: 401, headers: {}, body: '' } : ok,
    );
    await api.send({ method: 'GET', path: 'accounts', idempotent: true });
    expect(calls.map((c) => c.req.headers['authorization'])).toEqual([
      'Bearer a-token-0',
      'Bearer a-token-1',
    ]);
    expect(providers[0]!.refreshes).toBe(1);
  });

  it('does not loop on a 401 that persists', async () => {
    const { api, calls } = setup(() => ({
      status: 401,
      headers: {},
      body: '{"error":{"code":"0x8004a101","message":"no"}}',
    }));
    await expect(api.send({ method: 'GET', path: 'accounts', idempotent: true })).rejects.toMatchObject({
      status: 401,
    });
    expect(calls).toHaveLength(2);
  });

  it('honours Retry-After for every request of the identity', async () => {
    const { api, calls } = setup((_req, n) =>
      n === 1
        ? { status: 429, headers: { 'retry-after': '2' }, body: '{"error":{"code":"0x80072322"}}' }
        : ok,
    );
    const first = api.send({ method: 'POST', path: 'a', idempotent: false });
    await first;
    // The retried request waited out the pause; it is the second call.
    expect(calls).toHaveLength(2);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(2000);
  });

  it('spreads requests over identities and moves a throttled retry to a free identity', async () => {
    const { api, calls } = setup(
      (req) =>
        req.headers['authorization']?.startsWith('Bearer a') && req.url.endsWith('x')
          ? { status: 429, headers: { 'retry-after': '60' }, body: '' }
          : ok,
      [tokens('a'), tokens('b')],
    );
    await Promise.all([
      api.send({ method: 'GET', path: 'x', idempotent: true }),
      api.send({ method: 'GET', path: 'y', idempotent: true }),
    ]);
    const identities = calls.map((c) => c.req.headers['authorization']!.split('-')[0]);
    expect(new Set(identities)).toEqual(new Set(['Bearer a', 'Bearer b']));
    // The request that met a's 429 finished on b well before a's 60 s pause ended.
    expect(calls.at(-1)!.at - calls[0]!.at).toBeLessThan(60_000);
  });

  it('retries dropped idempotent requests and marks the outcome ambiguous', async () => {
    const { api, calls } = setup((_req, n) =>
      n === 1
        ? dropped()
        : { status: 404, headers: {}, body: '{"error":{"code":"0x80040217","message":"gone"}}' },
    );
    const e = await api
      .send({ method: 'DELETE', path: 'accounts(1)', idempotent: true })
      .catch((x: unknown) => x);
    expect(calls).toHaveLength(2);
    expect(isDataverseError(e) && e.ambiguous).toBe(true);
  });

  it('never repeats a non-idempotent request after a dropped connection or a 503', async () => {
    const a = setup(() => dropped());
    await expect(a.api.send({ method: 'POST', path: 'x', idempotent: false })).rejects.toMatchObject({
      code: 'NETWORK',
    });
    expect(a.calls).toHaveLength(1);
    const b = setup(() => ({ status: 503, headers: {}, body: '' }));
    await expect(b.api.send({ method: 'POST', path: 'x', idempotent: false })).rejects.toMatchObject({
      status: 503,
    });
    expect(b.calls).toHaveLength(1);
  });

  it('keeps the bearer token out of errors', async () => {
    const { api } = setup(() => ({
      status: 500,
      headers: {},
      body: '{"error":{"code":"0x80040216","message":"boom"}}',
    }));
    const e = await api.send({ method: 'GET', path: 'x', idempotent: true }).catch((x: unknown) => x);
    expect(isDataverseError(e)).toBe(true);
    expect(JSON.stringify(e)).not.toContain('a-token');
    expect(String((e as DataverseError).stack)).not.toContain('a-token');
    expect((e as DataverseError).request?.headers['authorization'] ?? '[redacted]').toBe('[redacted]');
  });
});
