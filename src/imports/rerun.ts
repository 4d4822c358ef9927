import { parse } from 'csv-parse';
import { createCsvWriter } from '../csv/writer.js';
import { getJson, type ObjectStore } from '../storage/object-store.js';
import { echoedColumns } from './result-lines.js';
import { resultFiles, runPaths } from './paths.js';
import { isRunId } from './run-id.js';
import type { RunManifest, RunSummary } from './types.js';

export interface RerunResult {
  /** Blob name of the new input inside `incoming`, e.g. `contacts/people.rerun-r1a2b.csv`. */
  readonly input: string;
  readonly rows: number;
}

/**
 * Re-runs the failed rows of a finished run: their original cells (from errors.csv) become a new
 * file in the job's incoming folder, which starts a normal run of its own. Useful after fixing
 * what made them fail (a missing lookup target, a throttling storm, a job mapping).
 */
export async function rerunFailedRows(
  runs: ObjectStore,
  results: ObjectStore,
  incoming: ObjectStore,
  runId: string,
): Promise<RerunResult | undefined> {
  if (!isRunId(runId)) return undefined;
  const manifest = await getJson<RunManifest>(runs, runPaths.manifest(runId));
  if (!manifest) return undefined;
  const summary = await getJson<RunSummary>(results, manifest.resultsPrefix + resultFiles.summary);
  if (!summary || summary.rows.failed === 0) return { input: '', rows: 0 };
  const errors = await results.getStream(manifest.resultsPrefix + resultFiles.errors);
  if (!errors) return undefined;

  const header = echoedColumns(manifest).map((i) => manifest.header[i] ?? '');
  const writer = createCsvWriter({ columns: header, bom: true, neutraliseFormulas: false });
  const stem = manifest.input.name.replace(/\.csv$/i, '');
  const target = `${manifest.jobName}/${stem}.rerun-${runId}.csv`;
  const upload = incoming.putStream(target, writer, { contentType: 'text/csv; charset=utf-8' });
  let rows = 0;
  // Rows whose cells could not be read (ragged rows) are echoed as far as they were read.
  for await (const record of errors.pipe(parse({ columns: true, bom: true, relax_column_count: true }))) {
    const values = record as Record<string, string>;
    writer.write(header.map((name) => values[name] ?? ''));
    rows += 1;
  }
  writer.end();
  await upload;
  return { input: target, rows };
}
