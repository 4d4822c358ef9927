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

  it('image column: an image is uploaded; a file that is not an image fails its row after the record is written; one over MaxSizeInKB fails before', async () => {
    // A PNG as the service receives it: the 8-byte signature, then the image's chunks.
    const png = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      randomBytes(300),
    ]);
    await mkdir(join(dir, 'pictures'), { recursive: true });
    await writeFile(join(dir, 'pictures', 'logo.png'), png);
    await writeFile(join(dir, 'pictures', 'notes.png'), 'not an image at all\n');
    // dvp_picture's MaxSizeInKB is 10,240: one byte over it.
    await writeFile(
      join(dir, 'pictures', 'huge.png'),
      Buffer.concat([png, Buffer.alloc(10240 * 1024 + 1 - png.length)]),
    );
    await writeFile(
      join(dir, 'pictures.csv'),
      [
        'Id,Name,Picture',
        `${guid(11)},With a logo,pictures/logo.png`,
        `${guid(12)},With notes,pictures/notes.png`,
        `${guid(13)},Too large,pictures/huge.png`,
      ].join('\n'),
    );
    await writeFile(
      join(dir, 'pictures.json'),
      JSON.stringify({
        name: 'samples-with-pictures',
        table: 'dvp_sample',
        operation: 'create',
        columns: { Id: 'dvp_sampleid', Name: 'dvp_name', Picture: 'dvp_picture' },
      }),
    );
    const ran = await dvpipe([
      'import',
      join(dir, 'pictures.csv'),
      '--job',
      join(dir, 'pictures.json'),
      '--url',
      emulator.url,
      '--out',
      join(dir, 'out-pictures'),
      '--quiet',
    ]);
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(1);
    const summary = JSON.parse(await readFile(join(dir, 'out-pictures', 'summary.json'), 'utf8')) as {
      rows: Record<string, number>;
    };
    expect(summary.rows).toMatchObject({ total: 3, succeeded: 1, failed: 2 });

    expect(emulator.store.file('dvp_sample', guid(11), 'dvp_picture')?.bytes.equals(png)).toBe(true);
    expect(emulator.store.get('dvp_sample', guid(11))?.dvp_name).toBe('With a logo');
    // The service took the record and refused the file: the row says both.
    expect(emulator.store.get('dvp_sample', guid(12))?.dvp_name).toBe('With notes');
    expect(emulator.store.file('dvp_sample', guid(12), 'dvp_picture')).toBeUndefined();
    // Over the column's size: refused before anything was written.
    expect(emulator.store.get('dvp_sample', guid(13))).toBeUndefined();

    const errors = parse(await readFile(join(dir, 'out-pictures', 'errors.csv')), {
      columns: true,
      bom: true,
    }) as Record<string, string>[];
    expect(errors.map((e) => [e.row, e.code, e.column])).toEqual([
      ['3', '0x80072553', 'Picture'],
      ['4', 'FileTooLarge', 'Picture'],
    ]);
    expect(errors[0]?.message).toContain(
      `the record was created (${guid(12)}) but file "pictures/notes.png" could not be uploaded to dvp_picture`,
    );
    expect(errors[0]?.message).toContain(
      'Error occured when processing image. Reason: The file notes.png is not an image.',
    );
    expect(errors[1]?.message).toBe(
      'column "Picture": file "pictures/huge.png" is 10,241 KB; dvp_picture takes at most 10,240 KB (its MaxSizeInKB); nothing was written for this row',
    );
    const records = parse(await readFile(join(dir, 'out-pictures', 'records.csv')), {
      columns: true,
      bom: true,
    }) as Record<string, string>[];
    expect(records.map((r) => [r.row, r.status, r.id])).toEqual([
      ['2', 'created', guid(11)],
      // records.csv names no record for a failed row; its errors.csv message names the one written.
      ['3', 'failed', ''],
      ['4', 'failed', ''],
    ]);
  });
});
