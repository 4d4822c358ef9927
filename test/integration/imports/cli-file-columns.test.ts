// `dvpipe import` with a file column (issue 20): the cell names a local file (relative to the CSV's
// folder); the row is written, then the file uploaded to its record: in one request when small, in
// chunks (x-ms-transfer-mode: chunked) when large. A missing file fails that row only, before anything
// is written for it.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';
import { dvpipe } from '../../helpers/cli.js';

const guid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe('dvpipe import: file columns', () => {
  let emulator: RunningEmulator;
  let dir: string;
  const small = Buffer.from('%PDF-1.7 a small contract\n');
  const large = randomBytes(18 * 1024 * 1024 + 123);

  beforeAll(async () => {
    emulator = await startEmulator({ profile: 'fast' });
    dir = await mkdtemp(join(tmpdir(), 'dvp-files-'));
    await mkdir(join(dir, 'docs'));
    await writeFile(join(dir, 'docs', 'contract.pdf'), small);
    await writeFile(join(dir, 'docs', 'scan.bin'), large);
    await writeFile(
      join(dir, 'samples.csv'),
      [
        'Id,Name,Document',
        `${guid(1)},With a small file,docs/contract.pdf`,
        `${guid(2)},With a large file,docs/scan.bin`,
        `${guid(3)},File missing,docs/missing.pdf`,
        `${guid(4)},No file,`,
      ].join('\n'),
    );
    await writeFile(
      join(dir, 'samples.json'),
      JSON.stringify({
        name: 'samples-with-documents',
        table: 'dvp_sample',
        operation: 'create',
        columns: { Id: 'dvp_sampleid', Name: 'dvp_name', Document: 'dvp_document' },
      }),
    );
  });
  afterAll(async () => {
    await emulator?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('jobs validate accepts a file column', async () => {
    const ran = await dvpipe(['jobs', 'validate', join(dir, 'samples.json'), '--url', emulator.url]);
    expect(ran.stdout).toContain("job 'samples-with-documents' fits table 'dvp_sample'");
    expect(ran.code).toBe(0);
  });

  it('uploads each named file after its row, in chunks when large; a missing file fails its row only', async () => {
    const ran = await dvpipe([
      'import',
      join(dir, 'samples.csv'),
      '--job',
      join(dir, 'samples.json'),
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
    expect(summary.rows).toMatchObject({ total: 4, succeeded: 3, failed: 1, created: 3 });

    const first = emulator.store.file('dvp_sample', guid(1), 'dvp_document');
    expect(first?.name).toBe('contract.pdf');
    expect(first?.bytes.equals(small)).toBe(true);
    expect(emulator.store.get('dvp_sample', guid(1))?.dvp_document_name).toBe('contract.pdf');
    const second = emulator.store.file('dvp_sample', guid(2), 'dvp_document');
    expect(second?.name).toBe('scan.bin');
    expect(second?.bytes.equals(large)).toBe(true);
    expect(emulator.store.file('dvp_sample', guid(4), 'dvp_document')).toBeUndefined();
    expect(emulator.store.get('dvp_sample', guid(4))?.dvp_name).toBe('No file');
    // The missing file's row wrote nothing.
    expect(emulator.store.get('dvp_sample', guid(3))).toBeUndefined();

    const errors = parse(await readFile(join(dir, 'out', 'errors.csv')), {
      columns: true,
      bom: true,
    }) as Record<string, string>[];
    expect(errors.map((e) => [e.row, e.code, e.column])).toEqual([['4', 'FileNotFound', 'Document']]);
    expect(errors[0]?.message).toBe(
      `column "Document": file "docs/missing.pdf" not found (${join(dir, 'docs', 'missing.pdf')}); nothing was written for this row`,
    );

    // The large file went in 4 MB chunks after a session was opened; the small one in one request.
    const uploads = emulator
      .recentLog()
      .filter((e) => e.method === 'PATCH' && e.url.includes('/dvp_document'));
    const sessions = uploads.filter((e) => e.url.includes('sessiontoken='));
    expect(sessions.map((e) => e.status)).toEqual([206, 206, 206, 206, 204]);
    expect(
      uploads
        .filter((e) => !e.url.includes('sessiontoken='))
        .map((e) => e.status)
        .sort(),
    ).toEqual([200, 204]);
  });
});
