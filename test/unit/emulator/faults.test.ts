import { describe, expect, it } from 'vitest';
import { parseFaults, rollFault } from '../../../emulator/faults.js';

describe('fault spec', () => {
  it('parses kind=rate lists', () => {
    expect(parseFaults('429=0.1,503=0.05,drop=0.02,slow=0.01')).toEqual({
      '429': 0.1,
      '503': 0.05,
      drop: 0.02,
      slow: 0.01,
    });
    expect(parseFaults('')).toEqual({});
  });

  it.each(['500=0.1', '429', '429=2', '429=x', '429=0.6,503=0.6'])('rejects %s', (spec) => {
    expect(() => parseFaults(spec)).toThrow();
  });

  it('rolls kinds in proportion to their rates', () => {
    const rates = parseFaults('429=0.25,drop=0.25');
    expect(rollFault(rates, () => 0.1)).toBe('429');
    expect(rollFault(rates, () => 0.3)).toBe('drop');
    expect(rollFault(rates, () => 0.6)).toBeUndefined();
  });
});
