// Bulk messages formed when their turn comes rather than all at once when a write starts. A message's size
// is then chosen from the work still behind it over every write of the client (guided self-scheduling):
// large while much is left, so fewer requests each pay Dataverse's fixed cost per request, and small at
// the end, so the last answers, which wait for their records' whole server time, come back sooner.

/** One message's records: `[start, end)` of the write's items, and how to say the message is answered. */
export interface BulkTurn {
  readonly start: number;
  readonly end: number;
  /** The message is answered (or failed): its turn goes to the next write waiting. */
  done(): void;
}

/** One write's records as the client's turns hand them out, in order. */
export interface BulkJob {
  /**
   * Waits for a turn and takes the next `size(unformed)` records, where `unformed` counts every open
   * write's records not yet in a message when the turn was given (turns given together see the same
   * count, so messages that start together are the same size); undefined once this write's records are
   * all taken.
   */
  next(size: (unformed: number) => number): Promise<BulkTurn | undefined>;
  /** The write is over (finished or failed): its untaken records and waiting turns are dropped. */
  close(): void;
}

interface Job {
  readonly total: number;
  readonly nominal: number;
  taken: number;
  closed: boolean;
  /** Workers waiting for a turn: each is given the unformed count of its turn, or undefined for none. */
  readonly waiting: ((unformed: number | undefined) => void)[];
}

/**
 * The turns of one client's bulk writes. At most `capacity()` messages are formed and unanswered at once;
 * turns go to the oldest open write first, so writes still finish in the order they started, as when each
 * queued all its messages at its start.
 */
export class BulkTurns {
  readonly #open: Job[] = [];
  #outstanding = 0;

  constructor(private readonly capacity: () => number) {}

  /**
   * Opens a write of `total` records; `nominal` is the size its messages would have if all were formed now,
   * which counts its untaken records as requests in `backlog`.
   */
  open(total: number, nominal: number): BulkJob {
    const job: Job = { total, nominal: Math.max(1, nominal), taken: 0, closed: false, waiting: [] };
    this.#open.push(job);
    return {
      next: (size) => this.#next(job, size),
      close: () => this.#close(job),
    };
  }

  /** Records of the open writes not yet in a message. */
  get unformed(): number {
    return this.#open.reduce((n, job) => n + job.total - job.taken, 0);
  }

  /**
   * The open writes' untaken records as the requests they would have been if formed at their write's start:
   * part of the backlog a fleet instance's share of the window is sized by (src/fleet), which counts requests.
   */
  get backlog(): number {
    return this.#open.reduce((n, job) => n + Math.ceil((job.total - job.taken) / job.nominal), 0);
  }

  async #next(job: Job, size: (unformed: number) => number): Promise<BulkTurn | undefined> {
    if (job.closed || job.taken >= job.total) return undefined;
    const unformed = await new Promise<number | undefined>((resolve) => {
      job.waiting.push(resolve);
      this.#grant();
    });
    if (unformed === undefined) return undefined;
    if (job.closed || job.taken >= job.total) {
      this.#release();
      return undefined;
    }
    const n = Math.max(1, Math.min(Math.floor(size(unformed)), job.total - job.taken));
    const start = job.taken;
    job.taken += n;
    if (job.taken >= job.total) this.#finish(job);
    let answered = false;
    return {
      start,
      end: start + n,
      done: () => {
        if (answered) return;
        answered = true;
        this.#release();
      },
    };
  }

  #close(job: Job): void {
    job.closed = true;
    this.#finish(job);
  }

  /** A write with nothing left to take leaves the open list (its turns still out keep their places). */
  #finish(job: Job): void {
    const i = this.#open.indexOf(job);
    if (i >= 0) this.#open.splice(i, 1);
    // Workers still waiting on it learn there is nothing left.
    for (const resolve of job.waiting.splice(0)) resolve(undefined);
    this.#grant();
  }

  #release(): void {
    this.#outstanding -= 1;
    this.#grant();
  }

  #grant(): void {
    // Counted once for the turns given together: the messages they form go out together, so they share
    // the work left evenly instead of each taking a part of what the one before left.
    let unformed: number | undefined;
    while (this.#outstanding < Math.max(1, this.capacity())) {
      const job = this.#open.find((j) => j.waiting.length > 0);
      if (!job) return;
      unformed ??= this.unformed;
      this.#outstanding += 1;
      job.waiting.shift()!(unformed);
    }
  }
}
