import { describe, expect, it } from 'vitest';
import { isDataverseError } from '../../../../emulator/errors.js';
import { compileFilter, parseFilter, pathResolver } from '../../../../emulator/odata/filter.js';

const rows = [
  { name: 'Alpha', n: 1, d: '2024-01-01', g: '3f2504e0-4f89-11d3-9a0c-0305e82c3301', nested: { Value: 'A' } },
  { name: "O'Neil", n: 2, d: '2024-06-01', g: null, nested: { Value: 'B' } },
  { name: null, n: 3, d: null, g: null, nested: { Value: 'A' } },
];
const run = (text: string) => rows.filter(compileFilter(parseFilter(text), pathResolver)).map((r) => r.n);

describe('$filter', () => {
  it.each([
    ["name eq 'alpha'", [1]],
    ["name eq 'O''Neil'", [2]],
    ['name eq null', [3]],
    ['name ne null', [1, 2]],
    ['n gt 1 and n lt 3', [2]],
    ['n eq 1 or n eq 3', [1, 3]],
    ['not (n eq 1)', [2, 3]],
    ['not n eq 1', [2, 3]],
    ["contains(name,'NE')", [2]],
    ["contains(name,'ne') eq false", [1, 3]],
    ['d ge 2024-02-01', [2]],
    ['g eq 3F2504E0-4F89-11D3-9A0C-0305E82C3301', [1]],
    ["nested/Value eq Microsoft.Dynamics.CRM.Something'A'", [1, 3]],
    ['(n eq 1 or n eq 2) and d ne null', [1, 2]],
    ['Microsoft.Dynamics.CRM.In(PropertyName=\'name\',PropertyValues=["ALPHA","o\'neil"])', [1, 2]],
    ['Microsoft.Dynamics.CRM.In(PropertyName=\'n\',PropertyValues=["1","3"])', [1, 3]],
    ['Microsoft.Dynamics.CRM.NotIn(PropertyName=\'n\',PropertyValues=["1"])', [2, 3]],
    ['Microsoft.Dynamics.CRM.Between(PropertyName=\'n\',PropertyValues=["2","3"])', [2, 3]],
    ['Microsoft.Dynamics.CRM.In(PropertyName=\'n\',PropertyValues=["2"]) or n eq 1', [1, 2]],
    // JSON escapes inside the collection's strings (reference §13, In).
    ['Microsoft.Dynamics.CRM.In(PropertyName=\'name\',PropertyValues=["\\u0061lpha","x\\"y"])', [1]],
  ])('%s', (text, expected) => {
    expect(run(text)).toEqual(expected);
  });

  it('gt with null never matches (SQL semantics)', () => {
    expect(run('d gt 2000-01-01')).toEqual([1, 2]);
  });

  it.each([
    "name eq 'x",
    'n eq',
    'n eq 1 and',
    '(n eq 1',
    'n ~ 1',
    // §13 In: the value list is a JSON collection; single-quoted items are OData syntax errors there.
    "Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['ALPHA'])",
    "Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=[\"ALPHA\",'beta'])",
    // A JSON string is no operand of a comparison.
    'name eq "ALPHA"',
  ])('syntax error %s → 0x80060888', (text) => {
    try {
      parseFilter(text);
      expect.unreachable();
    } catch (error) {
      expect(isDataverseError(error) && error.code).toBe('0x80060888');
    }
  });
});
