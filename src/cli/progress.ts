import cliProgress from 'cli-progress';

/** A progress display on stderr: a bar on a terminal, a line every few seconds otherwise (CI logs). */
export interface Progress {
  start(label: string, total: number): void;
  update(done: number, details?: Readonly<Record<string, number>>): void;
  stop(): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY) return barProgress(stream);
  return lineProgress(stream);
}

function barProgress(stream: NodeJS.WriteStream): Progress {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      // While the total is unknown (reading the file), a count; a bar and percentage once it is known.
      format: (options, params, payload: { label: string; details: string; known: boolean }) =>
        progressLine({
          label: payload.label,
          done: params.value,
          total: payload.known ? params.total : undefined,
          details: payload.details,
          barSize: options.barsize ?? 40,
        }),
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let running = false;
  return {
    start(label, total) {
      if (running) bar.stop();
      bar.start(Math.max(total, 1), 0, { label, details: '', known: total > 0 });
      running = true;
    },
    update(done, details) {
      bar.update(done, { details: formatDetails(details) });
    },
    stop() {
      if (running) bar.stop();
      running = false;
    },
  };
}

function lineProgress(stream: NodeJS.WriteStream, everyMs = 5_000): Progress {
  let label = '';
  let total = 0;
  let last = 0;
  return {
    start(newLabel, newTotal) {
      label = newLabel;
      total = newTotal;
      last = 0;
    },
    update(done, details) {
      const now = Date.now();
      // An unknown total (reading the file) never completes: a line every few seconds then too.
      if (now - last < everyMs && (total === 0 || done < total)) return;
      last = now;
      const extra = formatDetails(details);
      const rows = total > 0 ? `${count(done)}/${count(total)}` : count(done);
      stream.write(`${label}: ${rows} rows${extra ? ` | ${extra}` : ''}\n`);
    },
    stop() {},
  };
}

/** `requests 1,160 | 429s 0`: the counts beside the rows, grouped as the summary prints them. */
export function formatDetails(details: Readonly<Record<string, number>> | undefined): string {
  if (!details) return '';
  return Object.entries(details)
    .map(([name, value]) => `${name} ${count(value)}`)
    .join(' | ');
}

const count = (n: number) => n.toLocaleString('en-US');

/**
 * One line of the bar: while the total is unknown (the file is being read), a count; once it is
 * known, a bar, a percentage and done/total.
 */
export function progressLine(state: {
  label: string;
  done: number;
  total: number | undefined;
  details: string;
  barSize: number;
}): string {
  const details = state.details ? ` | ${state.details}` : '';
  if (state.total === undefined) return `${state.label}: ${count(state.done)} rows${details}`;
  const fraction = state.total > 0 ? Math.min(1, state.done / state.total) : 0;
  const filled = Math.round(fraction * state.barSize);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(state.barSize - filled)}`;
  return `${state.label} [${bar}] ${Math.floor(fraction * 100)}% | ${count(state.done)}/${count(state.total)} rows${details}`;
}
