import type { DateTimeBehavior } from '../dataverse/model.js';
import type { CompiledDateFormat } from './date-format.js';

// Dates: parse the cell with the column's format, then write what the column's behaviour expects
// (dataverse-webapi.md §11): DateOnly -> "YYYY-MM-DD"; UserLocal -> UTC "...Z" (the job's time zone
// applies when the cell has no offset); TimeZoneIndependent -> the wall-clock time as entered, with Z.
// Dataverse keeps seconds, so fractions of a second are dropped.

export type DateConverter = (text: string) => string | DateFailure;

/** A reason the cell is not a usable date, phrased to follow the value in a message. */
export class DateFailure {
  constructor(readonly reason: string) {}
}

interface Parts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  hasTime: boolean;
  /** Minutes east of UTC, when the cell carries an offset. */
  offset: number | undefined;
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d{1,9})?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;
const MIN_YEAR = 1753; // Dataverse's earliest date

export function createDateConverter(
  format: CompiledDateFormat | undefined,
  behavior: DateTimeBehavior,
  timeZone: string,
): DateConverter {
  const parse = format === undefined || format.tokens.length === 0 ? parseIso : formatParser(format);
  const toUtc = createZoneConverter(timeZone);
  const expected = format === undefined ? 'yyyy-MM-dd or ISO 8601' : format.source;

  return (text) => {
    const parts = parse(text);
    if (parts === undefined) return new DateFailure(`is not a date in the format ${expected}`);
    const invalid = checkParts(parts);
    if (invalid !== undefined) return new DateFailure(invalid);
    if (behavior === 'DateOnly') {
      if (parts.offset !== undefined || parts.hour !== 0 || parts.minute !== 0 || parts.second !== 0) {
        return new DateFailure('has a time, but the column holds a date only');
      }
      return datePart(parts);
    }
    if (behavior === 'TimeZoneIndependent') {
      if (parts.offset !== undefined && parts.offset !== 0) {
        return new DateFailure(
          'has a UTC offset, but the column is time-zone independent: give the time as entered',
        );
      }
      return `${datePart(parts)}T${timePart(parts)}Z`;
    }
    const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
    const utc = parts.offset !== undefined ? wall - parts.offset * 60_000 : toUtc(wall);
    if (utc === undefined) {
      return new DateFailure(`does not exist in the time zone ${timeZone} (the clocks skip that hour)`);
    }
    return new Date(utc).toISOString().slice(0, 19) + 'Z';
  };
}

function parseIso(text: string): Parts | undefined {
  const m = ISO.exec(text);
  if (m === null) return undefined;
  return {
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4] ?? 0),
    minute: Number(m[5] ?? 0),
    second: Number(m[6] ?? 0),
    hasTime: m[4] !== undefined,
    offset: m[7] === undefined ? undefined : offsetMinutes(m[7]),
  };
}

function offsetMinutes(text: string): number {
  if (text === 'Z' || text === 'z') return 0;
  const sign = text.startsWith('-') ? -1 : 1;
  const digits = text.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0'));
}

function formatParser(format: CompiledDateFormat): (text: string) => Parts | undefined {
  const slots = format.tokens;
  return (text) => {
    const m = format.regex.exec(text);
    if (m === null) return undefined;
    const parts: Parts = {
      year: 0,
      month: 0,
      day: 0,
      hour: 0,
      minute: 0,
      second: 0,
      hasTime: false,
      offset: undefined,
    };
    for (let i = 0; i < slots.length; i += 1) {
      const value = Number(m[i + 1]);
      switch (slots[i]) {
        case 'yyyy':
          parts.year = value;
          break;
        case 'MM':
          parts.month = value;
          break;
        case 'dd':
          parts.day = value;
          break;
        case 'HH':
          parts.hour = value;
          parts.hasTime = true;
          break;
        case 'mm':
          parts.minute = value;
          break;
        case 'ss':
          parts.second = value;
          break;
      }
    }
    return parts;
  };
}

function checkParts(p: Parts): string | undefined {
  if (p.month < 1 || p.month > 12) return `has month ${p.month}`;
  if (p.day < 1 || p.day > daysInMonth(p.year, p.month)) return `has no day ${p.day} in that month`;
  if (p.hour > 23 || p.minute > 59 || p.second > 59) return 'has an impossible time of day';
  if (p.year < MIN_YEAR) return `is before ${MIN_YEAR}, the earliest date Dataverse stores`;
  if (p.offset !== undefined && Math.abs(p.offset) > 14 * 60) return 'has a UTC offset beyond ±14:00';
  return undefined;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  if (month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) return 29;
  return DAYS_IN_MONTH[month - 1] ?? 0;
}

function datePart(p: Parts): string {
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}

function timePart(p: Parts): string {
  return `${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`;
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * Wall-clock time (as UTC milliseconds) in `timeZone` -> the UTC instant, or undefined when the time
 * falls in a daylight-saving gap. In the repeated hour of a fall-back change the first occurrence wins.
 */
export function createZoneConverter(timeZone: string): (wall: number) => number | undefined {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return (wall) => wall;
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  // Offsets only change on whole quarter hours; a cache per quarter hour keeps Intl out of the hot path.
  const cache = new Map<number, number>();
  const offsetAt = (utc: number): number => {
    const slot = Math.floor(utc / 900_000);
    let offset = cache.get(slot);
    if (offset === undefined) {
      offset = wallOf(format, slot * 900_000) - slot * 900_000;
      if (cache.size > 100_000) cache.clear();
      cache.set(slot, offset);
    }
    return offset;
  };
  const DAY = 86_400_000;
  return (wall) => {
    // Real zones change offset at most once a day: the offsets a day before and after bracket it.
    const early = wall - offsetAt(wall - DAY);
    const late = wall - offsetAt(wall + DAY);
    const earlyOk = early + offsetAt(early) === wall;
    const lateOk = late + offsetAt(late) === wall;
    if (earlyOk && lateOk) return Math.min(early, late);
    if (earlyOk) return early;
    if (lateOk) return late;
    return undefined;
  };
}

function wallOf(format: Intl.DateTimeFormat, utc: number): number {
  const f: Record<string, number> = {};
  for (const part of format.formatToParts(utc))
    if (part.type !== 'literal') f[part.type] = Number(part.value);
  return Date.UTC(f.year ?? 0, (f.month ?? 1) - 1, f.day ?? 1, f.hour ?? 0, f.minute ?? 0, f.second ?? 0);
}
