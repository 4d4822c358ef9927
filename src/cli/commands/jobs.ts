import type { Command } from 'commander';

export function registerJobsCommand(program: Command): void {
  program
    .command('jobs')
    .description('(not built yet)')
    .action(() => {
      throw new Error('dvpipe jobs is not available yet');
    });
}
