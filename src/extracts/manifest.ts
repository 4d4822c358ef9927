import type { ExtractJob } from '../config/job.js';

export type ExtractTrigger = 'timer' | 'http' | 'cli';

/** What was read: everything, or what changed since the stored position. */
export type ExtractMode = 'full' | 'watermark' | 'changeTracking';

/** Written beside the CSV after it is committed; its presence marks the extract as complete. */
export interface ExtractManifest {
  readonly job: string;
  readonly table: string;
  readonly runId: string;
  readonly trigger: ExtractTrigger;
  readonly mode: ExtractMode;
  /** Why a full read replaced an incremental one (no state yet, expired token, changed columns). */
  readonly fullReason?: string;
  readonly path: string;
  readonly deletesPath?: string;
  readonly columns: readonly string[];
  readonly rows: number;
  readonly deletedRows: number;
  readonly bytes: number;
  readonly sha256: string;
  readonly bom: boolean;
  readonly partitions: number;
  readonly watermark?: { readonly column: string; readonly from?: string; readonly to?: string };
  readonly deltaToken?: { readonly used?: string; readonly next?: string };
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly requests: number;
  readonly retries: number;
  readonly throttled: number;
}

/** The delta token inside a delta link (opaque; kept for audit, not a secret). */
export function deltaTokenOf(link: string | undefined): string | undefined {
  if (!link) return undefined;
  try {
    return new URL(link).searchParams.get('$deltatoken') ?? undefined;
  } catch {
    return undefined;
  }
}

export function incrementalModeOf(job: ExtractJob): ExtractMode {
  return job.incremental?.mode ?? 'full';
}
