import type { Command } from 'commander';
import type { ShowOptions } from '../actions/runs.js';

export function registerRunsCommand(program: Command): void {
  const runs = program.command('runs').description('Inspect import runs');
  runs
    .command('show')
    .description('Progress of a run while it works, its summary once it ended')
    .argument(
      '[runId]',
      'run id (printed by dvpipe import; summary.json "runId"); with --dir, its latest run',
    )
    .option(
      '--dir <out dir>',
      'a local run: the --out folder of dvpipe import (default: found under the current folder)',
    )
    .option(
      '--connection <setting>',
      'app setting holding the storage connection string, or the prefix of identity-based settings',
      'Storage',
    )
    .option('--json', 'print the status as JSON')
    .action(async (runId: string | undefined, options: ShowOptions) => {
      const { show } = await import('../actions/runs.js');
      process.exitCode = await show(runId, options);
    });
}
