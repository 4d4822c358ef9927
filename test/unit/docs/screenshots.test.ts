// The pictures in the docs say in their own PNG text what the page showed when they were taken
// (scripts/screenshots.ts writes it from the page it pictured), so their content can be checked here.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { textOf, withText } from '../../../scripts/png-text.js';

const images = join(import.meta.dirname, '..', '..', '..', 'docs', 'images');

describe('PNG text chunks', () => {
  it('reads back what was written, and skips a chunk whose checksum is wrong', async () => {
    const png = await readFile(join(images, 'report.png'));
    const marked = withText(png, 'Description', 'rows 1,000 of 2,000');
    expect(marked.length).toBe(png.length + 12 + 'Description\0rows 1,000 of 2,000'.length);
    expect(textOf(marked).get('Description')).toBe('rows 1,000 of 2,000');
    // The image data is untouched: only the chunk was added before IEND.
    expect(marked.subarray(0, png.length - 12).equals(png.subarray(0, png.length - 12))).toBe(true);
    const broken = Buffer.from(marked);
    const textByte = png.length - 12 + 8 + 3;
    broken[textByte] = broken[textByte]! ^ 0xff; // a byte of the keyword
    expect(textOf(broken).has('Description')).toBe(false);
    expect(() => textOf(Buffer.from('GIF89a'))).toThrow('not a PNG file');
  });
});

describe('docs/images/runs-page.png', () => {
  it('shows an import and an extract while they run, and stays small', async () => {
    const png = await readFile(join(images, 'runs-page.png'));
    expect(textOf(png).get('Description')).toBe(
      'The runs page: running imports: contacts; running extracts: contacts-archive',
    );
    expect(png.readUInt32BE(16)).toBe(1100); // IHDR width: the viewport
    expect(png.length).toBeLessThan(150_000);
  });
});
