import { describe, expect, it } from 'vitest';
import { RepeatedKeys } from '../../../src/imports/repeated-keys.js';

describe('RepeatedKeys', () => {
  it('tells keys seen twice from keys seen once, across many growths of its table', () => {
    const keys = new RepeatedKeys(1_000_000);
    for (let i = 0; i < 50_000; i += 1) expect(keys.add(`k${i}`)).toBe(true);
    for (let i = 0; i < 50_000; i += 7) keys.add(`k${i}`);
    for (let i = 0; i < 50_000; i += 1) expect(keys.repeated(`k${i}`), `k${i}`).toBe(i % 7 === 0);
    expect(keys.repeated('never added')).toBe(false);
  });

  it('refuses a new key once full, and still counts the keys it holds', () => {
    const keys = new RepeatedKeys(3);
    expect(['a', 'b', 'c'].map((key) => keys.add(key))).toEqual([true, true, true]);
    expect(keys.add('d')).toBe(false);
    expect(keys.add('a')).toBe(true);
    expect(keys.repeated('a')).toBe(true);
    expect(keys.repeated('d')).toBe(false);
  });
});
