import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dvpipe } from '../helpers/cli.js';
import { startLocalApp, type LocalApp } from '../helpers/local-app.js';

// `dvpipe smoke` (issue 19, item 14) against the compiled app on the local Functions host, with
// Azurite addressed by its connection string (Azurite takes Entra tokens only over HTTPS).

let app: LocalApp;
let dir: string;
beforeAll(async () => {
  app = await startLocalApp();
  dir = await mkdtemp(join(tmpdir(), 'dvp-smoke-'));
}, 120_000);
afterAll(async () => {
  await app?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const smokeContacts = () =>
  app.emulator.store.all('contact').filter((c) => c.emailaddress1 === 'smoke-test@dvpipe.invalid');

describe('dvpipe smoke', () => {
  it('uploads the one-row CSV, waits for its summary and prints it; a second test writes the same contact', async () => {
    const first = await dvpipe([
      'smoke',
      '--connection-string',
      app.azurite.connectionString,
      '--timeout',
      '60',
    ]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const uploaded = /^Uploaded incoming\/(smoke\/smoke-\d{8}T\d{6}Z-[0-9a-f]{6}\.csv) to (\S+)\.$/m.exec(
      first.stdout,
    );
    expect(uploaded, first.stdout).not.toBeNull();
    expect(first.stdout).toMatch(
      /^Succeeded in \d+\.\d s: 1 row, 1 succeeded \(1 created\), 0 failed\. Run \S+\.$/m,
    );
    const runId = /Run (\S+)\.$/m.exec(first.stdout)?.[1];
    expect(first.stdout).toContain(
      `Results: ${uploaded?.[2]}/results/${uploaded?.[1]}/${runId}/ (summary.json, errors.csv, records.csv, report.html)`,
    );
    const summary = JSON.parse(
      (await app.results.get(`${uploaded?.[1]}/${runId}/summary.json`))?.toString('utf8') ?? '{}',
    ) as { rows: { total: number; created: number } };
    expect(summary.rows).toMatchObject({ total: 1, created: 1 });
    expect(smokeContacts()).toHaveLength(1);
    expect(smokeContacts()[0]).toMatchObject({ firstname: 'dvpipe', lastname: 'Smoke test' });

    const second = await dvpipe(['smoke', '--connection-string', app.azurite.connectionString, '--json']);
    expect(second.code).toBe(0);
    const printed = JSON.parse(second.stdout) as {
      summary: { rows: { succeeded: number; created: number } };
      results: string;
    };
    expect(printed.summary.rows).toMatchObject({ succeeded: 1, created: 0 });
    expect(printed.results).toMatch(/\/results\/smoke\/smoke-.*\.csv\/[^/]+\/$/);
    expect(smokeContacts()).toHaveLength(1);
  }, 120_000);

  it('names the first failed row and exits 1 when a row fails', async () => {
    const file = join(dir, 'two.csv');
    await writeFile(file, 'Email,First Name,Last Name\nsmoke-two@dvpipe.invalid,Two,Rows\n,No,Key\n');
    const run = await dvpipe([
      'smoke',
      '--connection-string',
      app.azurite.connectionString,
      '--file',
      file,
      '--name',
      'two.csv',
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /^Finished with errors in \d+\.\d s: 2 rows, 1 succeeded \(1 created\), 1 failed\./m,
    );
    expect(run.stdout).toMatch(/^First failure: row 3, column Email: \S+ /m);

    // The same name again is refused before anything is uploaded.
    const again = await dvpipe([
      'smoke',
      '--connection-string',
      app.azurite.connectionString,
      '--file',
      file,
      '--name',
      'two.csv',
    ]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('incoming/smoke/two.csv already exists');
  }, 120_000);

  it('says what to check when no summary comes', async () => {
    // The app imports nothing from the jobs container, so no run ever starts.
    const run = await dvpipe([
      'smoke',
      '--connection-string',
      app.azurite.connectionString,
      '--container',
      'jobs',
      '--timeout',
      '2',
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^No result for jobs\/smoke\/smoke-\S+\.csv after 2 s\. What to check:$/m);
    expect(run.stderr).toContain('azd deploy');
    expect(run.stderr).toContain('import-events-poison');
    expect(run.stderr).toContain('Wait longer with --timeout <seconds>.');
  }, 60_000);

  it('a storage endpoint whose host does not resolve: says so, not that the sign-in failed', async () => {
    // .invalid never resolves (RFC 6761); a mistyped account name meets the same check.
    const run = await dvpipe(['smoke', '--blob-endpoint', 'https://dvpipe-smoke.invalid', '--timeout', '5']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toMatch(
      /^Cannot reach https:\/\/dvpipe-smoke\.invalid: the host name (does not resolve \(ENOTFOUND\)|could not be resolved \(EAI_AGAIN\))\. Check the storage account name \(azd env get-value AZURE_STORAGE_ACCOUNT_NAME\) and your network\.$/,
    );
  });

  it('needs to know which storage account to use', async () => {
    const run = await dvpipe(['smoke']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--account <name> (azd env get-value AZURE_STORAGE_ACCOUNT_NAME)');
  });
});
