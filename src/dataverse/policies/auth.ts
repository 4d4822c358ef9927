import type { Policy } from './pipeline.js';

export const authPolicyName = 'dataverseAuth';

/** Adds the identity's bearer token; on a 401 refreshes the token once and sends once more. */
export function authPolicy(): Policy {
  return {
    name: authPolicyName,
    async send(request, next) {
      const lane = request.context.lane;
      if (!lane) throw new Error('authPolicy needs the throttle policy to choose an identity first');
      const signal = request.signal ? { signal: request.signal } : {};
      const token = await lane.tokens.getToken(signal);
      const first = await next({
        ...request,
        headers: { ...request.headers, authorization: `Bearer ${token}` },
      });
      if (first.status !== 401) return first;
      const fresh = await lane.tokens.getToken({ ...signal, forceRefresh: true });
      return next({ ...request, headers: { ...request.headers, authorization: `Bearer ${fresh}` } });
    },
  };
}
