import { describe, expect, it } from 'vitest';
import {
  boundaryOf,
  buildBatchBody,
  groupBatch,
  matchBatchResponses,
  parseBatchResponse,
  type BatchRequest,
} from '../../../src/dataverse/batch.js';

const root = 'http://127.0.0.1:1/api/data/v9.2/';

describe('buildBatchBody', () => {
  it('writes CRLF multipart with change sets, Content-IDs and inner requests', () => {
    const requests: BatchRequest[] = [
      { method: 'POST', path: 'tasks', body: { subject: 'one' }, changeSet: 'a' },
      { method: 'POST', path: 'tasks', body: { subject: 'two' }, changeSet: 'a' },
      { method: 'GET', path: 'accounts?$select=name' },
    ];
    const body = buildBatchBody(root, requests, 'batch_X', () => 'CS');
    const lines = body.split('\r\n');
    expect(body).not.toMatch(/[^\r]\n/);
    expect(lines[0]).toBe('--batch_X');
    expect(lines[1]).toBe('Content-Type: multipart/mixed; boundary=changeset_CS');
    expect(lines.filter((l) => l === '--changeset_CS')).toHaveLength(2);
    expect(lines).toContain('Content-ID: 1');
    expect(lines).toContain('Content-ID: 2');
    expect(lines).toContain(`POST ${root}tasks HTTP/1.1`);
    expect(lines).toContain('{"subject":"two"}');
    expect(lines).toContain('--changeset_CS--');
    expect(lines).toContain(`GET ${root}accounts?$select=name HTTP/1.1`);
    expect(lines.at(-2)).toBe('--batch_X--');
  });

  it('groups only consecutive requests of the same change set', () => {
    const r = (changeSet?: string): BatchRequest => ({
      method: 'DELETE',
      path: 'x',
      ...(changeSet ? { changeSet } : {}),
    });
    expect(groupBatch([r('a'), r('a'), r(), r('a'), r('b')]).map((g) => g.length)).toEqual([2, 1, 1, 1]);
  });
});

const response = [
  '--batchresponse_1',
  'Content-Type: multipart/mixed; boundary=changesetresponse_2',
  '',
  '--changesetresponse_2',
  'Content-Type: application/http',
  'Content-Transfer-Encoding: binary',
  'Content-ID: 1',
  '',
  'HTTP/1.1 204 No Content',
  'OData-Version: 4.0',
  'OData-EntityId: http://h/api/data/v9.2/tasks(a59c24f3-fafc-e411-80dd-00155d2a68cb)',
  '',
  '',
  '--changesetresponse_2--',
  '--batchresponse_1',
  'Content-Type: application/http',
  'Content-Transfer-Encoding: binary',
  '',
  'HTTP/1.1 404 Not Found',
  'Content-Type: application/json; odata.metadata=minimal',
  '',
  '{"error":{"code":"0x80040217","message":"account With Id = x Does Not Exist"}}',
  '--batchresponse_1--',
  '',
].join('\r\n');

describe('parseBatchResponse', () => {
  it('reads nested change sets, statuses, headers and bodies', () => {
    const parts = parseBatchResponse('multipart/mixed; boundary=batchresponse_1', response);
    expect(parts).toHaveLength(2);
    expect(parts[0]!.changeSet).toHaveLength(1);
    expect(parts[0]!.changeSet![0]!.status).toBe(204);
    expect(parts[0]!.changeSet![0]!.contentId).toBe('1');
    expect(parts[0]!.changeSet![0]!.headers['odata-entityid']).toContain('a59c24f3');
    expect(parts[1]!.status).toBe(404);
    expect(JSON.parse(parts[1]!.body)).toEqual({
      error: { code: '0x80040217', message: 'account With Id = x Does Not Exist' },
    });
  });

  it('accepts LF-only bodies and quoted boundaries', () => {
    const parts = parseBatchResponse(
      'multipart/mixed; boundary="batchresponse_1"',
      response.replace(/\r\n/g, '\n'),
    );
    expect(parts.map((p) => p.status)).toEqual([0, 404]);
    expect(boundaryOf('multipart/mixed;boundary=abc')).toBe('abc');
  });

  it('refuses non-multipart answers', () => {
    expect(() => parseBatchResponse('application/json', '{}')).toThrow(/multipart/);
  });
});

describe('matchBatchResponses', () => {
  const req = (changeSet?: string): BatchRequest => ({
    method: 'PATCH',
    path: 'x',
    ...(changeSet ? { changeSet } : {}),
  });

  it('gives every member of a failed change set the failing answer', () => {
    const parts = [
      {
        status: 0,
        headers: {},
        body: '',
        changeSet: [
          { status: 400, headers: {}, body: '{"error":{"code":"0x80044331","message":"too long"}}' },
        ],
      },
      { status: 204, headers: {}, body: '' },
    ];
    const out = matchBatchResponses([req('a'), req('a'), req('a'), req()], parts);
    expect(out.map((r) => r.status)).toEqual([400, 400, 400, 204]);
    expect(out[1]!.error?.code).toBe('0x80044331');
    expect(out[3]!.error).toBeUndefined();
  });

  it('marks items the server never reached', () => {
    const out = matchBatchResponses([req(), req(), req()], [{ status: 404, headers: {}, body: '' }]);
    expect(out.map((r) => r.status)).toEqual([404, 0, 0]);
    expect(out[2]!.error?.code).toBe('MISSING_RESPONSE');
  });
});
