// A PNG's text chunks (tEXt, Latin-1 keyword and text): the screenshots say in their own file what
// the page showed when they were taken, so a test can check a committed picture without looking at it.
import { crc32 } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

interface Chunk {
  readonly type: string;
  readonly data: Buffer;
  /** Offset of the chunk's length field. */
  readonly at: number;
}

function chunks(png: Buffer): Chunk[] {
  if (!png.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG file');
  const found: Chunk[] = [];
  for (let at = 8; at + 12 <= png.length;) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    found.push({ type, data: png.subarray(at + 8, at + 8 + length), at });
    at += 12 + length;
  }
  return found;
}

/** The PNG with a tEXt chunk `keyword` = `text` just before its end. */
export function withText(png: Buffer, keyword: string, text: string): Buffer {
  const end = chunks(png).find((chunk) => chunk.type === 'IEND');
  if (!end) throw new Error('PNG without an IEND chunk');
  const typeAndData = Buffer.concat([
    Buffer.from('tEXt', 'latin1'),
    Buffer.from(`${keyword}\0${text}`, 'latin1'),
  ]);
  const chunk = Buffer.alloc(typeAndData.length + 8);
  chunk.writeUInt32BE(typeAndData.length - 4, 0);
  typeAndData.copy(chunk, 4);
  chunk.writeUInt32BE(crc32(typeAndData), chunk.length - 4);
  return Buffer.concat([png.subarray(0, end.at), chunk, png.subarray(end.at)]);
}

/** The text chunks of a PNG, by keyword; a chunk whose CRC does not match is left out. */
export function textOf(png: Buffer): Map<string, string> {
  const texts = new Map<string, string>();
  for (const chunk of chunks(png)) {
    if (chunk.type !== 'tEXt') continue;
    const stored = png.readUInt32BE(chunk.at + 8 + chunk.data.length);
    if (crc32(png.subarray(chunk.at + 4, chunk.at + 8 + chunk.data.length)) !== stored) continue;
    const text = chunk.data.toString('latin1');
    const nul = text.indexOf('\0');
    if (nul > 0) texts.set(text.slice(0, nul), text.slice(nul + 1));
  }
  return texts;
}
