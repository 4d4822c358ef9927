import { describe, expect, it } from 'vitest';
import type { ExtractManifest } from '../../../src/extracts/manifest.js';
import type { ExtractTimeline } from '../../../src/extracts/timeline.js';
import { renderExtractReportHtml } from '../../../src/reports/extract-html.js';
import {
  buildExtractReport,
  describeRange,
  factsOfManifest,
  type ExtractRunFacts,
} from '../../../src/reports/extract-report.js';

const manifest: ExtractManifest = {
  job: 'contacts-nightly',
  table: 'contact',
  runId: 'contacts-nightly-20261203T020000Z-1a2b3c4d',
  trigger: 'timer',
  mode: 'watermark',
  path: 'contacts/2026/12/03/contacts.csv',
  format: 'csv',
  columns: ['contactid', 'firstname'],
  schema: [],
  rows: 1_700,
  deletedRows: 0,
  bytes: 51_234,
  sha256: 'ab'.repeat(32),
  bom: true,
  partitions: 3,
  watermark: { column: 'modifiedon', from: '2026-12-02T02:00:00Z', to: '2026-12-03T01:59:58Z' },
  startedAt: '2026-12-03T02:00:00.000Z',
  finishedAt: '2026-12-03T02:00:00.400Z',
  durationMs: 400,
  requests: 9,
  retries: 2,
  throttled: 2,
};

// Buckets of 100 ms: rows, pages, partitions reading, 429s, retries.
const timeline: ExtractTimeline = {
  bucketMs: 100,
  plannedMs: 40,
  buckets: [
    [0, 0, 3, 0, 0],
    [900, 2, 3, 2, 2],
    [600, 2, 2, 0, 0],
    [200, 1, 1, 0, 0],
  ],
  partitions: [
    {
      index: 1,
      range: 'createdon from the start to before 2026-06-01T00:00:00Z',
      rows: 1_000,
      pages: 2,
      startMs: 40,
      endMs: 250,
      status: 'read',
    },
    {
      index: 2,
      range: 'createdon from 2026-06-01T00:00:00Z to the end',
      rows: 700,
      pages: 2,
      startMs: 41,
      endMs: 360,
      status: 'read',
    },
    { index: 3, range: 'createdon empty', rows: 0, pages: 1, startMs: 42, endMs: 90, status: 'read' },
  ],
};

describe('buildExtractReport', () => {
  const report = buildExtractReport(
    factsOfManifest(manifest, 'contacts/2026/12/03/contacts.manifest.json'),
    timeline,
  );

  it('draws rows read cumulatively, ending at the rows of the manifest, the last point at the run end', () => {
    expect(report.rowsOverTime).toEqual([
      [0, 0],
      [0.1, 0],
      [0.2, 900],
      [0.3, 1_500],
      [0.4, 1_700],
    ]);
    expect(report.rowsOverTime.at(-1)![1]).toBe(manifest.rows);
  });

  it('folds buckets past the run end (the report is built a moment later) into its last point', () => {
    const late = buildExtractReport(
      factsOfManifest({ ...manifest, durationMs: 250 }, 'x.manifest.json'),
      timeline,
    );
    // The run ended half a bucket after 0.2 s: closer than the chart draws apart, so that point folds in too.
    expect(late.rowsOverTime).toEqual([
      [0, 0],
      [0.1, 0],
      [0.25, 1_700],
    ]);
    expect(late.reading).toEqual([
      [0, 3],
      [0.1, 3],
      [0.25, 1],
    ]);

    // A run ending a sliver after a bucket: its end replaces that bucket's point instead of crowding it.
    const sliver = buildExtractReport(
      factsOfManifest({ ...manifest, durationMs: 302 }, 'x.manifest.json'),
      timeline,
    );
    expect(sliver.rowsOverTime.slice(-2)).toEqual([
      [0.2, 900],
      [0.302, 1_700],
    ]);
  });

  it('steps partitions reading per bucket and marks the 429s and retries where they happened', () => {
    expect(report.reading).toEqual([
      [0, 3],
      [0.1, 3],
      [0.2, 2],
      [0.3, 1],
      [0.4, 1],
    ]);
    expect(report.throttles).toEqual([[0.15, 2]]);
    expect(report.retries).toEqual([[0.15, 2]]);
  });

  it('splits the run into planning, reading and committing that add up to the whole run', () => {
    expect(report.phases).toEqual([
      { phase: 'Metadata and plan', ms: 40 },
      { phase: 'Reading partitions', ms: 320 },
      { phase: 'Commit and manifest', ms: 40 },
      { phase: 'Whole run', ms: 400 },
    ]);
  });

  it('lists each partition: index, range, rows, pages, start, seconds, status', () => {
    expect(report.partitions).toEqual([
      [1, 'createdon from the start to before 2026-06-01T00:00:00Z', 1_000, 2, 0.04, 0.21, 'read'],
      [2, 'createdon from 2026-06-01T00:00:00Z to the end', 700, 2, 0.041, 0.319, 'read'],
      [3, 'createdon empty', 0, 1, 0.042, 0.048, 'read'],
    ]);
  });

  it('renders a page with the summary, linked files, one chart per view and the partitions table', () => {
    const html = renderExtractReportHtml(report);
    const summary = Object.fromEntries(
      [...html.matchAll(/<tr><td>([^<]*)<\/td><td>([^<]*)<\/td><\/tr>/g)].map((m) => [m[1], m[2]]),
    );
    expect(summary).toMatchObject({
      Table: 'contact',
      Format: 'csv',
      Rows: '1,700',
      'Files written': '1',
      Duration: '0.4 s',
      'Rows per second': '4,250',
      '429 answers': '2',
      'Watermark column': 'modifiedon',
      'Watermark from': '2026-12-02T02:00:00Z',
    });
    expect(summary['Read']).toBe('delta (rows changed since the stored watermark)');
    expect([...html.matchAll(/<a href="([^"]+)"/g)].map((m) => m[1])).toEqual([
      'contacts.csv',
      'contacts.manifest.json',
    ]);
    expect(html.match(/<svg /g)).toHaveLength(4);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(html).toContain('the client retried 2 requests');
    const partitionRows = /<table id="partitions">[\s\S]*?<\/table>/.exec(html)![0].match(/<tr>/g);
    expect(partitionRows).toHaveLength(4); // the header and three partitions
  });

  it('a failed run: no file links, the error, and the partition that stopped', () => {
    const facts: ExtractRunFacts = {
      ...factsOfManifest(manifest, 'x.manifest.json'),
      status: 'failed',
      error: { code: '0x80072321', message: 'The request timed out' },
    };
    const { manifestPath: _, ...withoutManifest } = facts;
    const failed = buildExtractReport(withoutManifest, {
      ...timeline,
      partitions: [
        { ...timeline.partitions[0]!, status: 'failed' },
        { ...timeline.partitions[1]!, status: 'reading', endMs: undefined },
      ],
    });
    const html = renderExtractReportHtml(failed);
    expect(html).not.toContain('<a href=');
    expect(html).toContain('<strong>0x80072321</strong>: The request timed out');
    expect(failed.phases.slice(1, 3)).toEqual([
      { phase: 'Reading partitions', ms: 360 },
      { phase: 'Until the failure', ms: 0 },
    ]);
    expect(/<table id="failed-partitions">[\s\S]*?<\/table>/.exec(html)![0]).toContain(
      'stopped (the run failed)',
    );
  });
});

describe('describeRange', () => {
  it.each([
    [undefined, 'whole table'],
    [
      'createdon ne null and createdon lt 2026-01-01T00:00:00Z',
      'createdon from the start to before 2026-01-01T00:00:00Z',
    ],
    [
      'createdon ge 2026-01-01T00:00:00Z and createdon lt 2026-02-01T00:00:00Z',
      'createdon from 2026-01-01T00:00:00Z to before 2026-02-01T00:00:00Z',
    ],
    ['createdon ge 2026-02-01T00:00:00Z', 'createdon from 2026-02-01T00:00:00Z to the end'],
    ['createdon eq null', 'createdon empty'],
    ['createdon ne null', 'createdon from the start to the end'],
    [
      'contactid lt 40000000-0000-0000-0000-400000000000',
      'contactid from the start to before 40000000-0000-0000-0000-400000000000',
    ],
  ])('%s -> %s', (filter, text) => {
    expect(describeRange(filter)).toBe(text);
  });
});
