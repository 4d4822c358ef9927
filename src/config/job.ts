import { readFile } from 'node:fs/promises';
import iconv from 'iconv-lite';
import { z } from 'zod';
import { compileDateFormat } from '../mapping/date-format.js';

// Job definitions (DESIGN.md "Job file" contract). zod is the single source: parseJob validates with it
// and scripts/generate-job-schema.ts turns it into jobs/job.schema.json for editor completion.

const LOGICAL_NAME = /^[a-z_][a-z0-9_]*$/;

const tableName = z
  .string({ error: 'expected a table logical name' })
  .regex(LOGICAL_NAME, { error: 'expected a table logical name (lower case, e.g. "account")' });

const attributeName = z
  .string({ error: 'expected a column logical name' })
  .regex(LOGICAL_NAME, { error: 'expected a column logical name (lower case, e.g. "emailaddress1")' });

const jobName = z.string({ error: 'expected a job name' }).regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, {
  error: 'expected a job name of letters, digits, "_", "-" or "." (it is used in blob paths)',
});

const emptyCellPolicy = z
  .enum(['skip', 'clear'])
  .describe(
    'Empty cell: "skip" leaves the field out of the payload, "clear" sends null (update/upsert only).',
  );

const words = z.array(z.string().min(1)).min(1);

const booleanWords = z
  .strictObject({ true: words, false: words })
  .describe('Words accepted as true / false (case-insensitive), replacing the defaults.');

const decimalSeparator = z
  .enum(['.', ','])
  .describe(
    'Decimal separator of numbers in the file. The other character is accepted as a thousands separator.',
  );

const timeZone = z
  .string()
  .refine(isTimeZone, { error: 'expected an IANA time zone such as "UTC" or "Europe/Paris"' });

const cellValue = z.union([z.string(), z.number(), z.boolean()]);

export const columnMappingSchema = z
  .strictObject({
    attribute: attributeName.describe('Logical name of the column to write.'),
    lookup: tableName
      .optional()
      .describe('Lookup columns: the target table (required when the lookup has several targets).'),
    by: attributeName
      .optional()
      .describe(
        'Lookup columns: the target attribute the cell holds (an alternate key column, or "name" for the primary name). Omitted: the cell holds the record id.',
      ),
    choice: z
      .enum(['label', 'value'])
      .optional()
      .describe('Choice columns: the cell holds the label or the integer value. Omitted: either.'),
    format: z
      .string()
      .optional()
      .describe(
        'Date columns: the cell format, e.g. "yyyy-MM-dd", "dd/MM/yyyy", "MM/dd/yyyy HH:mm" or "iso".',
      ),
    separator: z
      .string()
      .min(1)
      .optional()
      .describe('Multi-select choice columns: separator between values in the cell (default ";").'),
    trim: z.boolean().optional().describe('Trim spaces around the cell (default: the job\'s "trim").'),
    default: cellValue
      .optional()
      .describe('Used when the cell is empty, as if it had been typed in the cell.'),
    empty: emptyCellPolicy.optional(),
    true: words.optional().describe('Boolean columns: words meaning true for this column.'),
    false: words.optional().describe('Boolean columns: words meaning false for this column.'),
    decimalSeparator: decimalSeparator.optional(),
    optional: z
      .boolean()
      .optional()
      .describe('The CSV may lack this column; otherwise a missing column fails the whole file.'),
  })
  .superRefine((column, ctx) => {
    if (column.format !== undefined) {
      const compiled = compileDateFormat(column.format);
      if (typeof compiled === 'string') ctx.addIssue({ code: 'custom', path: ['format'], message: compiled });
    }
  });

const columnSpec = z.union([attributeName, columnMappingSchema]);

const csvOptionsSchema = z
  .strictObject({
    delimiter: z
      .string()
      .refine((d) => d === 'tab' || d.length === 1, { error: 'expected one character or "tab"' })
      .default(','),
    encoding: z
      .string()
      .refine((e) => iconv.encodingExists(e), {
        error: 'expected an encoding name such as "utf-8" or "windows-1252"',
      })
      .default('utf-8'),
    bom: z
      .boolean()
      .default(true)
      .describe('Write a BOM on result files (a BOM on input is always accepted).'),
    quote: z.string().max(1, { error: 'expected one character, or "" for no quoting' }).default('"'),
  })
  .describe('How the CSV is written.');

// ---- Integration options (issue 20, import): how Dataverse runs this job's writes. ----

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const guid = z
  .string()
  .regex(GUID, { error: 'expected a GUID such as "0f8fad5b-d9cb-469f-a165-70867728950e"' });

/** Learn: at most three plug-in steps by default (BypassBusinessLogicExecutionStepIdsLimit). */
export const MAX_BYPASS_STEPS = 3;

const bypassSchema = z
  .strictObject({
    customSync: z
      .boolean()
      .default(false)
      .describe('Skip synchronous plug-ins and real-time workflows (needs prvBypassCustomBusinessLogic).'),
    customAsync: z
      .boolean()
      .default(false)
      .describe('Skip asynchronous plug-ins and workflows (needs prvBypassCustomBusinessLogic).'),
    powerAutomateFlows: z
      .boolean()
      .default(false)
      .describe('Do not start Power Automate flows triggered by these writes (no privilege needed).'),
    stepIds: z
      .array(guid)
      .min(1)
      .max(MAX_BYPASS_STEPS, { error: `at most ${MAX_BYPASS_STEPS} plug-in steps can be bypassed` })
      .optional()
      .describe(
        'Plug-in step ids (sdkmessageprocessingstepid) to skip (needs prvBypassCustomBusinessLogic).',
      ),
  })
  .describe(
    "Bypass custom business logic for this job's writes (MSCRM.BypassBusinessLogicExecution and related headers). The run checks the privileges before writing any row.",
  );

const integrationOptions = {
  bypass: bypassSchema.optional(),
  duplicateDetection: z
    .boolean()
    .default(false)
    .describe(
      'Apply the published duplicate detection rules (off by default, as in the Web API): a row matching an existing record fails with DuplicateRecord, naming it.',
    ),
  callerObjectId: guid
    .optional()
    .describe(
      'Write as this user (their Entra object id): created records are owned by, and audited as, that user. The identity running the import needs prvActOnBehalfOfAnotherUser.',
    ),
};

// ---- end of integration options ----

const importJobObject = z.strictObject({
  $schema: z.string().optional(),
  type: z.literal('import').default('import'),
  name: jobName,
  description: z.string().optional(),
  table: tableName.describe('Logical name of the Dataverse table.'),
  operation: z
    .enum(['create', 'update', 'upsert', 'delete', 'associate', 'disassociate'])
    .describe(
      'What each row does. "associate" / "disassociate" link or unlink two records through a many-to-many "relationship".',
    ),
  key: z
    .array(attributeName)
    .min(1)
    .optional()
    .describe('Alternate-key columns that identify the record (update, upsert, delete).'),
  columns: z
    .record(z.string(), columnSpec)
    .refine((c) => Object.keys(c).length > 0, { error: 'map at least one CSV column' })
    .describe('CSV header -> column logical name, or a mapping object.'),
  constants: z
    .record(attributeName, z.union([cellValue, z.null()]))
    .optional()
    .describe('Column logical name -> value written on every row (converted like a cell; null clears).'),
  emptyCells: emptyCellPolicy.default('skip'),
  duplicateKeys: z
    .enum(['lastWins', 'failAll'])
    .default('lastWins')
    .describe(
      'Rows with the same key in one file: "lastWins" writes the last and reports the earlier ones "superseded" (not errors), "failAll" fails them all (DuplicateKeyInFile).',
    ),
  csv: csvOptionsSchema.prefault({}),
  chunkSize: z.int().min(1).max(100_000).optional().describe('Rows per chunk (default: the app setting).'),
  writeStrategy: z
    .enum(['auto', 'upsertMultiple'])
    .default('auto')
    .describe(
      'Upserts: "auto" resolves keys to ids, then CreateMultiple + UpdateMultiple; "upsertMultiple" sends UpsertMultiple.',
    ),
  booleans: booleanWords.optional(),
  timeZone: timeZone
    .default('UTC')
    .describe('Time zone of date-times without an offset written to UserLocal columns.'),
  decimalSeparator: decimalSeparator.default('.'),
  trim: z.boolean().default(true).describe('Trim spaces around cells.'),
  ...integrationOptions,
  // --- Many-to-many, elastic tables, file columns (issue 20, import) ---
  relationship: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
      error: 'expected a relationship name such as "listcontact_association"',
    })
    .optional()
    .describe(
      'associate / disassociate: the many-to-many relationship (its navigation property on "table"), e.g. "listcontact_association". The column mapped with "lookup" names the related record.',
    ),
});

export const importJobSchema = importJobObject.superRefine(checkImportRules);

/** The default output path template; a Parquet extract's default ends in `.parquet` instead. */
export const defaultExtractPath = 'extracts/{job}/{yyyy}/{MM}/{dd}/{job}-{timestamp}.csv';

const outputSchema = z.strictObject({
  path: z
    .string()
    .min(1)
    .refine(hasOnlyKnownPlaceholders, {
      error: `unknown placeholder: use ${'{'}job}, {yyyy}, {MM}, {dd}, {HH}, {mm}, {ss}, {timestamp}, {runId}, {partition}`,
    })
    .default(defaultExtractPath)
    .describe(
      'Blob path template of the extract. Default: extracts/{job}/{yyyy}/{MM}/{dd}/{job}-{timestamp}.csv (.parquet for a Parquet extract).',
    ),
  bom: z.boolean().default(true).describe('CSV: start the file with a UTF-8 BOM (Excel reads it as UTF-8).'),
  delimiter: z
    .string()
    .refine((d) => d === 'tab' || d.length === 1, { error: 'expected one character or "tab"' })
    .default(',')
    .describe('CSV: the field delimiter.'),
  formattedValues: z
    .boolean()
    .default(false)
    .describe(
      'Add a "<column>@label" column beside each choice, yes/no, status, lookup, customer and owner column: the choice label or the related record\'s name, read in the same request (odata.include-annotations).',
    ),
  lookupTargets: z
    .boolean()
    .default(false)
    .describe(
      'Add a "<column>@table" column beside each lookup, customer and owner column: the logical name of the table the id belongs to (e.g. "systemuser" or "team" for an owner).',
    ),
  rowGroupRows: z
    .int()
    .min(1_000)
    .max(1_000_000)
    .default(50_000)
    .describe(
      'Parquet: rows per row group. The extract holds about one row group in memory, whatever the table size.',
    ),
  neutraliseFormulas: z
    .boolean()
    .default(true)
    .describe(
      'CSV: prefix cells starting with = + - @ tab or CR with an apostrophe so spreadsheets do not run them (Parquet keeps values as they are: it is not opened by spreadsheets).',
    ),
  deletes: z
    .enum(['omit', 'column', 'separateFile'])
    .default('omit')
    .describe('Incremental extracts: how deleted records are reported.'),
});

const incrementalSchema = z.discriminatedUnion('mode', [
  z.strictObject({
    mode: z.literal('watermark'),
    column: attributeName.default('modifiedon'),
    overlapSeconds: z.int().min(0).max(86_400).default(300),
  }),
  z.strictObject({ mode: z.literal('changeTracking') }),
]);

const extractJobObject = z.strictObject({
  $schema: z.string().optional(),
  type: z.literal('extract').default('extract'),
  name: jobName,
  description: z.string().optional(),
  table: tableName,
  columns: z.array(attributeName).min(1).describe('Column logical names, in output order.'),
  format: z
    .enum(['csv', 'parquet'])
    .default('csv')
    .describe(
      'Output file format: "csv", or "parquet" (typed columns from the table\'s metadata, written in row groups).',
    ),
  filter: z.string().min(1).optional().describe('OData $filter.'),
  incremental: incrementalSchema.optional(),
  schedule: z
    .string()
    .refine((s) => /^\S+(\s+\S+){4,5}$/.test(s.trim()), {
      error: 'expected a cron expression of 5 or 6 fields',
    })
    .optional()
    .describe('NCRONTAB (six fields, UTC), e.g. "0 0 2 * * *".'),
  output: outputSchema.prefault({}),
  partitions: z
    .int()
    .min(1)
    .max(52)
    .default(1)
    .describe(
      'Parallel partitions of the read, up to 52 (the concurrent requests Dataverse allows one user); DATAVERSE_MAX_CONCURRENCY still caps the requests in flight.',
    ),
  pageSize: z.int().min(1).max(5_000).default(5_000),
});

export const extractJobSchema = extractJobObject
  .superRefine(checkExtractRules)
  .transform((job) =>
    job.format === 'parquet' && job.output.path === defaultExtractPath
      ? { ...job, output: { ...job.output, path: defaultExtractPath.replace(/\.csv$/, '.parquet') } }
      : job,
  );

/** What jobs/job.schema.json describes: either kind of job. */
export const jobSchema = z.union([importJobSchema, extractJobSchema]);

export type ImportJob = z.output<typeof importJobSchema>;
export type ExtractJob = z.output<typeof extractJobSchema>;
export type ExtractFormat = ExtractJob['format'];
export type Job = ImportJob | ExtractJob;
export type ColumnMapping = z.output<typeof columnMappingSchema>;
export type ColumnSpec = string | ColumnMapping;
export type Operation = ImportJob['operation'];
export type CellValue = z.output<typeof cellValue>;

export interface JobProblem {
  readonly path: string;
  readonly message: string;
}

/** A job file that cannot be used. The message names the file and every field at fault. */
export class JobDefinitionError extends Error {
  override readonly name = 'JobDefinitionError';
  constructor(
    readonly source: string,
    readonly problems: readonly JobProblem[],
  ) {
    super(problems.map((p) => `${source}: ${p.path === '' ? '' : p.path + ': '}${p.message}`).join('\n'));
  }
}

export function isJobDefinitionError(error: unknown): error is JobDefinitionError {
  return error instanceof JobDefinitionError;
}

/** Validates a parsed JSON value as an import or extract job. `source` names the file in errors. */
export function parseJob(json: unknown, source: string): Job {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new JobDefinitionError(source, [{ path: '', message: 'expected a JSON object' }]);
  }
  const kind = jobKind(json as Record<string, unknown>);
  if (kind === undefined) {
    throw new JobDefinitionError(source, [
      {
        path: '',
        message:
          'expected an import job (with "operation" and "columns" as an object) or an extract job ("columns" as an array)',
      },
    ]);
  }
  const result = (kind === 'import' ? importJobSchema : extractJobSchema).safeParse(json);
  if (!result.success) throw new JobDefinitionError(source, problemsOf(result.error.issues));
  return result.data;
}

export function parseImportJob(json: unknown, source: string): ImportJob {
  const job = parseJob(json, source);
  if (job.type !== 'import') {
    throw new JobDefinitionError(source, [
      { path: 'type', message: 'expected an import job, got an extract job' },
    ]);
  }
  return job;
}

export function parseExtractJob(json: unknown, source: string): ExtractJob {
  const job = parseJob(json, source);
  if (job.type !== 'extract') {
    throw new JobDefinitionError(source, [
      { path: 'type', message: 'expected an extract job, got an import job' },
    ]);
  }
  return job;
}

/** Reads and validates a job file. */
export async function loadJobFile(path: string): Promise<Job> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new JobDefinitionError(path, [{ path: '', message: `cannot read the file (${errorText(error)})` }]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw new JobDefinitionError(path, [{ path: '', message: `not valid JSON: ${errorText(error)}` }]);
  }
  return parseJob(json, path);
}

/** The attribute a column spec writes. */
export function attributeOf(spec: ColumnSpec): string {
  return typeof spec === 'string' ? spec : spec.attribute;
}

/** Header names the CSV must have (every mapped column not marked optional). */
export function requiredHeaders(job: ImportJob): string[] {
  return Object.entries(job.columns)
    .filter(([, spec]) => typeof spec === 'string' || spec.optional !== true)
    .map(([header]) => header);
}

function jobKind(json: Record<string, unknown>): 'import' | 'extract' | undefined {
  if (json.type === 'import' || json.type === 'extract') return json.type;
  if ('operation' in json) return 'import';
  if (Array.isArray(json.columns)) return 'extract';
  if (typeof json.columns === 'object' && json.columns !== null) return 'import';
  return undefined;
}

function checkImportRules(job: z.output<typeof importJobObject>, ctx: z.RefinementCtx): void {
  const { columns, key, operation } = job;
  const constants = job.constants ?? {};

  const writer = new Map<string, string>();
  for (const [header, spec] of Object.entries(columns)) {
    const attribute = attributeOf(spec);
    const earlier = writer.get(attribute);
    if (earlier !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['columns', header],
        message: `"${attribute}" is already mapped by column "${earlier}"`,
      });
    }
    writer.set(attribute, header);
  }
  for (const attribute of Object.keys(constants)) {
    const header = writer.get(attribute);
    if (header !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['constants', attribute],
        message: `"${attribute}" is also mapped by column "${header}"`,
      });
    }
  }
  key?.forEach((attribute, i) => {
    if (!writer.has(attribute)) {
      ctx.addIssue({
        code: 'custom',
        path: ['key', i],
        message: `key column "${attribute}" is not mapped by any CSV column`,
      });
    }
  });
  checkAssociationRules(job, ctx);
  if (operation !== 'create' && !isAssociationJob(job) && key === undefined) {
    // The primary id is `<something>id` on every Dataverse table; metadata checks the exact name later.
    const mapsAnId = Object.values(columns).some(
      (spec) => (typeof spec === 'string' || spec.lookup === undefined) && attributeOf(spec).endsWith('id'),
    );
    if (!mapsAnId) {
      ctx.addIssue({
        code: 'custom',
        path: ['key'],
        message: `operation "${operation}" needs "key" (alternate-key columns) or a column mapped to the table's primary id`,
      });
    }
  }
}

/** Whether the job links records through a many-to-many relationship instead of writing rows. */
export function isAssociationJob(job: Pick<ImportJob, 'operation'>): boolean {
  return job.operation === 'associate' || job.operation === 'disassociate';
}

/** associate / disassociate: a relationship, and exactly one column (with "lookup") naming the related record. */
function checkAssociationRules(job: z.output<typeof importJobObject>, ctx: z.RefinementCtx): void {
  if (!isAssociationJob(job)) {
    if (job.relationship !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['relationship'],
        message: `"relationship" is only for the operations "associate" and "disassociate", not "${job.operation}"`,
      });
    }
    return;
  }
  if (job.relationship === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['relationship'],
      message: `operation "${job.operation}" needs "relationship", the many-to-many relationship's name (e.g. "listcontact_association")`,
    });
  }
  const related = Object.entries(job.columns).filter(([, spec]) => typeof spec !== 'string' && spec.lookup);
  if (related.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      path: ['columns'],
      message: `operation "${job.operation}" needs exactly one column with "lookup" (the related table) naming the related record, found ${related.length}`,
    });
  }
  if (job.constants !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['constants'],
      message: `operation "${job.operation}" writes no columns, so "constants" cannot be used`,
    });
  }
}

function checkExtractRules(job: z.output<typeof extractJobObject>, ctx: z.RefinementCtx): void {
  const extension = /\.(csv|parquet)$/i.exec(job.output.path)?.[1]?.toLowerCase();
  // The default template follows the format (see the transform above).
  if (job.output.path !== defaultExtractPath && extension !== undefined && extension !== job.format) {
    ctx.addIssue({
      code: 'custom',
      path: ['output', 'path'],
      message: `the path ends in ".${extension}" but "format" is "${job.format}"`,
    });
  }
}

const PLACEHOLDERS = new Set([
  'job',
  'yyyy',
  'MM',
  'dd',
  'HH',
  'mm',
  'ss',
  'timestamp',
  'runId',
  'partition',
]);

function hasOnlyKnownPlaceholders(path: string): boolean {
  for (const match of path.matchAll(/\{([^}]*)\}/g)) {
    if (!PLACEHOLDERS.has(match[1] ?? '')) return false;
  }
  return true;
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Turns zod issues into "field.path: message" problems, picking the union branch the input was aiming at. */
function problemsOf(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): JobProblem[] {
  const problems: JobProblem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // The branch whose root type matched the input says what is really wrong.
      const branch = issue.errors.find(
        (b) => !b.some((i) => i.code === 'invalid_type' && i.path.length === 0),
      );
      if (branch !== undefined) {
        problems.push(...problemsOf(branch, path));
        continue;
      }
      problems.push({
        path: formatPath(path),
        message: 'expected a column logical name or a mapping object',
      });
      continue;
    }
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        problems.push({ path: formatPath(path), message: `unknown field "${key}"` });
      continue;
    }
    problems.push({ path: formatPath(path), message: issue.message });
  }
  return problems;
}

/** `columns."Company".lookup`: user-chosen keys (headers, attributes) quoted, schema fields bare. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  path.forEach((segment, i) => {
    const parent = i > 0 ? path[i - 1] : undefined;
    if (typeof segment === 'number') text += `[${segment}]`;
    else if ((parent === 'columns' || parent === 'constants') && i === 1)
      text += `.${JSON.stringify(segment)}`;
    else text += `${text === '' ? '' : '.'}${String(segment)}`;
  });
  return text.startsWith('.') ? text.slice(1) : text;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
