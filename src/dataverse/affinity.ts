// Which web server answered: the load balancer's ARRAffinity cookie (reference §13). Limits are kept per user
// per web server, and Learn documents that the cookie pins a client to one server. An identity's requests
// without the cookie go wherever the balancer sends them; the answer's Set-Cookie then names the server, and
// sending that cookie back pins later requests to it. ServerDirectory decides, from the answers, which servers
// an identity has, when to stop sending unpinned requests to find more, and when a pinned server has gone.

/** The affinity token in an answer's Set-Cookie, when the balancer set one. */
export function affinityOf(headers: Readonly<Record<string, string>>): string | undefined {
  return /(?:^|[;,]\s*)ARRAffinity=([^;,\s]+)/i.exec(headers['set-cookie'] ?? '')?.[1];
}

/** The Cookie header that pins a request to the server holding this token. */
export function affinityCookie(token: string): string {
  return `ARRAffinity=${token}`;
}

/** What one answer teaches the directory. */
export interface DirectoryStep {
  /** The server that took the request, when known (named by the answer, or the one the lane is pinned to). */
  readonly server?: string;
  /** That server was not known before and has room for a lane of its own. */
  readonly add: boolean;
  /** A pinned server the balancer no longer routes to (it answered the pin from another server). */
  readonly retire?: string;
}

/**
 * Unpinned answers in a row that named only known servers, per known server, before discovery stops. With
 * `k` servers of which `m` are known, a balancer choosing at random hides the rest from `2m + 2` answers with
 * probability (m/k)^(2m+2): 0.10 for 3 of 4, 0.12 for 7 of 8; one choosing the least-loaded finds them at once.
 */
const QUIET_ANSWERS_PER_SERVER = 2;
const QUIET_ANSWERS_MIN = 4;

export class ServerDirectory {
  private readonly known = new Set<string>();
  private quiet = 0;
  private done = false;

  /** Whether unpinned requests should still go out to find servers. */
  get discovering(): boolean {
    return !this.done;
  }

  get servers(): number {
    return this.known.size;
  }

  /**
   * Records an answer to a request pinned to `pinnedTo` (undefined: sent without a cookie) that named
   * server `named` in its Set-Cookie (undefined: none). `room`: another server may still be added.
   */
  answered(pinnedTo: string | undefined, named: string | undefined, room: boolean): DirectoryStep {
    if (pinnedTo !== undefined && (named === undefined || named === pinnedTo)) {
      return { server: pinnedTo, add: false };
    }
    if (named === undefined) return { add: false };
    const fresh = !this.known.has(named) && room;
    if (fresh) this.known.add(named);
    if (pinnedTo !== undefined) {
      // The balancer moved a pinned request: that server left the pool (recycled or scaled in), and others may
      // have joined, so look again.
      this.known.delete(pinnedTo);
      this.quiet = 0;
      this.done = false;
      return { server: named, add: fresh, retire: pinnedTo };
    }
    if (fresh) {
      this.quiet = 0;
    } else {
      this.quiet += 1;
      const needed = Math.max(QUIET_ANSWERS_MIN, QUIET_ANSWERS_PER_SERVER * this.known.size + 2);
      if (this.quiet >= needed) this.done = true;
    }
    return { server: named, add: fresh };
  }
}
