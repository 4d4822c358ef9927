// `dvpipe import` into an elastic table (issue 20): a bulk message succeeds record by record, so one
// bad record does not fail its 99 neighbours, and the client sends Learn's recommended 100 records per
// request. The emulator models the elastic table's partial-success answer (reference §7, §13).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';
import { dvpipe } from '../../helpers/cli.js';

const guid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe('dvpipe import: elastic table', () => {
  let emulator: RunningEmulator;
  let dir: string;

  beforeAll(async () => {
    emulator = await startEmulator({ profile: 'fast' });
    dir = await mkdtemp(join(tmpdir(), 'dvp-elastic-'));
  });
  afterAll(async () => {
    await emulator?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers a bulk message record by record, with per-record details only when annotations are asked for', async () => {
    emulator.store.put('contoso_sensordata', { contoso_sensordataid: guid(9001), contoso_name: 'taken' });
    const post = (prefer?: string) =>
      fetch(`${emulator.apiRoot}contoso_sensordatas/Microsoft.Dynamics.CRM.CreateMultiple`, {
        method: 'POST',
        headers: {
          Authorization: 'Bearer emulator:t',
          'Content-Type': 'application/json',
          ...(prefer ? { Prefer: prefer } : {}),
        },
        body: JSON.stringify({
          Targets: [9002, 9001, 9003].map((n) => ({
            '@odata.type': 'Microsoft.Dynamics.CRM.contoso_sensordata',
            contoso_sensordataid: guid(n + (prefer ? 10 : 0) * (n === 9001 ? 0 : 1)),
            contoso_name: `r${n}`,
          })),
        }),
      });
    const plain = await post();
    const plainBody = (await plain.json()) as { error: Record<string, unknown> };
    expect(plain.status).toBe(412);
    expect(plainBody.error.code).toBe('0x80040237');
    expect(Object.keys(plainBody.error)).toEqual(['code', 'message']);
    // Its neighbours were written all the same.
    expect(emulator.store.get('contoso_sensordata', guid(9002))?.contoso_name).toBe('r9002');
    expect(emulator.store.get('contoso_sensordata', guid(9003))?.contoso_name).toBe('r9003');

    const annotated = await post('odata.include-annotations="Microsoft.PowerApps.CDS.ErrorDetails.*"');
    const body = (await annotated.json()) as { error: Record<string, string> };
    expect(annotated.status).toBe(412);
    expect(JSON.parse(body.error['@Microsoft.PowerApps.CDS.ErrorDetails.BulkApiErrorDetails']!)).toEqual([
      { RequestIndex: 1, Id: guid(9001), StatusCode: 412 },
    ]);
  });

  it('one bad record fails only its own row, and the file goes in 100 records per request', async () => {
    // Two rows carry ids that other records hold already: only the service can tell.
    emulator.store.put('contoso_sensordata', { contoso_sensordataid: guid(57), contoso_name: 'existing' });
    emulator.store.put('contoso_sensordata', { contoso_sensordataid: guid(180), contoso_name: 'existing' });
    const lines = ['Id,Device,Type,Value,Partition'];
    for (let i = 0; i < 300; i += 1) lines.push(`${guid(i)},dev-${i % 7},temperature,${i},dev-${i % 7}`);
    await writeFile(join(dir, 'readings.csv'), lines.join('\n'));
    await writeFile(
      join(dir, 'readings.json'),
      JSON.stringify({
        name: 'readings',
        table: 'contoso_sensordata',
        operation: 'create',
        columns: {
          Id: 'contoso_sensordataid',
          Device: 'contoso_deviceid',
          Type: 'contoso_sensortype',
          Value: 'contoso_value',
          Partition: 'partitionid',
        },
      }),
    );
    const before = emulator.recentLog().length;
    const ran = await dvpipe([
      'import',
      join(dir, 'readings.csv'),
      '--job',
      join(dir, 'readings.json'),
      '--url',
      emulator.url,
      '--out',
      join(dir, 'out'),
      '--quiet',
    ]);
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(1);
    const summary = JSON.parse(await readFile(join(dir, 'out', 'summary.json'), 'utf8')) as {
      rows: Record<string, number>;
    };
    expect(summary.rows).toMatchObject({ total: 300, succeeded: 298, failed: 2, created: 298 });
    const errors = parse(await readFile(join(dir, 'out', 'errors.csv')), {
      columns: true,
      bom: true,
    }) as Record<string, string>[];
    expect(errors.map((e) => [e.row, e.code])).toEqual([
      ['59', 'RecordExists'],
      ['182', 'RecordExists'],
    ]);
    expect(emulator.store.get('contoso_sensordata', guid(56))?.contoso_value).toBe(56);
    expect(emulator.store.get('contoso_sensordata', guid(57))?.contoso_name).toBe('existing');

    const writes = emulator
      .recentLog()
      .slice(before)
      .filter((e) => e.method === 'POST' && e.url.includes('contoso_sensordatas'));
    const bulk = writes.filter((e) => e.url.endsWith('CreateMultiple'));
    // No bisection: at most 100 records a request, and each failed record sent once more alone.
    expect(bulk.every((e) => (e.records ?? 0) <= 100)).toBe(true);
    expect(bulk.length).toBeLessThanOrEqual(4);
    expect(bulk.reduce((n, e) => n + (e.records ?? 0), 0)).toBe(298);
    expect(writes.filter((e) => e.url.endsWith('contoso_sensordatas'))).toHaveLength(2);
  });
});
