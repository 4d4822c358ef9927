import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../emulator/index.js';
import { call, startFast } from './client.js';

let emu: RunningEmulator;
beforeAll(async () => {
  emu = await startFast();
});
afterAll(() => emu.close());
beforeEach(() => {
  emu.store.clear('account');
  emu.store.clear('contact');
});

interface Op {
  readonly method: string;
  readonly url: string;
  readonly body?: unknown;
  readonly contentId?: number;
  readonly headers?: Record<string, string>;
}

const CRLF = '\r\n';

function part(op: Op): string {
  const lines = ['Content-Type: application/http', 'Content-Transfer-Encoding:binary'];
  if (op.contentId !== undefined) lines.push(`Content-ID: ${op.contentId}`);
  lines.push('', `${op.method} ${op.url} HTTP/1.1`);
  if (op.body !== undefined) lines.push('Content-Type: application/json;type=entry');
  for (const [k, v] of Object.entries(op.headers ?? {})) lines.push(`${k}: ${v}`);
  lines.push('', op.body === undefined ? '' : JSON.stringify(op.body));
  return lines.join(CRLF);
}

/** Items: a single op, or an array = one change set. */
function batchBody(boundary: string, items: readonly (Op | readonly Op[])[]): string {
  const out: string[] = [];
  items.forEach((item, i) => {
    if (Array.isArray(item)) {
      const cs = `changeset_${i}`;
      const inner = item.map((op: Op) => `--${cs}${CRLF}${part(op)}`).join(CRLF);
      out.push(
        `--${boundary}${CRLF}Content-Type: multipart/mixed;boundary=${cs}${CRLF}${CRLF}${inner}${CRLF}--${cs}--${CRLF}`,
      );
    } else out.push(`--${boundary}${CRLF}${part(item as Op)}`);
  });
  return out.join(CRLF) + `${CRLF}--${boundary}--${CRLF}`;
}

async function batch(items: readonly (Op | readonly Op[])[], headers: Record<string, string> = {}) {
  const boundary = 'batch_AAA123';
  const r = await call(emu, 'POST', '$batch', {
    body: batchBody(boundary, items),
    headers: { 'Content-Type': `multipart/mixed;boundary=${boundary}`, ...headers },
  });
  const responseBoundary = /boundary=(batchresponse_[\w-]+)/.exec(r.headers.get('content-type') ?? '')?.[1];
  return {
    ...r,
    responseBoundary,
    statuses: [...r.text.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1])),
  };
}

describe('$batch (behaviours item 5)', () => {
  it('[webapi §6] outer 200 multipart/mixed with batchresponse_ boundary; GET and POST parts in order', async () => {
    const r = await batch([
      { method: 'POST', url: `${emu.apiRoot}accounts`, body: { name: 'In batch' } },
      { method: 'GET', url: `accounts?$select=name`, headers: { Accept: 'application/json' } },
    ]);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^multipart\/mixed; boundary=batchresponse_[0-9a-f-]+$/);
    expect(r.statuses).toEqual([204, 200]);
    expect(r.text).toContain('Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n');
    expect(r.text).toMatch(
      /OData-EntityId: http:\/\/127\.0\.0\.1:\d+\/api\/data\/v9\.2\/accounts\([0-9a-f-]{36}\)/,
    );
    expect(r.text).toMatch(
      /Location: http:\/\/127\.0\.0\.1:\d+\/api\/data\/v9\.2\/accounts\([0-9a-f-]{36}\)/,
    );
    expect(r.text).toContain('"name":"In batch"');
    expect(r.text.trimEnd().endsWith(`--${r.responseBoundary}--`)).toBe(true);
  });

  it('[webapi §6] change set: Content-ID $n references in bodies and URLs; changesetresponse_ boundary', async () => {
    const r = await batch([
      [
        { method: 'POST', url: '/api/data/v9.2/accounts', body: { name: 'Parent' }, contentId: 1 },
        {
          method: 'POST',
          url: 'contacts',
          body: { lastname: 'Kid', 'parentcustomerid_account@odata.bind': '$1' },
          contentId: 2,
        },
        { method: 'PATCH', url: '$1', body: { accountnumber: 'REF-1' }, contentId: 3 },
      ],
    ]);
    expect(r.statuses).toEqual([204, 204, 204]);
    expect(r.text).toMatch(/Content-Type: multipart\/mixed; boundary=changesetresponse_[0-9a-f-]+/);
    expect(r.text).toContain('Content-ID: 2');
    const [account] = emu.store.all('account');
    expect(account!.accountnumber).toBe('REF-1');
    expect(emu.store.all('contact')[0]!._parentcustomerid_value).toBe(account!.accountid);
  });

  it('[webapi §6, §13 $batch outer status] a failing change set rolls back all its operations; the answer is 400 with only the failure', async () => {
    const r = await batch([
      [
        { method: 'POST', url: 'accounts', body: { name: 'Rolled back' }, contentId: 1 },
        { method: 'POST', url: 'contacts', body: { firstname: 'x'.repeat(51) }, contentId: 2 },
      ],
    ]);
    expect(r.status).toBe(400);
    expect(r.responseBoundary).toMatch(/^batchresponse_/);
    expect(r.statuses).toEqual([400]);
    expect(r.text).toContain(
      `{"error":{"code":"0x80044331","message":"A validation error occurred.  The length of the 'firstname' attribute of the 'contact' entity exceeded the maximum allowed length of '50'."}}`,
    );
    expect(emu.store.count('account')).toBe(0);
  });

  it('[webapi §6] a forward Content-ID reference fails with the documented message', async () => {
    const r = await batch([
      [
        {
          method: 'POST',
          url: 'contacts',
          body: { lastname: 'a', 'parentcustomerid_account@odata.bind': '$2' },
          contentId: 1,
        },
        { method: 'POST', url: 'accounts', body: { name: 'later' }, contentId: 2 },
      ],
    ]);
    expect(r.statuses).toEqual([400]);
    expect(r.text).toContain("Content-ID Reference: '$2' does not exist in the batch context.");
  });

  it('[webapi §6, §13 $batch outer status] processing stops at the first failed item by default; the answer is 400 and multipart', async () => {
    const missing = '00000000-0000-0000-0000-00000000dead';
    const r = await batch([
      { method: 'POST', url: 'accounts', body: { name: 'first' } },
      { method: 'GET', url: `accounts(${missing})` },
      { method: 'POST', url: 'accounts', body: { name: 'never' } },
    ]);
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toMatch(/^multipart\/mixed; boundary=batchresponse_/);
    expect(r.statuses).toEqual([204, 404]);
    expect(emu.store.all('account').map((a) => a.name)).toEqual(['first']);
  });

  it('[webapi §6, §13 $batch outer status] Prefer: odata.continue-on-error runs the later items, answers 200; change sets stay atomic', async () => {
    const missing = '00000000-0000-0000-0000-00000000dead';
    const r = await batch(
      [
        { method: 'GET', url: `accounts(${missing})` },
        [
          { method: 'POST', url: 'accounts', body: { name: 'cs ok' }, contentId: 1 },
          { method: 'POST', url: 'accounts', body: { name: 'cs bad', numberofemployees: -5 }, contentId: 2 },
        ],
        { method: 'POST', url: 'accounts', body: { name: 'after' } },
      ],
      { Prefer: 'odata.continue-on-error' },
    );
    expect(r.status).toBe(200);
    expect(r.statuses).toEqual([404, 400, 204]);
    expect(emu.store.all('account').map((a) => a.name)).toEqual(['after']);
  });

  it('[webapi §6] more than 1,000 operations are refused', async () => {
    const ops: Op[] = Array.from({ length: 1001 }, () => ({ method: 'GET', url: 'WhoAmI' }));
    const r = await batch(ops);
    expect(r.status).toBe(400);
    expect(r.json.error.message).toContain('1000');
    const ok = await batch(ops.slice(0, 1000));
    expect(ok.statuses).toHaveLength(1000);
  });

  it('[webapi §6] GET inside a change set is refused', async () => {
    const r = await batch([[{ method: 'GET', url: 'accounts', contentId: 1 }]]);
    expect(r.status).toBe(400);
    expect(r.statuses).toEqual([400]);
  });
});
