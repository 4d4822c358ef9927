// Date formats a job may name per column. Parsed once per job into a regex + group plan, so rows
// never compile anything.

export type DateToken = 'yyyy' | 'MM' | 'dd' | 'HH' | 'mm' | 'ss';

export interface CompiledDateFormat {
  readonly source: string;
  /** Anchored; one capture group per token, in `tokens` order. */
  readonly regex: RegExp;
  readonly tokens: readonly DateToken[];
  readonly hasTime: boolean;
}

/** `iso` accepts `yyyy-MM-dd` and ISO 8601 date-times with optional seconds, fraction and offset. */
export const ISO_FORMAT = 'iso';

const TOKEN_PATTERN: Record<DateToken, string> = {
  yyyy: '(\\d{4})',
  // One or two digits: spreadsheets write 1/2/2024 for 01/02/2024; the explicit order keeps it unambiguous.
  MM: '(\\d{1,2})',
  dd: '(\\d{1,2})',
  HH: '(\\d{1,2})',
  mm: '(\\d{2})',
  ss: '(\\d{2})',
};
const TOKENS = Object.keys(TOKEN_PATTERN) as DateToken[];
const LITERALS = new Set(['-', '/', '.', ':', ' ', 'T', ',']);

/** Returns the compiled format or a sentence saying what is wrong with it. */
export function compileDateFormat(format: string): CompiledDateFormat | string {
  if (format === ISO_FORMAT) {
    return { source: format, regex: /^$/, tokens: [], hasTime: true };
  }
  let pattern = '^';
  const tokens: DateToken[] = [];
  let i = 0;
  while (i < format.length) {
    const token = TOKENS.find((t) => format.startsWith(t, i));
    if (token !== undefined) {
      if (tokens.includes(token)) return `"${token}" appears twice in the date format "${format}"`;
      tokens.push(token);
      pattern += TOKEN_PATTERN[token];
      i += token.length;
      continue;
    }
    const ch = format.charAt(i);
    if (format.startsWith('yy', i))
      return `two-digit years are ambiguous: use yyyy in the date format "${format}"`;
    if (!LITERALS.has(ch)) {
      return `unexpected "${ch}" in the date format "${format}": use yyyy, MM, dd, HH, mm, ss and the separators - / . : space T (or "iso")`;
    }
    pattern += ch === '.' ? '\\.' : ch;
    i += 1;
  }
  for (const needed of ['yyyy', 'MM', 'dd'] as const) {
    if (!tokens.includes(needed)) return `the date format "${format}" has no ${needed}`;
  }
  if (tokens.includes('mm') && !tokens.includes('HH')) return `the date format "${format}" has mm but no HH`;
  if (tokens.includes('ss') && !tokens.includes('mm')) return `the date format "${format}" has ss but no mm`;
  return { source: format, regex: new RegExp(pattern + '$'), tokens, hasTime: tokens.includes('HH') };
}
