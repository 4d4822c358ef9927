// Runs the CLI as a user does (bin/dvpipe.js in a child process, from the TypeScript sources so a stale
// dist/ cannot hide a change) and collects what it printed and its exit code.
import { spawn } from 'node:child_process';
import { once } from 'node:events';

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** The environment instead of this process's (DVPIPE_FROM_SOURCE is added). */
  readonly env?: NodeJS.ProcessEnv;
}

export async function dvpipe(args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  const child = spawn(process.execPath, ['bin/dvpipe.js', ...args], {
    env: { ...(options.env ?? process.env), DVPIPE_FROM_SOURCE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}
