// `dvpipe extract --job --url --out` (DESIGN.md contract): writes the extract to a local file, exit 0.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';
import { dvpipe } from '../../helpers/cli.js';

let emu: RunningEmulator;
let dir: string;
beforeAll(async () => {
  emu = await startEmulator({ profile: 'fast' });
  dir = await mkdtemp(join(tmpdir(), 'extract-cli-'));
  for (let i = 0; i < 25; i += 1)
    emu.store.put('account', { name: `=Account ${i}`, accountnumber: `N-${i}` });
});
afterAll(async () => {
  await emu.close();
  await rm(dir, { recursive: true, force: true });
});

describe('dvpipe extract', () => {
  it('writes the CSV and its manifest to --out, exit 0; a second incremental run holds only changes', async () => {
    const jobFile = join(dir, 'accounts.json');
    await writeFile(
      jobFile,
      JSON.stringify({
        name: 'accounts',
        table: 'account',
        columns: ['accountid', 'name', 'accountnumber'],
        incremental: { mode: 'changeTracking' },
        output: { bom: false },
      }),
    );
    const out = join(dir, 'out', 'accounts.csv');
    const first = await dvpipe(['extract', '--job', jobFile, '--url', emu.url, '--out', out, '--json']);
    expect(first.code).toBe(0);
    const rows = parse(await readFile(out), { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(25);
    expect(new Set(rows.map((r) => r.accountnumber))).toEqual(
      new Set(emu.store.all('account').map((a) => a.accountnumber)),
    );
    expect(rows.every((r) => r.name!.startsWith("'=Account"))).toBe(true);
    const manifest = JSON.parse(await readFile(join(dir, 'out', 'accounts.manifest.json'), 'utf8')) as {
      rows: number;
    };
    expect(manifest.rows).toBe(25);
    expect((JSON.parse(first.stdout) as { rows: number }).rows).toBe(25);

    emu.store.put('account', { name: 'Late', accountnumber: 'N-late' });
    const second = await dvpipe(['extract', '--job', jobFile, '--url', emu.url, '--out', out]);
    expect(second.code).toBe(0);
    // Without --json: a sentence, with the paths as given.
    expect(second.stdout).toMatch(
      new RegExp(
        `^1 row \\(changed since the last extract \\(change tracking\\); --full reads every row\\) written to ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} in \\d+\\.\\d s: \\d+ requests, 0 throttled \\(429\\)\\.\nManifest: `,
      ),
    );
    const changed = parse(await readFile(out), { columns: true }) as Record<string, string>[];
    expect(changed.map((r) => r.accountnumber)).toEqual(['N-late']);
  });

  it('exits 2 with the reason when the job is not an extract job', async () => {
    const jobFile = join(dir, 'import.json');
    await writeFile(
      jobFile,
      JSON.stringify({ name: 'x', table: 'account', operation: 'create', columns: { Name: 'name' } }),
    );
    const result = await dvpipe(['extract', '--job', jobFile, '--url', emu.url, '--out', join(dir, 'x.csv')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('expected an extract job');
  });
});
