import { isUtf8 } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';
import iconv from 'iconv-lite';

/**
 * Decoding policy. Invalid bytes must reach the user as a row error, never as silently replaced text:
 * - UTF-8 passes through as bytes (csv-parse decodes fields itself); each chunk is checked with the
 *   native `isUtf8`, carrying an incomplete trailing sequence over to the next chunk.
 * - Other encodings are decoded with iconv-lite, which writes U+FFFD for bytes it cannot map.
 * Once a file is known to hold invalid bytes, `sawInvalidBytes` turns on and the reader reports every
 * field containing U+FFFD as `BadEncoding`. Fields read before that point are exact, so the only
 * imprecision is a genuine U+FFFD later in a file that is already broken, which is reported too.
 */
export interface DecodeState {
  sawInvalidBytes: boolean;
}

export function isUtf8Encoding(encoding: string): boolean {
  const e = encoding.toLowerCase();
  return e === 'utf8' || e === 'utf-8';
}

/** A transform to put in front of csv-parse; it emits UTF-8 bytes or strings. */
export function createDecoder(encoding: string, state: DecodeState): Transform {
  return isUtf8Encoding(encoding) ? new Utf8Check(state) : new IconvDecode(encoding, state);
}

class Utf8Check extends Transform {
  private carry: Buffer | undefined;

  constructor(private readonly state: DecodeState) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.state.sawInvalidBytes) this.check(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    // A sequence cut off by the end of the file.
    if (this.carry !== undefined && this.carry.length > 0) this.state.sawInvalidBytes = true;
    callback();
  }

  private check(chunk: Buffer): void {
    const bytes = this.carry === undefined ? chunk : Buffer.concat([this.carry, chunk]);
    const cut = completeLength(bytes);
    if (!isUtf8(bytes.subarray(0, cut))) {
      this.state.sawInvalidBytes = true;
      this.carry = undefined;
      return;
    }
    this.carry = cut === bytes.length ? undefined : Buffer.from(bytes.subarray(cut));
  }
}

/** Length of the prefix that ends on a sequence boundary (at most 3 bytes are held back). */
function completeLength(bytes: Buffer): number {
  const end = bytes.length;
  for (let back = 1; back <= 3 && back <= end; back += 1) {
    const byte = bytes[end - back] ?? 0;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? end - back : end;
  }
  return end;
}

class IconvDecode extends Transform {
  private readonly decoder: iconv.DecoderStream;

  constructor(
    encoding: string,
    private readonly state: DecodeState,
  ) {
    super({ decodeStrings: true, readableObjectMode: false });
    this.decoder = iconv.getDecoder(encoding);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.pushText(this.decoder.write(chunk));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.pushText(this.decoder.end() ?? '');
    callback();
  }

  private pushText(text: string): void {
    if (text.length === 0) return;
    if (text.includes('\uFFFD')) this.state.sawInvalidBytes = true;
    this.push(text, 'utf8');
  }
}
