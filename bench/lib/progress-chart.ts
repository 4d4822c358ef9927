import { renderChart, type Series } from './svg-chart.js';

const COLORS: Record<string, string> = {
  seed: '#d62728',
  sequential: '#d62728',
  'dynamics-web-api': '#ff7f0e',
  retrieveAll: '#ff7f0e',
  'dotnet-style': '#1f77b4',
  ours: '#2ca02c',
};

/** What the emulator said about one strategy's user every quarter second of its run. */
export interface ProgressSample {
  readonly t: number;
  /** Records written (imports) or rows read (extracts) so far. */
  readonly done: number;
  readonly inflight: number;
}

export interface ChartableRun {
  readonly strategy: string;
  readonly samples: readonly ProgressSample[];
}

/** Records moved so far and requests in flight, over real time, one line per strategy. */
export function renderProgressChart(
  title: string,
  progressTitle: string,
  unit: string,
  runs: readonly ChartableRun[],
): string {
  const series = (value: (s: ProgressSample, first: number) => number): Series[] =>
    runs.map((r) => {
      const first = r.samples[0]?.done ?? 0;
      return {
        name: r.strategy,
        color: COLORS[r.strategy] ?? '#333',
        points: r.samples.map((s) => [s.t, value(s, first)] as const),
      };
    });
  return renderChart(title, [
    { title: progressTitle, unit, series: series((s, first) => s.done - first) },
    { title: 'Requests in flight', unit: 'requests', series: series((s) => s.inflight) },
  ]);
}

/** Samples `read` every 250 ms while `work` runs. */
export async function sampled<T>(
  read: () => Promise<{ done: number; inflight: number }>,
  work: () => Promise<T>,
): Promise<{ value: T; samples: ProgressSample[] }> {
  const samples: ProgressSample[] = [];
  const started = performance.now();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const now = await read();
      samples.push({ t: (performance.now() - started) / 1000, ...now });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  try {
    return { value: await work(), samples };
  } finally {
    sampling = false;
    await sampler;
  }
}
