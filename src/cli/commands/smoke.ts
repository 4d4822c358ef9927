import { InvalidArgumentError, type Command } from 'commander';
import type { SmokeOptions } from '../actions/smoke.js';

export function registerSmokeCommand(program: Command): void {
  program
    .command('smoke')
    .description(
      "After deploying: upload a one-row CSV to the app's incoming container with your own sign-in, wait for its summary and print it",
    )
    .option(
      '--account <name>',
      'storage account of the deployment (azd env get-value AZURE_STORAGE_ACCOUNT_NAME; default: $AZURE_STORAGE_ACCOUNT_NAME)',
    )
    .option(
      '--blob-endpoint <url>',
      'the blob endpoint instead of --account (another cloud, a custom domain)',
    )
    .option(
      '--connection-string <string>',
      'a connection string instead of Entra sign-in, for a local Azurite',
    )
    .option('--container <name>', 'container the app imports from', 'incoming')
    .option('--results <name>', 'container the app writes results to', 'results')
    .option(
      '--job <name>',
      "job (folder in the container): the bundled 'smoke' job upserts one contact",
      'smoke',
    )
    .option('--file <csv>', "CSV to upload (default: the smoke job's one row)")
    .option('--name <file name>', 'name of the uploaded file (default: smoke-<time>-<random>.csv)')
    .option('--timeout <seconds>', 'how long to wait for the summary', positiveInt, 300)
    .option('--json', 'print the summary and the results folder as JSON')
    .action(async (options: SmokeOptions) => {
      const { smokeCommand } = await import('../actions/smoke.js');
      process.exitCode = await smokeCommand(options);
    });
}

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('expected a positive integer');
  return parsed;
}
