import { InvalidArgumentError, type Command } from 'commander';

interface DemoCliOptions {
  readonly timeScale: number;
  readonly once?: boolean;
  readonly port: number;
  readonly out: string;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'Run the whole product locally: Azurite, the Dataverse emulator, the Functions host and the samples',
    )
    .option('--time-scale <f>', "multiplies the emulator's costs and limit windows", positiveNumber, 0.05)
    .option('--once', 'stop after the samples and the extract instead of watching for new files')
    .option('--port <n>', 'HTTP port of the local Functions host (0: a free port)', nonNegativeInt, 7071)
    .option('--out <dir>', 'where copies of the result files go', 'demo-output')
    .action(async (options: DemoCliOptions) => {
      // The demo lives in dev/ (never deployed): load it only when asked for.
      const { runDemo } = await import('../../../dev/demo.js');
      try {
        process.exitCode = await runDemo({
          timeScale: options.timeScale,
          once: options.once ?? false,
          httpPort: options.port,
          outDir: options.out,
        });
      } catch (error) {
        if (!isAddressInUse(error)) throw error;
        throw new Error(
          `Port ${options.port} is taken (another Functions host or demo?). ` +
            "Choose the local Functions host's port with --port <n>, or --port 0 for a free one: npm start -- --port 0",
          { cause: error },
        );
      }
    });
}

function positiveNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError('expected a positive number');
  return parsed;
}

function nonNegativeInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError('expected a port number');
  return parsed;
}

function isAddressInUse(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'EADDRINUSE';
}
