import { describe, expect, it } from 'vitest';
import { formatUtc, isDateOnly, parseDateTime } from '../../../emulator/values.js';

describe('date values', () => {
  it.each([
    ['2024-02-29', true],
    ['2000-02-29', true],
    ['2023-02-29', false],
    ['1900-02-29', false],
    ['2024-04-31', false],
    ['2024-12-31', true],
    ['2024-13-01', false],
    ['2024-00-10', false],
    ['2024-1-01', false],
    ['2024-01-01T00:00:00Z', false],
  ])('isDateOnly(%s) = %s', (text, expected) => {
    expect(isDateOnly(text)).toBe(expected);
  });

  it('DateTimeOffset literals: offsets convert to UTC, no offset means UTC, output has second precision and Z', () => {
    expect(formatUtc(parseDateTime('2021-04-04T12:00:00-08:00')!)).toBe('2021-04-04T20:00:00Z');
    expect(formatUtc(parseDateTime('2021-04-04T12:00:00')!)).toBe('2021-04-04T12:00:00Z');
    expect(formatUtc(parseDateTime('2021-04-04T12:00:00.999Z')!)).toBe('2021-04-04T12:00:00Z');
    expect(parseDateTime('04/04/2021')).toBeUndefined();
  });
});
