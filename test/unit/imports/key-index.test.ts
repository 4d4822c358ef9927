import { describe, expect, it } from 'vitest';
import { KeyIndex } from '../../../src/imports/key-index.js';

describe('KeyIndex', () => {
  it('returns the previous row for a repeated key and survives growth', () => {
    const index = new KeyIndex(16);
    for (let i = 0; i < 50_000; i += 1) expect(index.set(`key-${i}`, i + 2)).toBeUndefined();
    expect(index.size).toBe(50_000);
    expect(index.set('key-123', 99_999)).toBe(125);
    expect(index.get('key-123')).toBe(99_999);
    expect(index.get('key-49999')).toBe(50_001);
    expect(index.get('absent')).toBeUndefined();
  });
});
