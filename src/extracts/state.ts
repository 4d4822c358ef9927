// Incremental position of a job between runs, in the state store (blob or folder): the watermark with
// the ids read inside the overlap window, or the change-tracking delta link.
import type { ExtractJob } from '../config/job.js';
import { getJson, putJson, type ObjectStore } from '../storage/object-store.js';
import { ExtractError } from './errors.js';
import { statePathOf } from './paths.js';

export interface WatermarkState {
  readonly column: string;
  /** Highest value of the column read so far (ISO 8601). */
  readonly value: string;
  /**
   * [id, ms, stamp] of rows at or after value - overlap: a re-read of them is skipped while the stamp
   * (row version, or the watermark value without one) is unchanged.
   */
  readonly boundary: readonly (readonly [string, number, string])[];
}

export interface ExtractState {
  readonly version: 1;
  readonly job: string;
  /** What the position is valid for; a job whose table, columns or filter changed starts over. */
  readonly signature: string;
  readonly watermark?: WatermarkState;
  readonly deltaLink?: string;
  readonly lastRun: { readonly runId: string; readonly finishedAt: string; readonly path: string };
}

export function signatureOf(job: ExtractJob): string {
  return JSON.stringify({
    table: job.table,
    columns: job.columns,
    filter: job.filter ?? null,
    incremental: job.incremental ?? null,
    formattedValues: job.output.formattedValues,
    // Added later: present only when on, so the positions stored by earlier versions stay valid.
    ...(job.output.lookupTargets ? { lookupTargets: true } : {}),
    ...(job.format !== 'csv' ? { format: job.format } : {}),
  });
}

export async function readState(store: ObjectStore, job: string): Promise<ExtractState | undefined> {
  let state: ExtractState | undefined;
  try {
    state = await getJson<ExtractState>(store, statePathOf(job));
  } catch (error) {
    // Guessing a position could lose changes; the operator deletes the file (full read) or fixes it.
    throw new ExtractError('StateCorrupt', `${store.location}${statePathOf(job)} is not valid JSON`, {
      cause: error,
    });
  }
  return state?.version === 1 ? state : undefined;
}

export async function writeState(store: ObjectStore, state: ExtractState): Promise<void> {
  await putJson(store, statePathOf(state.job), state);
}
