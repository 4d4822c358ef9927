import { describe, expect, it } from 'vitest';
import { BulkSizer, bisect, chunk, isBulkUnsupported, isRecordLevel } from '../../../src/dataverse/bulk.js';
import { DataverseError } from '../../../src/dataverse/errors.js';

const err = (status: number, code = '', message = 'x', retryable = false) =>
  new DataverseError({ status, code, message, retryable });

describe('chunk and bisect', () => {
  it('chunks in order with a short tail', () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunk([], 3)).toEqual([]);
  });

  it('bisects into halves (larger first) and stops at one record', () => {
    expect(bisect([1, 2, 3, 4, 5])).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    expect(bisect([1])).toBeUndefined();
  });

  it('isolates k bad records among n in about 2·k·log2(n) requests', () => {
    const bad = new Set([17, 503, 998]);
    let requests = 0;
    const failures: number[] = [];
    const send = (items: number[]) => {
      requests++;
      if (!items.some((i) => bad.has(i))) return;
      const halves = bisect(items);
      if (!halves) failures.push(items[0]!);
      else halves.forEach(send);
    };
    send(Array.from({ length: 1000 }, (_, i) => i));
    expect(failures.sort((a, b) => a - b)).toEqual([17, 503, 998]);
    expect(requests).toBeLessThanOrEqual(2 * 3 * Math.ceil(Math.log2(1000)) + 1);
  });
});

describe('BulkSizer', () => {
  it('spreads small jobs over the lanes but not below 100 per request', () => {
    const s = new BulkSizer(1000, 300_000);
    expect(s.plan('t', 20_000, 4)).toBe(1000);
    expect(s.plan('t', 1000, 4)).toBe(250);
    expect(s.plan('t', 150, 8)).toBe(100);
    expect(s.plan('t', 10, 8)).toBe(100);
  });

  it('shrinks when a request takes more than a quarter of the timeout, grows back when fast', () => {
    const s = new BulkSizer(1000, 100_000);
    s.observe('t', 1000, 50_000);
    expect(s.size('t')).toBe(500);
    s.observe('t', 500, 1_000);
    expect(s.size('t')).toBe(1000);
    s.shrink('t', 1000);
    expect(s.size('t')).toBe(500);
    expect(s.size('other')).toBe(1000);
  });
});

describe('failure classification', () => {
  it('recognises tables that refuse bulk messages', () => {
    expect(
      isBulkUnsupported(
        err(400, '0x80040800', "The 'CreateMultiple' method does not support entities of type 'account'."),
      ),
    ).toBe(true);
    expect(isBulkUnsupported(err(400, '0x80044331', 'A validation error occurred.'))).toBe(false);
    expect(isBulkUnsupported(new Error('x'))).toBe(false);
  });

  it('bisects only on record-level failures', () => {
    expect(isRecordLevel(err(400, '0x80044331'))).toBe(true);
    expect(isRecordLevel(err(412, '0x80060892'))).toBe(true);
    expect(isRecordLevel(err(404, '0x80040217'))).toBe(true);
    expect(isRecordLevel(err(429, '0x80072321', 'x', true))).toBe(false);
    expect(isRecordLevel(err(503, '', 'x', true))).toBe(false);
    expect(isRecordLevel(err(401))).toBe(false);
    expect(isRecordLevel(err(0, 'NETWORK', 'x', true))).toBe(false);
  });
});
