import type { ExtractFormat, ExtractJob } from '../config/job.js';
import type { AttributeType } from '../dataverse/index.js';

export interface ManifestField {
  readonly name: string;
  /** `string`, `int32`, `int64`, `double`, `boolean`, `decimal(p,s)`, `timestamp` (UTC, ms) or `date`. */
  readonly type: string;
  /** The Dataverse column it comes from, and that column's type. */
  readonly attribute?: string;
  readonly dataverseType?: AttributeType;
  /** An extra column: the label or the table of `attribute`, or the deleted flag. */
  readonly role?: 'label' | 'table' | 'deleted';
}

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
  /** `csv` or `parquet`. */
  readonly format: ExtractFormat;
  readonly columns: readonly string[];
  /** Every column of the file, in order, with its type (from the table's metadata) and its source. */
  readonly schema: readonly ManifestField[];
  /** Parquet: row groups in the file. */
  readonly rowGroups?: number;
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
