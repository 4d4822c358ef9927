// The report's charts, drawn as SVG by Apache ECharts' server-side renderer: the page gets finished
// SVG, no script and no library, so it opens offline and fast whatever the run's size.
import { init, use, type EChartsCoreOption } from 'echarts/core';
import { BarChart, LineChart, ScatterChart } from 'echarts/charts';
import { AriaComponent, GridComponent, LegendComponent, TitleComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';

use([
  BarChart,
  LineChart,
  ScatterChart,
  AriaComponent,
  GridComponent,
  LegendComponent,
  TitleComponent,
  SVGRenderer,
]);

const WIDTH = 880;
const palette = {
  written: '#2f6fb3',
  failed: '#c0392b',
  inFlight: '#5b8c3a',
  throttled: '#d35400',
  bar: '#6c5b9c',
};

/** Renders one chart to an SVG string; `aria` makes ECharts describe the data in the SVG's label. */
export function renderSvg(option: EChartsCoreOption, height = 300): string {
  const chart = init(null, null, { renderer: 'svg', ssr: true, width: WIDTH, height });
  try {
    chart.setOption({
      animation: false,
      aria: { enabled: true },
      textStyle: { fontFamily: 'system-ui, sans-serif' },
      ...option,
    });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

/** Both time charts span the whole run, so they line up one above the other. */
const timeAxis = (seconds: number) =>
  ({ type: 'value', name: 's', min: 0, max: Math.max(seconds, 0.001) }) as const;

/** A chart over the run's time: title, legend and grid as every time chart has them, then its series. */
function timeChart(title: string, unit: string, seconds: number, series: unknown[], gridLeft = 70): string {
  return renderSvg({
    title: { text: title, left: 'center', textStyle: { fontSize: 14 } },
    legend: { top: 30 },
    grid: { left: gridLeft, right: 40, top: 72, bottom: 40 },
    xAxis: timeAxis(seconds),
    yAxis: { type: 'value', name: unit, minInterval: 1 },
    series,
  });
}

/** 429 answers as triangles on the time axis; `label` shows each one's count. */
function throttleMarks(data: readonly (readonly number[])[], label?: object) {
  return {
    name: '429 Too Many Requests',
    type: 'scatter',
    symbol: 'triangle',
    symbolSize: 9,
    color: palette.throttled,
    ...(label ? { label } : {}),
    data,
  };
}

/** Rows written and failed over time (cumulative). */
export function rowsChart(points: readonly (readonly [number, number, number])[], seconds: number): string {
  return timeChart('Rows over time', 'rows', seconds, [
    {
      name: 'Rows written',
      type: 'line',
      showSymbol: false,
      color: palette.written,
      data: points.map(([t, n]) => [t, n]),
    },
    {
      name: 'Rows refused',
      type: 'line',
      showSymbol: false,
      color: palette.failed,
      data: points.map(([t, , f]) => [t, f]),
    },
  ]);
}

/** Requests in flight over time, with each 429 answer marked on the time axis. */
export function requestsChart(
  inFlight: readonly (readonly [number, number])[],
  throttles: readonly number[],
  seconds: number,
): string {
  return timeChart('Requests in flight (429s marked)', 'requests', seconds, [
    {
      name: 'In flight',
      type: 'line',
      step: 'middle',
      showSymbol: false,
      color: palette.inFlight,
      data: inFlight.map(([t, n]) => [t, n]),
    },
    throttleMarks(throttles.map((t) => [t, 0])),
  ]);
}

/** Horizontal bars: one per label. */
export function barsChart(
  title: string,
  unit: string,
  bars: readonly { label: string; value: number }[],
): string {
  const height = Math.max(160, 60 + bars.length * 28);
  return renderSvg(
    {
      title: { text: title, left: 'center', textStyle: { fontSize: 14 } },
      grid: { left: 170, right: 60, top: 40, bottom: 30 },
      xAxis: { type: 'value', name: unit, minInterval: 1 },
      yAxis: { type: 'category', inverse: true, data: bars.map((b) => b.label) },
      series: [
        {
          name: title,
          type: 'bar',
          color: palette.bar,
          label: { show: true, position: 'right' },
          data: bars.map((b) => b.value),
        },
      ],
    },
    height,
  );
}

/** Rows read from Dataverse over time (cumulative): an extract's progress. */
export function rowsReadChart(points: readonly (readonly [number, number])[], seconds: number): string {
  return timeChart(
    'Rows read over time',
    'rows',
    seconds,
    [
      {
        name: 'Rows read',
        type: 'line',
        showSymbol: false,
        color: palette.written,
        data: points.map(([t, n]) => [t, n]),
      },
    ],
    80,
  );
}

/**
 * Partitions being read at once over time (each keeps one page request open, reading ahead), with
 * each time slice that saw 429 answers marked by a triangle labelled with their number.
 */
export function readingChart(
  reading: readonly (readonly [number, number])[],
  throttles: readonly (readonly [number, number])[],
  seconds: number,
): string {
  return timeChart('Partitions being read (429s marked)', 'partitions', seconds, [
    {
      name: 'Reading',
      type: 'line',
      step: 'end',
      showSymbol: false,
      color: palette.inFlight,
      data: reading.map(([t, n]) => [t, n]),
    },
    throttleMarks(
      throttles.map(([t, n]) => [t, 0, n]),
      { show: true, position: 'top', formatter: (p: { value: unknown }) => labelOf(p.value) },
    ),
  ]);
}

function labelOf(value: unknown): string {
  return Array.isArray(value) ? String(value[2]) : '';
}

/**
 * One bar per partition from when its read started to when it ended (a Gantt chart: an invisible bar
 * up to the start, stacked under the visible one), labelled with its rows.
 */
export function partitionsChart(
  partitions: readonly { label: string; startS: number; seconds: number; rows: number; failed: boolean }[],
  seconds: number,
): string {
  const height = Math.max(160, 70 + partitions.length * 16);
  return renderSvg(
    {
      title: {
        text: 'Partitions: when each was read, and its rows',
        left: 'center',
        textStyle: { fontSize: 14 },
      },
      grid: { left: 60, right: 90, top: 40, bottom: 30 },
      xAxis: { ...timeAxis(seconds) },
      yAxis: { type: 'category', inverse: true, data: partitions.map((p) => p.label) },
      series: [
        {
          name: 'waiting',
          type: 'bar',
          stack: 'time',
          silent: true,
          itemStyle: { color: 'transparent' },
          data: partitions.map((p) => p.startS),
        },
        {
          name: 'Reading',
          type: 'bar',
          stack: 'time',
          color: palette.bar,
          barMaxWidth: 12,
          label: {
            show: true,
            position: 'right',
            formatter: (p: { dataIndex: number }) => partitions[p.dataIndex]!.rows.toLocaleString('en-US'),
          },
          data: partitions.map((p) =>
            p.failed ? { value: p.seconds, itemStyle: { color: palette.failed } } : p.seconds,
          ),
        },
      ],
    },
    height,
  );
}
