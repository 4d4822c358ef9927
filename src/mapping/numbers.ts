// Locale-safe number parsing. The job declares the decimal separator; the other mark is accepted only
// as a thousands separator in groups of three, so "1,5" with "." as the decimal mark is an error, not 15.

export interface ParsedNumber {
  readonly value: number;
  /** Significant digits after the decimal mark (trailing zeros do not count). */
  readonly decimals: number;
}

export type NumberParser = (text: string) => ParsedNumber | string;

const SCIENTIFIC = /^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$/;

export function createNumberParser(decimalSeparator: '.' | ','): NumberParser {
  // Integer part: plain digits, or 1-3 digits then groups of 3 joined by one grouping mark used consistently.
  const pattern =
    decimalSeparator === '.'
      ? /^([+-])?(\d{1,3}(?:,\d{3})+|\d*)(?:\.(\d+))?$/
      : /^([+-])?(\d{1,3}(?:([. \u00a0\u202f])\d{3})(?:\3\d{3})*|\d*)(?:,(\d+))?$/;
  const fractionGroup = decimalSeparator === '.' ? 3 : 4;
  const grouping = decimalSeparator === '.' ? /,/g : /[. \u00a0\u202f]/g;
  const hint =
    decimalSeparator === '.'
      ? 'is not a number with "." as the decimal mark (set decimalSeparator to "," if the file uses 1.234,56)'
      : 'is not a number with "," as the decimal mark (set decimalSeparator to "." if the file uses 1,234.56)';

  return (text) => {
    const match = pattern.exec(text);
    if (match === null) {
      if (SCIENTIFIC.test(text)) {
        return 'is in scientific notation: a spreadsheet may have dropped digits; write the number in full';
      }
      return hint;
    }
    const sign = match[1] === '-' ? '-' : '';
    const integer = (match[2] ?? '').replace(grouping, '');
    const fraction = match[fractionGroup] ?? '';
    if (integer === '' && fraction === '') return hint;
    const value = Number(`${sign}${integer === '' ? '0' : integer}.${fraction === '' ? '0' : fraction}`);
    return { value: value === 0 ? 0 : value, decimals: significantDecimals(fraction) };
  };
}

function significantDecimals(fraction: string): number {
  let end = fraction.length;
  while (end > 0 && fraction.charCodeAt(end - 1) === 48) end -= 1;
  return end;
}
