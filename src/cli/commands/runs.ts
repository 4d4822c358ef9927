import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { names } from '../../app/runtime.js';
import { readRunStatus, type RunStatusView } from '../../imports/status.js';
import { BlobObjectStore } from '../../storage/blob-store.js';
import { storageClientsFromSettings } from '../../storage/connection.js';
import { FileObjectStore } from '../../storage/file-store.js';
import type { ObjectStore } from '../../storage/object-store.js';

interface ShowOptions {
  readonly dir?: string;
  readonly connection: string;
  readonly json?: boolean;
}

export function registerRunsCommand(program: Command): void {
  const runs = program.command('runs').description('Inspect import runs');
  runs
    .command('show')
    .description('Progress of a run while it works, its summary once it ended')
    .argument('<runId>', 'run id (summary.json "runId")')
    .option('--dir <out dir>', 'a local run: the --out folder of dvpipe import')
    .option(
      '--connection <setting>',
      'app setting holding the storage connection string, or the prefix of identity-based settings',
      'Storage',
    )
    .option('--json', 'print the status as JSON')
    .action(async (runId: string, options: ShowOptions) => {
      process.exitCode = await show(runId, options);
    });
}

async function show(runId: string, options: ShowOptions): Promise<number> {
  const { runsStore, resultsStore } = stores(options);
  const status = await readRunStatus(runsStore, resultsStore, runId);
  if (!status) {
    process.stderr.write(`No run ${runId} in ${runsStore.location}\n`);
    return 2;
  }
  process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : describe(status));
  return 0;
}

function stores(options: ShowOptions): { runsStore: ObjectStore; resultsStore: ObjectStore } {
  if (options.dir) {
    const state = join(resolve(options.dir), '.dvpipe');
    return {
      runsStore: new FileObjectStore(join(state, 'runs')),
      resultsStore: new FileObjectStore(join(state, 'results')),
    };
  }
  const { blobs } = storageClientsFromSettings(options.connection);
  return {
    runsStore: new BlobObjectStore(blobs.getContainerClient(names.runs)),
    resultsStore: new BlobObjectStore(blobs.getContainerClient(names.results)),
  };
}

function describe(status: RunStatusView): string {
  const { rows, chunks } = status;
  const lines = [
    `Run ${status.runId} (job ${status.job}, input ${status.input}${status.dryRun ? ', dry run' : ''}): ${status.state}`,
    `  chunks ${chunks.done}/${chunks.total}, rows ${rows.processed}/${rows.total} processed: ${rows.succeeded} succeeded, ${rows.failed} failed`,
  ];
  if (status.summary) {
    const s = status.summary;
    lines.push(
      `  ${s.durationMs} ms, ${s.requests} requests, ${s.retries} retries, ${s.throttled} throttled`,
    );
  }
  if (status.results) lines.push(`  results: ${status.results.summary}, ${status.results.errors}`);
  return `${lines.join('\n')}\n`;
}
