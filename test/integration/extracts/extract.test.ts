// Acceptance of issue 6 against the real emulator (fast profile) and Azurite: a 60,000-row extract
// that matches the emulator's contents, incremental runs after 500 updates and 20 deletes (change
// tracking with deletes in a file or a column, and a watermark), and an expired delta token.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { parse } from 'csv-parse/sync';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';
import { createClient } from '../../../src/app/dataverse.js';
import { extractJobSchema, type ExtractJob } from '../../../src/config/job.js';
import type { DataverseClient } from '../../../src/dataverse/index.js';
import { runExtract, type ExtractManifest } from '../../../src/extracts/index.js';
import { BlobObjectStore } from '../../../src/storage/blob-store.js';
import { BlockBlobSink } from '../../../src/storage/block-blob-sink.js';
import { startAzurite, type RunningAzurite } from '../../../dev/azurite.js';

const ROWS = 60_000;
const COLUMNS = [
  'contactid',
  'firstname',
  'lastname',
  'emailaddress1',
  'birthdate',
  'preferredcontactmethodcode',
  'donotemail',
  'parentcustomerid',
  'creditlimit',
  'description',
  'createdon',
];
const TRICKY = [
  '=HYPERLINK("x")',
  'comma, inside',
  'quote " inside',
  'line\r\nbreak',
  '-3+2',
  '@sum',
  'Zoë 東京',
  '',
];

let emu: RunningEmulator;
let azurite: RunningAzurite;
let client: DataverseClient;
let output: ContainerClient;
let stateContainer: ContainerClient;
const accounts = new Map<string, string>();

beforeAll(async () => {
  [emu, azurite] = await Promise.all([startEmulator({ profile: 'fast' }), startAzurite()]);
  const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
  output = blobs.getContainerClient('extracts');
  stateContainer = blobs.getContainerClient('extract-state');
  await Promise.all([output.create(), stateContainer.create()]);
  client = createClient({ url: emu.url, identities: ['extract-itest'], maxConcurrency: 8 });
  for (let a = 0; a < 20; a += 1) {
    const name = `Account ${a}`;
    accounts.set(emu.store.put('account', { name, accountnumber: `A-${a}` }), name);
  }
  const accountIds = [...accounts.keys()];
  for (let i = 0; i < ROWS; i += 1) {
    emu.store.put('contact', {
      firstname: i % 97 === 0 ? TRICKY[i % TRICKY.length] : `First${i}`,
      lastname: `Last${i}`,
      emailaddress1: `c${i}@example.com`,
      ...(i % 3 === 0
        ? { birthdate: `19${String(50 + (i % 50)).padStart(2, '0')}-0${1 + (i % 9)}-1${i % 10}` }
        : {}),
      ...(i % 4 === 0 ? {} : { preferredcontactmethodcode: 1 + (i % 5) }),
      donotemail: i % 2 === 0,
      ...(i % 5 === 0
        ? {}
        : { 'parentcustomerid_account@odata.bind': `/accounts(${accountIds[i % accountIds.length]})` }),
      ...(i % 7 === 0 ? { creditlimit: (i % 1000) + 0.25 } : {}),
      ...(i % 11 === 0 ? { description: TRICKY[(i >> 1) % TRICKY.length] } : {}),
    });
  }
}, 240_000);

afterAll(async () => {
  await client?.close();
  await Promise.all([emu?.close(), azurite?.stop()]);
});

function job(name: string, extra: Record<string, unknown> = {}): ExtractJob {
  return extractJobSchema.parse({
    name,
    table: 'contact',
    columns: COLUMNS,
    output: { formattedValues: true },
    ...extra,
  });
}

function deps() {
  return { client, sink: new BlockBlobSink(output), state: new BlobObjectStore(stateContainer) };
}

async function download(path: string): Promise<Buffer> {
  return output.getBlobClient(path).downloadToBuffer();
}

async function records(manifest: ExtractManifest, path = manifest.path): Promise<Record<string, string>[]> {
  return parse(await download(path), { bom: true, columns: true, relax_quotes: false }) as Record<
    string,
    string
  >[];
}

/** What the CSV must hold for a value the Web API returned: formulas neutralised, dates in UTC. */
function expectedCell(column: string, value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return String(value);
  const text = String(value);
  if (column === 'createdon') return new Date(text).toISOString().replace('.000Z', 'Z');
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

describe('extract acceptance (emulator + Azurite)', () => {
  it('extracts 60,000 rows in parallel partitions that match the emulator exactly', async () => {
    const { manifest, manifestPath, reportPath } = await runExtract(
      deps(),
      job('contacts-full', { partitions: 4 }),
      {
        blockBytes: 256 * 1024,
        trigger: 'http',
      },
    );
    expect(manifest.rows).toBe(ROWS);
    expect(manifest.partitions).toBeGreaterThan(1);

    const bytes = await download(manifest.path);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(manifest.sha256);
    expect(bytes.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    const saved = JSON.parse((await download(manifestPath)).toString('utf8')) as ExtractManifest;
    expect(saved.rows).toBe(ROWS);

    const rows = parse(bytes, { bom: true, columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0]!)).toEqual(manifest.columns);
    expect(rows).toHaveLength(ROWS);
    const byId = new Map(rows.map((r) => [r.contactid!, r]));
    expect(byId.size).toBe(ROWS);

    const contacts = emu.store.all('contact');
    expect(contacts).toHaveLength(ROWS);
    const metadata = await client.metadata('contact');
    const labels = new Map(
      metadata.attributes.get('preferredcontactmethodcode')!.options!.map((o) => [o.value, o.label]),
    );
    // Plain comparisons collected, then one assertion: 60,000 × 14 expect() calls would dominate the test.
    const mismatches: string[] = [];
    const check = (where: string, actual: unknown, expected: unknown) => {
      if (actual !== expected)
        mismatches.push(`${where}: ${JSON.stringify(actual)} != ${JSON.stringify(expected)}`);
    };
    let tricky = 0;
    for (const contact of contacts) {
      const id = String(contact.contactid);
      const row = byId.get(id);
      if (!row) {
        mismatches.push(`${id}: missing`);
        continue;
      }
      for (const column of COLUMNS) {
        const key = column === 'parentcustomerid' ? '_parentcustomerid_value' : column;
        check(`${id}.${column}`, row[column], expectedCell(column, contact[key]));
      }
      const parent = contact._parentcustomerid_value;
      check(
        `${id}.parentcustomerid@label`,
        row['parentcustomerid@label'],
        typeof parent === 'string' ? accounts.get(parent) : '',
      );
      const method = contact.preferredcontactmethodcode;
      check(
        `${id}.preferredcontactmethodcode@label`,
        row['preferredcontactmethodcode@label'],
        typeof method === 'number' ? labels.get(method) : '',
      );
      check(`${id}.donotemail@label`, row['donotemail@label'] === '', false);
      if (TRICKY.includes(String(contact.firstname))) tricky += 1;
    }
    expect(mismatches.slice(0, 20)).toEqual([]);
    expect(tricky).toBeGreaterThan(100);

    const names: string[] = [];
    for await (const blob of output.listBlobsFlat({ prefix: 'extracts/contacts-full/' }))
      names.push(blob.name);
    // The file, its manifest and its report: nothing staged is left behind.
    expect(reportPath).toBe(manifest.path.replace(/\.csv$/, '.report.html'));
    expect(names.sort()).toEqual([manifest.path, manifestPath, reportPath].sort());
  });

  it('writes Parquet to a block blob in row groups, committed at once, typed and equal to the emulator', async () => {
    const { manifest } = await runExtract(
      deps(),
      job('contacts-parquet', { partitions: 4, format: 'parquet' }),
    );
    expect(manifest.path).toMatch(/^extracts\/contacts-parquet\/.*\.parquet$/);
    expect([manifest.format, manifest.rows, manifest.rowGroups, manifest.bom]).toEqual([
      'parquet',
      ROWS,
      2,
      false,
    ]);
    const blob = output.getBlobClient(manifest.path);
    expect((await blob.getProperties()).contentType).toBe('application/vnd.apache.parquet');
    const bytes = await blob.downloadToBuffer();
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(manifest.sha256);

    const dir = await mkdtemp(join(tmpdir(), 'extract-parquet-'));
    const file = join(dir, 'contacts.parquet');
    await writeFile(file, bytes);
    const instance = await DuckDBInstance.create(':memory:');
    const duck = await instance.connect();
    try {
      const read = await duck.runAndReadAll(
        `SELECT contactid, firstname, CAST(birthdate AS VARCHAR) AS birthdate, preferredcontactmethodcode AS method,
                "preferredcontactmethodcode@label" AS method_label, donotemail, "parentcustomerid@label" AS company,
                CAST(creditlimit AS VARCHAR) AS creditlimit, CAST(epoch_ms(createdon) AS VARCHAR) AS created_ms
           FROM read_parquet('${file}')`,
      );
      const rows = read.getRowObjectsJson() as Record<string, unknown>[];
      expect(rows).toHaveLength(ROWS);
      const byId = new Map(rows.map((r) => [r.contactid as string, r]));
      const mismatches: string[] = [];
      const check = (where: string, actual: unknown, expected: unknown) => {
        if (actual !== expected)
          mismatches.push(`${where}: ${JSON.stringify(actual)} != ${JSON.stringify(expected)}`);
      };
      for (const contact of emu.store.all('contact')) {
        const id = String(contact.contactid);
        const row = byId.get(id);
        if (!row) {
          mismatches.push(`${id}: missing`);
          continue;
        }
        check(`${id}.firstname`, row.firstname, contact.firstname ?? null);
        check(`${id}.birthdate`, row.birthdate, contact.birthdate ?? null);
        check(`${id}.method`, row.method, contact.preferredcontactmethodcode ?? null);
        check(`${id}.method_label`, row.method_label === null, contact.preferredcontactmethodcode == null);
        check(`${id}.donotemail`, row.donotemail, contact.donotemail);
        const parent = contact._parentcustomerid_value;
        check(`${id}.company`, row.company, typeof parent === 'string' ? accounts.get(parent) : null);
        const limit = contact.creditlimit;
        check(`${id}.creditlimit`, row.creditlimit, typeof limit === 'number' ? limit.toFixed(4) : null);
        check(`${id}.createdon`, row.created_ms, String(Date.parse(String(contact.createdon))));
      }
      expect(mismatches.slice(0, 20)).toEqual([]);
    } finally {
      duck.closeSync();
      instance.closeSync();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('incremental runs after 500 updates and 20 deletes hold exactly those changes; an expired token reads everything again', async () => {
    const ctFile = job('contacts-ct-file', {
      incremental: { mode: 'changeTracking' },
      output: { deletes: 'separateFile' },
    });
    const ctColumn = job('contacts-ct-col', {
      incremental: { mode: 'changeTracking' },
      output: { deletes: 'column' },
    });
    const wm = job('contacts-wm', { incremental: { mode: 'watermark' }, partitions: 3 });

    const firsts = await Promise.all([ctFile, ctColumn, wm].map((j) => runExtract(deps(), j)));
    for (const { manifest } of firsts) {
      expect(manifest.mode).toBe('full');
      expect(manifest.rows).toBe(ROWS);
    }

    const ids = emu.store.all('contact').map((c) => String(c.contactid));
    const updated = ids.filter((_, i) => i % 100 === 1).slice(0, 500);
    const deleted = ids.filter((_, i) => i % 100 === 2).slice(0, 20);
    expect(updated).toHaveLength(500);
    const updates = await client.updateMultiple(
      'contact',
      updated.map((id, i) => ({ id, data: { firstname: `Updated ${i}` } })),
    );
    expect(updates.every((r) => r.ok)).toBe(true);
    const deletes = await client.deleteMultiple(
      'contact',
      deleted.map((id) => ({ id })),
    );
    expect(deletes.every((r) => r.ok)).toBe(true);

    const file = await runExtract(deps(), ctFile);
    expect(file.manifest.mode).toBe('changeTracking');
    expect(file.manifest.deltaToken?.used).toBeDefined();
    const changed = await records(file.manifest);
    expect(changed.map((r) => r.contactid).sort()).toEqual([...updated].sort());
    expect(new Set(changed.map((r) => r.firstname))).toEqual(new Set(updated.map((_, i) => `Updated ${i}`)));
    const removed = await records(file.manifest, file.manifest.deletesPath!);
    expect(removed.map((r) => r.contactid).sort()).toEqual([...deleted].sort());
    expect(file.manifest.deletedRows).toBe(20);

    const column = await runExtract(deps(), ctColumn);
    const mixed = await records(column.manifest);
    expect(
      mixed
        .filter((r) => r.$deleted === 'false')
        .map((r) => r.contactid)
        .sort(),
    ).toEqual([...updated].sort());
    expect(
      mixed
        .filter((r) => r.$deleted === 'true')
        .map((r) => r.contactid)
        .sort(),
    ).toEqual([...deleted].sort());
    expect(mixed).toHaveLength(520);

    const mark = await runExtract(deps(), wm);
    expect(mark.manifest.mode).toBe('watermark');
    expect(mark.manifest.watermark?.from).toBeDefined();
    expect((await records(mark.manifest)).map((r) => r.contactid).sort()).toEqual([...updated].sort());

    emu.configure({ expireDeltaTokens: true });
    // A write after the expiry, so the token of the re-read is newer than the cut-off.
    await client.update('contact', { id: updated[0]! }, { lastname: 'After expiry' });
    const again = await runExtract(deps(), ctFile);
    expect(again.manifest.mode).toBe('full');
    expect(again.manifest.fullReason).toBe('the delta token expired');
    expect(again.manifest.rows).toBe(ROWS - 20);
    expect((await records(again.manifest)).length).toBe(ROWS - 20);
    // The fresh delta link works: nothing changed since.
    const quiet = await runExtract(deps(), ctFile);
    expect(quiet.manifest.mode).toBe('changeTracking');
    expect(quiet.manifest.rows).toBe(0);
  });
});
