// A new user's first commands, as README.md's "Import a file from the command line" writes them
// (issue 19): the example succeeds on every row, `runs show <runId>` finds a local run without
// flags, `--version` answers, an import's heap is capped unless the user chose a size, and an endpoint
// that refuses connections fails at once, clearly.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { lookup } from 'node:dns/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';

const root = resolve(import.meta.dirname, '../../..');

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `npx dvpipe ...` from `cwd`, with no storage settings (a new user's shell). */
async function dvpipe(cwd: string, args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Ran> {
  const env: NodeJS.ProcessEnv = { ...process.env, DVPIPE_FROM_SOURCE: '1' };
  for (const name of Object.keys(env))
    if (name === 'Storage' || name.startsWith('Storage__') || name === 'NODE_OPTIONS') delete env[name];
  Object.assign(env, extraEnv);
  const child = spawn(process.execPath, [join(root, 'bin', 'dvpipe.js'), ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** A loopback port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe("README's command-line example, run as written", () => {
  let emulator: RunningEmulator;
  let dir: string;
  /** The README's first import, of the sample accounts, into `url` with results in `out`. */
  const importAccounts = (url: string, out: string, ...more: string[]) =>
    dvpipe(dir, [
      'import',
      join(root, 'samples', 'accounts.csv'),
      '--job',
      join(root, 'jobs', 'accounts.json'),
      '--url',
      url,
      '--out',
      out,
      ...more,
    ]);
  const validateAccounts = (url: string) =>
    dvpipe(dir, ['jobs', 'validate', join(root, 'jobs', 'accounts.json'), '--url', url]);

  beforeAll(async () => {
    emulator = await startEmulator({ profile: 'fast' });
    dir = await mkdtemp(join(tmpdir(), 'dvp-first-hour-'));
  });
  afterAll(async () => {
    await emulator?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('imports accounts then contacts with no failed row; runs show <runId> finds the local run', async () => {
    const importSample = (name: string, env: NodeJS.ProcessEnv = {}) =>
      dvpipe(
        dir,
        [
          'import',
          join(root, 'samples', `${name}.csv`),
          '--job',
          join(root, 'jobs', `${name}.json`),
          '--url',
          emulator.url,
          '--out',
          `out/${name}/`,
        ],
        env,
      );
    const accounts = await importSample('accounts');
    expect(accounts.stdout.split('\n').slice(0, 3)).toEqual([
      '150 of 150 rows written (150 created, 0 updated), 0 failed.',
      // Unless the user chose a heap size, the import's heap is capped, which bounds its memory.
      expect.stringMatching(
        /^Run r[0-9a-f]{24} in \d+\.\d s: \d+ requests, 0 retries, 0 throttled \(429\); peak memory \d+ MB \(heap capped at 512 MB\)\.$/,
      ),
      'Results: out/accounts/summary.json, out/accounts/records.csv, out/accounts/report.html',
    ]);
    expect(accounts.code).toBe(0);

    const contacts = await importSample('contacts', { NODE_OPTIONS: '--max-old-space-size=192' });
    expect(contacts.stdout.split('\n').slice(0, 2)).toEqual([
      '2,000 of 2,000 rows written (2,000 created, 0 updated), 0 failed.',
      // The user's own choice is kept.
      expect.stringMatching(/; peak memory \d+ MB \(heap capped at 192 MB\)\.$/),
    ]);
    expect(contacts.code).toBe(0);
    for (const ran of [accounts, contacts]) {
      expect(ran.stderr).not.toMatch(/warn|error/i);
      expect(ran.stdout).not.toContain('//');
    }

    const summary = JSON.parse(await readFile(join(dir, 'out', 'contacts', 'summary.json'), 'utf8')) as {
      runId: string;
      rows: { failed: number };
    };
    expect(summary.rows.failed).toBe(0);
    const shown = await dvpipe(dir, ['runs', 'show', summary.runId]);
    expect(shown.stdout.split('\n')).toEqual([
      `Run ${summary.runId} (job contacts, input contacts.csv): succeeded`,
      '  chunks 1/1, rows 2,000/2,000 processed: 2,000 succeeded, 0 failed',
      expect.stringMatching(/^ {2}\d+\.\d s, \d+ requests, 0 retries, 0 throttled \(429\)$/),
      '  results: out/contacts/summary.json, out/contacts/records.csv',
      '',
    ]);
    expect(shown.code).toBe(0);
    // The folder alone names its latest run.
    const byFolder = await dvpipe(dir, ['runs', 'show', '--dir', 'out/contacts/']);
    expect([byFolder.code, byFolder.stdout]).toEqual([0, shown.stdout]);
  });

  it("README's example of failed rows: contacts-with-mistakes.csv after the accounts, five of eight rows fail, by reason", async () => {
    // Runs after the test above, against the same emulator, which holds the sample accounts.
    const ran = await dvpipe(dir, [
      'import',
      join(root, 'samples', 'contacts-with-mistakes.csv'),
      '--job',
      join(root, 'jobs', 'contacts.json'),
      '--url',
      emulator.url,
      '--out',
      'out/mistakes/',
    ]);
    const errors = join('out', 'mistakes', 'errors.csv');
    expect(ran.code).toBe(1);
    expect(ran.stdout.split('\n').filter((line) => !line.startsWith('Run '))).toEqual([
      '3 of 8 rows written (3 created, 0 updated), 5 failed.',
      `Results: out/mistakes/summary.json, ${errors}, out/mistakes/records.csv, out/mistakes/report.html`,
      `Failed rows by reason (5 in all, each one in ${errors}):`,
      '        1 × BadDate (Birthday)          e.g. row 5: column "Birthday": "1990-02-30" has no day 30 in that month',
      '        1 × BadChoice (Contact Method)  e.g. row 6: column "Contact Method": "Carrier Pigeon" is not an option of this choice (1 Any; 2 Email; 3 Phone; …',
      '        1 × LookupNotFound (Company)    e.g. row 7: column "Company": "ACC-99999" matches no account by accountnumber',
      '        1 × StringTooLong (Last Name)   e.g. row 8: column "Last Name": "NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN" is 60 characters …',
      '        1 × MissingKey (Email)          e.g. row 9: column "Email" is empty, but it is part of the key',
      `Fix the rows in ${errors} and import that file with another --out, so these results stay.`,
      '',
    ]);
  });

  it('runs show of a run that is neither local nor configured says where it looked and what to pass', async () => {
    const ran = await dvpipe(dir, ['runs', 'show', 'r000000000000000000000000']);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain(`No local run r000000000000000000000000 under ${dir}`);
    expect(ran.stderr).toContain('--dir <out>');
    expect(ran.stderr).toContain("set 'Storage'");
    const unnamed = await dvpipe(dir, ['runs', 'show']);
    expect([unnamed.code, unnamed.stderr]).toEqual([
      2,
      'Name the run: dvpipe runs show <runId> (dvpipe import prints it; it is also in <out>/summary.json), ' +
        'or pass --dir <out> for the latest run imported into that folder.\n',
    ]);
    const empty = await dvpipe(dir, ['runs', 'show', '--dir', 'nowhere/']);
    expect([empty.code, empty.stderr]).toEqual([
      2,
      'No run in nowhere/ (a dvpipe import keeps its runs in <out>/.dvpipe/runs/).\n',
    ]);
  });

  it('--version prints the version of package.json', async () => {
    const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
    const ran = await dvpipe(dir, ['--version']);
    expect([ran.code, ran.stdout]).toEqual([0, `${manifest.version}\n`]);
  });

  it('an endpoint that refuses connections: import, validate and extract exit 2 naming it', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const said = `Cannot reach ${url}: the connection was refused (ECONNREFUSED).`;
    const [imported, validated, extracted] = await Promise.all([
      importAccounts(url, 'refused/'),
      validateAccounts(url),
      dvpipe(dir, [
        'extract',
        '--job',
        join(root, 'jobs', 'accounts-nightly.json'),
        '--url',
        url,
        '--out',
        'x.csv',
      ]),
    ]);
    expect([imported.code, imported.stderr]).toEqual([2, expect.stringContaining(`Import failed: ${said}`)]);
    expect([validated.code, validated.stdout]).toEqual([2, expect.stringContaining(said)]);
    expect([extracted.code, extracted.stderr]).toEqual([2, expect.stringContaining(said)]);
  });
  it('an org URL whose host does not resolve: exit 2 saying so, not a sign-in failure', async () => {
    // .invalid never resolves (RFC 6761). The sign-in, asked for a token first, fails too (no
    // credential here, or none for that resource): the message is about the host.
    const url = 'https://dvpipe-first-hour.invalid';
    const [imported, validated] = await Promise.all([
      importAccounts(url, 'unresolved/'),
      validateAccounts(url),
    ]);
    const said =
      /Cannot reach https:\/\/dvpipe-first-hour\.invalid: the host name (does not resolve \(ENOTFOUND\)|could not be resolved \(EAI_AGAIN\))\. Check the URL/;
    expect([imported.code, imported.stderr]).toEqual([2, expect.stringMatching(said)]);
    expect(imported.stderr).not.toContain('sign in');
    expect([validated.code, validated.stdout]).toEqual([2, expect.stringMatching(said)]);
  });
  it('dvpipe --help lists the commands, the exit codes and a first command; numbers show as numbers', async () => {
    const ran = await dvpipe(dir, ['--help']);
    expect(ran.code).toBe(0);
    const commandList = ran.stdout.slice(ran.stdout.indexOf('Commands:'), ran.stdout.indexOf('Exit codes:'));
    const commands = [...commandList.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]);
    expect(commands).toEqual(['emulator', 'import', 'extract', 'jobs', 'runs', 'demo', 'smoke', 'help']);
    expect(ran.stdout).toContain(
      'Exit codes: 0 every row succeeded, 1 some rows failed (see errors.csv), 2 the file, the job or the',
    );
    expect(ran.stdout).toContain(
      '  npx dvpipe import samples/accounts.csv --job jobs/accounts.json --url http://127.0.0.1:5555 --out out/accounts/',
    );
    const emulatorHelp = await dvpipe(dir, ['emulator', '--help']);
    expect(emulatorHelp.stdout).toMatch(
      /--port <n> +port on 127\.0\.0\.1 \(0 picks a free port\) \(default: 0\)/,
    );
    expect(emulatorHelp.stdout).toMatch(
      /--time-scale <f> +multiplies every cost and window length \(default: 1\)/,
    );
  });

  it('dvpipe emulator on a taken port says so and how to choose another, exit 2', async () => {
    const port = Number(new URL(emulator.url).port);
    const ran = await dvpipe(dir, ['emulator', '--port', String(port)]);
    expect([ran.code, ran.stderr.trim()]).toEqual([
      2,
      `Port ${port} on 127.0.0.1 is taken (an emulator already running?). Choose another with --port <n>, or --port 0 for a free one (the URL is printed).`,
    ]);
  });
  it('a file that cannot be read is named as given, with the row, not by its blob path; exit 2', async () => {
    await writeFile(
      join(dir, 'broken.csv'),
      'Account Number,Account Name\nACC-1,Fabrikam\nACC-2,"Contoso\nACC-3,Northwind\n',
    );
    const ran = await dvpipe(dir, [
      'import',
      'broken.csv',
      '--job',
      join(root, 'jobs', 'accounts.json'),
      '--url',
      emulator.url,
      '--out',
      'out/broken/',
      '--quiet',
    ]);
    expect(ran.code).toBe(2);
    expect(ran.stdout.split('\n')[0]).toBe(
      'The file could not be processed: broken.csv: row 3, column "Account Name", opens a quoted value that is never closed (the file ends inside it); add the closing quote',
    );
  });
  it('jobs validate jobs/*.json: the job schema is skipped as not a job, a job pointing at it is checked', async () => {
    const withSchema = join(dir, 'with-schema.json');
    const job = JSON.parse(await readFile(join(root, 'jobs', 'contacts.json'), 'utf8')) as object;
    await writeFile(withSchema, JSON.stringify({ $schema: './job.schema.json', ...job }));
    const ran = await dvpipe(dir, ['jobs', 'validate', join(root, 'jobs', 'job.schema.json'), withSchema]);
    expect([ran.code, ran.stdout.split('\n')]).toEqual([
      0,
      [
        `${join(root, 'jobs', 'job.schema.json')}: a JSON Schema (what editors check job files against), not a job: skipped`,
        `${withSchema}: import job 'contacts' is well-formed (add --url to check it against Dataverse)`,
        '',
      ],
    ]);
  });
  it('an incremental extract says what its rows are: first everything, then what changed since when', async () => {
    const extract = () =>
      dvpipe(dir, [
        'extract',
        '--job',
        join(root, 'jobs', 'accounts-nightly.json'),
        '--url',
        emulator.url,
        '--out',
        'ex/accounts.csv',
        '--no-progress',
      ]);
    const first = await extract();
    expect([first.code, first.stdout.split('\n')[0]]).toEqual([
      0,
      expect.stringMatching(
        /^150 rows \(full: no stored position\) written to ex\/accounts\.csv in \d+\.\d s: \d+ requests, 0 throttled \(429\)\.$/,
      ),
    ]);
    const second = await extract();
    expect([second.code, second.stdout.split('\n')[0]]).toEqual([
      0,
      expect.stringMatching(
        /^0 rows \(changed since \d{4}-\d\d-\d\dT[\d:.]+Z by modifiedon; --full reads every row\) written to ex\/accounts\.csv /,
      ),
    ]);
  });
  it('runs show of a run id in two --out folders shows the latest and names both', async () => {
    // The same file, job and environment is the same run; a second --out keeps its own state.
    const again = await importAccounts(emulator.url, 'out/accounts-again/', '--quiet');
    const summary = JSON.parse(
      await readFile(join(dir, 'out', 'accounts-again', 'summary.json'), 'utf8'),
    ) as {
      runId: string;
    };
    expect(again.code).toBe(0);
    const shown = await dvpipe(dir, ['runs', 'show', summary.runId]);
    expect(shown.code).toBe(0);
    expect(shown.stderr).toBe(
      `Run ${summary.runId} is in 2 folders: out/accounts, out/accounts-again; showing the latest, out/accounts-again (--dir <out> for another).\n`,
    );
    expect(shown.stdout).toContain('  results: out/accounts-again/summary.json');
  });
  it('no credential for an environment: exit 2 listing what was tried and what to do', async () => {
    // A host name that resolves (this machine's own) but is not loopback, so the CLI signs in with
    // @azure/identity's default chain, which has nothing to sign in with here (or no token for it).
    const url = `https://${hostname()}`;
    const resolves = await lookup(hostname()).then(
      () => true,
      () => false,
    );
    expect(resolves, `${hostname()} resolves (the test needs it to)`).toBe(true);
    const [imported, validated] = await Promise.all([
      importAccounts(url, 'no-sign-in/', '--quiet'),
      validateAccounts(url),
    ]);
    for (const [ran, text] of [
      [imported, imported.stderr],
      [validated, validated.stdout],
    ] as const) {
      expect(ran.code).toBe(2);
      expect(text).toContain(`Could not sign in to ${url}. Tried:\n  - `);
      expect(text).toContain('What to do: sign in with `az login`');
      // One message, not a stack or one error per credential class.
      expect(text).not.toMatch(/\n\s+at /);
    }
  });
});

/** Whether a process of that id is alive (signal 0 checks without sending). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("README's command-line block, pasted into `bash script.sh`", () => {
  let dir: string;
  let pid = 0;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dvp-quick-start-'));
  });
  afterAll(async () => {
    // Only if the test failed before the script stopped it.
    if (pid && alive(pid)) process.kill(pid);
    await rm(dir, { recursive: true, force: true });
  });

  it('imports both samples, shows the run, and leaves no emulator running', async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Import a file from the command line'));
    const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
    // The block as written, on a port of this test's own (5555 may be taken on a shared machine).
    const port = await closedPort();
    await writeFile(join(dir, 'quickstart.sh'), block.replaceAll('5555', String(port)));
    // A folder like the project's: its samples and jobs, and `npx dvpipe` resolving to this checkout.
    await symlink(join(root, 'samples'), join(dir, 'samples'));
    await symlink(join(root, 'jobs'), join(dir, 'jobs'));
    await mkdir(join(dir, 'node_modules', '.bin'), { recursive: true });
    await symlink(join(root, 'bin', 'dvpipe.js'), join(dir, 'node_modules', '.bin', 'dvpipe'));
    await writeFile(join(dir, 'package.json'), '{"name":"quick-start","private":true}');

    const env: NodeJS.ProcessEnv = { ...process.env, DVPIPE_FROM_SOURCE: '1' };
    for (const name of Object.keys(env))
      if (name === 'Storage' || name.startsWith('Storage__') || name === 'NODE_OPTIONS') delete env[name];
    // A non-interactive bash: no job control, no terminal.
    const child = spawn('bash', ['quickstart.sh'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const [code] = (await once(child, 'close')) as [number | null];

    const started = new RegExp(
      `^Dataverse emulator listening on http://127\\.0\\.0\\.1:${port} .*process (\\d+); stop it with: kill \\1$`,
      'm',
    ).exec(stderr);
    expect(started, stderr).not.toBeNull();
    pid = Number(started![1]);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('150 of 150 rows written (150 created, 0 updated), 0 failed.\n');
    expect(stdout).toContain('2,000 of 2,000 rows written (2,000 created, 0 updated), 0 failed.\n');
    const summary = JSON.parse(await readFile(join(dir, 'out', 'contacts', 'summary.json'), 'utf8')) as {
      runId: string;
    };
    expect(stdout).toContain(`Run ${summary.runId} (job contacts, input contacts.csv): succeeded\n`);
    expect(stderr).not.toMatch(/No such file|not a pid|job spec|ECONNREFUSED/);

    // `kill "$EMULATOR_PID"` stopped the emulator itself, not a wrapper: the process ends, the port closes.
    for (let i = 0; i < 100 && alive(pid); i += 1) await new Promise((r) => setTimeout(r, 100));
    expect(alive(pid)).toBe(false);
    const refused = await fetch(`http://127.0.0.1:${port}/api/data/v9.2/`).then(
      () => 'answered',
      (error: Error & { cause?: { code?: string } }) => error.cause?.code,
    );
    expect(refused).toBe('ECONNREFUSED');
  }, 120_000);
});

describe('--identities reads the same in import and extract: a count or a list', () => {
  let emulator: RunningEmulator;
  let dir: string;
  beforeAll(async () => {
    emulator = await startEmulator({ profile: 'fast' });
    dir = await mkdtemp(join(tmpdir(), 'dvp-identities-'));
  });
  afterAll(async () => {
    await emulator?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The emulator users of the requests `run` made. */
  const usersOf = async (run: () => Promise<Ran>): Promise<{ ran: Ran; users: string[] }> => {
    const before = emulator.recentLog().length;
    const ran = await run();
    return {
      ran,
      users: [
        ...new Set(
          emulator
            .recentLog()
            .slice(before)
            .map((e) => e.user ?? ''),
        ),
      ].sort(),
    };
  };
  const importDry = (identities: string) =>
    dvpipe(dir, [
      ...['import', join(root, 'samples', 'accounts.csv'), '--job', join(root, 'jobs', 'accounts.json')],
      ...['--url', emulator.url, '--out', `out/${identities}/`, '--dry-run', '--identities', identities],
    ]);
  const extract = (identities: string, url = emulator.url) =>
    dvpipe(dir, [
      ...['extract', '--job', join(root, 'jobs', 'accounts-nightly.json'), '--url', url],
      ...['--out', join(dir, 'x', `${identities}.csv`), '--no-progress', '--identities', identities],
    ]);

  it('import: a count is what the forecast assumes; a list is who runs it, and its length the count', async () => {
    const counted = await usersOf(() => importDry('3'));
    expect(counted.ran.code, counted.ran.stderr).toBe(0);
    expect(counted.ran.stdout).toContain('Forecast for the import with 3 identities: about ');
    expect(counted.users).toEqual(['dvpipe']);

    const listed = await usersOf(() => importDry('alice,bob'));
    expect(listed.ran.code, listed.ran.stderr).toBe(0);
    expect(listed.ran.stdout).toContain('Forecast for the import with 2 identities: about ');
    expect(listed.users.length).toBeGreaterThan(0);
    expect(listed.users.every((user) => user === 'alice' || user === 'bob')).toBe(true);
  });

  it('extract: a list is who reads; on the emulator a count reads as that many users; elsewhere a count is refused', async () => {
    const listed = await usersOf(() => extract('alice,bob'));
    expect(listed.ran.code, listed.ran.stderr).toBe(0);
    expect(listed.users.length).toBeGreaterThan(0);
    expect(listed.users.every((user) => user === 'alice' || user === 'bob')).toBe(true);

    const counted = await usersOf(() => extract('2'));
    expect(counted.ran.code, counted.ran.stderr).toBe(0);
    expect(counted.users.length).toBeGreaterThan(0);
    expect(counted.users.every((user) => user === 'dvpipe-1' || user === 'dvpipe-2')).toBe(true);

    const real = await extract('2', 'https://contoso.crm.dynamics.com');
    expect(real.code).toBe(2);
    expect(real.stderr).toBe(
      '--identities 2: a count names no identity to read as against https://contoso.crm.dynamics.com; ' +
        'give the client ids (comma-separated), or leave it out to read as your own sign-in (az login)\n',
    );
  });

  it('anything else: exit 2 naming the option and what it expects, in both commands', async () => {
    const expects =
      'expected a count (a whole number from 1) or a comma-separated list of client ids (emulator user names on a loopback URL)';
    const zero = await importDry('0');
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain(
      `option '--identities <n|list>' argument '0' is invalid. ${expects}; got '0'`,
    );
    const gap = await extract('a,,b');
    expect(gap.code).toBe(2);
    expect(gap.stderr).toContain(
      `option '--identities <list|n>' argument 'a,,b' is invalid. ${expects}; got 'a,,b' (an empty entry is neither)`,
    );
  });
});
