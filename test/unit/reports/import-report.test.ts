import { describe, expect, it } from 'vitest';
import {
  buildImportReport,
  busyTime,
  FailureGrouper,
  inFlightSeries,
  MAX_POINTS,
} from '../../../src/reports/import-report.js';
import { paceText, renderImportReportHtml } from '../../../src/reports/html.js';
import type { ForecastReport } from '../../../src/imports/forecast.js';
import type { ChunkResult, RunManifest, RunSummary } from '../../../src/imports/types.js';

describe('busyTime', () => {
  it('counts overlapping requests once and gaps not at all', () => {
    expect(
      busyTime([
        { start: 0, end: 100 },
        { start: 50, end: 150 },
        { start: 300, end: 400 },
      ]),
    ).toBe(250);
    expect(busyTime([])).toBe(0);
  });
});

describe('inFlightSeries', () => {
  it('gives the most requests open in each slice, including those open across it', () => {
    const series = inFlightSeries(
      [
        { start: 0, end: 1000 },
        { start: 100, end: 200 },
        { start: 150, end: 180 },
      ],
      1000,
    );
    expect(series).toHaveLength(20); // 50 ms slices
    expect(series[0]).toEqual([0.025, 1]);
    expect(series[2]).toEqual([0.125, 2]); // 100-150: the long one and the second
    expect(series[3]).toEqual([0.175, 3]); // 150-200: all three
    expect(series[10]).toEqual([0.525, 1]); // only the long one is open across it
  });

  it('keeps at most MAX_POINTS points for a long run', () => {
    expect(inFlightSeries([{ start: 0, end: 3_600_000 }], 3_600_000)).toHaveLength(MAX_POINTS);
  });
});

describe('FailureGrouper', () => {
  const failure = (row: number, code: string, column: string) => ({
    row,
    code,
    column,
    message: `column "${column}": "Ann O'Neil" is too long`,
    cells: { Name: "Ann O'Neil" },
  });

  it('groups by code and by column, most frequent first, with up to three examples and no cell values', () => {
    const grouper = new FailureGrouper(false);
    for (let row = 2; row < 7; row += 1) grouper.add(failure(row, 'StringTooLong', 'Name'));
    grouper.add(failure(9, 'BadDate', 'Birthday'));
    const { byCode, byColumn } = grouper.groups();
    expect(byCode.map((g) => [g.key, g.count])).toEqual([
      ['StringTooLong', 5],
      ['BadDate', 1],
    ]);
    expect(byColumn.map((g) => [g.key, g.count])).toEqual([
      ['Name', 5],
      ['Birthday', 1],
    ]);
    expect(byCode[0]!.examples).toEqual([
      { row: 2, column: 'Name' },
      { row: 3, column: 'Name' },
      { row: 4, column: 'Name' },
    ]);
  });

  it('keeps messages and cells when cell values are allowed, and the page escapes them', () => {
    const grouper = new FailureGrouper(true);
    grouper.add({ ...failure(2, 'StringTooLong', 'Name'), cells: { Name: '<script>x</script>' } });
    const { byCode } = grouper.groups();
    expect(byCode[0]!.examples[0]).toMatchObject({ message: expect.stringContaining("Ann O'Neil") });
    const html = renderImportReportHtml(report(grouper.groups(), true), { files: [] });
    expect(html).toContain('&#60;script&#62;x&#60;/script&#62;');
    expect(html).not.toContain('<script>');
    expect(html).toContain('Ann O&#39;Neil');
  });
});

const manifest = {
  runId: 'r1',
  startedAt: '2026-12-03T00:00:00.000Z',
  plannedAt: '2026-12-03T00:00:01.000Z',
} as RunManifest;
const summary = {
  runId: 'r1',
  job: 'contacts',
  status: 'completedWithErrors',
  input: { name: 'c.csv', url: 'file:///c.csv', etag: 'e' },
  dryRun: false,
  rows: {
    total: 10,
    succeeded: 9,
    failed: 1,
    created: 9,
    updated: 0,
    upserted: 0,
    deleted: 0,
    unchanged: 0,
    superseded: 0,
  },
  chunks: 1,
  durationMs: 5000,
  requests: 3,
  retries: 1,
  throttled: 1,
  startedAt: '2026-12-03T00:00:00.000Z',
  finishedAt: '2026-12-03T00:00:05.000Z',
  errorsFile: 'errors.csv',
  recordsFile: 'records.csv',
} satisfies RunSummary;
const chunk: ChunkResult = {
  runId: 'r1',
  chunk: 0,
  counters: { requests: 3, retries: 1, throttled: 1 },
  durationMs: 3000,
  completedAt: '2026-12-03T00:00:04.000Z',
  lines: {
    records: '',
    errors: '',
    tally: {
      succeeded: 9,
      failed: 1,
      byStatus: {
        created: 9,
        updated: 0,
        upserted: 0,
        deleted: 0,
        unchanged: 0,
        superseded: 0,
        associated: 0,
        disassociated: 0,
      },
    },
  },
  trace: {
    t0: Date.parse('2026-12-03T00:00:01.000Z'),
    requests: [
      [0, 500, 200, 0],
      [600, 100, 429, 1],
      [2000, 1000, 200, 1],
    ],
    rows: [[3000, 9, 0]],
  },
};

function report(failures: ReturnType<FailureGrouper['groups']>, cellValues: boolean) {
  return buildImportReport({ manifest, summary, chunks: [chunk], failures, cellValues });
}

describe('buildImportReport', () => {
  it('places requests, 429s and rows on the run clock and times the phases', () => {
    const built = report({ byCode: [], byColumn: [] }, false);
    expect(built.throttles).toEqual([1.7]); // the 429 answered 700 ms after the chunk started, 1 s into the run
    expect(built.rowsOverTime).toEqual([
      [0, 0, 0],
      [4, 9, 0],
    ]);
    expect(Object.fromEntries(built.phases.map((p) => [p.phase, p.ms]))).toEqual({
      'Read and plan': 1000,
      'Lookups (busy)': 500,
      'Writes (busy)': 1100,
      'Result files': 1000,
      'Whole run': 5000,
    });
    expect(built.chunks).toEqual([[0, 10, 3, 3, 1]]);
  });

  it('counts rows when each chunk completed when no trace was kept (a dry run)', () => {
    const { trace: _dropped, ...untraced } = chunk;
    const built = buildImportReport({
      manifest,
      summary,
      chunks: [untraced],
      failures: { byCode: [], byColumn: [] },
      cellValues: false,
    });
    expect(built.rowsOverTime).toEqual([
      [0, 0, 0],
      [4, 9, 1],
    ]);
    expect(built.inFlight).toEqual([]);
  });
});

describe('the forecast in the report', () => {
  it('sets the forecast beside what the run did, and leaves the section out without one', () => {
    const forecast: ForecastReport = {
      identities: 2,
      requests: 4,
      executionSeconds: 12.4,
      durationSeconds: 2.5,
      binding: 'execution-time',
      entitlementRequests: 10,
      perWindow: { executionShare: 0.01, requestShare: 0.001 },
      actual: { durationSeconds: 5, requests: 3, speedOfLimits: 0.5 },
    };
    const built = buildImportReport({
      manifest,
      summary: { ...summary, forecast },
      chunks: [chunk],
      failures: { byCode: [], byColumn: [] },
      cellValues: false,
    });
    const html = renderImportReportHtml(built, { files: [] });
    const table = /<table id="forecast">([\s\S]*?)<\/table>/.exec(html)?.[1] ?? '';
    const cells = [...table.matchAll(/<td>([^<]*)<\/td>/g)].map((m) => m[1]);
    expect(cells).toEqual([
      'Duration',
      '2.5 s at the limits (execution-time binds)',
      '5.0 s',
      'Requests',
      '4',
      '3',
      'Dataverse execution time',
      '12 s',
      '-',
      'Power Platform requests (daily entitlement)',
      '10',
      '-',
    ]);
    expect(html).toContain('Forecast for 2 identities');
    expect(html).toContain('at 50% of the pace the limits allow');
    expect(renderImportReportHtml(report({ byCode: [], byColumn: [] }, false), { files: [] })).not.toContain(
      'id="forecast"',
    );
  });

  it('says why a run went faster than its forecast, rather than above 100% of what the limits allow', () => {
    expect(paceText(0.5)).toBe('The run went at 50% of the pace the limits allow.');
    expect(paceText(1.08)).toBe('The run went at 108% of the pace the limits allow.');
    expect(paceText(2.49)).toBe(
      'The run went 2.5 times as fast as the forecast: the server took less time per record than the ' +
        'documented costs the forecast is made of.',
    );
  });
});
