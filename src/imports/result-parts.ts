// records.csv and errors.csv built from parts where the results store can join staged parts (Azure block
// blobs): each chunk stages its own lines as it is written, and the fan-in joins them in chunk order with
// one call per file, instead of reading every chunk's lines back and uploading them again at the end (the
// time from the last write to the summary then stays small whatever the size of the file).
import pMap from 'p-map';
import { resultFiles, runPaths } from './paths.js';
import { addTally, emptyTally, resultHeaders, type ResultLines, type RowTally } from './result-lines.js';
import { getJson, putJson, type ObjectStore, type StagedParts } from '../storage/object-store.js';
import { addCounters, type ChunkResult, type RequestCounters, type RunManifest } from './types.js';

/** What the fan-in needs of a chunk whose lines are staged: written after both parts are. */
export interface StagedChunk {
  readonly tally: RowTally;
  readonly counters: RequestCounters;
  /** Bytes of the chunk's part of records.csv and of errors.csv (0: it has no failed row, and no part). */
  readonly recordsBytes: number;
  readonly errorsBytes: number;
}

/** Part 0 of each file is its header; chunk n is part n + 1. */
const HEADER_PART = 0;
const partOf = (chunk: number) => chunk + 1;
/** Chunk markers the fan-in reads at once (a few hundred bytes each). */
const MARKER_READS = 16;
const CSV = { contentType: 'text/csv; charset=utf-8' };

/** Whether the fan-in can join this run's result files from parts (one part per chunk, plus the header). */
export function joinsParts(results: ObjectStore, manifest: Pick<RunManifest, 'chunkCount'>): boolean {
  return (
    results.parts !== undefined &&
    manifest.chunkCount > 0 &&
    manifest.chunkCount + 1 <= results.parts.maxParts
  );
}

/**
 * Stages a stored chunk result's lines as its parts of the result files, then marks the chunk staged.
 * Only the result that was stored may be staged (parts of one name must have one content); staging it
 * again gives the same parts.
 */
export async function stageChunkParts(
  results: ObjectStore,
  runs: ObjectStore,
  manifest: Pick<RunManifest, 'runId' | 'resultsPrefix' | 'chunkCount'>,
  result: Pick<ChunkResult, 'chunk' | 'counters'> & { readonly lines: ResultLines },
): Promise<StagedChunk | undefined> {
  const parts = results.parts;
  if (!parts || !joinsParts(results, manifest)) return undefined;
  const staged = await stageLines(parts, manifest.resultsPrefix, result.chunk, result.lines);
  const marker: StagedChunk = { ...staged, counters: result.counters };
  await putJson(runs, runPaths.chunkParts(manifest.runId, result.chunk), marker, { compact: true });
  return marker;
}

async function stageLines(
  parts: StagedParts,
  prefix: string,
  chunk: number,
  lines: ResultLines,
): Promise<Omit<StagedChunk, 'counters'>> {
  await Promise.all([
    parts.stage(prefix + resultFiles.records, partOf(chunk), lines.records),
    // A part must hold something: a chunk without a failed row has no part of errors.csv.
    lines.errors.length > 0
      ? parts.stage(prefix + resultFiles.errors, partOf(chunk), lines.errors)
      : Promise.resolve(),
  ]);
  return {
    tally: lines.tally,
    recordsBytes: Buffer.byteLength(lines.records, 'utf8'),
    errorsBytes: Buffer.byteLength(lines.errors, 'utf8'),
  };
}

/**
 * Joins records.csv and errors.csv from the chunks' parts. A chunk whose marker is missing (its worker
 * stopped between storing its result and marking it) or whose part is not what its marker says is staged
 * here from its stored result. Returns the run's tally and the chunks' request counters.
 */
export async function joinResultFiles(
  deps: { readonly runs: ObjectStore; readonly results: ObjectStore },
  manifest: RunManifest,
): Promise<{ tally: RowTally; counters: RequestCounters }> {
  const parts = deps.results.parts;
  if (!parts) throw new Error(`${deps.results.location} cannot join staged parts`);
  const prefix = manifest.resultsPrefix;
  const recordsPath = prefix + resultFiles.records;
  const errorsPath = prefix + resultFiles.errors;
  const headers = resultHeaders(manifest);
  const chunks = Array.from({ length: manifest.chunkCount }, (_, chunk) => chunk);
  const [markers, recordSizes, errorSizes] = await Promise.all([
    pMap(chunks, (chunk) => getJson<StagedChunk>(deps.runs, runPaths.chunkParts(manifest.runId, chunk)), {
      concurrency: MARKER_READS,
    }),
    parts.sizes(recordsPath),
    parts.sizes(errorsPath),
    parts.stage(recordsPath, HEADER_PART, headers.records),
    parts.stage(errorsPath, HEADER_PART, headers.errors),
  ]);
  const staged = await pMap(
    chunks,
    async (chunk) => {
      const marker = markers[chunk];
      const intact =
        marker &&
        recordSizes.get(partOf(chunk)) === marker.recordsBytes &&
        (marker.errorsBytes === 0 || errorSizes.get(partOf(chunk)) === marker.errorsBytes);
      if (intact) return marker;
      const result = await getJson<ChunkResult>(deps.runs, runPaths.chunkResult(manifest.runId, chunk));
      if (!result) throw new Error(`Run ${manifest.runId} chunk ${chunk} has no result`);
      if (!('lines' in result)) {
        throw new Error(
          `Run ${manifest.runId} chunk ${chunk} was written by an older version without result lines: import the file again with a rerun`,
        );
      }
      return { ...(await stageLines(parts, prefix, chunk, result.lines)), counters: result.counters };
    },
    { concurrency: MARKER_READS },
  );
  await Promise.all([
    parts.join(recordsPath, [HEADER_PART, ...chunks.map(partOf)], CSV),
    parts.join(
      errorsPath,
      [HEADER_PART, ...chunks.filter((chunk) => staged[chunk]!.errorsBytes > 0).map(partOf)],
      CSV,
    ),
  ]);
  const tally = emptyTally();
  let counters = manifest.planCounters;
  for (const chunk of staged) {
    addTally(tally, chunk.tally);
    counters = addCounters(counters, chunk.counters);
  }
  return { tally, counters };
}
