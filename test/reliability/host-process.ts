import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const hostCli = fileURLToPath(new URL('../../dev/host-cli.ts', import.meta.url));
const appRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The compiled app on the local host in a child process: it can be killed with SIGKILL mid-invocation. */
export interface HostProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Every line the process wrote, stdout and stderr, as written. */
  readonly output: string[];
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function startHostProcess(
  settings: Record<string, string>,
  functionKey: string,
): Promise<HostProcess> {
  const args = [
    '--import',
    'tsx',
    hostCli,
    '--app',
    appRoot,
    '--function-key',
    functionKey,
    '--log-format',
    'json',
  ];
  args.push('--lease-ms', '2000', '--event-grid-poll-ms', '200', '--stop-timeout-ms', '5000');
  for (const [name, value] of Object.entries(settings)) args.push('--setting', `${name}=${value}`);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: appRoot });
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const collect = (stream: NodeJS.ReadableStream) => {
    let partial = '';
    stream.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      output.push(...lines);
    });
    stream.on('end', () => partial && output.push(partial));
  };
  collect(child.stdout!);
  collect(child.stderr!);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const ready = output
        .map((line) => /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1])
        .find(Boolean);
      if (ready) {
        clearInterval(timer);
        resolve(ready);
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`host exited before ready:\n${output.join('\n')}`));
      }
    }, 50);
  });
  return {
    child,
    url,
    output,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
