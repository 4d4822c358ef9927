import { createReadStream, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse } from 'csv-parse';
import { isJobDefinitionError, loadJobFile, type ImportJob } from '../../config/job.js';
import { createClient, emulatorUser, splitList } from '../../app/dataverse.js';
import type { IdentitiesOption } from '../identities.js';
import { runLocalImport, type EarlierRun } from '../../imports/local-run.js';
import { resultFiles } from '../../imports/paths.js';
import { environmentOf } from '../../imports/run-id.js';
import { RequestMeter } from '../../imports/request-meter.js';
import type { RunSummary } from '../../imports/types.js';
import { errorMessage, type Logger } from '../../logging.js';
import { createProgress } from '../progress.js';
import { failureSummary, type FailedRow } from '../failures.js';
import { bindingText, fasterThanForecast, type ForecastReport } from '../../imports/forecast.js';

export interface ImportOptions {
  readonly job: string;
  readonly url: string;
  readonly out: string;
  readonly dryRun?: boolean;
  readonly rerun?: boolean;
  readonly user: string;
  readonly identities?: IdentitiesOption;
  readonly concurrency: number;
  readonly chunkSize?: number;
  readonly quiet?: boolean;
}

/** Exit codes (DESIGN.md): 0 every row succeeded, 1 some rows failed, 2 the file or job could not be processed. */
export async function importCommand(file: string, options: ImportOptions): Promise<number> {
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

  if (!existsSync(file)) {
    console.error(`${file}: no such file.`);
    return 2;
  }
  const meter = new RequestMeter();
  const client = createClient({
    url: options.url,
    identities:
      options.identities?.list ?? splitList(options.user).flatMap((user) => emulatorUser(options.url, user)),
    maxConcurrency: options.concurrency,
    onEvent: meter.onEvent,
  });
  const progress = options.quiet ? undefined : createProgress();
  const log: Logger = {
    info: () => {},
    warn: (message, properties) => {
      // Failed rows are summarised by reason once the run has ended (see printFailures).
      if (message === 'Row failed' || options.quiet) return;
      process.stderr.write(`warning: ${message} ${JSON.stringify(properties ?? {})}\n`);
    },
    error: (message, properties) =>
      process.stderr.write(`error: ${message} ${JSON.stringify(properties ?? {})}\n`),
  };
  let before = { requests: 0, throttled: 0 };
  try {
    progress?.start('Reading', 0);
    const result = await runLocalImport({
      file,
      job: options.chunkSize ? { ...job, chunkSize: options.chunkSize } : job,
      client,
      environment: options.url,
      meter,
      outDir: options.out,
      dryRun: options.dryRun,
      rerun: options.rerun,
      forecast: {
        identities: options.identities?.count ?? splitList(options.user).length,
        bulkSize: 1_000,
        concurrency: options.concurrency,
      },
      log,
      // The table's metadata is needed anyway (and cached): fetching it first proves the URL and the sign-in.
      beforeRun: async () => {
        await client.metadata(job.table);
        // The run's own counts (summary.json) start here; the progress line counts the same requests.
        before = client.metrics();
      },
      onPlanProgress: (rows) => progress?.update(rows),
      onPlanned: (total) => progress?.start(options.dryRun ? 'Validating' : 'Writing', total),
      onChunkDone: (rows) =>
        progress?.update(rows, {
          requests: client.metrics().requests - before.requests,
          '429s': client.metrics().throttled - before.throttled,
        }),
    });
    progress?.stop();
    if (result.kind === 'alreadyImported') {
      printEarlierRun(file, options, result.summary, result.earlier);
      return result.summary.rows.failed > 0 ? 1 : 0;
    }
    printSummary(result.summary, options.out, job);
    if (result.summary.rows.failed > 0) await printFailures(join(options.out, resultFiles.errors));
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

const count = (n: number) => n.toLocaleString('en-US');

/**
 * Dataverse applies duplicate detection rules only as a record is written; asking ahead
 * (RetrieveDuplicates) costs one request per row, more than the dry run's reads, and would still miss
 * duplicates between rows of the file. So a dry run says it did not predict them.
 */
const DRY_RUN_DUPLICATES =
  'Duplicate detection is on for this job, but a dry run cannot predict duplicates: Dataverse applies its rules only when a record is written, so rows it would refuse as duplicates are counted valid here.';

function printSummary(summary: RunSummary, out: string, job: ImportJob): void {
  const { rows } = summary;
  const dry = summary.dryRun ? 'Dry run: ' : '';
  const links = (rows.associated ?? 0) + (rows.disassociated ?? 0) > 0;
  const kinds = [
    // associate / disassociate runs create and update nothing: their counts say what they linked.
    ...(links ? [] : [`${count(rows.created)} created`, `${count(rows.updated)} updated`]),
    ...(rows.associated ? [`${count(rows.associated)} associated`] : []),
    ...(rows.disassociated ? [`${count(rows.disassociated)} disassociated`] : []),
    ...(rows.upserted ? [`${count(rows.upserted)} upserted`] : []),
    ...(rows.deleted ? [`${count(rows.deleted)} deleted`] : []),
    ...(rows.unchanged ? [`${count(rows.unchanged)} unchanged`] : []),
    ...(rows.superseded ? [`${count(rows.superseded)} superseded by a later row with the same key`] : []),
  ];
  const files = [
    resultFiles.summary,
    ...(rows.failed || summary.error ? [resultFiles.errors] : []),
    ...(summary.error ? [] : [resultFiles.records, resultFiles.report]),
  ].map((name) => join(out, name));
  const lines = [
    summary.error
      ? `${dry}The file could not be processed: ${summary.error.message}`
      : `${dry}${count(rows.succeeded)} of ${count(rows.total)} rows ${summary.dryRun ? 'valid' : 'written'} (${kinds.join(', ')}), ${count(rows.failed)} failed.` +
        (summary.dryRun ? ' Nothing was written.' : ''),
    `Run ${summary.runId} in ${(summary.durationMs / 1000).toFixed(1)} s: ${count(summary.requests)} requests, ` +
      `${count(summary.retries)} retries, ${count(summary.throttled)} throttled (429); ${memoryUse()}.`,
    ...(showForecast(summary) && summary.forecast ? [forecastLine(summary.forecast, summary.dryRun)] : []),
    ...(summary.dryRun && job.duplicateDetection && !summary.error ? [DRY_RUN_DUPLICATES] : []),
    `Results: ${files.join(', ')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * This process's peak resident memory, and the heap cap it ran with (bin/dvpipe.js sets one for
 * imports unless the user chose one), so a user can see the import stayed within what README promises.
 */
function memoryUse(): string {
  const peakMb = Math.round(process.resourceUsage().maxRSS / 1024);
  // Node reads NODE_OPTIONS first; flags on the command line win.
  const flags = [...(process.env.NODE_OPTIONS ?? '').split(/\s+/), ...process.execArgv];
  const cap = flags
    .map((flag) => /^--max-old-space-size=(\d+)$/.exec(flag)?.[1])
    .filter((value) => value !== undefined)
    .at(-1);
  return `peak memory ${count(peakMb)} MB${cap ? ` (heap capped at ${cap} MB)` : ''}`;
}

/**
 * A dry run is asked for its forecast; after a real run, the forecast against what happened is worth a
 * line only when the run took long enough for the limits to matter (summary.json always has it).
 */
function showForecast(summary: RunSummary): boolean {
  if (!summary.forecast || summary.error) return false;
  return summary.dryRun || summary.durationMs >= 60_000;
}

/** The forecast: how long the limits make the real run take, and its cost against them. */
export function forecastLine(f: ForecastReport, dryRun: boolean): string {
  const who = `${f.identities} ${f.identities === 1 ? 'identity' : 'identities'}`;
  const cost =
    `${count(f.requests)} requests, ${count(Math.round(f.executionSeconds))} s of Dataverse execution time ` +
    `(${percent(f.perWindow.executionShare)} of one identity's 5-minute window${f.identities > 1 ? ' each' : ''}), ` +
    `${count(f.entitlementRequests)} Power Platform requests against the daily entitlement`;
  if (dryRun)
    return `Forecast for the import with ${who}: about ${duration(f.durationSeconds)} at the service protection limits (${bindingText(f.binding)}); ${cost}.`;
  const took = !f.actual
    ? ''
    : fasterThanForecast(f.actual.speedOfLimits)
      ? ` It took ${duration(f.actual.durationSeconds)}, faster than forecast: the server took less time per record than documented.`
      : ` It took ${duration(f.actual.durationSeconds)} (${percent(f.actual.speedOfLimits)} of the limits' pace).`;
  return `Forecast for this work with ${who}: ${duration(f.durationSeconds)} at the limits; ${cost}.${took}`;
}

const percent = (share: number) => `${(share * 100).toFixed(share < 0.1 ? 1 : 0)}%`;

function duration(seconds: number): string {
  if (seconds < 90) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 5_400) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3_600).toFixed(1)} h`;
}

/** A plain re-run of a finished run: say what that run did and where its results are, and how to run again. */
function printEarlierRun(
  file: string,
  options: ImportOptions,
  summary: RunSummary,
  earlier: EarlierRun,
): void {
  const { rows } = summary;
  const when = summary.finishedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const outcome =
    `${count(rows.succeeded)} of ${count(rows.total)} rows written` +
    `${rows.superseded ? ` (${count(rows.superseded)} superseded)` : ''}, ${count(rows.failed)} failed`;
  const same = earlier.file === basename(file) ? '' : ` (as ${earlier.file})`;
  const lines = [
    `${basename(file)} was already imported${same} with job '${summary.job}' into ${environmentOf(options.url)} on ${when} ` +
      `(run ${summary.runId}): ${outcome}. Nothing was written this time.`,
    earlier.resultsInOut
      ? `Its results are in ${join(options.out, resultFiles.summary)}${rows.failed ? `, ${join(options.out, resultFiles.errors)}` : ''} and ${join(options.out, resultFiles.records)}.`
      : `Its result files in ${options.out} have since been replaced by another run's; its summary is ${join(options.out, '.dvpipe', 'results', summary.runId, resultFiles.summary)}.`,
    ...(earlier.jobChanged ? [`The job definition ${options.job} has changed since that run.`] : []),
    'To import the file again, add --rerun.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Failed rows by reason (failureSummary), read from the run's errors.csv. */
async function printFailures(errorsPath: string): Promise<void> {
  async function* failedRows(): AsyncIterable<FailedRow> {
    const parser = createReadStream(errorsPath).pipe(
      parse({ columns: true, bom: true, relax_column_count: true }),
    );
    for await (const record of parser as AsyncIterable<Record<string, string>>) {
      yield {
        row: record.row ?? '',
        code: record.code ?? '',
        column: record.column ?? '',
        message: record.message ?? '',
      };
    }
  }
  try {
    process.stdout.write(await failureSummary(failedRows(), errorsPath));
  } catch {
    // errors.csv could not be read: the summary line already says how many rows failed and where.
  }
}
