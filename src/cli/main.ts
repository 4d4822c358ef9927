import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { packageRoot } from '../app/package-root.js';
import { registerEmulatorCommand } from './commands/emulator.js';
import { registerImportCommand } from './commands/import.js';
import { registerExtractCommand } from './commands/extract.js';
import { registerJobsCommand } from './commands/jobs.js';
import { registerRunsCommand } from './commands/runs.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerSmokeCommand } from './commands/smoke.js';

/** Exit codes (DESIGN.md contract): 0 all good, 1 some rows failed, 2 could not process. */
export const EXIT_OK = 0;
export const EXIT_ROWS_FAILED = 1;
export const EXIT_UNPROCESSABLE = 2;

/**
 * The commands register their options here, but each loads its work (the Dataverse client, storage
 * SDKs, telemetry, the report renderer: thousands of modules) only when it runs, so `--help`,
 * `--version` and a mistyped option answer at once and a command loads only what it uses.
 */
export function buildProgram(): Command {
  const program = new Command('dvpipe')
    .description('Move CSV data between Azure Blob Storage and Microsoft Dataverse')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError()
    .addHelpText('after', topLevelNotes)
    .exitOverride();
  registerEmulatorCommand(program);
  registerImportCommand(program);
  registerExtractCommand(program);
  registerJobsCommand(program);
  registerRunsCommand(program);
  registerDemoCommand(program);
  registerSmokeCommand(program);
  return program;
}

/** Under the command list of `dvpipe --help`: the exit codes every command shares, and where to read on. */
const topLevelNotes = `
Exit codes: 0 every row succeeded, 1 some rows failed (see errors.csv), 2 the file, the job or the
environment could not be processed (the message says what to do).

Try it locally:
  EMULATOR_PID=$(npx dvpipe emulator --port 5555 --background)
  npx dvpipe import samples/accounts.csv --job jobs/accounts.json --url http://127.0.0.1:5555 --out out/accounts/
  kill "$EMULATOR_PID"

Each command's options: dvpipe <command> --help. More in README.md.`;

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

async function main(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? EXIT_OK : EXIT_UNPROCESSABLE;
      return;
    }
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = EXIT_UNPROCESSABLE;
  }
}

await main(process.argv);
