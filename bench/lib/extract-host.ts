// The emulator host child of the extract benchmarks (bench/extract.ts, bench/parquet.ts): it seeds and
// reconfigures the emulator over IPC, so the measured workers share the machine with it alone.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { HostRequest } from './extract-emulator.js';

type HostCall = HostRequest extends infer R ? (R extends HostRequest ? Omit<R, 'id'> : never) : never;

/** The emulator host child, with request/response over IPC. */
export async function startExtractHost() {
  const child = fork(fileURLToPath(new URL('./extract-emulator.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, (value: unknown) => void>();
  let ready: (value: unknown) => void = () => {};
  const started = new Promise((resolve) => (ready = resolve));
  child.on('message', (m: { id: number; result?: unknown; error?: string }) => {
    if (m.error) throw new Error(`emulator host: ${m.error}`);
    if (m.id === 0) return ready(m.result);
    pending.get(m.id)?.(m.result);
    pending.delete(m.id);
  });
  const { url } = (await started) as { url: string };
  let next = 1;
  const call = <T>(message: HostCall): Promise<T> =>
    new Promise<T>((resolve) => {
      const id = next++;
      pending.set(id, resolve as (value: unknown) => void);
      child.send({ ...message, id });
    });
  return { url, call, child };
}
