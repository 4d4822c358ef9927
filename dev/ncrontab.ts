import { Cron } from 'croner';
import { DevHostError } from './errors.js';

/** A six-field NCRONTAB schedule (`{second} {minute} {hour} {day} {month} {day-of-week}`), in UTC. */
export interface NcrontabSchedule {
  readonly expression: string;
  /** The first occurrence strictly after `after`; undefined when there is none. */
  next(after: Date): Date | undefined;
}

/**
 * Parses NCRONTAB with croner. NCRONTAB requires six fields and matches day-of-month AND
 * day-of-week when both are restricted (unlike classic cron's OR).
 */
export function parseNcrontab(expression: string): NcrontabSchedule {
  const trimmed = expression.trim();
  let cron: Cron;
  try {
    cron = new Cron(trimmed, { timezone: 'UTC', mode: '6-part', domAndDow: true });
  } catch (error) {
    throw new DevHostError(
      `"${expression}" is not a six-field NCRONTAB schedule ({second} {minute} {hour} {day} {month} {day-of-week}).`,
      { cause: error },
    );
  }
  return {
    expression: trimmed,
    next: (after) => cron.nextRun(after) ?? undefined,
  };
}

/** `%NAME%` takes the schedule from the app setting NAME, as the Functions host does. */
export function resolveScheduleSetting(
  schedule: string,
  settings: Readonly<Record<string, string | undefined>>,
): string {
  const match = /^%([^%]+)%$/.exec(schedule.trim());
  if (!match?.[1]) return schedule;
  const value = settings[match[1]];
  if (!value) throw new DevHostError(`The schedule names app setting "${match[1]}", which is not set.`);
  return value;
}

/** The real host monitors schedules (useMonitor) by default when occurrences are at least a minute apart. */
export function defaultUseMonitor(schedule: NcrontabSchedule, from: Date): boolean {
  const first = schedule.next(from);
  const second = first && schedule.next(first);
  return !first || !second || second.getTime() - first.getTime() >= 60_000;
}
