import { describe, expect, it } from 'vitest';
import type { ApiRequest, ApiSender } from '../../../src/dataverse/api.js';
import { executeBatch } from '../../../src/dataverse/batch.js';

// A view made by client.withHeaders carries its headers into every $batch part, where Dataverse reads
// per-request headers such as MSCRM.BypassBusinessLogicExecution (reference §13).
describe('$batch parts carry the view headers', () => {
  it('adds them to each part, a part keeping its own value of the same header', async () => {
    const sent: ApiRequest[] = [];
    const api: ApiSender = {
      apiRoot: 'https://org.example/api/data/v9.2/',
      partHeaders: { 'MSCRM.BypassBusinessLogicExecution': 'CustomSync', 'If-Match': 'view' },
      async send(request) {
        sent.push(request);
        const boundary = 'batchresponse_1';
        const part = (status: number) =>
          `--${boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nHTTP/1.1 ${status} No Content\r\nOData-Version: 4.0\r\n\r\n`;
        return {
          status: 200,
          headers: { 'content-type': `multipart/mixed; boundary=${boundary}` },
          body: `${part(204)}\r\n${part(204)}\r\n--${boundary}--\r\n`,
          ambiguous: false,
        };
      },
    };
    const responses = await executeBatch(api, [
      { method: 'DELETE', path: 'accounts(00000000-0000-0000-0000-000000000001)' },
      {
        method: 'PATCH',
        path: 'accounts(00000000-0000-0000-0000-000000000002)',
        body: { name: 'x' },
        headers: { 'If-Match': '*' },
      },
    ]);
    expect(responses.map((r) => r.status)).toEqual([204, 204]);
    const sentBody = sent[0]!.raw!;
    const raw = typeof sentBody === 'string' ? sentBody : Buffer.from(sentBody).toString('utf8');
    const parts = raw.split(/--batch_[0-9a-f-]+/).filter((p: string) => p.includes('HTTP/1.1'));
    expect(parts).toHaveLength(2);
    for (const part of parts) expect(part).toContain('MSCRM.BypassBusinessLogicExecution: CustomSync');
    expect(parts[0]).toContain('If-Match: view');
    expect(parts[1]).toContain('If-Match: *');
    expect(parts[1]).not.toContain('If-Match: view');
  });
});
