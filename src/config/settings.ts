import { z } from 'zod';

/**
 * Every app setting the product reads, in one place. The infra tests compare this list with the
 * settings the Bicep template sets, so a setting added here must be added to infra/ too.
 */
export const settingsSchema = z.object({
  /** Dataverse environment URL, e.g. https://contoso.crm.dynamics.com */
  DATAVERSE_URL: z.url(),
  /**
   * Client ids of user-assigned managed identities registered as Dataverse application users,
   * comma-separated. Requests are spread across them; each has its own throttle governor.
   * Empty: the default credential chain (DefaultAzureCredential).
   */
  DATAVERSE_CLIENT_IDS: z.string().default(''),
  /** Connection prefix for the product's storage account (identity-based in Azure: Storage__blobServiceUri ...). */
  STORAGE_CONNECTION: z.string().default('Storage'),
  /** Rows per import chunk: sized so a chunk ends well inside the Functions timeout. */
  IMPORT_CHUNK_SIZE: z.coerce.number().int().min(1).max(100_000).default(5_000),
  /** Records per bulk request (CreateMultiple / UpdateMultiple / UpsertMultiple). */
  DATAVERSE_BULK_SIZE: z.coerce.number().int().min(1).max(1_000).default(1_000),
  /** Upper bound for concurrent Dataverse requests per identity in one process. */
  DATAVERSE_MAX_CONCURRENCY: z.coerce.number().int().min(1).max(52).default(16),
  /**
   * Instances that use the same identities share each identity's window through a board in the storage
   * account (src/fleet): each takes a part proportional to its backlog, the whole window when alone.
   */
  DATAVERSE_FLEET_SHARING: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  /**
   * How instances that share identities spend each window: `burst` spends a fresh window's budget as fast as
   * the server takes it (best for loads shorter than a window); `steady` paces each instance on its own round
   * trips at its part of the sustained rate (no 429 storm at the window's end, a few percent slower on long
   * loads). See docs/architecture.md.
   */
  DATAVERSE_FLEET_PACING: z.enum(['burst', 'steady']).default('burst'),
  /** How often an instance writes its backlog to the board and reads the others' (milliseconds). */
  DATAVERSE_FLEET_REFRESH_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  /** NCRONTAB (six fields, UTC) for the nightly extract timer. */
  NIGHTLY_EXTRACT_SCHEDULE: z.string().default('0 0 2 * * *'),
  /** Names of the extract jobs the nightly timer runs, comma-separated; empty: all extract jobs. */
  EXTRACT_JOBS: z.string().default(''),
  /**
   * NCRONTAB (six fields, UTC) of the reconciliation sweep: it starts inputs in incoming/ that no event
   * started and resumes runs that stalled (see src/imports/reconcile.ts).
   */
  RECONCILE_SCHEDULE: z.string().default('0 */10 * * * *'),
  /**
   * Minutes an input may wait for its Event Grid event before the sweep starts it. A run that shows no
   * progress for four times as long (an hour by default, twice the 30-minute function timeout) is resumed.
   */
  RECONCILE_AFTER_MINUTES: z.coerce.number().int().min(0).max(1_440).default(15),
  /** Inputs are names ending with this (case-insensitive), as the Event Grid subscription's filter. */
  IMPORT_BLOB_SUFFIX: z.string().default('.csv'),
  /** Log cell values (personal data) only when explicitly switched on for debugging. */
  LOG_CELL_VALUES: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
});

export type Settings = z.infer<typeof settingsSchema>;

/** Names of all settings read by the product (for infra conformance tests). */
export const settingNames: readonly string[] = Object.keys(settingsSchema.shape);

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const parsed = settingsSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid app settings: ${problems}`);
  }
  return parsed.data;
}
