// `dvpipe extract` writes report.html beside its file and manifest; what the report says must be the
// manifest's numbers (rows, partitions, requests, 429s), and its partitions must add up to the rows.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';
import type { ExtractManifest } from '../../../src/extracts/manifest.js';
import { dvpipe } from '../../helpers/cli.js';

const ROWS = 3_000;
const PERSONAL = 'Pers0nal-Secret-Name';

let emu: RunningEmulator;
let dir: string;
beforeAll(async () => {
  // A seeded generator: the same 429s on every run.
  let seed = 5;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  emu = await startEmulator({ profile: 'fast', faults: '429=0.15', random });
  dir = await mkdtemp(join(tmpdir(), 'extract-report-cli-'));
  for (let i = 0; i < ROWS; i += 1)
    emu.store.put('contact', {
      firstname: `${PERSONAL}${i}`,
      lastname: `L${i}`,
      emailaddress1: `p${i}@example.com`,
    });
}, 60_000);
afterAll(async () => {
  await emu?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The cells of each row of the table with this id, as text. */
function tableRows(html: string, id: string): string[][] {
  const table = new RegExp(`<table id="${id}">([\\s\\S]*?)</table>`).exec(html)?.[1] ?? '';
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(table)?.[1] ?? '';
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((row) =>
    [...row[1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((cell) => cell[1]!),
  );
}

const n = (text: string | undefined) => Number((text ?? '').replace(/,/g, ''));

describe('dvpipe extract: report.html', () => {
  it('writes a report whose summary, timeline and partitions match the manifest', async () => {
    const jobFile = join(dir, 'contacts.json');
    await writeFile(
      jobFile,
      JSON.stringify({
        name: 'contacts-report',
        table: 'contact',
        columns: ['contactid', 'firstname', 'lastname', 'emailaddress1'],
        partitions: 4,
        pageSize: 200,
      }),
    );
    const out = join(dir, 'out', 'contacts.csv');
    const run = await dvpipe(['extract', '--job', jobFile, '--url', emu.url, '--out', out]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const reportFile = join(dir, 'out', 'contacts.report.html');
    expect(run.stdout).toContain(`Report: ${reportFile.replace(process.cwd() + '/', '')}`);
    const manifest = JSON.parse(
      await readFile(join(dir, 'out', 'contacts.manifest.json'), 'utf8'),
    ) as ExtractManifest;
    const html = await readFile(reportFile, 'utf8');

    expect(manifest.rows).toBe(ROWS);
    expect(manifest.throttled).toBeGreaterThan(0);
    expect(manifest.partitions).toBeGreaterThan(1);
    const summary = Object.fromEntries(tableRows(html, 'summary').map(([k, v]) => [k, v]));
    expect(n(summary['Rows'])).toBe(manifest.rows);
    expect(n(summary['Partitions'])).toBe(manifest.partitions);
    expect(n(summary['Requests'])).toBe(manifest.requests);
    expect(n(summary['Retries'])).toBe(manifest.retries);
    expect(n(summary['429 answers'])).toBe(manifest.throttled);
    expect(n(summary['Bytes'])).toBe(manifest.bytes);
    expect(summary['Format']).toBe('csv');
    expect(summary['Read']).toBe('full (every row)');
    expect(summary['Duration']).toBe(
      `${(manifest.durationMs / 1000).toLocaleString('en-US', { maximumFractionDigits: 1 })} s`,
    );
    expect(html).toContain(`data-run-id="${manifest.runId}"`);

    // Every partition the manifest counts, each read, their rows adding up to the file's rows.
    const partitions = tableRows(html, 'partitions');
    expect(partitions).toHaveLength(manifest.partitions);
    expect(partitions.map((p) => n(p[0]))).toEqual(partitions.map((_, i) => i + 1));
    expect(partitions.every((p) => p[6] === 'read')).toBe(true);
    expect(partitions.reduce((sum, p) => sum + n(p[2]), 0)).toBe(manifest.rows);
    // Pages of 200 rows: no partition holds more rows than its pages can carry.
    for (const p of partitions) expect(n(p[2])).toBeLessThanOrEqual(n(p[3]) * 200);

    // The rows chart's data ends at the file's rows; the 429 marks add up to the manifest's 429s.
    const rowsData = /<figure data-chart="1">[\s\S]*?<\/figure>/.exec(html)![0];
    const points = [...rowsData.matchAll(/<tr><td>([^<]*)<\/td><td>([^<]*)<\/td><\/tr>/g)].map((m) => [
      n(m[1]),
      n(m[2]),
    ]);
    expect(points.at(-1)![1]).toBe(manifest.rows);
    const cumulative = points.map((p) => p[1] ?? 0);
    expect(cumulative).toEqual([...cumulative].sort((a, b) => a - b));
    const readingData = /<figure data-chart="2">[\s\S]*?<\/figure>/.exec(html)![0];
    const marks = readingData.split('<th>429s</th>')[1] ?? '';
    const throttles = [...marks.matchAll(/<tr><td>[^<]*<\/td><td>([^<]*)<\/td><\/tr>/g)].map((m) => n(m[1]));
    expect(throttles.reduce((a, b) => a + b, 0)).toBe(manifest.throttled);
    expect(html).toContain(`Dataverse answered 429 (Too Many Requests) ${manifest.throttled} times`);

    // Counts and ranges only: no cell value of the table.
    expect(html).not.toContain(PERSONAL);
    expect(html).not.toContain('@example.com');
  }, 120_000);
});
