// How long a report.html takes to open in headless Chromium (Debian's package, driven by puppeteer-core):
// `openMs` from `page.goto` to the first animation frame after the load event (laid out and painted),
// `loadEventMs` the page's own navigation timing. Each open is a fresh page.
import { pathToFileURL } from 'node:url';
import { launchChromium } from '../../dev/browser.js';

export interface OpenTimes {
  readonly openMs: { readonly median: number; readonly all: readonly number[] };
  readonly loadEventMs: { readonly median: number; readonly all: readonly number[] };
}

export async function timeReportOpens(file: string, opens: number): Promise<OpenTimes> {
  const browser = await launchChromium();
  const openMs: number[] = [];
  const loadEventMs: number[] = [];
  try {
    for (let i = 0; i < opens; i += 1) {
      const page = await browser.newPage();
      const began = performance.now();
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => resolve(0)))');
      openMs.push(performance.now() - began);
      loadEventMs.push(
        Number(
          await page.evaluate(
            "(() => { const [nav] = performance.getEntriesByType('navigation'); return nav.loadEventEnd - nav.startTime; })()",
          ),
        ),
      );
      await page.close();
    }
  } finally {
    await browser.close();
  }
  return { openMs: summary(openMs), loadEventMs: summary(loadEventMs) };
}

function summary(xs: readonly number[]) {
  const median = [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  return { median: Math.round(median), all: xs.map(Math.round) };
}
