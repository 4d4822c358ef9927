import { describe, expect, it } from 'vitest';
import { createNumberParser } from '../../../src/mapping/numbers.js';

describe('createNumberParser', () => {
  const dot = createNumberParser('.');
  const comma = createNumberParser(',');

  it.each([
    ['1234.5', 1234.5, 1],
    ['1,234.56', 1234.56, 2],
    ['12,345,678', 12_345_678, 0],
    ['-0.50', -0.5, 1],
    ['+7', 7, 0],
    ['.25', 0.25, 2],
    ['00012.500', 12.5, 1],
  ])('"." as decimal mark: %s -> %d (%d decimals)', (text, value, decimals) => {
    expect(dot(text)).toEqual({ value, decimals });
  });

  it.each([
    ['1.234,56', 1234.56, 2],
    ['1 234,5', 1234.5, 1],
    ['1\u00a0234\u00a0567,25', 1_234_567.25, 2],
    ['1234,5', 1234.5, 1],
    ['1.234', 1234, 0],
  ])('"," as decimal mark: %s -> %d', (text, value, decimals) => {
    expect(comma(text)).toEqual({ value, decimals });
  });

  it.each(['1,5', '1,2345', '1.234,56', '12 apples', '', '-', '1,234,5'])('"." refuses %j', (text) => {
    expect(typeof dot(text)).toBe('string');
  });

  it.each(['1.234 567', '1.23', '1,234.56'])('"," refuses %j', (text) => {
    expect(typeof comma(text)).toBe('string');
  });

  it('names scientific notation, a spreadsheet symptom', () => {
    expect(dot('1.23457E+11')).toMatch(/scientific notation/);
    expect(comma('1,5e3')).toMatch(/scientific notation/);
  });
});
