import { spawn } from 'node:child_process';
import { InvalidArgumentError, type Command } from 'commander';

interface EmulatorCliOptions {
  readonly port: number;
  readonly host: string;
  readonly schema?: string;
  readonly profile: string;
  readonly faults?: string;
  readonly timeScale: number;
  readonly slowMs: number;
  readonly log?: boolean;
  readonly printSchema?: boolean;
  readonly set?: string[];
  readonly background?: boolean;
}

/** Set in the process `--background` starts: it reports over IPC instead of printing. */
const BACKGROUND_CHILD = 'DVPIPE_EMULATOR_BACKGROUND';

type BackgroundMessage = { readonly url: string; readonly apiRoot: string } | { readonly error: string };

/**
 * `--background`: the emulator in a process of its own (its own session, so neither the shell's job
 * control nor a closing terminal stops it), and this one returns once it listens, printing its
 * process id, so a script or a terminal alike can `kill` it: `PID=$(dvpipe emulator --background)`.
 */
async function startInBackground(args: readonly string[]): Promise<void> {
  const child = spawn(process.execPath, [...process.execArgv, ...args], {
    detached: true,
    // Nothing inherited: `$(...)` waits until every holder of its pipe has closed it.
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env: { ...process.env, [BACKGROUND_CHILD]: '1' },
  });
  const message = await new Promise<BackgroundMessage>((resolve) => {
    child.once('message', (m) => resolve(m as BackgroundMessage));
    child.once('exit', (code) => resolve({ error: `The emulator stopped while starting (exit ${code})` }));
  });
  if ('error' in message) {
    child.kill();
    throw new Error(message.error);
  }
  child.disconnect();
  child.unref();
  process.stderr.write(
    `Dataverse emulator listening on ${message.url} (API root ${message.apiRoot}), process ${child.pid}; ` +
      `stop it with: kill ${child.pid}\n`,
  );
  process.stdout.write(`${child.pid}\n`);
}

/** `--set dopHint=48 --set maxRequests=8000`: any EmulatorSettings constant, number or boolean. */
function parseSettings(pairs: readonly string[] = []): Record<string, number | boolean> {
  const out: Record<string, number | boolean> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = pair.slice(0, eq).trim();
    const raw = pair.slice(eq + 1).trim();
    if (eq <= 0 || raw === '') throw new Error(`--set needs key=value, got '${pair}'`);
    const value = raw === 'true' ? true : raw === 'false' ? false : Number(raw);
    if (typeof value === 'number' && !Number.isFinite(value))
      throw new Error(`--set ${key}: '${raw}' is not a number`);
    out[key] = value;
  }
  return out;
}

/** A commander parser for a non-negative number option. */
function nonNegative(text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError('expected a non-negative number');
  return n;
}

export function registerEmulatorCommand(program: Command): void {
  program
    .command('emulator')
    .description('Start the local Dataverse Web API emulator (dev and test only; see docs/emulator.md)')
    .option('--port <n>', 'port on 127.0.0.1 (0 picks a free port)', nonNegative, 0)
    .option('--host <address>', 'loopback address to bind', '127.0.0.1')
    .option('--schema <file>', 'tables as a JSON schema file (default: account, contact, dvp_sample)')
    .option('--profile <name>', 'fast (no limits, no latency) or realistic (limits + cost model)', 'fast')
    .option('--faults <spec>', 'fault rates, e.g. 429=0.1,503=0.05,drop=0.02,slow=0.01')
    .option('--time-scale <f>', 'multiplies every cost and window length', nonNegative, 1)
    .option('--slow-ms <ms>', 'how long a "slow" fault holds the answer', nonNegative, 60_000)
    .option(
      '--set <key=value...>',
      'override a cost-model or limit setting, e.g. dopHint=48 (docs/emulator.md)',
    )
    .option('--log', 'print one JSON line per request to stderr')
    .option('--print-schema', 'print the default schema as JSON and exit')
    .option(
      '--background',
      'run in a process of its own and return once it listens, printing its process id (PID=$(dvpipe emulator --background); kill "$PID")',
    )
    .action(async (opts: EmulatorCliOptions) => {
      // Loaded lazily: the emulator is a dev tool and other commands should not pay for it.
      const { startEmulator, DEFAULT_SCHEMA, REALISTIC } = await import('../../../emulator/index.js');
      if (opts.printSchema) {
        console.log(JSON.stringify(DEFAULT_SCHEMA, null, 2));
        return;
      }
      if (opts.profile !== 'fast' && opts.profile !== 'realistic') {
        throw new Error(`--profile must be fast or realistic, got '${opts.profile}'`);
      }
      const settings = parseSettings(opts.set);
      for (const key of Object.keys(settings)) {
        if (!(key in REALISTIC)) throw new Error(`--set: unknown setting '${key}'`);
      }
      if (opts.background) {
        if (opts.log) throw new Error('--log prints to this terminal: leave out --background to see it');
        const args = process.argv.slice(1).filter((arg) => arg !== '--background');
        await startInBackground(args);
        return;
      }
      const background =
        process.env[BACKGROUND_CHILD] === '1' && process.send ? process.send.bind(process) : undefined;
      const emulator = await startEmulator({
        settings,
        port: opts.port,
        host: opts.host,
        profile: opts.profile,
        timeScale: opts.timeScale,
        slowMs: opts.slowMs,
        ...(opts.schema ? { schema: opts.schema } : {}),
        ...(opts.faults ? { faults: opts.faults } : {}),
        ...(opts.log ? { log: (entry) => process.stderr.write(`${JSON.stringify(entry)}\n`) } : {}),
      }).catch((error: unknown) => {
        const failure =
          error instanceof Error && 'code' in error && error.code === 'EADDRINUSE'
            ? new Error(
                `Port ${opts.port} on ${opts.host} is taken (an emulator already running?). ` +
                  'Choose another with --port <n>, or --port 0 for a free one (the URL is printed).',
                { cause: error },
              )
            : error;
        if (background) {
          background({ error: failure instanceof Error ? failure.message : String(failure) });
        }
        throw failure;
      });
      if (background) {
        const ready: BackgroundMessage = { url: emulator.url, apiRoot: emulator.apiRoot };
        background(ready, () => process.disconnect());
      } else {
        console.log(
          `Dataverse emulator listening on ${emulator.url} (API root ${emulator.apiRoot}, profile ${opts.profile})`,
        );
      }
      const stop = () => {
        void emulator.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await new Promise<never>(() => undefined);
    });
}
