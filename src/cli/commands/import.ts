import type { Command } from 'commander';

export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description('(not built yet)')
    .action(() => {
      throw new Error('dvpipe import is not available yet');
    });
}
