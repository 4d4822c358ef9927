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
      format: '{label} [{bar}] {percentage}% | {value}/{total} rows | {details}',
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let running = false;
  return {
    start(label, total) {
      if (running) bar.stop();
      bar.start(Math.max(total, 1), 0, { label, details: '' });
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
      if (now - last < everyMs && done < total) return;
      last = now;
      const extra = formatDetails(details);
      const count = total > 0 ? `${done}/${total}` : String(done);
      stream.write(`${label}: ${count} rows${extra ? ` | ${extra}` : ''}\n`);
    },
    stop() {},
  };
}

function formatDetails(details: Readonly<Record<string, number>> | undefined): string {
  if (!details) return '';
  return Object.entries(details)
    .map(([name, value]) => `${name} ${value}`)
    .join(' | ');
}
