import { describe, expect, it } from 'vitest';
import { boundaryOf, parseBatch } from '../../../emulator/batch.js';

describe('$batch parsing', () => {
  it('reads boundaries with or without quotes', () => {
    expect(boundaryOf('multipart/mixed;boundary=batch_AAA123')).toBe('batch_AAA123');
    expect(boundaryOf('multipart/mixed; boundary="batch_x"')).toBe('batch_x');
    expect(boundaryOf('application/json')).toBeUndefined();
  });

  it('parses change sets and single requests, with CRLF or bare LF line ends', () => {
    for (const eol of ['\r\n', '\n']) {
      const body = [
        '--batch_A',
        'Content-Type: multipart/mixed;boundary=changeset_B',
        '',
        '--changeset_B',
        'Content-Type: application/http',
        'Content-Transfer-Encoding:binary',
        'Content-ID: 1',
        '',
        'POST https://org.crm.dynamics.com/api/data/v9.2/tasks HTTP/1.1',
        'Content-Type: application/json;type=entry',
        '',
        '{"subject":"Task 1"}',
        '--changeset_B--',
        '',
        '--batch_A',
        'Content-Type: application/http',
        'Content-Transfer-Encoding: binary',
        '',
        'GET accounts?$select=name HTTP/1.1',
        'Prefer: odata.include-annotations="*"',
        '',
        '',
        '--batch_A--',
        '',
      ].join(eol);
      const items = parseBatch(body, 'batch_A');
      expect(items).toHaveLength(2);
      const [cs, get] = items;
      expect(cs).toMatchObject({ kind: 'changeset' });
      if (cs?.kind !== 'changeset' || get?.kind !== 'request') throw new Error('shape');
      expect(cs.requests[0]).toEqual({
        contentId: '1',
        method: 'POST',
        target: 'https://org.crm.dynamics.com/api/data/v9.2/tasks',
        headers: { 'content-type': 'application/json;type=entry' },
        body: '{"subject":"Task 1"}',
      });
      expect(get.request).toMatchObject({ method: 'GET', target: 'accounts?$select=name', body: '' });
      expect(get.request.headers.prefer).toBe('odata.include-annotations="*"');
    }
  });
});
