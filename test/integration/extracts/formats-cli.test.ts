// Issue 20, extract part, through `dvpipe extract` against the emulator: labels beside codes (choices,
// lookups' names, owners, with the lookup's table) read in the same requests as the values, in the CSV;
// and Parquet output with typed columns, several row groups, read back by an independent reader (DuckDB)
// and compared field by field with what the emulator holds.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';
import { dvpipe } from '../../helpers/cli.js';
import { recentExtractRuns } from '../../../src/app/runs-page-handler.js';
import { FileObjectStore } from '../../../src/storage/file-store.js';

const ROWS = 2_600;
const TEAM_ID = '6d1f8c3e-0b7a-4c55-9f0e-2a3c5d7e9f10'; // the default schema's "Default Team"
const CATEGORY = new Map([
  [100000000, 'Bronze'],
  [100000001, 'Silver'],
  [100000002, 'Gold'],
]);
const TAGS = new Map([
  [100000000, 'Red'],
  [100000001, 'Green'],
  [100000002, 'Blue'],
  [100000003, 'Yellow'],
]);
const TRICKY = ['=HYPERLINK("x")', 'comma, inside', 'quote " inside', 'line\r\nbreak', 'Zoë 東京', '@sum'];

let emu: RunningEmulator;
let dir: string;
let duck: DuckDBConnection;
let closeDuck: () => void;
const accounts = new Map<string, string>();
let userId = '';
/** What each seeded record should read back as, by id. */
const seeded = new Map<string, Seed>();

interface Seed {
  name: string;
  quantity: number | null;
  /** Exact decimal text at the column's scale. */
  amount: string | null;
  price: string | null;
  ratio: number | null;
  serial: string | null;
  active: boolean;
  duedate: string | null;
  measuredat: string | null;
  category: number | null;
  tags: string | null;
  notes: string | null;
  account: string | null;
  owner: { id: string; table: 'systemuser' | 'team'; name: string };
}

function seed(i: number): { body: Record<string, unknown>; expected: Omit<Seed, 'owner'> } {
  const amountUnits = BigInt(((i * 7_919) % 2_000_000_000) - 1_000_000_000) * 10_000n + BigInt(i % 10_000);
  const amount = i % 9 === 0 ? null : amountUnits;
  const priceCents = i % 5 === 0 ? null : (i * 1_234_567) % 90_000_000_000;
  const day = `20${String(10 + (i % 20))}-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`;
  const account = i % 4 === 0 ? null : [...accounts.keys()][i % accounts.size]!;
  const tags = i % 3 === 0 ? null : [100000000 + (i % 4), 100000000 + ((i + 1) % 4)].join(',');
  const expected = {
    name: i % 37 === 0 ? TRICKY[i % TRICKY.length]! : `Sample ${i}`,
    quantity: i % 7 === 0 ? null : i,
    amount: amount === null ? null : decimalText(amount, 4),
    price: priceCents === null ? null : decimalText(BigInt(priceCents) * 100n, 4),
    ratio: i % 6 === 0 ? null : (i % 1000) / 1000,
    serial: i % 8 === 0 ? null : String(1_000_000_000_000 + i * 3),
    // Left out on create, a yes/no column takes its default (false), as in Dataverse.
    active: i % 11 === 0 ? false : i % 2 === 0,
    duedate: i % 10 === 0 ? null : day,
    measuredat:
      i % 13 === 0
        ? null
        : `${day}T${String(i % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:07Z`,
    category: i % 4 === 1 ? null : 100000000 + (i % 3),
    tags,
    notes: i % 5 === 2 ? TRICKY[i % TRICKY.length]! : null,
    account,
  };
  const body: Record<string, unknown> = { dvp_name: expected.name };
  if (expected.quantity !== null) body.dvp_quantity = expected.quantity;
  if (amount !== null) body.dvp_amount = Number(expected.amount);
  if (priceCents !== null) body.dvp_price = priceCents / 100;
  if (expected.ratio !== null) body.dvp_ratio = expected.ratio;
  if (expected.serial !== null) body.dvp_serial = Number(expected.serial);
  if (i % 11 !== 0) body.dvp_active = expected.active;
  if (expected.duedate !== null) body.dvp_duedate = expected.duedate;
  if (expected.measuredat !== null) body.dvp_measuredat = expected.measuredat;
  if (expected.category !== null) body.dvp_category = expected.category;
  if (tags !== null) body.dvp_tags = tags;
  if (expected.notes !== null) body.dvp_notes = expected.notes;
  if (account !== null) body['dvp_AccountId@odata.bind'] = `/accounts(${account})`;
  return { body, expected };
}

/** 123456789n at scale 4 -> "12345.6789". */
function decimalText(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

beforeAll(async () => {
  emu = await startEmulator({ profile: 'fast' });
  dir = await mkdtemp(join(tmpdir(), 'extract-formats-'));
  for (const name of ['Contoso', 'Fabrikam', 'Northwind'])
    accounts.set(emu.store.put('account', { name, accountnumber: name.toUpperCase() }), name);
  userId = emu.store.put('systemuser', {
    firstname: 'Avery',
    lastname: 'Owner',
    domainname: 'avery@example.com',
  });
  for (let i = 0; i < ROWS; i += 1) {
    const { body, expected } = seed(i);
    const owner =
      i % 2 === 0
        ? { id: userId, table: 'systemuser' as const, name: 'Avery Owner' }
        : { id: TEAM_ID, table: 'team' as const, name: 'Default Team' };
    body['ownerid@odata.bind'] = owner.table === 'team' ? `/teams(${owner.id})` : `/systemusers(${owner.id})`;
    seeded.set(emu.store.put('dvp_sample', body), { ...expected, owner });
  }
  const instance = await DuckDBInstance.create(':memory:');
  duck = await instance.connect();
  closeDuck = () => {
    duck.closeSync();
    instance.closeSync();
  };
}, 120_000);

afterAll(async () => {
  closeDuck?.();
  await emu?.close();
  await rm(dir, { recursive: true, force: true });
});

async function jobFile(name: string, job: Record<string, unknown>): Promise<string> {
  const file = join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify({ name, table: 'dvp_sample', ...job }));
  return file;
}

async function query(sql: string): Promise<Record<string, unknown>[]> {
  return (await duck.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
}

const sqlPath = (path: string) => `'${path.replace(/'/g, "''")}'`;

interface Manifest {
  format: string;
  rows: number;
  rowGroups?: number;
  bytes: number;
  sha256: string;
  columns: string[];
  schema: { name: string; type: string; attribute?: string; dataverseType?: string; role?: string }[];
  deletedRows: number;
}

describe('dvpipe extract: labels beside codes', () => {
  it('writes choice labels, lookup names and owners (name and table) beside the raw values, from the data requests alone', async () => {
    const job = await jobFile('labels', {
      columns: [
        'dvp_sampleid',
        'dvp_category',
        'dvp_tags',
        'dvp_active',
        'dvp_accountid',
        'ownerid',
        'statecode',
      ],
      output: { formattedValues: true, lookupTargets: true, bom: false },
    });
    const out = join(dir, 'labels', 'labels.csv');
    const before = emu.recentLog().length;
    const result = await dvpipe(['extract', '--job', job, '--url', emu.url, '--out', out]);
    expect(result.stdout).toContain(`${ROWS.toLocaleString('en-US')} rows`);
    expect(result.code).toBe(0);

    const text = await readFile(out, 'utf8');
    expect(text.split('\r\n')[0] ?? text.split('\n')[0]).toBe(
      'dvp_sampleid,dvp_category,dvp_category@label,dvp_tags,dvp_tags@label,dvp_active,dvp_active@label,' +
        'dvp_accountid,dvp_accountid@label,dvp_accountid@table,ownerid,ownerid@label,ownerid@table,statecode,statecode@label',
    );
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(ROWS);
    for (const row of rows) {
      const want = seeded.get(row.dvp_sampleid!);
      expect(want, row.dvp_sampleid).toBeDefined();
      const w = want!;
      expect(row.dvp_category).toBe(w.category === null ? '' : String(w.category));
      expect(row['dvp_category@label']).toBe(w.category === null ? '' : CATEGORY.get(w.category));
      expect(row.dvp_tags).toBe(w.tags ?? '');
      expect(row['dvp_tags@label']).toBe(
        w.tags === null
          ? ''
          : w.tags
              .split(',')
              .map((v) => TAGS.get(Number(v)))
              .join('; '),
      );
      expect(row.dvp_active).toBe(w.active === null ? '' : String(w.active));
      expect(row['dvp_active@label']).toBe(w.active === null ? '' : w.active ? 'Yes' : 'No');
      expect(row.dvp_accountid).toBe(w.account ?? '');
      expect(row['dvp_accountid@label']).toBe(w.account === null ? '' : accounts.get(w.account));
      expect(row['dvp_accountid@table']).toBe(w.account === null ? '' : 'account');
      expect(row.ownerid).toBe(w.owner.id);
      expect(row['ownerid@label']).toBe(w.owner.name);
      expect(row['ownerid@table']).toBe(w.owner.table);
      expect(row.statecode).toBe('0');
      expect(row['statecode@label']).toBe('Active');
    }
    // One request per page: the names and labels came with the values, not from reading the related tables.
    const requests = emu.recentLog().slice(before);
    const data = requests.filter((r) => r.method === 'GET' && /\/dvp_samples\b/.test(r.url));
    expect(data.length).toBeGreaterThan(0);
    expect(requests.filter((r) => /\/(accounts|systemusers|teams)\b/.test(r.url))).toEqual([]);
  });
});

describe('dvpipe extract: Parquet', () => {
  const COLUMNS = [
    'dvp_sampleid',
    'dvp_name',
    'dvp_quantity',
    'dvp_amount',
    'dvp_price',
    'dvp_ratio',
    'dvp_serial',
    'dvp_active',
    'dvp_duedate',
    'dvp_measuredat',
    'dvp_category',
    'dvp_tags',
    'dvp_notes',
    'dvp_accountid',
    'ownerid',
    'createdon',
  ];

  it('writes typed columns in row groups that an independent reader returns value for value', async () => {
    const job = await jobFile('samples', {
      format: 'parquet',
      columns: COLUMNS,
      partitions: 3,
      output: { formattedValues: true, lookupTargets: true, rowGroupRows: 1000 },
    });
    const out = join(dir, 'parquet', 'samples.parquet');
    const result = await dvpipe(['extract', '--job', job, '--url', emu.url, '--out', out]);
    expect(result.stdout).toContain(`${ROWS.toLocaleString('en-US')} rows`);
    expect(result.code).toBe(0);

    const file = await readFile(out);
    expect(file.subarray(0, 4).toString()).toBe('PAR1');
    const manifest = JSON.parse(
      await readFile(join(dir, 'parquet', 'samples.parquet.manifest.json'), 'utf8'),
    ) as Manifest;
    expect(manifest.format).toBe('parquet');
    expect(manifest.rows).toBe(ROWS);
    expect(manifest.bytes).toBe(file.length);
    expect(manifest.sha256).toBe(createHash('sha256').update(file).digest('hex'));
    expect(manifest.rowGroups).toBe(Math.ceil(ROWS / 1000));
    expect(Object.fromEntries(manifest.schema.map((f) => [f.name, f.type]))).toEqual({
      dvp_sampleid: 'string',
      dvp_name: 'string',
      dvp_quantity: 'int32',
      dvp_amount: 'decimal(16,4)',
      dvp_price: 'decimal(19,4)',
      dvp_ratio: 'double',
      dvp_serial: 'int64',
      dvp_active: 'boolean',
      'dvp_active@label': 'string',
      dvp_duedate: 'date',
      dvp_measuredat: 'timestamp',
      dvp_category: 'int32',
      'dvp_category@label': 'string',
      dvp_tags: 'string',
      'dvp_tags@label': 'string',
      dvp_notes: 'string',
      dvp_accountid: 'string',
      'dvp_accountid@label': 'string',
      'dvp_accountid@table': 'string',
      ownerid: 'string',
      'ownerid@label': 'string',
      'ownerid@table': 'string',
      createdon: 'timestamp',
    });
    expect(manifest.schema.find((f) => f.name === 'ownerid@table')).toEqual({
      name: 'ownerid@table',
      type: 'string',
      attribute: 'ownerid',
      dataverseType: 'Owner',
      role: 'table',
    });

    const described = await query(`DESCRIBE SELECT * FROM read_parquet(${sqlPath(out)})`);
    expect(Object.fromEntries(described.map((c) => [c.column_name, c.column_type]))).toMatchObject({
      dvp_sampleid: 'VARCHAR',
      dvp_quantity: 'INTEGER',
      dvp_amount: 'DECIMAL(16,4)',
      dvp_price: 'DECIMAL(19,4)',
      dvp_ratio: 'DOUBLE',
      dvp_serial: 'BIGINT',
      dvp_active: 'BOOLEAN',
      dvp_duedate: 'DATE',
      dvp_measuredat: 'TIMESTAMP WITH TIME ZONE',
      dvp_category: 'INTEGER',
      createdon: 'TIMESTAMP WITH TIME ZONE',
    });
    const groups = await query(
      `SELECT row_group_id, max(row_group_num_rows) AS n FROM parquet_metadata(${sqlPath(out)}) GROUP BY 1 ORDER BY 1`,
    );
    expect(groups.map((g) => Number(g.n))).toEqual([1000, 1000, ROWS - 2000]);
    // Min/max statistics on typed columns (readers skip row groups with them), none on text.
    const [stats] = await query(
      `SELECT min(TRY_CAST(stats_min_value AS INTEGER)) FILTER (WHERE path_in_schema = 'dvp_quantity') AS quantity_min,
              max(TRY_CAST(stats_max_value AS INTEGER)) FILTER (WHERE path_in_schema = 'dvp_quantity') AS quantity_max,
              count(stats_min_value) FILTER (WHERE path_in_schema = 'dvp_name') AS name_stats
         FROM parquet_metadata(${sqlPath(out)})`,
    );
    const quantities = [...seeded.values()].flatMap((w) => (w.quantity === null ? [] : [w.quantity]));
    expect(stats).toEqual({
      quantity_min: Math.min(...quantities),
      quantity_max: Math.max(...quantities),
      name_stats: '0',
    });

    const rows = await query(
      `SELECT dvp_sampleid, dvp_name, dvp_quantity, CAST(dvp_amount AS VARCHAR) AS amount,
              CAST(dvp_price AS VARCHAR) AS price, dvp_ratio, CAST(dvp_serial AS VARCHAR) AS serial, dvp_active,
              CAST(dvp_duedate AS VARCHAR) AS duedate, CAST(epoch_ms(dvp_measuredat) AS VARCHAR) AS measured_ms,
              dvp_category, "dvp_category@label" AS category_label, dvp_tags, dvp_notes, dvp_accountid,
              "dvp_accountid@label" AS account_name, "dvp_accountid@table" AS account_table,
              ownerid, "ownerid@label" AS owner_name, "ownerid@table" AS owner_table,
              CAST(epoch_ms(createdon) AS VARCHAR) AS created_ms
         FROM read_parquet(${sqlPath(out)})`,
    );
    expect(rows).toHaveLength(ROWS);
    const stored = new Map(emu.store.all('dvp_sample').map((r) => [r.dvp_sampleid as string, r]));
    const ids = new Set<string>();
    for (const row of rows) {
      const id = row.dvp_sampleid as string;
      ids.add(id);
      const w = seeded.get(id)!;
      expect(w, id).toBeDefined();
      expect(row.dvp_name).toBe(w.name); // no formula neutralising in Parquet: values as they are
      expect(row.dvp_quantity).toBe(w.quantity);
      expect(row.amount).toBe(w.amount);
      expect(row.price).toBe(w.price);
      expect(row.dvp_ratio).toBe(w.ratio);
      expect(row.serial).toBe(w.serial);
      expect(row.dvp_active).toBe(w.active);
      expect(row.duedate).toBe(w.duedate);
      expect(row.measured_ms).toBe(w.measuredat === null ? null : String(Date.parse(w.measuredat)));
      expect(row.dvp_category).toBe(w.category);
      expect(row.category_label).toBe(w.category === null ? null : CATEGORY.get(w.category));
      expect(row.dvp_tags).toBe(w.tags);
      expect(row.dvp_notes).toBe(w.notes);
      expect(row.dvp_accountid).toBe(w.account);
      expect(row.account_name).toBe(w.account === null ? null : accounts.get(w.account));
      expect(row.account_table).toBe(w.account === null ? null : 'account');
      expect(row.ownerid).toBe(w.owner.id);
      expect(row.owner_name).toBe(w.owner.name);
      expect(row.owner_table).toBe(w.owner.table);
      expect(row.created_ms).toBe(String(Date.parse(stored.get(id)!.createdon as string)));
    }
    expect(ids.size).toBe(ROWS);
  });

  it('reports changes and deletions of a change-tracking run in Parquet too', async () => {
    const job = await jobFile('tracked', {
      format: 'parquet',
      columns: ['dvp_name', 'dvp_quantity'],
      incremental: { mode: 'changeTracking' },
      output: { deletes: 'column' },
    });
    const out = join(dir, 'tracked', 'tracked.parquet');
    const first = await dvpipe(['extract', '--job', job, '--url', emu.url, '--out', out]);
    expect(first.code).toBe(0);
    expect((await query(`SELECT count(*) AS n FROM read_parquet(${sqlPath(out)})`))[0]!.n).toBe(String(ROWS));

    const added = emu.store.put('dvp_sample', { dvp_name: 'Added later', dvp_quantity: 42 });
    const changedId = [...seeded.keys()][5]!;
    const deletedId = [...seeded.keys()][6]!;
    const api = `${emu.apiRoot}dvp_samples`;
    const headers = { Authorization: 'Bearer emulator:test', 'Content-Type': 'application/json' };
    expect(
      (await fetch(`${api}(${changedId})`, { method: 'PATCH', headers, body: '{"dvp_quantity":7}' })).status,
    ).toBe(204);
    expect((await fetch(`${api}(${deletedId})`, { method: 'DELETE', headers })).status).toBe(204);
    seeded.delete(deletedId);
    seeded.get(changedId)!.quantity = 7;

    const second = await dvpipe(['extract', '--job', job, '--url', emu.url, '--out', out]);
    expect(second.code).toBe(0);
    const rows = await query(
      `SELECT dvp_sampleid, dvp_name, dvp_quantity, "$deleted" AS deleted FROM read_parquet(${sqlPath(out)}) ORDER BY dvp_name NULLS LAST`,
    );
    expect(rows).toEqual([
      { dvp_sampleid: added, dvp_name: 'Added later', dvp_quantity: 42, deleted: false },
      { dvp_sampleid: changedId, dvp_name: seeded.get(changedId)!.name, dvp_quantity: 7, deleted: false },
      { dvp_sampleid: deletedId, dvp_name: null, dvp_quantity: null, deleted: true },
    ]);
    const manifest = JSON.parse(
      await readFile(join(dir, 'tracked', 'tracked.parquet.manifest.json'), 'utf8'),
    ) as Manifest;
    expect([manifest.rows, manifest.deletedRows, manifest.rowGroups]).toEqual([2, 1, 1]);
  });

  it('--format parquet turns a CSV job into a Parquet extract; a --out of the other format is refused with exit 2', async () => {
    const job = await jobFile('as-csv', {
      columns: ['dvp_sampleid', 'dvp_quantity'],
      filter: 'dvp_quantity lt 100',
    });
    const out = join(dir, 'override', 'small.parquet');
    const ok = await dvpipe(['extract', '--job', job, '--url', emu.url, '--out', out, '--format', 'parquet']);
    expect(ok.code).toBe(0);
    const [{ n, total }] = (await query(
      `SELECT count(*) AS n, sum(dvp_quantity) AS total FROM read_parquet(${sqlPath(out)})`,
    )) as [{ n: string; total: string }];
    // The seeded rows, plus the one the change-tracking test added (42).
    const expected = [...seeded.values(), { quantity: 42 }].filter(
      (s) => s.quantity !== null && s.quantity < 100,
    );
    expect(Number(n)).toBe(expected.length);
    expect(Number(total)).toBe(expected.reduce((sum, s) => sum + s.quantity!, 0));

    const refused = await dvpipe(['extract', '--job', job, '--url', emu.url, '--out', out]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('ends in .parquet but the format is csv');
    expect(refused.stderr).toContain('--format parquet');
  });
});

describe('dvpipe jobs validate: extract formats', () => {
  it('accepts a Parquet job, names the field when the path and the format disagree, and warns about labels with no labelled column', async () => {
    const good = await jobFile('parquet-ok', {
      format: 'parquet',
      columns: ['dvp_name', 'ownerid'],
      output: { formattedValues: true, lookupTargets: true },
    });
    const mismatch = await jobFile('parquet-bad', {
      format: 'parquet',
      columns: ['dvp_name'],
      output: { path: 'extracts/{job}/{job}-{timestamp}.csv', rowGroupRows: 10 },
    });
    const pointless = await jobFile('no-lookups', { columns: ['dvp_name'], output: { lookupTargets: true } });
    // One command for the three files (each CLI start costs seconds): exit 2 because one cannot run.
    const result = await dvpipe(['jobs', 'validate', good, mismatch, pointless, '--url', emu.url]);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain(`${good}: extract job 'parquet-ok' fits table 'dvp_sample'`);
    expect(result.stdout).toContain(
      `${mismatch}: output.path: the path ends in ".csv" but "format" is "parquet"`,
    );
    expect(result.stdout).toContain(`${mismatch}: output.rowGroupRows:`);
    expect(result.stdout).toContain(
      `${pointless}: output.lookupTargets: warning: no lookup, customer or owner column among "columns"`,
    );
    expect(result.stdout).toContain(`${pointless}: extract job 'no-lookups' fits table 'dvp_sample'`);
  });
});

describe('dvpipe extract: a CSV and a Parquet extract of one name in one folder', () => {
  it('keeps each its own manifest and report, and the runs page links each run to its own files', async () => {
    const job = await jobFile('both', { columns: ['dvp_sampleid', 'dvp_name', 'dvp_quantity'] });
    const folder = join(dir, 'both');
    const csv = await dvpipe([
      'extract',
      '--job',
      job,
      '--url',
      emu.url,
      '--out',
      join(folder, 'samples.csv'),
    ]);
    expect(csv.code).toBe(0);
    const parquet = await dvpipe([
      'extract',
      ...['--job', job, '--url', emu.url, '--out', join(folder, 'samples.parquet'), '--format', 'parquet'],
    ]);
    expect(parquet.code).toBe(0);
    expect(csv.stdout).toContain(`Manifest: ${join(folder, 'samples.manifest.json')}\n`);
    expect(csv.stdout).toContain(`Report: ${join(folder, 'samples.report.html')}\n`);
    expect(parquet.stdout).toContain(`Manifest: ${join(folder, 'samples.parquet.manifest.json')}\n`);
    expect(parquet.stdout).toContain(`Report: ${join(folder, 'samples.parquet.report.html')}\n`);

    const manifestOf = async (name: string) =>
      JSON.parse(await readFile(join(folder, name), 'utf8')) as Manifest & { path: string; runId: string };
    const csvManifest = await manifestOf('samples.manifest.json');
    const parquetManifest = await manifestOf('samples.parquet.manifest.json');
    // The first run's manifest survived the second run: each describes the file beside it, byte for byte.
    expect([csvManifest.format, csvManifest.path, csvManifest.rows]).toEqual(['csv', 'samples.csv', ROWS]);
    expect([parquetManifest.format, parquetManifest.path, parquetManifest.rows]).toEqual([
      'parquet',
      'samples.parquet',
      ROWS,
    ]);
    for (const m of [csvManifest, parquetManifest]) {
      const bytes = await readFile(join(folder, m.path));
      expect([m.bytes, m.sha256]).toEqual([bytes.length, createHash('sha256').update(bytes).digest('hex')]);
    }
    expect(csvManifest.runId).not.toBe(parquetManifest.runId);

    // Each report links to its own file and manifest.
    const links = async (report: string) =>
      [...(await readFile(join(folder, report), 'utf8')).matchAll(/<li><a href="([^"]+)">/g)].map(
        (m) => m[1],
      );
    expect(await links('samples.report.html')).toEqual(['samples.csv', 'samples.manifest.json']);
    expect(await links('samples.parquet.report.html')).toEqual([
      'samples.parquet',
      'samples.parquet.manifest.json',
    ]);

    // The runs page (here over the same folder) lists both runs, each with its own report and manifest.
    const runs = await recentExtractRuns(new FileObjectStore(folder));
    expect(
      runs.map((r) => [r.runId, r.format, r.status, r.rows, r.reportPath, r.manifestPath]).sort(),
    ).toEqual(
      [
        [csvManifest.runId, 'csv', 'succeeded', ROWS, 'samples.report.html', 'samples.manifest.json'],
        [
          parquetManifest.runId,
          'parquet',
          'succeeded',
          ROWS,
          'samples.parquet.report.html',
          'samples.parquet.manifest.json',
        ],
      ].sort(),
    );
  });
});
