import type { TokenCredential } from '@azure/identity';
import { request } from 'undici';

/** A plain HTTP exchange, so the Dataverse admin logic can be driven by a fake in tests. */
export interface HttpRequest {
  readonly method: 'GET' | 'POST';
  /** Absolute URL. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface HttpResponse {
  readonly status: number;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: string;
}

export type SendHttp = (request: HttpRequest) => Promise<HttpResponse>;

/** How long before expiry a cached token is replaced. */
const TOKEN_REFRESH_MARGIN_MS = 120_000;

/**
 * Sends requests with undici, adding `Authorization: Bearer <token>` for `<origin>/.default`
 * from the given credential (the deployer's own identity). The token is never logged.
 */
export function bearerHttp(credential: TokenCredential, origin: string): SendHttp {
  const scope = `${origin}/.default`;
  let cached: { token: string; expiresOnTimestamp: number } | undefined;

  async function token(): Promise<string> {
    if (!cached || cached.expiresOnTimestamp - Date.now() < TOKEN_REFRESH_MARGIN_MS) {
      const fresh = await credential.getToken(scope);
      if (!fresh) throw new Error(`No token for ${scope}`);
      cached = fresh;
    }
    return cached.token;
  }

  return async (req) => {
    const response = await request(req.url, {
      method: req.method,
      headers: { ...req.headers, authorization: `Bearer ${await token()}` },
      body: req.body,
    });
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    }
    return { status: response.statusCode, headers, body: await response.body.text() };
  };
}
