/**
 * Runs the local Functions host as its own process, so it can be stopped with a signal or killed
 * mid-invocation:
 *
 *   node --import tsx dev/host-cli.ts --app . --storage "<connection string>"
 *   node dist/dev/host-cli.js --app . --settings local.settings.json
 *
 * Prints `Local Functions host ready at http://127.0.0.1:<port>` once every trigger listens.
 * SIGINT/SIGTERM stop gracefully (running invocations finish, up to --stop-timeout-ms); a second
 * signal exits at once.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { startLocalHost, type LocalHostOptions } from './host.js';
import { stdoutLogSink, type HostLogEntry } from './log.js';

interface CliOptions {
  app: string;
  storage?: string;
  settings?: string;
  setting: string[];
  port: number;
  functionKey?: string;
  eventGrid: boolean;
  eventGridContainer: string;
  eventGridQueue: string;
  eventGridPollMs: number;
  leaseMs?: number;
  stopTimeoutMs?: number;
  logFormat: 'text' | 'json';
}

const integer = (value: string): number => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError('Expected a whole number.');
  return parsed;
};

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const program = new Command('dev-host')
  .description('Local Azure Functions host over Azurite: loads the compiled app and drives its triggers.')
  .option('--app <root>', 'folder with package.json ("main" glob) and host.json', process.cwd())
  .option('--storage <connection-string>', 'storage connection string, set as AzureWebJobsStorage')
  .option('--settings <file>', 'local.settings.json whose "Values" become app settings')
  .option('--setting <NAME=value>', 'an app setting (repeatable)', collect, [])
  .option('--port <n>', 'HTTP port; 0 picks a free one', integer, 0)
  .option(
    '--function-key <key>',
    "key for authLevel 'function' routes (default: FUNCTIONS_LOCAL_KEY setting)",
  )
  .option('--no-event-grid', 'do not emulate Event Grid BlobCreated events')
  .option('--event-grid-container <name>', 'container watched for new blobs', 'incoming')
  .option('--event-grid-queue <name>', 'queue that receives the BlobCreated events', 'import-events')
  .option('--event-grid-poll-ms <n>', 'how often the container is listed', integer, 1_000)
  .option('--lease-ms <n>', 'how long a message being processed stays invisible', integer)
  .option('--stop-timeout-ms <n>', 'how long a graceful stop waits for running invocations', integer)
  .option('--log-format <format>', 'text or json (one HostLogEntry per line)', 'text');

async function main(): Promise<void> {
  const cli = program.parse().opts<CliOptions>();
  const settings = {
    ...(cli.settings ? await readLocalSettings(cli.settings) : {}),
    ...(cli.storage ? { AzureWebJobsStorage: cli.storage } : {}),
    ...Object.fromEntries(cli.setting.map(splitSetting)),
  };
  const options: LocalHostOptions = {
    appRoot: resolve(cli.app),
    settings,
    httpPort: cli.port,
    eventGrid: cli.eventGrid
      ? { container: cli.eventGridContainer, queue: cli.eventGridQueue, pollIntervalMs: cli.eventGridPollMs }
      : false,
    log: cli.logFormat === 'json' ? jsonLogSink : stdoutLogSink,
    ...(cli.functionKey ? { functionKey: cli.functionKey } : {}),
    ...(cli.leaseMs !== undefined ? { messageLeaseMs: cli.leaseMs } : {}),
    ...(cli.stopTimeoutMs !== undefined ? { stopTimeoutMs: cli.stopTimeoutMs } : {}),
  };
  const host = await startLocalHost(options);
  process.stdout.write(
    `Local Functions host ready at ${host.httpUrl} (functions: ${host.functions.join(', ')})\n`,
  );

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stdout.write(`${signal}: stopping (again to exit at once)\n`);
    host.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Stop failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function jsonLogSink(entry: HostLogEntry): void {
  process.stdout.write(`${JSON.stringify(entry)}\n`);
}

function splitSetting(pair: string): [string, string] {
  const index = pair.indexOf('=');
  if (index <= 0) throw new InvalidArgumentError(`--setting wants NAME=value, got "${pair}".`);
  return [pair.slice(0, index), pair.slice(index + 1)];
}

async function readLocalSettings(file: string): Promise<Record<string, string>> {
  const parsed = JSON.parse(await readFile(file, 'utf8')) as { Values?: Record<string, unknown> };
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed.Values ?? {})) {
    if (value !== null && value !== undefined) values[name] = String(value);
  }
  return values;
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
