import type { NcrontabSchedule } from './ncrontab.js';

/** The timer input as the host sends it; the library camel-cases it into `Timer`. */
export interface TimerInfoPayload {
  Schedule: { AdjustForDST: boolean };
  ScheduleStatus: { Last: string; Next: string; LastUpdated: string } | null;
  IsPastDue: boolean;
}

export interface ScheduleStatus {
  readonly last: Date | undefined;
  readonly next: Date | undefined;
  readonly lastUpdated: Date;
}

/** Where a monitored schedule's status survives restarts (the host keeps it in AzureWebJobsStorage). */
export interface ScheduleMonitor {
  load(): Promise<ScheduleStatus | undefined>;
  save(status: ScheduleStatus): Promise<void>;
}

export interface TimerSchedulerOptions {
  readonly schedule: NcrontabSchedule;
  readonly useMonitor: boolean;
  readonly runOnStartup: boolean;
  /** A run that starts this much after its occurrence counts as past due. */
  readonly pastDueToleranceMs: number;
  /** Runs the function; errors are the caller's to log. */
  readonly invoke: (timer: TimerInfoPayload) => Promise<void>;
  /** With useMonitor: an occurrence missed while no host ran fires once, past due, at start. */
  readonly monitor?: ScheduleMonitor;
  /** Told when the monitor cannot be read or written; the schedule carries on. */
  readonly onMonitorError?: (error: unknown) => void;
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
  #status: ScheduleStatus;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #running: Promise<void> = Promise.resolve();

  constructor(options: TimerSchedulerOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    const now = this.#now();
    this.#status = { last: undefined, next: options.schedule.next(now), lastUpdated: now };
  }

  async start(): Promise<void> {
    const missed = await this.#restoreStatus();
    if (missed) {
      this.#running = this.#fire(missed);
    } else if (this.#options.runOnStartup) {
      this.#running = this.#options.invoke(this.payload(false)).finally(() => this.#arm());
    } else {
      this.#arm();
    }
  }

  /** Resolves once the current scheduled run, if any, has finished and saved its status. */
  settled(): Promise<void> {
    return this.#running.catch(() => {});
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

  /** Takes the stored status; returns the occurrence missed while no host ran, if any. */
  async #restoreStatus(): Promise<Date | undefined> {
    const { monitor, useMonitor } = this.#options;
    if (!monitor || !useMonitor) return undefined;
    let stored: ScheduleStatus | undefined;
    try {
      stored = await monitor.load();
    } catch (error) {
      this.#options.onMonitorError?.(error);
    }
    if (!stored) return undefined;
    const now = this.#now();
    if (stored.next && stored.next.getTime() < now.getTime()) {
      this.#status = stored;
      return stored.next;
    }
    this.#status = {
      last: stored.last,
      next: this.#options.schedule.next(now),
      lastUpdated: stored.lastUpdated,
    };
    return undefined;
  }

  #arm(): void {
    const due = this.#status.next;
    if (this.#stopped || !due) return;
    const delay = due.getTime() - this.#now().getTime();
    this.#timer = setTimeout(
      () => (delay > MAX_DELAY_MS ? this.#arm() : (this.#running = this.#fire(due))),
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
      if (this.#options.useMonitor) {
        await this.#options.monitor
          ?.save(this.#status)
          .catch((error: unknown) => this.#options.onMonitorError?.(error));
      }
      this.#arm();
    }
  }
}
