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
        if (!(error instanceof Error && 'code' in error && error.code === 'EADDRINUSE')) throw error;
        throw new Error(
          `Port ${opts.port} on ${opts.host} is taken (an emulator already running?). ` +
            'Choose another with --port <n>, or --port 0 for a free one (the URL is printed).',
          { cause: error },
        );
      });
      console.log(
        `Dataverse emulator listening on ${emulator.url} (API root ${emulator.apiRoot}, profile ${opts.profile})`,
      );
      const stop = () => {
        void emulator.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await new Promise<never>(() => undefined);
    });
}
