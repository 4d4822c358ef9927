// `npm run bench` runs the 1 GB memory run in the background, alongside the strategies whose pace the
// emulator's limits set (the peers' runs wait on the service, not on the CPU). A benchmark about to
// measure something CPU-bound asks for the machine to itself: the runner pauses the background run
// (SIGSTOP) and answers, and resumes it afterwards. Run on its own, a benchmark has no runner and
// these calls do nothing.

/** Messages between a benchmark and bench/run.ts over the IPC channel. */
export type QuietMessage =
  { readonly bench: 'quiet' | 'shared' } | { readonly bench: 'quiet-ok' | 'shared-ok' };

export function isQuietMessage(message: unknown): message is QuietMessage {
  return typeof message === 'object' && message !== null && 'bench' in message;
}

/** Runs `work` with no background benchmark competing for the CPU. */
export async function quietly<T>(work: () => Promise<T>): Promise<T> {
  await ask('quiet');
  try {
    return await work();
  } finally {
    await ask('shared');
  }
}

function ask(state: 'quiet' | 'shared'): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      // Node keeps the channel open only while 'message' has listeners, so this one goes once answered.
      process.off('message', answered);
      clearTimeout(timer);
      resolve();
    };
    const answered = (message: unknown) => {
      if (isQuietMessage(message) && message.bench === `${state}-ok`) done();
    };
    // A parent that does not speak this protocol (any other IPC parent) never answers.
    const timer = setTimeout(done, 5_000);
    process.on('message', answered);
    send({ bench: state });
  });
}
