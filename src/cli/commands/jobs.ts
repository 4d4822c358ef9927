import type { Command } from 'commander';
import type { ValidateOptions } from '../actions/jobs.js';

export function registerJobsCommand(program: Command): void {
  const jobs = program.command('jobs').description('Work with job definitions');
  jobs
    .command('validate')
    .description("Check job files: their shape, and with --url the table's live (or emulated) metadata")
    .argument('<job.json...>', 'job definition files')
    .option(
      '--url <org url>',
      'Dataverse environment (or emulator) to check the columns, lookups and keys against',
    )
    .option('--user <name>', 'emulator user (emulator URLs only)', 'dvpipe')
    .action(async (files: string[], options: ValidateOptions) => {
      const { validate } = await import('../actions/jobs.js');
      process.exitCode = await validate(files, options);
    });
}
