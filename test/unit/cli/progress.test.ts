import { describe, expect, it } from 'vitest';
import { formatDetails, progressLine } from '../../../src/cli/progress.js';

describe('progressLine', () => {
  it('counts rows while the total is unknown, with no percentage or bar', () => {
    expect(
      progressLine({ label: 'Reading', done: 150_000, total: undefined, details: '', barSize: 10 }),
    ).toBe('Reading: 150,000 rows');
  });

  it('shows a bar, a percentage and done/total once the total is known', () => {
    expect(
      progressLine({
        label: 'Writing',
        done: 50_000,
        total: 200_000,
        details: 'requests 120 | 429s 3',
        barSize: 8,
      }),
    ).toBe('Writing [██░░░░░░] 25% | 50,000/200,000 rows | requests 120 | 429s 3');
  });
});

describe('formatDetails', () => {
  it('groups thousands as the summary does', () => {
    expect(formatDetails({ requests: 1160, '429s': 0 })).toBe('requests 1,160 | 429s 0');
    expect(formatDetails(undefined)).toBe('');
  });
});
