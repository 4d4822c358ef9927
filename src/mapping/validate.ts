import { isAssociationJob, type ExtractJob, type ImportJob, type Job } from '../config/job.js';
import { compileAssociation } from '../imports/associations.js';
import { splitFileColumns } from '../imports/file-columns.js';
import type { TableMetadata } from '../dataverse/model.js';
import { compileJob, relatedTableNames, type MappingProblem } from './compile.js';

export type { MappingProblem } from './compile.js';

const LOOKUP_TYPES = ['Lookup', 'Customer', 'Owner'];
const LABELLED_TYPES = [...LOOKUP_TYPES, 'Picklist', 'MultiSelectPicklist', 'State', 'Status', 'Boolean'];

export type GetTable = (logicalName: string) => Promise<TableMetadata>;

/**
 * Checks a job against live or emulated metadata (what `dvpipe jobs validate` runs): unknown columns,
 * read-only columns for the operation, lookup targets, `by` columns, keys that are not alternate keys,
 * options on columns of the wrong type, constants that do not convert. Errors stop a run; warnings not.
 */
export async function validateJobAgainstMetadata(job: Job, getTable: GetTable): Promise<MappingProblem[]> {
  let table: TableMetadata;
  try {
    table = await getTable(job.table);
  } catch (error) {
    return [
      { severity: 'error', path: 'table', message: `cannot read table "${job.table}": ${errorText(error)}` },
    ];
  }
  if (job.type === 'import' && isAssociationJob(job)) return validateAssociation(job, table, getTable);
  return job.type === 'import' ? validateImport(job, table, getTable) : validateExtract(job, table);
}

/** associate / disassociate: the relationship exists on the table and both columns name real columns. */
async function validateAssociation(
  job: ImportJob,
  table: TableMetadata,
  getTable: GetTable,
): Promise<MappingProblem[]> {
  const relatedName = table.manyToMany?.find(
    (r) => r.navigationProperty === job.relationship || r.schemaName === job.relationship,
  )?.relatedTable;
  let related: TableMetadata | undefined;
  if (relatedName) {
    try {
      related = await getTable(relatedName);
    } catch (error) {
      return [
        {
          severity: 'error',
          path: 'relationship',
          message: `cannot read table "${relatedName}": ${errorText(error)}`,
        },
      ];
    }
  }
  const { problems } = compileAssociation(job, table, (name) => (name === relatedName ? related : undefined));
  return problems.map((p) => ({ severity: 'error', path: p.path, message: p.message }));
}

async function validateImport(
  withFiles: ImportJob,
  table: TableMetadata,
  getTable: GetTable,
): Promise<MappingProblem[]> {
  // File and image columns name files to upload, not values: the row checks do not apply to them.
  const job = splitFileColumns(withFiles, table).job;
  const targets = relatedTableNames(job, table);
  const related = new Map<string, TableMetadata>();
  const unreadable: MappingProblem[] = [];
  await Promise.all(
    [...targets].map(async (name) => {
      try {
        related.set(name, await getTable(name));
      } catch (error) {
        unreadable.push({
          severity: 'error',
          path: 'columns',
          message: `cannot read lookup table "${name}": ${errorText(error)}`,
        });
      }
    }),
  );
  return [...unreadable, ...compileJob(job, table, related).problems];
}

function validateExtract(job: ExtractJob, table: TableMetadata): MappingProblem[] {
  const problems: MappingProblem[] = [];
  job.columns.forEach((name, i) => {
    const attribute = table.attributes.get(name);
    if (attribute === undefined) {
      problems.push({
        severity: 'error',
        path: `columns[${i}]`,
        message: `${table.logicalName} has no column "${name}"`,
      });
    } else if (!attribute.isValidForRead) {
      problems.push({ severity: 'error', path: `columns[${i}]`, message: `"${name}" cannot be read` });
    }
  });
  const typesOf = (types: readonly string[]) =>
    job.columns.filter((name) => types.includes(table.attributes.get(name)?.type ?? ''));
  if (job.output.formattedValues && typesOf(LABELLED_TYPES).length === 0) {
    problems.push({
      severity: 'warning',
      path: 'output.formattedValues',
      message:
        'no choice, yes/no, status, lookup or owner column among "columns": no "@label" column is added',
    });
  }
  if (job.output.lookupTargets && typesOf(LOOKUP_TYPES).length === 0) {
    problems.push({
      severity: 'warning',
      path: 'output.lookupTargets',
      message: 'no lookup, customer or owner column among "columns": no "@table" column is added',
    });
  }
  if (job.incremental?.mode === 'watermark') {
    const column = table.attributes.get(job.incremental.column);
    if (column?.type !== 'DateTime') {
      problems.push({
        severity: 'error',
        path: 'incremental.column',
        message: `the watermark column must be a date-time column of ${table.logicalName}`,
      });
    }
  }
  if (job.incremental?.mode === 'changeTracking' && !table.changeTrackingEnabled) {
    problems.push({
      severity: 'error',
      path: 'incremental.mode',
      message: `change tracking is not enabled on ${table.logicalName}: enable it, or use mode "watermark"`,
    });
  }
  return problems;
}

/** One line per problem, errors first: `jobs/contacts.json: columns."Company".by: error: ...`. */
export function formatProblems(problems: readonly MappingProblem[], source: string): string {
  const ordered = [...problems].sort((a, b) =>
    a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1,
  );
  return ordered
    .map((p) => `${source}: ${p.path === '' ? '' : `${p.path}: `}${p.severity}: ${p.message}`)
    .join('\n');
}

/** True when the problems allow the job to run. */
export function isRunnable(problems: readonly MappingProblem[]): boolean {
  return problems.every((p) => p.severity !== 'error');
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
