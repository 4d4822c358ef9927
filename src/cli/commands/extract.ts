import type { Command } from 'commander';

export function registerExtractCommand(program: Command): void {
  program
    .command('extract')
    .description('(not built yet)')
    .action(() => {
      throw new Error('dvpipe extract is not available yet');
    });
}
