import type { Command } from 'commander';
import type { ExtractCliOptions } from '../actions/extract.js';
import { parseIdentities } from '../identities.js';

export function registerExtractCommand(program: Command): void {
  program
    .command('extract')
    .description('Extract a Dataverse table to CSV or Parquet (the same runner as the scheduled extracts)')
    .requiredOption('--job <job.json>', 'extract job definition')
    .requiredOption('--url <org url>', 'Dataverse org URL (a loopback URL means the emulator)')
    .option('--out <file>', 'write the extract to this file (its manifest goes beside it)')
    .option('--format <csv|parquet>', "output format instead of the job's")
    .option('--dir <folder>', "write under this folder using the job's output path template")
    .option(
      '--state <folder>',
      'where watermarks and delta links are kept (default: .dvpipe-state beside the output)',
    )
    .option(
      '--identities <list|n>',
      'managed identity client ids to read as, comma-separated, or emulator users on a loopback URL (default: ' +
        'your sign-in; dvpipe on the emulator); on a loopback URL a count n reads as n emulator users',
      parseIdentities,
    )
    .option('--full', 'ignore the stored incremental position and read everything')
    .option('--concurrency <n>', "partitions read at once (default: the job's partitions)")
    .option('--no-progress', 'no progress bar on stderr')
    .option('--json', "print the run's manifest as JSON instead of a summary")
    .action(async (opts: ExtractCliOptions) => {
      const { extractCommand } = await import('../actions/extract.js');
      await extractCommand(opts);
    });
}
