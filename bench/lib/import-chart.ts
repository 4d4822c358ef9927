import { renderChart, type Series } from './svg-chart.js';

const COLORS: Record<string, string> = {
  seed: '#d62728',
  'dynamics-web-api': '#ff7f0e',
  'dotnet-style': '#1f77b4',
  ours: '#2ca02c',
};

export interface ChartableReport {
  readonly strategy: string;
  readonly samples: readonly { readonly t: number; readonly written: number; readonly inflight: number }[];
}

/** Records written so far and requests in flight, over real time, one line per strategy. */
export function renderImportChart(
  reports: readonly ChartableReport[],
  rows: number,
  timeScale: number,
): string {
  const series = (value: (s: ChartableReport['samples'][number], first: number) => number): Series[] =>
    reports.map((r) => {
      const first = r.samples[0]?.written ?? 0;
      return {
        name: r.strategy,
        color: COLORS[r.strategy] ?? '#333',
        points: r.samples.map((s) => [s.t, value(s, first)] as const),
      };
    });
  return renderChart(
    `Import of ${rows.toLocaleString('en-US')} rows against the realistic emulator (time scale ${timeScale})`,
    [
      {
        title: 'Records written so far (bulk requests land 1,000 at a time)',
        unit: 'records',
        series: series((s, first) => s.written - first),
      },
      { title: 'Requests in flight', unit: 'requests', series: series((s) => s.inflight) },
    ],
  );
}

// `npx tsx bench/lib/import-chart.ts bench/results/import.json`: redraw the chart from saved results.
if (process.argv[1]?.endsWith('import-chart.ts') && process.argv[2]) {
  const { readFile, writeFile } = await import('node:fs/promises');
  const path = process.argv[2];
  const data = JSON.parse(await readFile(path, 'utf8')) as {
    rows: number;
    timeScale: number;
    reports: (ChartableReport & { rep: number })[];
  };
  await writeFile(
    path.replace(/\.json$/, '.svg'),
    renderImportChart(
      data.reports.filter((r) => r.rep === 1),
      data.rows,
      data.timeScale,
    ),
  );
}
