import type { Command } from 'commander';

export function registerEmulatorCommand(program: Command): void {
  program
    .command('emulator')
    .description('(not built yet)')
    .action(() => {
      throw new Error('dvpipe emulator is not available yet');
    });
}
