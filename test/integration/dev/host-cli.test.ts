import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../../dev/azurite.js';
import type { HostLogEntry } from '../../../dev/host.js';
import { drainQueue, fixtureApp, fromBase64, QUIET_SCHEDULE, toBase64 } from './helpers.js';

const hostCli = fileURLToPath(new URL('../../../dev/host-cli.ts', import.meta.url));
const KEY = 'cli-test-function-key';

interface HostProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly logs: HostLogEntry[];
  /** Resolves with the first log entry matching `predicate`. */
  waitForLog(predicate: (entry: HostLogEntry) => boolean, timeoutMs?: number): Promise<HostLogEntry>;
}

const children: ChildProcess[] = [];

function startHostProcess(connectionString: string, extra: string[]): Promise<HostProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      hostCli,
      '--app',
      fixtureApp,
      '--storage',
      connectionString,
      '--no-event-grid',
      '--function-key',
      KEY,
      '--log-format',
      'json',
      '--setting',
      `TICK_SCHEDULE=${QUIET_SCHEDULE}`,
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  const logs: HostLogEntry[] = [];
  const listeners = new Set<() => void>();
  let output = '';
  let buffered = '';
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`host exited with ${code} before ready:\n${output}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        output += `${line}\n`;
        const ready = /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (ready?.[1]) {
          resolve({
            child,
            url: ready[1],
            logs,
            waitForLog: (predicate, timeoutMs = 20_000) =>
              new Promise((found, fail) => {
                const check = (): void => {
                  const entry = logs.find(predicate);
                  if (!entry) return;
                  listeners.delete(check);
                  clearTimeout(timer);
                  found(entry);
                };
                const timer = setTimeout(() => {
                  listeners.delete(check);
                  fail(new Error('log line not seen'));
                }, timeoutMs);
                listeners.add(check);
                check();
              }),
          });
        } else if (line.startsWith('{')) {
          logs.push(JSON.parse(line) as HostLogEntry);
          for (const check of [...listeners]) check();
        }
      }
    });
  });
}

describe('dev/host-cli.ts: the host as a child process', () => {
  let azurite: RunningAzurite;
  let queues: QueueServiceClient;

  beforeAll(async () => {
    azurite = await startAzurite();
    queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
  });

  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });

  afterAll(async () => {
    await azurite?.stop();
  });

  it('serves HTTP and queue triggers, then stops on SIGTERM with exit code 0', async () => {
    const host = await startHostProcess(azurite.connectionString, ['--setting', 'SLOW_MS=0']);
    expect((await fetch(`${host.url}/api/runs/x`)).status).toBe(401);
    expect((await fetch(`${host.url}/api/runs/x?code=${KEY}`)).status).toBe(200);
    await queues.getQueueClient('echo-in').sendMessage(toBase64('"from the cli"'));
    const [out] = await drainQueue(queues.getQueueClient('echo-out'), 1);
    expect((JSON.parse(fromBase64(out ?? '')) as { message: string }).message).toBe('from the cli');
    host.child.kill('SIGTERM');
    const [code] = (await once(host.child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(host.logs.some((e) => e.message === 'Host stopped.')).toBe(true);
  });

  it('finishes a running invocation before a graceful stop exits', async () => {
    const host = await startHostProcess(azurite.connectionString, ['--setting', 'SLOW_MS=1500']);
    await queues.getQueueClient('slow-in').sendMessage(toBase64('{"job":"graceful"}'));
    await host.waitForLog((e) => e.functionName === 'slow' && e.message.startsWith('slow started'));
    host.child.kill('SIGTERM');
    const [code] = (await once(host.child, 'exit')) as [number | null];
    expect(code).toBe(0);
    const [out] = await drainQueue(queues.getQueueClient('slow-out'), 1, 5_000);
    expect(JSON.parse(fromBase64(out ?? '{}'))).toEqual({ message: { job: 'graceful' }, dequeueCount: 1 });
    expect((await queues.getQueueClient('slow-in').getProperties()).approximateMessagesCount).toBe(0);
  });

  it('redelivers a message whose host was killed mid-invocation, with dequeueCount 2', async () => {
    const first = await startHostProcess(azurite.connectionString, [
      '--setting',
      'SLOW_MS=60000',
      '--lease-ms',
      '2000',
    ]);
    await queues.getQueueClient('slow-in').sendMessage(toBase64('{"job":"killed"}'));
    await first.waitForLog((e) => e.functionName === 'slow' && e.message === 'slow started, attempt 1');
    first.child.kill('SIGKILL');
    await once(first.child, 'exit');

    const second = await startHostProcess(azurite.connectionString, [
      '--setting',
      'SLOW_MS=0',
      '--lease-ms',
      '2000',
    ]);
    await second.waitForLog((e) => e.functionName === 'slow' && e.message === 'slow started, attempt 2');
    const [out] = await drainQueue(queues.getQueueClient('slow-out'), 1);
    expect(JSON.parse(fromBase64(out ?? '{}'))).toEqual({ message: { job: 'killed' }, dequeueCount: 2 });
    second.child.kill('SIGTERM');
    await once(second.child, 'exit');
  });
});
