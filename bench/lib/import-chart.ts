import { renderProgressChart, type ChartableRun } from './progress-chart.js';

/** Records written so far and requests in flight, over real time, one line per strategy. */
export function renderImportChart(reports: readonly ChartableRun[], rows: number, timeScale: number): string {
  return renderProgressChart(
    `Import of ${rows.toLocaleString('en-US')} rows against the realistic emulator (time scale ${timeScale})`,
    'Records written so far (bulk requests land 1,000 at a time)',
    'records',
    reports,
  );
}

// `npx tsx bench/lib/import-chart.ts bench/results/import.json`: redraw the chart from saved results.
if (process.argv[1]?.endsWith('import-chart.ts') && process.argv[2]) {
  const { readFile, writeFile } = await import('node:fs/promises');
  const path = process.argv[2];
  const data = JSON.parse(await readFile(path, 'utf8')) as {
    rows: number;
    timeScale: number;
    reports: (ChartableRun & { rep: number })[];
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
