// README's quick start (`npm start`, which runs `dvpipe demo`), run the way a new user meets it: every
// sample lands with no failed row, nothing on stderr, the nightly extract runs, and the numbers read
// as the CLI prints them. `--once` stops after the samples; `--port 0` avoids a taken 7071.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dvpipe } from '../../helpers/cli.js';

describe('dvpipe demo (npm start): the quick start', () => {
  let out: string;
  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'dvp-demo-'));
  });
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('imports the samples with no failed row, runs the extract, prints no warning, exit 0', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, DVPIPE_FROM_SOURCE: '1' };
    for (const name of Object.keys(env))
      if (name === 'Storage' || name.startsWith('Storage__')) delete env[name];
    const { code, stdout, stderr } = await dvpipe(['demo', '--once', '--port', '0', '--out', out], { env });

    expect(code).toBe(0);
    // stderr carries progress only: no warning, no stack.
    const progress = stderr.split('\n').filter((line) => line.length > 0);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const line of progress)
      expect(line).toMatch(
        /^ {2}run r[0-9a-f]{24}: [\d,]+\/[\d,]+ rows( \| chunks written \d+ \| chunks in all \d+)?$/,
      );
    const lines = stdout.split('\n');
    const ran = (job: string) => lines.find((line) => line.startsWith(`  ${job}: `));
    expect(ran('accounts')).toMatch(
      /^ {2}accounts: 150 of 150 rows written \(150 created, 0 updated\), 0 failed, in \d+\.\d s with \d+ requests, 0 throttled$/,
    );
    expect(ran('contacts')).toMatch(
      /^ {2}contacts: 2,000 of 2,000 rows written \(2,000 created, 0 updated\), 0 failed, in \d+\.\d s with \d+ requests, 0 throttled$/,
    );
    expect(lines).toContain('    Dataverse now holds 150 account records');
    expect(lines).toContain('    Dataverse now holds 2,000 contact records');
    expect(lines.find((line) => line.startsWith('  extract accounts-nightly: '))).toMatch(
      /^ {2}extract accounts-nightly: 150 rows \(full\) -> extracts\/accounts-nightly\/\d{4}\/\d\d\/\d\d\/accounts-nightly-\d{8}T\d{6}Z\.csv$/,
    );
    // The result copies are where it says, named as a path the user can open (absolute outside the cwd).
    expect(lines.filter((line) => line.includes('(copied to '))).toEqual([
      expect.stringContaining(`(copied to ${join(out, 'accounts')}/)`),
      expect.stringContaining(`(copied to ${join(out, 'contacts')}/)`),
    ]);
    const summary = JSON.parse(await readFile(join(out, 'contacts', 'summary.json'), 'utf8')) as {
      rows: { total: number; failed: number };
    };
    expect(summary.rows).toMatchObject({ total: 2000, failed: 0 });
    expect(stdout).not.toMatch(/warn|error|failed rows/i);
  });
});
