// One timed window of upserts: what the emulator holds when the window closes is what the run wrote in it
// (acknowledged or still on its way back); the rest of the request is abandoned.
import type { RunningEmulator } from '../../emulator/index.js';
import type { DataverseClient, RecordTarget } from '../../src/dataverse/index.js';

export async function upsertForWindow(
  client: DataverseClient,
  emu: RunningEmulator,
  records: readonly { target: RecordTarget; data: Record<string, unknown> }[],
  runSeconds: number,
): Promise<number> {
  const abort = new AbortController();
  let written = 0;
  const timer = setTimeout(() => {
    written = emu.store.count('contact');
    abort.abort(new Error('bench window over'));
  }, runSeconds * 1000);
  await client.upsertMultiple('contact', records, { signal: abort.signal }).catch(() => undefined);
  clearTimeout(timer);
  return written;
}
