import { describe, expect, it } from 'vitest';
import { buildQueryString, idFromEntityUrl } from '../../../src/dataverse/api.js';
import {
  DataverseError,
  errorFromResponse,
  isDataverseError,
  redactHeaders,
} from '../../../src/dataverse/errors.js';
import { deterministicId } from '../../../src/dataverse/ids.js';
import { buildQueryOptions, isDeletedEntity, preferFor } from '../../../src/dataverse/query.js';
import { formatKey } from '../../../src/dataverse/records.js';

describe('deterministicId', () => {
  it('is stable, version 5, and distinct per name and namespace', () => {
    const a = deterministicId('run-1', 'alice@example.com');
    expect(a).toBe(deterministicId('run-1', 'alice@example.com'));
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(deterministicId('run-1', 'bob@example.com')).not.toBe(a);
    expect(deterministicId('run-2', 'alice@example.com')).not.toBe(a);
  });

  it('matches RFC 9562 v5 for a UUID namespace (DNS namespace, "www.example.com")', () => {
    expect(deterministicId('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('keeps the ids of text namespaces across namespace switches (a resumed run must find its records)', () => {
    // Pinned values: a run resumed by a newer version must derive the ids the first attempt created.
    const pinned = {
      contact: deterministicId('dvpipe:contact', 'alice@example.com'),
      row: deterministicId('dvpipe:run-1', '42'),
      unicode: deterministicId('dvpipe:r', 'é漢字'),
    };
    expect(pinned).toEqual({
      contact: 'fa9ffabd-3f1c-5d4e-b053-df0156be7a15',
      row: 'd084dcde-15cd-5913-a35e-8de7924e747c',
      unicode: '4c8f8eac-e3c3-5540-b927-9134912ff413',
    });
    expect(deterministicId('dvpipe:contact', 'alice@example.com')).toBe(pinned.contact);
  });
});

describe('formatKey', () => {
  it('writes ids bare and alternate keys quoted and escaped', () => {
    expect(formatKey({ id: '00000000-0000-0000-0000-000000000001' })).toBe(
      '(00000000-0000-0000-0000-000000000001)',
    );
    expect(formatKey({ key: { accountnumber: "O'Brien & Co" } })).toBe(
      "(accountnumber='O''Brien%20%26%20Co')",
    );
    expect(formatKey({ key: { a: 'x', n: 2 } })).toBe("(a='x',n=2)");
    expect(formatKey({ key: { _parentaccountid_value: '00000000-0000-0000-0000-000000000002' } })).toBe(
      '(_parentaccountid_value=00000000-0000-0000-0000-000000000002)',
    );
    expect(() => formatKey({ id: 'nope' })).toThrow();
    expect(() => formatKey({ key: {} })).toThrow();
  });
});

describe('query building', () => {
  it('builds OData options and Prefer values', () => {
    expect(
      buildQueryOptions({
        select: ['name', 'accountnumber'],
        filter: "name eq 'x'",
        orderBy: ['name desc'],
        top: 5,
      }),
    ).toEqual({
      $select: 'name,accountnumber',
      $filter: "name eq 'x'",
      $orderby: 'name desc',
      $top: '5',
    });
    expect(buildQueryString({ $select: 'a,b', $filter: "x eq 'a&b'", $top: undefined })).toBe(
      "?$select=a%2Cb&$filter=x%20eq%20'a%26b'",
    );
    expect(preferFor({ pageSize: 9000, formattedValues: true, trackChanges: true })).toEqual([
      'odata.maxpagesize=5000',
      'odata.include-annotations="OData.Community.Display.V1.FormattedValue"',
      'odata.track-changes',
    ]);
    // Labels and lookup targets in one preference, so one request brings both.
    expect(preferFor({ formattedValues: true, lookupTargets: true })).toEqual([
      'odata.maxpagesize=5000',
      'odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname"',
    ]);
    // A bare $top is one answer; with a page size Dataverse would ignore $top and page on.
    expect(preferFor({ top: 1 })).toEqual([]);
    expect(preferFor({ top: 1, pageSize: 1 })).toEqual(['odata.maxpagesize=1']);
  });

  it('refuses $filter with change tracking, as Dataverse does', () => {
    expect(() => buildQueryOptions({ trackChanges: true, filter: 'a eq 1' })).toThrow(/Change tracking/);
  });

  it('recognises deleted-entity rows of a delta read', () => {
    expect(
      isDeletedEntity({
        '@odata.context': 'x/$metadata#accounts/$deletedEntity',
        id: 'g',
        reason: 'deleted',
      }),
    ).toBe(true);
    expect(isDeletedEntity({ accountid: 'g', name: 'n' })).toBe(false);
  });
});

describe('errors', () => {
  it('parses the Dataverse envelope and keeps status, code and retryability', () => {
    const e = errorFromResponse(412, '{"error":{"code":"0x80060892","message":"dup"}}');
    expect(isDataverseError(e)).toBe(true);
    expect([e.status, e.code, e.message, e.retryable]).toEqual([412, '0x80060892', 'dup', false]);
    expect(errorFromResponse(503, '<html>busy</html>').retryable).toBe(true);
    expect(isDataverseError(new Error('x'))).toBe(false);
  });

  it('never carries an Authorization value, in headers, JSON or inspection', () => {
    const e = new DataverseError({
      status: 500,
      code: '0x1',
      message: 'boom',
      request: {
        method: 'GET',
        url: 'http://h/x',
        headers: { Authorization: 'Bearer secret-token', accept: 'a' },
      },
    });
    expect(e.request?.headers['Authorization']).toBe('[redacted]');
    expect(JSON.stringify(e)).not.toContain('secret-token');
    expect(JSON.stringify(e.forRecord(3, 't'))).not.toContain('secret-token');
    expect(redactHeaders({ authorization: 'Bearer x', Cookie: 'a=b', other: 'ok' })).toEqual({
      authorization: '[redacted]',
      Cookie: '[redacted]',
      other: 'ok',
    });
  });

  it('reads the id from an OData-EntityId', () => {
    expect(idFromEntityUrl('http://h/api/data/v9.2/accounts(A59C24F3-FAFC-E411-80DD-00155D2A68CB)')).toBe(
      'a59c24f3-fafc-e411-80dd-00155d2a68cb',
    );
    expect(idFromEntityUrl("http://h/api/data/v9.2/accounts(accountnumber='1')")).toBeUndefined();
  });
});
