/** A small line chart as SVG: one panel per series group, no dependencies. */
export interface Series {
  readonly name: string;
  readonly color: string;
  /** [seconds, value] */
  readonly points: readonly (readonly [number, number])[];
}

export interface Panel {
  readonly title: string;
  readonly unit: string;
  readonly series: readonly Series[];
}

const WIDTH = 760;
const PANEL_HEIGHT = 220;
const MARGIN = { left: 70, right: 160, top: 30, bottom: 36 };

export function renderChart(title: string, panels: readonly Panel[]): string {
  const height = panels.length * PANEL_HEIGHT + 30;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="18" text-anchor="middle" font-size="14">${escape(title)}</text>`,
  ];
  panels.forEach((panel, i) => parts.push(renderPanel(panel, 30 + i * PANEL_HEIGHT)));
  parts.push('</svg>');
  return parts.join('\n');
}

function renderPanel(panel: Panel, top: number): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const all = panel.series.flatMap((s) => s.points);
  const maxX = Math.max(1e-9, ...all.map(([x]) => x));
  const maxY = niceMax(Math.max(1e-9, ...all.map(([, y]) => y)));
  const x = (v: number) => MARGIN.left + (v / maxX) * plotW;
  const y = (v: number) => top + MARGIN.top + plotH - (v / maxY) * plotH;
  const out = [
    `<text x="${MARGIN.left}" y="${top + 18}" font-size="12">${escape(panel.title)}</text>`,
    `<line x1="${MARGIN.left}" y1="${y(0)}" x2="${MARGIN.left + plotW}" y2="${y(0)}" stroke="#888"/>`,
    `<line x1="${MARGIN.left}" y1="${y(0)}" x2="${MARGIN.left}" y2="${y(maxY)}" stroke="#888"/>`,
  ];
  for (let k = 0; k <= 4; k += 1) {
    const v = (maxY * k) / 4;
    out.push(
      `<line x1="${MARGIN.left}" y1="${y(v)}" x2="${MARGIN.left + plotW}" y2="${y(v)}" stroke="#eee"/>`,
    );
    out.push(`<text x="${MARGIN.left - 6}" y="${y(v) + 4}" text-anchor="end">${format(v)}</text>`);
    const t = (maxX * k) / 4;
    out.push(`<text x="${x(t)}" y="${y(0) + 16}" text-anchor="middle">${t.toFixed(1)} s</text>`);
  }
  out.push(
    `<text x="14" y="${top + MARGIN.top + plotH / 2}" transform="rotate(-90 14 ${top + MARGIN.top + plotH / 2})" text-anchor="middle">${escape(panel.unit)}</text>`,
  );
  panel.series.forEach((series, i) => {
    const path = series.points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ');
    out.push(`<polyline fill="none" stroke="${series.color}" stroke-width="1.6" points="${path}"/>`);
    const ly = top + MARGIN.top + 14 * i;
    out.push(
      `<line x1="${WIDTH - MARGIN.right + 10}" y1="${ly}" x2="${WIDTH - MARGIN.right + 28}" y2="${ly}" stroke="${series.color}" stroke-width="2"/>`,
    );
    out.push(`<text x="${WIDTH - MARGIN.right + 32}" y="${ly + 4}">${escape(series.name)}</text>`);
  });
  return out.join('\n');
}

function niceMax(v: number): number {
  const power = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= v) return step * power;
  return 10 * power;
}

function format(v: number): string {
  return v >= 1000 ? `${(v / 1000).toFixed(v >= 10_000 ? 0 : 1)}k` : v.toFixed(v < 10 && v > 0 ? 1 : 0);
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
