import { InvalidArgumentError, type Command } from 'commander';
import type { ImportOptions } from '../actions/import.js';
import { parseIdentities } from '../identities.js';

export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description('Import a local CSV into Dataverse with a job definition; results go to --out')
    .argument('<file>', 'CSV file to import')
    .requiredOption('--job <job.json>', 'import job definition')
    .requiredOption('--url <org url>', 'Dataverse environment URL (or the emulator URL)')
    .requiredOption('--out <dir>', 'folder for summary.json, errors.csv and records.csv')
    .option('--dry-run', 'validate, resolve lookups and keys, report what would be written; write nothing')
    .option(
      '--rerun',
      'import the file again even if this content was imported before with this job into this environment',
    )
    .option(
      '--user <names>',
      'emulator user(s) for the bearer token, comma-separated: requests are spread over them (emulator URLs only)',
      'dvpipe',
    )
    .option('--concurrency <n>', 'Dataverse requests in flight at most', positiveInt, 16)
    .option(
      '--identities <n|list>',
      "a count: the identities (application users) the forecast assumes, e.g. the app's DATAVERSE_CLIENT_IDS count " +
        '(default: the --user count); or a comma-separated list of client ids (emulator users on a loopback URL, ' +
        'instead of --user) to run as, the forecast assuming that many',
      parseIdentities,
    )
    .option('--chunk-size <n>', 'rows per chunk (default: the job, else 5000)', positiveInt)
    .option('--quiet', 'no progress output')
    .action(async (file: string, options: ImportOptions) => {
      const { importCommand } = await import('../actions/import.js');
      process.exitCode = await importCommand(file, options);
    });
}

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('expected a positive integer');
  return parsed;
}
