import { describe, expect, it } from 'vitest';
import { compileDateFormat } from '../../../src/mapping/date-format.js';
import { createZoneConverter } from '../../../src/mapping/dates.js';

describe('compileDateFormat', () => {
  it('compiles tokens into one anchored regex', () => {
    const f = compileDateFormat('dd.MM.yyyy HH:mm:ss');
    if (typeof f === 'string') throw new Error(f);
    expect(f.tokens).toEqual(['dd', 'MM', 'yyyy', 'HH', 'mm', 'ss']);
    expect(f.hasTime).toBe(true);
    expect(f.regex.exec('31.12.2024 23:59:58')?.slice(1)).toEqual(['31', '12', '2024', '23', '59', '58']);
    expect(f.regex.test('31x12x2024 23:59:58')).toBe(false);
  });

  it.each([
    ['dd/MM/yy', 'two-digit years'],
    ['yyyy-MM', 'has no dd'],
    ['yyyy-MM-dd hh', 'unexpected "h"'],
    ['yyyy-MM-dd mm', 'has mm but no HH'],
    ['yyyy-MM-dd-dd', 'appears twice'],
  ])('%s is refused (%s)', (format, reason) => {
    expect(compileDateFormat(format)).toContain(reason);
  });
});

describe('createZoneConverter', () => {
  const wall = (iso: string) => Date.parse(`${iso}Z`);

  it('converts wall-clock time to UTC across daylight saving', () => {
    const ny = createZoneConverter('America/New_York');
    expect(new Date(ny(wall('2024-01-15T12:00:00')) ?? 0).toISOString()).toBe('2024-01-15T17:00:00.000Z');
    expect(new Date(ny(wall('2024-07-15T12:00:00')) ?? 0).toISOString()).toBe('2024-07-15T16:00:00.000Z');
  });

  it('has no answer inside the spring-forward gap, and the first answer in the fall-back overlap', () => {
    const ny = createZoneConverter('America/New_York');
    expect(ny(wall('2024-03-10T02:30:00'))).toBeUndefined();
    expect(new Date(ny(wall('2024-11-03T01:30:00')) ?? 0).toISOString()).toBe('2024-11-03T05:30:00.000Z');
  });

  it('handles half-hour zones', () => {
    const india = createZoneConverter('Asia/Kolkata');
    expect(new Date(india(wall('2024-05-01T10:00:00')) ?? 0).toISOString()).toBe('2024-05-01T04:30:00.000Z');
  });
});
