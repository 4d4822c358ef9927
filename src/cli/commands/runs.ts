import type { Command } from 'commander';

export function registerRunsCommand(program: Command): void {
  program
    .command('runs')
    .description('(not built yet)')
    .action(() => {
      throw new Error('dvpipe runs is not available yet');
    });
}
