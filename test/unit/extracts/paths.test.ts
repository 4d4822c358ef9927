import { describe, expect, it } from 'vitest';
import {
  compactTimestamp,
  deletesPathOf,
  failedReportPathOf,
  manifestPathOf,
  reportPathOf,
  renderPath,
  statePathOf,
} from '../../../src/extracts/paths.js';

describe('renderPath', () => {
  const now = new Date('2026-01-05T02:03:04.567Z');

  it('fills the default template with UTC calendar fields and a compact timestamp', () => {
    const path = renderPath('extracts/{job}/{yyyy}/{MM}/{dd}/{job}-{timestamp}.csv', {
      job: 'contacts',
      now,
      runId: 'r1',
    });
    expect(path).toBe('extracts/contacts/2026/01/05/contacts-20260105T020304Z.csv');
  });

  it('names the companions of a Parquet file apart from those of a CSV of the same name', () => {
    expect(manifestPathOf('a/b/x.parquet')).toBe('a/b/x.parquet.manifest.json');
    expect(reportPathOf('a/b/x.parquet')).toBe('a/b/x.parquet.report.html');
    expect(failedReportPathOf('a/b/x.parquet')).toBe('a/b/x.parquet.failed.report.html');
    expect(deletesPathOf('a/b/x.parquet')).toBe('a/b/x.parquet.deletes.csv');
    expect(failedReportPathOf('a/b/x.csv')).toBe('a/b/x.failed.report.html');
  });

  it('fills time parts, run id and partition, and drops a leading slash', () => {
    expect(
      renderPath('/{HH}{mm}{ss}/{runId}-{partition}.csv', { job: 'j', now, runId: 'abc', partition: '3' }),
    ).toBe('020304/abc-3.csv');
  });

  it('names the companions of a CSV', () => {
    expect(manifestPathOf('a/b/x.csv')).toBe('a/b/x.manifest.json');
    expect(deletesPathOf('a/b/x.CSV')).toBe('a/b/x.deletes.csv');
    expect(manifestPathOf('out')).toBe('out.manifest.json');
    expect(reportPathOf('a/b/x.csv')).toBe('a/b/x.report.html');
    expect(statePathOf('contacts')).toBe('extract-state/contacts.json');
    expect(compactTimestamp(new Date('2026-12-31T23:59:59Z'))).toBe('20261231T235959Z');
  });
});
