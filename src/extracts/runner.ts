// One extract run: plan the read (full, watermark or change tracking; partitions), stream every
// partition into staged blocks of one CSV, commit in partition order, then the manifest (the
// completion marker), then the incremental state. Nothing is visible before the commit, and the state
// moves only after the manifest, so a failed run is simply run again.
import { createHash, randomUUID } from 'node:crypto';
import pMap from 'p-map';
import type { ExtractJob } from '../config/job.js';
import type { CsvCell } from '../csv/writer.js';
import {
  isDataverseError,
  isDeletedEntity,
  systemClock,
  type Clock,
  type ClientMetrics,
  type DataverseClient,
  type QueryResult,
  type Row,
} from '../dataverse/index.js';
import { silentLogger, type Logger } from '../logging.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { ContentDigest, StagedObject, StagedSink } from '../storage/staged-sink.js';
import type { ExtractFormat } from '../config/job.js';
import { BlockIds, defaultBlockBytes, stageHeader, stageRecords, type CsvFormat } from './blocks.js';
import { fieldTypeName, planColumns, type ColumnPlan } from './columns.js';
import { ExtractError, isExtractError } from './errors.js';
import { deltaTokenOf, type ExtractManifest, type ExtractMode, type ExtractTrigger } from './manifest.js';
import { openCsvOutput, type ExtractOutput } from './output.js';
import { openParquetOutput } from './parquet.js';
import { andFilters, planPartitions, type PartitionPlan } from './partitions.js';
import {
  compactTimestamp,
  deletesPathOf,
  failedReportPathOf,
  manifestPathOf,
  renderPath,
  reportPathOf,
  withExtension,
} from './paths.js';
import {
  buildExtractReport,
  describeRange,
  factsOfManifest,
  type ExtractRunFacts,
} from '../reports/extract-report.js';
import { renderExtractReportHtml } from '../reports/extract-html.js';
import { ProgressRecorder, removeExpiredProgress } from './progress.js';
import { TimelineRecorder } from './timeline.js';
import { readState, signatureOf, writeState, type ExtractState } from './state.js';
import { rowVersionColumn, watermarkFilter, WatermarkTracker } from './watermark.js';

/** Dataverse's answer to an expired or unknown change-tracking version stamp. */
export const expiredDeltaCode = '0x80044352';

export interface ExtractDeps {
  readonly client: DataverseClient;
  /** Where the CSV, the deletes file and the manifest go. */
  readonly sink: StagedSink;
  /** Watermarks and delta links between runs. */
  readonly state: ObjectStore;
  readonly clock?: Clock;
  readonly log?: Logger;
  /**
   * Where the run keeps a record of its progress while it runs (the runs page lists it from there);
   * none: no record.
   */
  readonly progress?: ObjectStore;
}

export interface ExtractProgress {
  readonly rows: number;
  readonly partitionsDone: number;
  readonly partitions: number;
}

export interface ExtractOptions {
  /** The run's (scheduled) time: fills the path template. Default: the clock's now. */
  readonly now?: Date;
  readonly trigger?: ExtractTrigger;
  readonly runId?: string;
  /** Output path in the sink, instead of the job's template (the CLI's --out). */
  readonly path?: string;
  /** Ignore the stored position and read everything (the position is still stored afterwards). */
  readonly full?: boolean;
  /** Output format instead of the job's (the CLI's --format). */
  readonly format?: ExtractFormat;
  /** Partitions read at once. Default: the job's `partitions`. The client's governor still caps requests. */
  readonly concurrency?: number;
  readonly blockBytes?: number;
  readonly onProgress?: (progress: ExtractProgress) => void;
  /** Least time between rewrites of the progress record. Default: progress.ts's. */
  readonly progressIntervalMs?: number;
}

export interface ExtractResult {
  readonly manifest: ExtractManifest;
  readonly manifestPath: string;
  /** The run's report.html beside the file, or undefined if it could not be written (it never fails a run). */
  readonly reportPath?: string;
}

interface ReadOutcome {
  rows: number;
  deleted: number;
  deltaLink?: string;
}

export async function runExtract(
  deps: ExtractDeps,
  job: ExtractJob,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? silentLogger;
  const startedMs = clock.now();
  const now = options.now ?? new Date(startedMs);
  const runId = options.runId ?? `${job.name}-${compactTimestamp(now)}-${randomUUID().slice(0, 8)}`;
  const before = deps.client.metrics();
  const incremental = job.incremental;
  const timeline = new TimelineRecorder(
    () => clock.now(),
    startedMs,
    () => deps.client.metrics(),
  );

  if (incremental?.mode === 'changeTracking' && job.filter) {
    throw new ExtractError(
      'InvalidJob',
      `Job "${job.name}": change tracking cannot be combined with a filter (Dataverse refuses $filter on tracked queries)`,
    );
  }
  const table = await deps.client.metadata(job.table);
  if (incremental?.mode === 'changeTracking' && !table.changeTrackingEnabled) {
    throw new ExtractError('InvalidJob', `Job "${job.name}": table "${job.table}" does not track changes`);
  }
  const watermarkColumn = incremental?.mode === 'watermark' ? incremental.column : undefined;
  const plan = planColumns(job, table, {
    extraSelect: watermarkColumn
      ? [watermarkColumn, ...(table.attributes.has(rowVersionColumn) ? [rowVersionColumn] : [])]
      : [],
  });

  const stored = options.full ? undefined : await readState(deps.state, job.name);
  let fullReason: string | undefined;
  let state: ExtractState | undefined = stored;
  if (incremental && !stored) fullReason = options.full ? 'full run requested' : 'no stored position';
  if (stored && stored.signature !== signatureOf(job)) {
    fullReason = 'the job changed since the stored position';
    state = undefined;
  }

  const outputFormat: ExtractFormat = options.format ?? job.format;
  const path =
    options.path ?? renderPath(withExtension(job.output.path, outputFormat), { job: job.name, now, runId });
  const format: CsvFormat = {
    columns: plan.header,
    delimiter: job.output.delimiter,
    neutraliseFormulas: job.output.neutraliseFormulas,
    bom: job.output.bom,
  };
  const deletesMode = incremental?.mode === 'changeTracking' ? job.output.deletes : 'omit';
  if (incremental?.mode === 'watermark' && job.output.deletes !== 'omit') {
    log.warn('A watermark extract cannot see deletions; use change tracking to report them', {
      job: job.name,
    });
  }
  const blockBytes = options.blockBytes ?? defaultBlockBytes;
  let rowsSoFar = 0;
  const recorder = deps.progress
    ? new ProgressRecorder(
        deps.progress,
        {
          runId,
          job: job.name,
          table: job.table,
          trigger: options.trigger ?? 'cli',
          format: outputFormat,
          startedAt: new Date(startedMs).toISOString(),
        },
        clock,
        log,
        options.progressIntervalMs,
      )
    : undefined;
  // Page events carry partitionsDone = 0 (the CLI's bar moves on completions only); the record keeps
  // the most finished so far.
  let partitionsFinished = 0;
  const progress = (partitionsDone: number, partitions: number) => {
    options.onProgress?.({ rows: rowsSoFar, partitionsDone, partitions });
    partitionsFinished = Math.max(partitionsFinished, partitionsDone);
    recorder?.update({ rows: rowsSoFar, partitionsDone: partitionsFinished, partitions });
  };

  let mode: ExtractMode = 'full';
  let partitionCount = 1;
  let outcome: ReadOutcome;
  let output: ExtractOutput | undefined;
  const openOutput = async (): Promise<ExtractOutput> =>
    outputFormat === 'parquet'
      ? openParquetOutput(deps.sink, path, plan.fields, {
          rowGroupRows: job.output.rowGroupRows,
          metadata: {
            'dataverse-pipelines.job': job.name,
            'dataverse-pipelines.table': job.table,
            'dataverse-pipelines.runId': runId,
          },
        })
      : openCsvOutput(deps.sink, path, format, blockBytes);
  const deletes =
    deletesMode === 'separateFile' ? new DeletesFile(deps.sink.open(deletesPathOf(path)), plan) : undefined;
  let committed: ContentDigest | void;
  let watermarkFrom: string | undefined;
  let tracker: WatermarkTracker | undefined;
  let deltaUsed: string | undefined;
  const writeReport = async (facts: ExtractRunFacts): Promise<string | undefined> => {
    const reportPath = facts.status === 'succeeded' ? reportPathOf(path) : failedReportPathOf(path);
    try {
      const html = renderExtractReportHtml(buildExtractReport(facts, timeline.snapshot()));
      await deps.sink.put(reportPath, html, 'text/html; charset=utf-8');
      return reportPath;
    } catch (error) {
      log.warn('The extract report could not be written', {
        job: job.name,
        runId,
        reason: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    }
  };

  try {
    if (deps.progress) {
      // Housekeeping for the runs page: records of runs that died long ago (the run cannot fail on it).
      const removed = await removeExpiredProgress(deps.progress, clock, log).catch(() => []);
      if (removed.length) log.info('Removed old interrupted extract records', { runIds: removed.join(',') });
    }
    await recorder?.start();
    output = await openOutput();
    if (incremental?.mode === 'changeTracking') {
      const deltaLink = state?.deltaLink;
      if (deltaLink) {
        try {
          outcome = await readChanges(
            deps.client.delta(deltaLink, {
              pageSize: job.pageSize,
              formattedValues: job.output.formattedValues,
              lookupTargets: job.output.lookupTargets,
            }),
          );
          mode = 'changeTracking';
          deltaUsed = deltaTokenOf(deltaLink);
        } catch (error) {
          if (!isDataverseError(error) || !isExpiredToken(error)) throw error;
          fullReason = 'the delta token expired';
          log.warn('Delta token expired or invalid: reading the whole table again', {
            job: job.name,
            code: error.code,
          });
          // Start over with fresh block ids: the blocks already staged are simply never committed.
          await output.abort();
          await deletes?.reset();
          output = await openOutput();
          // A part of its own in the timeline, so the report shows the failed delta read and the re-read.
          outcome = await readTrackedFull(2, 'whole table (the delta token had expired)');
        }
      } else {
        outcome = await readTrackedFull();
      }
    } else {
      let filter = job.filter;
      if (incremental?.mode === 'watermark') {
        const bound = watermarkFilter(state?.watermark, incremental);
        filter = andFilters(filter, bound.filter);
        watermarkFrom = bound.from;
        if (bound.filter) mode = 'watermark';
        tracker = new WatermarkTracker(incremental, plan.primaryId, state?.watermark);
      }
      const workers = Math.max(1, options.concurrency ?? job.partitions);
      const partitions = await planPartitions(
        deps.client,
        job.table,
        plan.primaryId,
        filter,
        workers,
        job.pageSize,
      );
      outcome = await readPartitions(partitions, filter, workers);
      partitionCount = partitions.count;
    }

    if (deletes) await deletes.commit();
    committed = await output.commit();
  } catch (error) {
    await output?.abort().catch(() => {});
    await deletes?.abort().catch(() => {});
    const failedMs = clock.now();
    const counters = metricsDelta(before, deps.client.metrics());
    await writeReport({
      job: job.name,
      table: job.table,
      runId,
      trigger: options.trigger ?? 'cli',
      status: 'failed',
      mode,
      ...(fullReason && mode === 'full' ? { fullReason } : {}),
      format: outputFormat,
      path,
      rows: rowsSoFar,
      deletedRows: 0,
      partitions: partitionCount,
      startedAt: new Date(startedMs).toISOString(),
      finishedAt: new Date(failedMs).toISOString(),
      durationMs: failedMs - startedMs,
      ...counters,
      error: {
        code: isExtractError(error) || isDataverseError(error) ? error.code : 'Error',
        message: error instanceof Error ? error.message : String(error),
      },
    });
    await recorder?.end();
    throw error;
  }

  // Read back only when the sink could not digest the bytes as it committed them (a block blob).
  const { sha256, bytes } = committed || (await hashOf(deps.sink, path));
  const after = deps.client.metrics();
  const finishedMs = clock.now();
  const watermarkState = tracker?.state();
  const manifest: ExtractManifest = {
    job: job.name,
    table: job.table,
    runId,
    trigger: options.trigger ?? 'cli',
    mode,
    ...(fullReason && mode === 'full' ? { fullReason } : {}),
    path,
    ...(deletes ? { deletesPath: deletesPathOf(path) } : {}),
    format: outputFormat,
    columns: plan.header,
    schema: plan.fields.map((field) => ({
      name: field.name,
      type: fieldTypeName(field.type),
      ...(field.attribute ? { attribute: field.attribute } : {}),
      ...(field.attributeType ? { dataverseType: field.attributeType } : {}),
      ...(field.role ? { role: field.role } : {}),
    })),
    ...(output.rowGroups !== undefined ? { rowGroups: output.rowGroups } : {}),
    rows: outcome.rows,
    deletedRows: outcome.deleted,
    bytes,
    sha256,
    bom: outputFormat === 'csv' && job.output.bom,
    partitions: partitionCount,
    ...(watermarkColumn
      ? {
          watermark: {
            column: watermarkColumn,
            ...(watermarkFrom ? { from: watermarkFrom } : {}),
            ...(watermarkState ? { to: watermarkState.value } : {}),
          },
        }
      : {}),
    ...(incremental?.mode === 'changeTracking'
      ? {
          deltaToken: {
            ...(deltaUsed ? { used: deltaUsed } : {}),
            ...(outcome.deltaLink ? { next: deltaTokenOf(outcome.deltaLink) } : {}),
          },
        }
      : {}),
    startedAt: new Date(startedMs).toISOString(),
    finishedAt: new Date(finishedMs).toISOString(),
    durationMs: finishedMs - startedMs,
    ...metricsDelta(before, after),
  };
  const manifestPath = manifestPathOf(path);
  let reportPath: string | undefined;
  try {
    await deps.sink.put(manifestPath, JSON.stringify(manifest, null, 2), 'application/json');
    // After the manifest (the completion marker), from its own numbers.
    reportPath = await writeReport(factsOfManifest(manifest, manifestPath));
  } finally {
    // Only once the manifest and report can take over from it: the page never loses the run.
    await recorder?.end();
  }

  if (incremental) {
    await writeState(deps.state, {
      version: 1,
      job: job.name,
      signature: signatureOf(job),
      ...(watermarkState ? { watermark: watermarkState } : {}),
      ...(outcome.deltaLink ? { deltaLink: outcome.deltaLink } : {}),
      lastRun: { runId, finishedAt: manifest.finishedAt, path },
    });
  }
  log.info('Extract complete', {
    job: job.name,
    runId,
    mode,
    rows: manifest.rows,
    deletedRows: manifest.deletedRows,
    path: `${deps.sink.location}${path}`,
    durationMs: manifest.durationMs,
  });
  return { manifest, manifestPath, ...(reportPath ? { reportPath } : {}) };

  async function readPartitions(partitions: PartitionPlan, filter: string | undefined, workers: number) {
    const out = current();
    let done = 0;
    // Lazy: p-map takes the next partition only when a worker is free, so the plan can size it from
    // what the finished ones held.
    const handedOut = function* () {
      for (let partition = partitions.next(); partition; partition = partitions.next()) {
        partitionCount = partitions.count;
        yield partition;
      }
    };
    const counts = await pMap(
      handedOut(),
      async (partition) => {
        timeline.partitionStarted(partition.index, describeRange(partition.filter));
        const result = deps.client.query(job.table, {
          select: plan.select,
          ...(andFilters(filter, partition.filter) ? { filter: andFilters(filter, partition.filter) } : {}),
          pageSize: job.pageSize,
          formattedValues: job.output.formattedValues,
          lookupTargets: job.output.lookupTargets,
        });
        const written = await out
          .write(partition.index, rowsOf(result, tracker, partition.index))
          .catch((error: unknown) => {
            timeline.partitionEnded(partition.index, 'failed');
            throw error;
          });
        timeline.partitionEnded(partition.index, 'read');
        partitions.done(partition, written);
        done += 1;
        progress(done, partitionCount);
        return written;
      },
      { concurrency: workers },
    );
    return { rows: counts.reduce((a, b) => a + b, 0), deleted: 0 };
  }

  async function readTrackedFull(part = 1, range = 'whole table (change tracking)'): Promise<ReadOutcome> {
    mode = 'full';
    timeline.partitionStarted(part, range);
    const result = deps.client.query(job.table, {
      select: plan.select,
      pageSize: job.pageSize,
      formattedValues: job.output.formattedValues,
      lookupTargets: job.output.lookupTargets,
      trackChanges: true,
    });
    const written = await current()
      .write(1, rowsOf(result, undefined, part))
      .catch((error: unknown) => {
        timeline.partitionEnded(part, 'failed');
        throw error;
      });
    timeline.partitionEnded(part, 'read');
    progress(1, 1);
    if (!result.deltaLink) {
      throw new ExtractError('OutputFailed', `Dataverse returned no delta link for table "${job.table}"`);
    }
    return { rows: written, deleted: 0, deltaLink: result.deltaLink };
  }

  async function readChanges(result: QueryResult): Promise<ReadOutcome> {
    timeline.partitionStarted(1, 'changes since the stored delta token');
    let deleted = 0;
    const seen = new Set<string>();
    const deletedIds: string[] = [];
    const changed = async function* (): AsyncGenerator<CsvCell[]> {
      for await (const page of result.pages()) {
        const rowsBefore = rowsSoFar;
        for (const row of page) {
          if (isDeletedEntity(row)) {
            if (seen.has(row.id)) continue;
            seen.add(row.id);
            deleted += 1;
            if (deletesMode === 'column') yield plan.deletedCells(row.id);
            else if (deletes) deletedIds.push(row.id);
            continue;
          }
          const id = row[plan.primaryId];
          if (typeof id === 'string') {
            if (seen.has(id)) continue;
            seen.add(id);
          }
          rowsSoFar += 1;
          yield plan.cells(row);
        }
        if (deletes && deletedIds.length > 0) await deletes.add(deletedIds.splice(0));
        timeline.pageRead(1, rowsSoFar - rowsBefore);
        progress(0, 1);
      }
    };
    const written = await current()
      .write(1, changed())
      .catch((error: unknown) => {
        timeline.partitionEnded(1, 'failed');
        throw error;
      });
    timeline.partitionEnded(1, 'read');
    progress(1, 1);
    return {
      rows: written - (deletesMode === 'column' ? deleted : 0),
      deleted,
      ...(result.deltaLink ? { deltaLink: result.deltaLink } : {}),
    };
  }

  function current(): ExtractOutput {
    if (!output) throw new Error('The extract output is not open');
    return output;
  }

  async function* rowsOf(
    result: QueryResult,
    watermark: WatermarkTracker | undefined,
    part: number,
  ): AsyncGenerator<CsvCell[]> {
    for await (const page of result.pages()) {
      // Counted here, not from rowsSoFar: other partitions add to that while this one yields.
      let read = 0;
      for (const row of page as Row[]) {
        if (watermark && !watermark.accept(row)) continue;
        rowsSoFar += 1;
        read += 1;
        yield plan.cells(row);
      }
      timeline.pageRead(part, read);
      progress(0, partitionCount);
    }
  }
}

function isExpiredToken(error: { status: number; code: string }): boolean {
  return error.code.toLowerCase() === expiredDeltaCode || error.status === 410;
}

function metricsDelta(before: ClientMetrics, after: ClientMetrics) {
  return {
    requests: after.requests - before.requests,
    retries: after.retries - before.retries,
    throttled: after.throttled - before.throttled,
  };
}

/** sha256 and size of the committed CSV, read back as consumers will read it. */
async function hashOf(sink: StagedSink, path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of await sink.read(path)) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Deleted record ids in a CSV of their own (output.deletes = "separateFile"), one column: the primary id. */
class DeletesFile {
  private ids = new BlockIds(randomUUID().slice(0, 8));
  private staged = false;
  private readonly format: CsvFormat;

  constructor(
    private target: StagedObject,
    plan: ColumnPlan,
  ) {
    this.format = { columns: [plan.primaryId], delimiter: ',', neutraliseFormulas: false, bom: false };
  }

  async add(idsToAdd: readonly string[]): Promise<void> {
    await this.ensureHeader();
    const records = async function* () {
      for (const id of idsToAdd) yield [id] as CsvCell[];
    };
    await stageRecords(this.target, this.ids, 1, records(), this.format);
  }

  async commit(): Promise<void> {
    await this.ensureHeader();
    await this.target.commit(this.ids.ordered(), 'text/csv; charset=utf-8');
  }

  async reset(): Promise<void> {
    await this.target.abort();
    this.ids = new BlockIds(randomUUID().slice(0, 8));
    this.staged = false;
  }

  abort(): Promise<void> {
    return this.target.abort();
  }

  private async ensureHeader(): Promise<void> {
    if (this.staged) return;
    this.staged = true;
    await stageHeader(this.target, this.ids, this.format);
  }
}
