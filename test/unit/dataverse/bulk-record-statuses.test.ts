import { describe, expect, it } from 'vitest';
import { errorFromResponse, parseBulkRecordStatuses } from '../../../src/dataverse/errors.js';

describe('elastic tables: per-record bulk outcome', () => {
  it('reads BulkApiErrorDetails from an error answer (a JSON array in a string)', () => {
    const body = JSON.stringify({
      error: {
        code: '0x80040237',
        message: 'Cannot insert duplicate key.',
        '@Microsoft.PowerApps.CDS.ErrorDetails.BulkApiErrorDetails': JSON.stringify([
          { RequestIndex: 3, Id: 'AAAAAAAA-0000-4000-8000-000000000001', StatusCode: 412 },
          { RequestIndex: 7, StatusCode: 400 },
        ]),
      },
    });
    const error = errorFromResponse(412, body);
    expect(error.code).toBe('0x80040237');
    expect(error.recordStatuses).toEqual([
      { index: 3, id: 'aaaaaaaa-0000-4000-8000-000000000001', status: 412 },
      { index: 7, status: 400 },
    ]);
    expect(error.forRecord(3).recordStatuses).toHaveLength(2);
  });

  it('ignores an absent or malformed annotation (the request is then treated as all or nothing)', () => {
    expect(errorFromResponse(400, '{"error":{"code":"0x1","message":"m"}}').recordStatuses).toBeUndefined();
    expect(parseBulkRecordStatuses('not json')).toBeUndefined();
    expect(parseBulkRecordStatuses('[{"RequestIndex":"1","StatusCode":400}]')).toBeUndefined();
    expect(parseBulkRecordStatuses([{ RequestIndex: 0, StatusCode: 500 }])).toEqual([
      { index: 0, status: 500 },
    ]);
  });
});
