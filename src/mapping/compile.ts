import { attributeOf, formatPath, type ColumnMapping, type ImportJob } from '../config/job.js';
import type { AttributeMetadata, TableMetadata } from '../dataverse/model.js';
import { createConverter, Failure, guidConverter, type Converter } from './converters.js';
import { compileDateFormat } from './date-format.js';

// Compiles an import job against table metadata once: every check that does not need a row happens
// here (and is reported by `dvpipe jobs validate`); what is left for rows is a flat list of closures.

export interface MappingProblem {
  readonly severity: 'error' | 'warning';
  /** Where in the job file: `columns."Company".lookup`. */
  readonly path: string;
  readonly message: string;
}

export type ColumnKind = 'value' | 'id' | 'lookup' | 'lookupById' | 'owner';

export interface CompiledLookup {
  readonly table: string;
  /** The target attribute the cell holds (the primary name already substituted for `name`). */
  readonly by: string;
  readonly entitySet: string;
}

export interface CompiledColumn {
  readonly header: string;
  readonly attribute: string;
  readonly kind: ColumnKind;
  /** Payload property: the attribute, or `<navigation property>@odata.bind`. */
  readonly field: string;
  readonly trim: boolean;
  /** Empty cell writes null (update/upsert with `empty: clear`). */
  readonly clears: boolean;
  readonly defaultText: string | undefined;
  readonly convert: Converter;
  readonly lookup: CompiledLookup | undefined;
  /**
   * Owner columns without "lookup": a cell naming a user (an email or domain name: it has "@" or "\\")
   * is looked up by these systemuser columns in order; any other cell is a team's name.
   */
  readonly owner?: { readonly users: readonly CompiledLookup[]; readonly team: CompiledLookup };
  /** Position in the job's key, or -1. */
  readonly keyIndex: number;
  /** Case-insensitive comparison for duplicate detection (string keys; Dataverse compares them so). */
  readonly foldsCase: boolean;
}

export interface CompiledJob {
  readonly columns: readonly CompiledColumn[];
  /** Constant fields written on every row, already converted. */
  readonly constants: readonly (readonly [string, unknown])[];
  readonly key: readonly string[];
  readonly problems: readonly MappingProblem[];
}

const CHOICE_TYPES = new Set(['Picklist', 'MultiSelectPicklist', 'State', 'Status']);
const NUMBER_TYPES = new Set(['Integer', 'BigInt', 'Decimal', 'Double', 'Money']);
const LOOKUP_TYPES = new Set(['Lookup', 'Customer', 'Owner']);

/** Tables whose metadata compiling the job needs: lookup targets named or implied by its columns and constants. */
export function relatedTableNames(job: ImportJob, table: TableMetadata): Set<string> {
  const names = new Set<string>();
  for (const spec of Object.values(job.columns)) {
    const attribute = table.attributes.get(attributeOf(spec));
    if (!attribute || !LOOKUP_TYPES.has(attribute.type)) continue;
    if (typeof spec !== 'string' && spec.lookup) names.add(spec.lookup);
    else if (attribute.type === 'Owner' && (typeof spec === 'string' || spec.by === undefined)) {
      // An owner column without "lookup" names users or teams (compileOwner).
      names.add('systemuser');
      names.add('team');
    } else if (attribute.targets?.length === 1 && attribute.targets[0]) names.add(attribute.targets[0]);
  }
  for (const name of Object.keys(job.constants ?? {})) {
    const attribute = table.attributes.get(name);
    if (attribute?.targets?.length === 1 && attribute.targets[0]) names.add(attribute.targets[0]);
  }
  return names;
}

export function compileJob(
  job: ImportJob,
  table: TableMetadata,
  related: ReadonlyMap<string, TableMetadata>,
): CompiledJob {
  const problems: MappingProblem[] = [];
  const problem = (severity: MappingProblem['severity'], path: PropertyKey[], message: string) =>
    problems.push({ severity, path: formatPath(path), message });
  const tableOf = (name: string) => (name === table.logicalName ? table : related.get(name));

  const keyAttributes = job.key ?? [];
  const keyIsPrimaryId = keyAttributes.length === 1 && keyAttributes[0] === table.primaryIdAttribute;
  const key = keyIsPrimaryId ? [] : keyAttributes;
  checkKey(table, key, problem);

  const columns: CompiledColumn[] = [];
  for (const [header, spec] of Object.entries(job.columns)) {
    const compiled = compileColumn(job, table, tableOf, header, spec, key, problem);
    if (compiled !== undefined) columns.push(compiled);
  }

  const mapsId = columns.some((c) => c.kind === 'id');
  if (job.operation !== 'create' && key.length === 0 && !mapsId) {
    problem(
      'error',
      ['key'],
      `operation "${job.operation}" needs "key" or a column mapped to ${table.primaryIdAttribute}`,
    );
  }
  if (job.operation === 'delete') {
    for (const c of columns) {
      if (c.kind !== 'id' && c.keyIndex < 0) {
        problem('warning', ['columns', c.header], `delete ignores columns other than the key or the id`);
      }
    }
  }
  if (job.operation === 'create' || job.operation === 'upsert') {
    const mapped = new Set([...columns.map((c) => c.attribute), ...Object.keys(job.constants ?? {})]);
    for (const attribute of table.attributes.values()) {
      if (attribute.requiredLevel === 'ApplicationRequired' && !mapped.has(attribute.logicalName)) {
        problem(
          'warning',
          ['columns'],
          `"${attribute.logicalName}" is required by ${table.logicalName} but no column maps it: new records will lack it`,
        );
      }
    }
  }

  const constants: (readonly [string, unknown])[] = [];
  for (const [attributeName, value] of Object.entries(job.constants ?? {})) {
    const path = ['constants', attributeName];
    const attribute = table.attributes.get(attributeName);
    if (attribute === undefined) {
      problem('error', path, unknownAttribute(table, attributeName));
      continue;
    }
    checkWritable(job, table, attribute, path, problem);
    if (value === null) {
      if (job.operation === 'update' || job.operation === 'upsert') constants.push([attributeName, null]);
      continue;
    }
    const text = String(value);
    if (LOOKUP_TYPES.has(attribute.type)) {
      const target = attribute.targets?.length === 1 ? tableOf(attribute.targets[0] as string) : undefined;
      const nav = navigationFor(table, attribute, target?.logicalName);
      const id = guidConverter(text);
      if (target === undefined || nav === undefined || id instanceof Failure) {
        problem('error', path, 'a constant lookup must be a record id of a single-target lookup');
        continue;
      }
      constants.push([`${nav}@odata.bind`, `/${target.entitySetName}(${id})`]);
      continue;
    }
    const convert = createConverter(attribute, converterOptions(job, undefined));
    if (typeof convert === 'string') {
      problem('error', path, convert);
      continue;
    }
    const converted = convert(text);
    if (converted instanceof Failure) problem('error', path, `${JSON.stringify(text)} ${converted.reason}`);
    else constants.push([attributeName, converted]);
  }

  return { columns, constants, key, problems };
}

type Report = (severity: MappingProblem['severity'], path: PropertyKey[], message: string) => void;

function compileColumn(
  job: ImportJob,
  table: TableMetadata,
  tableOf: (name: string) => TableMetadata | undefined,
  header: string,
  spec: string | ColumnMapping,
  key: readonly string[],
  problem: Report,
): CompiledColumn | undefined {
  const mapping: ColumnMapping | undefined = typeof spec === 'string' ? undefined : spec;
  const attributeName = attributeOf(spec);
  const path = ['columns', header];
  const attribute = table.attributes.get(attributeName);
  if (attribute === undefined) {
    problem(
      'error',
      typeof spec === 'string' ? path : [...path, 'attribute'],
      unknownAttribute(table, attributeName),
    );
    return undefined;
  }
  const isId = attributeName === table.primaryIdAttribute;
  if (!isId) checkWritable(job, table, attribute, path, problem);
  checkOptions(attribute, mapping, path, problem);

  const keyIndex = key.indexOf(attributeName);
  const emptyPolicy = mapping?.empty ?? job.emptyCells;
  const base = {
    header,
    attribute: attributeName,
    trim: mapping?.trim ?? job.trim,
    clears: emptyPolicy === 'clear' && (job.operation === 'update' || job.operation === 'upsert'),
    defaultText: mapping?.default === undefined ? undefined : String(mapping.default),
    keyIndex,
    foldsCase: attribute.type === 'String' || attribute.type === 'Memo',
  };
  if (keyIndex >= 0 && LOOKUP_TYPES.has(attribute.type)) {
    problem(
      'error',
      ['key', keyIndex],
      'lookup columns in a key are not supported yet; key on plain columns',
    );
    return undefined;
  }
  if (isId) {
    return { ...base, kind: 'id', field: attributeName, convert: guidConverter, lookup: undefined };
  }
  if (attribute.type === 'Owner' && mapping?.lookup === undefined && mapping?.by === undefined) {
    return compileOwner(table, tableOf, attribute, path, base, problem);
  }
  if (LOOKUP_TYPES.has(attribute.type)) {
    return compileLookup(table, tableOf, attribute, mapping, path, base, problem);
  }
  const convert = createConverter(attribute, converterOptions(job, mapping));
  if (typeof convert === 'string') {
    problem('error', path, convert);
    return undefined;
  }
  return { ...base, kind: 'value', field: attributeName, convert, lookup: undefined };
}

/** Systemuser columns a user cell is matched against, in order: sign-in name, then primary email. */
export const OWNER_USER_COLUMNS = ['domainname', 'internalemailaddress'] as const;

/**
 * `ownerid` from a user's email / domain name or a team's name, in one column: the cell says which
 * (user names have "@" or "\\", team names rarely do; use "lookup" to force one).
 */
function compileOwner(
  table: TableMetadata,
  tableOf: (name: string) => TableMetadata | undefined,
  attribute: AttributeMetadata,
  path: PropertyKey[],
  base: Omit<CompiledColumn, 'kind' | 'field' | 'convert' | 'lookup'>,
  problem: Report,
): CompiledColumn | undefined {
  const users = tableOf('systemuser');
  const teams = tableOf('team');
  const nav = navigationFor(table, attribute, 'systemuser');
  if (users === undefined || teams === undefined || nav === undefined) {
    problem(
      'error',
      path,
      `no metadata for the systemuser and team tables "${attribute.logicalName}" points at`,
    );
    return undefined;
  }
  const userLookups = OWNER_USER_COLUMNS.filter((c) => users.attributes.has(c)).map((by) => ({
    table: 'systemuser',
    by,
    entitySet: users.entitySetName,
  }));
  if (userLookups.length === 0 || !teams.attributes.has(teams.primaryNameAttribute)) {
    problem('error', path, 'systemuser has neither domainname nor internalemailaddress to match users by');
    return undefined;
  }
  return {
    ...base,
    kind: 'owner',
    field: `${nav}@odata.bind`,
    convert: (text) => text,
    lookup: undefined,
    owner: {
      users: userLookups,
      team: { table: 'team', by: teams.primaryNameAttribute, entitySet: teams.entitySetName },
    },
  };
}

function compileLookup(
  table: TableMetadata,
  tableOf: (name: string) => TableMetadata | undefined,
  attribute: AttributeMetadata,
  mapping: ColumnMapping | undefined,
  path: PropertyKey[],
  base: Omit<CompiledColumn, 'kind' | 'field' | 'convert' | 'lookup'>,
  problem: Report,
): CompiledColumn | undefined {
  const targets = attribute.targets ?? [];
  const targetName = mapping?.lookup ?? (targets.length === 1 ? targets[0] : undefined);
  if (targetName === undefined) {
    problem(
      'error',
      path,
      `"${attribute.logicalName}" can point at ${targets.join(' or ')}: say which with "lookup"`,
    );
    return undefined;
  }
  if (targets.length > 0 && !targets.includes(targetName)) {
    problem(
      'error',
      [...path, 'lookup'],
      `"${attribute.logicalName}" points at ${targets.join(', ')}, not "${targetName}"`,
    );
    return undefined;
  }
  const target = tableOf(targetName);
  if (target === undefined) {
    problem('error', [...path, 'lookup'], `no metadata for table "${targetName}"`);
    return undefined;
  }
  const nav = navigationFor(table, attribute, targetName);
  if (nav === undefined) {
    problem('error', path, `no navigation property of "${attribute.logicalName}" leads to "${targetName}"`);
    return undefined;
  }
  const field = `${nav}@odata.bind`;
  const entitySet = target.entitySetName;
  if (mapping?.by === undefined) {
    // The cell holds the record id: bind directly, nothing to look up.
    const convert: Converter = (text) => {
      const id = guidConverter(text);
      return id instanceof Failure ? id : `/${entitySet}(${id})`;
    };
    return { ...base, kind: 'lookupById', field, convert, lookup: undefined };
  }
  const by =
    mapping.by === 'name' && !target.attributes.has('name') ? target.primaryNameAttribute : mapping.by;
  const byAttribute = target.attributes.get(by);
  if (byAttribute === undefined) {
    problem('error', [...path, 'by'], unknownAttribute(target, by));
    return undefined;
  }
  const isKey = target.keys.some((k) => k.keyAttributes.length === 1 && k.keyAttributes[0] === by);
  if (!isKey && by !== target.primaryNameAttribute && by !== target.primaryIdAttribute) {
    problem(
      'warning',
      [...path, 'by'],
      `"${by}" is neither an alternate key nor the primary name of ${targetName}: several records may match`,
    );
  }
  return {
    ...base,
    kind: 'lookup',
    field,
    convert: (text) => text,
    lookup: { table: targetName, by, entitySet },
  };
}

/** The single-valued navigation property that writes `attribute` pointing at `target`. */
function navigationFor(
  table: TableMetadata,
  attribute: AttributeMetadata,
  target: string | undefined,
): string | undefined {
  const navs = table.navigationProperties.filter((n) => n.attribute === attribute.logicalName);
  const exact = navs.find((n) => n.target === target);
  if (exact !== undefined) return exact.name;
  if (navs.length === 1) return navs[0]?.name; // e.g. ownerid, one property for systemuser and team
  if (navs.length === 0 && (attribute.targets?.length ?? 0) <= 1) return attribute.logicalName;
  return undefined;
}

function checkKey(table: TableMetadata, key: readonly string[], problem: Report): void {
  if (key.length === 0) return;
  key.forEach((name, i) => {
    if (!table.attributes.has(name)) problem('error', ['key', i], unknownAttribute(table, name));
  });
  const wanted = [...key].sort().join(',');
  const match = table.keys.find((k) => [...k.keyAttributes].sort().join(',') === wanted);
  if (match === undefined) {
    const known = table.keys.map((k) => `${k.keyAttributes.join('+')} (${k.logicalName})`).join(', ');
    problem(
      'error',
      ['key'],
      `${key.join('+')} is not an alternate key of ${table.logicalName}; its keys: ${known === '' ? 'none' : known}`,
    );
  } else if (match.status !== 'Active') {
    problem(
      'warning',
      ['key'],
      `alternate key ${match.logicalName} is ${match.status}, not Active: Dataverse cannot use it yet`,
    );
  }
}

function checkWritable(
  job: ImportJob,
  table: TableMetadata,
  attribute: AttributeMetadata,
  path: PropertyKey[],
  problem: Report,
): void {
  const name = `"${attribute.logicalName}"`;
  const create = attribute.isValidForCreate;
  const update = attribute.isValidForUpdate;
  switch (job.operation) {
    case 'create':
      // statecode is set by a follow-up update after the create (imports/state-status.ts).
      if (!create && attribute.type !== 'State')
        problem('error', path, `${name} cannot be set when creating a ${table.logicalName}`);
      break;
    case 'update':
      if (!update) problem('error', path, `${name} cannot be changed on an existing ${table.logicalName}`);
      break;
    case 'upsert':
      if (!create && !update) problem('error', path, `${name} is read-only`);
      else if (!create && attribute.type !== 'State')
        problem('warning', path, `${name} is ignored when the upsert creates a record`);
      else if (!update) problem('warning', path, `${name} is ignored when the upsert updates a record`);
      break;
    case 'delete':
      break;
  }
}

function checkOptions(
  attribute: AttributeMetadata,
  mapping: ColumnMapping | undefined,
  path: PropertyKey[],
  problem: Report,
): void {
  if (mapping === undefined) return;
  const type = attribute.type;
  const wrong = (option: string, what: string) =>
    problem(
      'error',
      [...path, option],
      `"${option}" applies to ${what} columns; "${attribute.logicalName}" is ${type}`,
    );
  if (mapping.choice !== undefined && !CHOICE_TYPES.has(type)) wrong('choice', 'choice');
  if (mapping.separator !== undefined && type !== 'MultiSelectPicklist')
    wrong('separator', 'multi-select choice');
  if (mapping.format !== undefined && type !== 'DateTime') wrong('format', 'date');
  if ((mapping.true !== undefined || mapping.false !== undefined) && type !== 'Boolean') {
    wrong(mapping.true !== undefined ? 'true' : 'false', 'Yes/No');
  }
  if (mapping.decimalSeparator !== undefined && !NUMBER_TYPES.has(type)) wrong('decimalSeparator', 'number');
  if ((mapping.lookup !== undefined || mapping.by !== undefined) && !LOOKUP_TYPES.has(type)) {
    wrong(mapping.lookup !== undefined ? 'lookup' : 'by', 'lookup');
  }
  if (mapping.format !== undefined && type === 'DateTime' && attribute.dateTimeBehavior === 'DateOnly') {
    const compiled = compileDateFormat(mapping.format);
    if (typeof compiled !== 'string' && compiled.tokens.includes('HH')) {
      problem(
        'warning',
        [...path, 'format'],
        `"${attribute.logicalName}" is date-only: cells with a time other than 00:00 will fail`,
      );
    }
  }
}

function converterOptions(job: ImportJob, mapping: ColumnMapping | undefined) {
  const format = mapping?.format === undefined ? undefined : compileDateFormat(mapping.format);
  return {
    decimalSeparator: mapping?.decimalSeparator ?? job.decimalSeparator,
    timeZone: job.timeZone,
    trueWords: mapping?.true ?? job.booleans?.true,
    falseWords: mapping?.false ?? job.booleans?.false,
    choice: mapping?.choice,
    separator: mapping?.separator ?? ';',
    // parseJob has already rejected bad formats.
    format: typeof format === 'string' ? undefined : format,
  };
}

function unknownAttribute(table: TableMetadata, name: string): string {
  const near = [...table.attributes.keys()]
    .map((candidate) => [candidate, distance(candidate, name)] as const)
    .filter(([, d]) => d <= 2)
    .sort((a, b) => a[1] - b[1])
    .slice(0, 3)
    .map(([candidate]) => `"${candidate}"`);
  const hint = near.length > 0 ? `; did you mean ${near.join(' or ')}?` : '';
  return `${table.logicalName} has no column "${name}"${hint}`;
}

/** Levenshtein distance, for "did you mean" hints on a few hundred names. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(
        Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
