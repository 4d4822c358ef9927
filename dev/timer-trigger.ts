import type { NcrontabSchedule } from './ncrontab.js';

/** The timer input as the host sends it; the library camel-cases it into `Timer`. */
export interface TimerInfoPayload {
  Schedule: { AdjustForDST: boolean };
  ScheduleStatus: { Last: string; Next: string; LastUpdated: string } | null;
  IsPastDue: boolean;
}

export interface TimerSchedulerOptions {
  readonly schedule: NcrontabSchedule;
  readonly useMonitor: boolean;
  readonly runOnStartup: boolean;
  /** A run that starts this much after its occurrence counts as past due. */
  readonly pastDueToleranceMs: number;
  /** Runs the function; errors are the caller's to log. */
  readonly invoke: (timer: TimerInfoPayload) => Promise<void>;
  readonly now?: () => Date;
}

/** .NET's DateTime.MinValue: what the host reports as `last` before the first run. */
const NEVER = '0001-01-01T00:00:00.000Z';
/** setTimeout's longest delay; longer waits are re-armed. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * Fires a timer function on its NCRONTAB schedule. Runs never overlap; when a run overshoots
 * one or more occurrences the host fires once, late, with `isPastDue`, then resumes the schedule.
 */
export class TimerScheduler {
  readonly #options: TimerSchedulerOptions;
  readonly #now: () => Date;
  #status: { last: Date | undefined; next: Date | undefined; lastUpdated: Date };
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: TimerSchedulerOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    const now = this.#now();
    this.#status = { last: undefined, next: options.schedule.next(now), lastUpdated: now };
  }

  start(): void {
    if (this.#options.runOnStartup) {
      void this.#options.invoke(this.payload(false)).finally(() => this.#arm());
    } else {
      this.#arm();
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** The input for a run now: the status as it stood before this run. */
  payload(isPastDue: boolean): TimerInfoPayload {
    const { last, next, lastUpdated } = this.#status;
    return {
      Schedule: { AdjustForDST: true },
      ScheduleStatus:
        this.#options.useMonitor && next
          ? {
              Last: last?.toISOString() ?? NEVER,
              Next: next.toISOString(),
              LastUpdated: lastUpdated.toISOString(),
            }
          : null,
      IsPastDue: isPastDue,
    };
  }

  #arm(): void {
    const due = this.#status.next;
    if (this.#stopped || !due) return;
    const delay = due.getTime() - this.#now().getTime();
    this.#timer = setTimeout(
      () => (delay > MAX_DELAY_MS ? this.#arm() : void this.#fire(due)),
      Math.max(0, Math.min(delay, MAX_DELAY_MS)),
    );
    this.#timer.unref();
  }

  async #fire(occurrence: Date): Promise<void> {
    if (this.#stopped) return;
    const isPastDue = this.#now().getTime() - occurrence.getTime() > this.#options.pastDueToleranceMs;
    try {
      await this.#options.invoke(this.payload(isPastDue));
    } finally {
      const now = this.#now();
      let next = this.#options.schedule.next(occurrence);
      // One catch-up run for any number of missed occurrences, as the host does.
      if (isPastDue && next && next <= now) next = this.#options.schedule.next(now);
      this.#status = { last: occurrence, next, lastUpdated: now };
      this.#arm();
    }
  }
}
