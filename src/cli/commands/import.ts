import { InvalidArgumentError, type Command } from 'commander';
import { isJobDefinitionError, loadJobFile, type ImportJob } from '../../config/job.js';
import { createClient } from '../../app/dataverse.js';
import { runLocalImport } from '../../imports/local-run.js';
import { RequestMeter } from '../../imports/request-meter.js';
import type { RunSummary } from '../../imports/types.js';
import { errorMessage, type Logger } from '../../logging.js';
import { createProgress } from '../progress.js';

interface ImportOptions {
  readonly job: string;
  readonly url: string;
  readonly out: string;
  readonly dryRun?: boolean;
  readonly rerun?: boolean;
  readonly user: string;
  readonly concurrency: number;
  readonly chunkSize?: number;
  readonly quiet?: boolean;
}

export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description('Import a local CSV into Dataverse with a job definition; results go to --out')
    .argument('<file>', 'CSV file to import')
    .requiredOption('--job <job.json>', 'import job definition')
    .requiredOption('--url <org url>', 'Dataverse environment URL (or the emulator URL)')
    .requiredOption('--out <dir>', 'folder for summary.json, errors.csv and records.csv')
    .option('--dry-run', 'validate, resolve lookups and keys, report what would be written; write nothing')
    .option('--rerun', 'start a new run even if this file version was imported before')
    .option('--user <name>', 'emulator user for the bearer token (emulator URLs only)', 'dvpipe')
    .option('--concurrency <n>', 'Dataverse requests in flight at most', positiveInt, 16)
    .option('--chunk-size <n>', 'rows per chunk (default: the job, else 5000)', positiveInt)
    .option('--quiet', 'no progress output')
    .action(async (file: string, options: ImportOptions) => {
      process.exitCode = await importCommand(file, options);
    });
}

/** Exit codes (DESIGN.md): 0 every row succeeded, 1 some rows failed, 2 the file or job could not be processed. */
async function importCommand(file: string, options: ImportOptions): Promise<number> {
  let job: ImportJob;
  try {
    const loaded = await loadJobFile(options.job);
    if (loaded.type !== 'import') {
      console.error(`${options.job}: this is an extract job; dvpipe import needs an import job.`);
      return 2;
    }
    job = loaded;
  } catch (error) {
    console.error(isJobDefinitionError(error) ? error.message : `${options.job}: ${errorMessage(error)}`);
    return 2;
  }

  const meter = new RequestMeter();
  const client = createClient({
    url: options.url,
    identities: [options.user],
    maxConcurrency: options.concurrency,
    onEvent: meter.onEvent,
  });
  const progress = options.quiet ? undefined : createProgress();
  const log: Logger = {
    info: () => {},
    warn: (message, properties) => {
      if (!options.quiet) process.stderr.write(`warning: ${message} ${JSON.stringify(properties ?? {})}\n`);
    },
    error: (message, properties) =>
      process.stderr.write(`error: ${message} ${JSON.stringify(properties ?? {})}\n`),
  };
  try {
    progress?.start('Reading', 0);
    const result = await runLocalImport({
      file,
      job: options.chunkSize ? { ...job, chunkSize: options.chunkSize } : job,
      client,
      meter,
      outDir: options.out,
      dryRun: options.dryRun,
      rerun: options.rerun,
      log,
      onPlanProgress: (rows) => progress?.update(rows),
      onPlanned: (total) => progress?.start(options.dryRun ? 'Validating' : 'Writing', total),
      onChunkDone: (rows) =>
        progress?.update(rows, { requests: client.metrics().requests, '429s': client.metrics().throttled }),
    });
    progress?.stop();
    printSummary(result.summary, options.out);
    if (result.kind === 'rejected') return 2;
    return result.summary.rows.failed > 0 ? 1 : 0;
  } catch (error) {
    progress?.stop();
    console.error(`Import failed: ${errorMessage(error)}`);
    return 2;
  } finally {
    await client.close();
  }
}

function printSummary(summary: RunSummary, out: string): void {
  const { rows } = summary;
  const lines = [
    summary.error
      ? `${summary.dryRun ? 'Dry run: ' : ''}The file could not be processed: ${summary.error.message}`
      : `${summary.dryRun ? 'Dry run: ' : ''}${rows.succeeded} of ${rows.total} rows ${summary.dryRun ? 'valid' : 'written'}` +
        ` (${rows.created} created, ${rows.updated} updated, ${rows.upserted} upserted, ${rows.deleted} deleted` +
        `${rows.unchanged ? `, ${rows.unchanged} unchanged` : ''}), ${rows.failed} failed.`,
    `Run ${summary.runId} in ${(summary.durationMs / 1000).toFixed(1)} s: ${summary.requests} requests, ` +
      `${summary.retries} retries, ${summary.throttled} throttled (429).`,
    `Results: ${out}/summary.json${rows.failed || summary.error ? `, ${out}/errors.csv` : ''}` +
      `${summary.error ? '' : `, ${out}/records.csv`}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('expected a positive integer');
  return parsed;
}
