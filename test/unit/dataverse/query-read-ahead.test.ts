import { describe, expect, it, vi } from 'vitest';
import type { ApiRequest, ApiResponse, ApiSender } from '../../../src/dataverse/api.js';
import { delta } from '../../../src/dataverse/query.js';

/** Three pages linked by nextLink; each request stays pending until the test releases it. */
function pagedApi() {
  const sent: ApiRequest[] = [];
  const release: (() => void)[] = [];
  const fail: ((error: Error) => void)[] = [];
  const api: ApiSender = {
    apiRoot: 'https://org.example/api/data/v9.2/',
    send(request) {
      sent.push(request);
      const page = sent.length;
      return new Promise<ApiResponse>((resolve, reject) => {
        fail.push(reject);
        release.push(() =>
          resolve({
            status: 200,
            headers: {},
            ambiguous: false,
            body: JSON.stringify({
              value: [{ id: page }],
              ...(page < 3 ? { '@odata.nextLink': `https://org.example/next/${page + 1}` } : {}),
            }),
          }),
        );
      });
    },
  };
  /** Answers request `i` once it has been sent. */
  const answer = async (i: number) => {
    await vi.waitFor(() => expect(release.length).toBeGreaterThan(i));
    release[i]!();
  };
  /** Fails request `i` once it has been sent. */
  const refuse = async (i: number) => {
    await vi.waitFor(() => expect(fail.length).toBeGreaterThan(i));
    fail[i]!(new Error('the service went away'));
  };
  return { api, sent, release: answer, refuse };
}

describe('query pages read one page ahead', () => {
  it('asks for the next page before the caller has processed the current one', async () => {
    const { api, sent, release } = pagedApi();
    const pages = delta(api, 'https://org.example/contacts?$deltatoken=1').pages();
    const first = pages.next();
    await release(0);
    expect((await first).value).toEqual([{ id: 1 }]);
    // The caller is still holding page 1, and page 2 is already on its way.
    expect(sent.map((r) => r.path)).toEqual([
      'https://org.example/contacts?$deltatoken=1',
      'https://org.example/next/2',
    ]);
    await release(1);
    expect((await pages.next()).value).toEqual([{ id: 2 }]);
    await release(2);
    expect((await pages.next()).value).toEqual([{ id: 3 }]);
    expect((await pages.next()).done).toBe(true);
    expect(sent).toHaveLength(3);
  });

  it('leaves a read-ahead the caller does not take to finish, without an unhandled rejection', async () => {
    const { api, sent, release, refuse } = pagedApi();
    const pages = delta(api, 'https://org.example/contacts?$deltatoken=1').pages();
    const first = pages.next();
    await release(0);
    await first;
    await pages.return(undefined);
    expect(sent).toHaveLength(2);
    // No signal of its own: the transport would keep one alive with each request's timeout.
    expect(sent[1]?.signal).toBeUndefined();
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      await refuse(1);
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});
