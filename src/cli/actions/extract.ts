import { dirname, isAbsolute, relative, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { createClient } from '../../app/dataverse.js';
import { isLoopbackUrl } from '../../dataverse/index.js';
import { emulatorUsersFor, type IdentitiesOption } from '../identities.js';
import { loadJobFile, type ExtractJob } from '../../config/job.js';
import { runExtract, type ExtractProgress } from '../../extracts/index.js';
import type { Logger } from '../../logging.js';
import { FileBlockSink } from '../../storage/file-block-sink.js';
import { FileObjectStore } from '../../storage/file-store.js';
import type { ExtractManifest } from '../../extracts/manifest.js';

export interface ExtractCliOptions {
  readonly job: string;
  readonly url: string;
  readonly out?: string;
  readonly dir?: string;
  readonly state?: string;
  readonly identities?: IdentitiesOption;
  readonly full?: boolean;
  readonly concurrency?: string;
  readonly format?: string;
  readonly progress: boolean;
  readonly json?: boolean;
}

/** Runs an extract job; problems with the arguments or the job are thrown as messages for the user. */
export async function extractCommand(opts: ExtractCliOptions): Promise<void> {
  if (!opts.out === !opts.dir) throw new Error('Give exactly one of --out <file.csv> or --dir <folder>');
  const loaded = await loadJobFile(opts.job);
  if (loaded.type !== 'extract') throw new Error(`${opts.job}: expected an extract job, got an import job`);
  const job: ExtractJob = loaded;
  const concurrency = opts.concurrency === undefined ? undefined : Number(opts.concurrency);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) {
    throw new Error(`--concurrency must be a positive integer, got '${opts.concurrency}'`);
  }
  if (opts.format !== undefined && opts.format !== 'csv' && opts.format !== 'parquet') {
    throw new Error(`--format must be csv or parquet, got '${opts.format}'`);
  }
  const format = opts.format ?? job.format;
  const outExtension = opts.out ? /\.(csv|parquet)$/i.exec(opts.out)?.[1]?.toLowerCase() : undefined;
  if (outExtension !== undefined && outExtension !== format) {
    throw new Error(
      `--out ${opts.out} ends in .${outExtension} but the format is ${format}` +
        (opts.format ? '' : ` (from ${opts.job}; add --format ${outExtension})`),
    );
  }
  const identities = identitiesToUse(opts.identities, opts.url);
  const outFile = opts.out ? resolve(opts.out) : undefined;
  const root = outFile ? dirname(outFile) : resolve(opts.dir ?? '.');
  const client = createClient({
    url: opts.url,
    identities,
    ...(concurrency ? { maxConcurrency: Math.min(52, Math.max(concurrency, 4)) } : {}),
  });
  const bar = opts.progress && process.stderr.isTTY ? progressBar(job.name) : undefined;
  try {
    const { manifest, manifestPath, reportPath } = await runExtract(
      {
        client,
        sink: new FileBlockSink(root),
        state: new FileObjectStore(resolve(opts.state ?? resolve(root, '.dvpipe-state'))),
        log: stderrLogger,
      },
      job,
      {
        trigger: 'cli',
        ...(outFile ? { path: outFile.slice(root.length + 1) } : {}),
        ...(opts.full ? { full: true } : {}),
        ...(opts.format ? { format } : {}),
        ...(concurrency ? { concurrency } : {}),
        ...(bar ? { onProgress: bar.update } : {}),
      },
    );
    bar?.stop();
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(manifest)}\n`);
      return;
    }
    const deletions = manifest.deletedRows ? ` and ${count(manifest.deletedRows)} deletions` : '';
    process.stdout.write(
      `${count(manifest.rows)} ${manifest.rows === 1 ? 'row' : 'rows'}${deletions} (${modeText(manifest)}) written to ${shown(resolve(root, manifest.path))} ` +
        `in ${(manifest.durationMs / 1000).toFixed(1)} s: ${count(manifest.requests)} requests, ` +
        `${count(manifest.throttled)} throttled (429).\nManifest: ${shown(resolve(root, manifestPath))}\n` +
        (reportPath ? `Report: ${shown(resolve(root, reportPath))}\n` : ''),
    );
  } finally {
    bar?.stop();
    await client.close();
  }
}

/**
 * Whom the extract reads as: the identities listed; for a count, that many emulator users (the
 * emulator's limits are per user, as Dataverse's are per application user). Against a real
 * environment a count names no one to sign in as.
 */
function identitiesToUse(option: IdentitiesOption | undefined, url: string): readonly string[] {
  if (!option) return [];
  if (option.list) return option.list;
  if (isLoopbackUrl(url)) return emulatorUsersFor(option.count);
  throw new Error(
    `--identities ${option.count}: a count names no identity to read as against ${url}; give the client ids ` +
      '(comma-separated), or leave it out to read as your own sign-in (az login)',
  );
}

const count = (n: number) => n.toLocaleString('en-US');

/**
 * What the rows are: everything, or what changed since the stored position. An incremental run that
 * finds nothing new writes an empty file, so the line says since when and how to read everything.
 */
function modeText(manifest: ExtractManifest): string {
  if (manifest.mode === 'full') return manifest.fullReason ? `full: ${manifest.fullReason}` : 'full';
  const since =
    manifest.mode === 'watermark'
      ? manifest.watermark?.from
        ? `changed since ${manifest.watermark.from} by ${manifest.watermark.column}`
        : 'the first incremental read: everything'
      : 'changed since the last extract (change tracking)';
  return `${since}; --full reads every row`;
}

/** A path as the user would type it: relative to the current folder when it is below it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

const stderrLogger: Logger = {
  info: () => {},
  warn: (message, properties) =>
    process.stderr.write(`warning: ${message} ${JSON.stringify(properties ?? {})}\n`),
  error: (message, properties) =>
    process.stderr.write(`error: ${message} ${JSON.stringify(properties ?? {})}\n`),
};

function progressBar(job: string): { update: (p: ExtractProgress) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar(
    {
      format: `${job} |{bar}| {value}/{total} partitions | {rows} rows`,
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let stopped = false;
  // Page events carry partitionsDone = 0; only partition completions move the bar.
  let done = 0;
  return {
    update: (p) => {
      if (!started) {
        bar.start(p.partitions, 0, { rows: 0 });
        started = true;
      }
      done = Math.max(done, p.partitionsDone);
      bar.setTotal(p.partitions);
      bar.update(done, { rows: p.rows });
    },
    stop: () => {
      if (started && !stopped) bar.stop();
      stopped = true;
    },
  };
}
