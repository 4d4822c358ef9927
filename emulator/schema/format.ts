import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** Attribute types, named as Dataverse's `AttributeType` (AttributeTypeCode) names them. */
export const ATTRIBUTE_TYPES = [
  'String',
  'Memo',
  'Integer',
  'BigInt',
  'Decimal',
  'Double',
  'Money',
  'Boolean',
  'DateTime',
  'Picklist',
  'MultiSelectPicklist',
  'State',
  'Status',
  'Lookup',
  'Customer',
  'Owner',
  'Uniqueidentifier',
  'EntityName',
] as const;
export type AttributeType = (typeof ATTRIBUTE_TYPES)[number];

const option = z.object({
  value: z.number().int(),
  label: z.string(),
  /** Status options: the statecode this status belongs to. */
  state: z.number().int().optional(),
});

const attribute = z.object({
  logicalName: z.string().regex(/^[a-z][a-z0-9_]*$/),
  schemaName: z.string().optional(),
  displayName: z.string().optional(),
  type: z.enum(ATTRIBUTE_TYPES),
  maxLength: z.number().int().positive().optional(),
  minValue: z.number().optional(),
  maxValue: z.number().optional(),
  precision: z.number().int().min(0).max(12).optional(),
  format: z.string().optional(),
  dateTimeBehavior: z.enum(['UserLocal', 'DateOnly', 'TimeZoneIndependent']).optional(),
  options: z.array(option).optional(),
  /** Lookup / Customer / Owner: target table logical names. */
  targets: z.array(z.string()).optional(),
  /**
   * Single-valued navigation property per target. Defaults: Lookup and Owner use the logical name;
   * Customer (and any multi-target lookup) uses `<logicalName>_<target>`.
   */
  navigation: z.record(z.string(), z.string()).optional(),
  requiredLevel: z.enum(['None', 'SystemRequired', 'ApplicationRequired', 'Recommended']).optional(),
  validForCreate: z.boolean().optional(),
  validForUpdate: z.boolean().optional(),
  validForRead: z.boolean().optional(),
  default: z.union([z.string(), z.number(), z.boolean()]).optional(),
});

/** The largest image column Dataverse allows (Learn, "Use image column data": limited to 30 MB). */
export const IMAGE_MAX_KB = 30_720;

const fileColumn = z
  .object({
    logicalName: z.string().regex(/^[a-z][a-z0-9_]*$/),
    schemaName: z.string().optional(),
    kind: z.enum(['File', 'Image']),
    /** Largest file accepted, in KB (FileAttributeMetadata.MaxSizeInKB; 32,768 by default). */
    maxSizeInKB: z.number().int().positive(),
  })
  .refine((c) => c.kind === 'File' || c.maxSizeInKB <= IMAGE_MAX_KB, {
    // Learn, "Use image column data": image columns are limited to 30 MB.
    message: `an image column holds at most ${IMAGE_MAX_KB} KB (30 MB)`,
    path: ['maxSizeInKB'],
  });

const key = z.object({
  logicalName: z.string(),
  schemaName: z.string().optional(),
  keyAttributes: z.array(z.string()).min(1),
});

const table = z.object({
  logicalName: z.string().regex(/^[a-z][a-z0-9_]*$/),
  schemaName: z.string().optional(),
  entitySetName: z.string(),
  displayName: z.string().optional(),
  displayCollectionName: z.string().optional(),
  primaryIdAttribute: z.string(),
  primaryNameAttribute: z.string(),
  objectTypeCode: z.number().int().optional(),
  ownershipType: z.enum(['UserOwned', 'OrganizationOwned', 'None']).optional(),
  isCustomEntity: z.boolean().optional(),
  changeTracking: z.boolean().optional(),
  /** false = the table refuses CreateMultiple/UpdateMultiple/UpsertMultiple, as some system tables do. */
  bulkMessages: z.boolean().optional(),
  /** Primary name computed from these attributes joined by a space (contact.fullname). */
  computedName: z.array(z.string()).optional(),
  attributes: z.array(attribute),
  keys: z.array(key).optional(),
  /**
   * Published duplicate detection rules: a record is a duplicate of another when every attribute of a
   * rule is set and equal (strings ignoring case). Applied to writes that send
   * `MSCRM.SuppressDuplicateDetection: false` (reference §13).
   */
  duplicateRules: z.array(z.object({ name: z.string(), attributes: z.array(z.string()).min(1) })).optional(),
  /** Rows present at start (e.g. a currency). Same JSON as a Web API create body, with the primary id. */
  rows: z.array(z.record(z.string(), z.unknown())).optional(),
  /**
   * EntityMetadata.TableType: "Elastic" tables (Azure Cosmos DB backed) let a bulk message succeed for
   * some records and fail for others, and carry `partitionid`.
   */
  tableType: z.enum(['Standard', 'Elastic']).optional(),
  /**
   * File and image columns (FileAttributeMetadata / ImageAttributeMetadata). Their data is never part
   * of a create or update: it goes in through its own upload requests (reference §13). Each has a
   * read-only `<logicalName>_name` companion holding the file name.
   */
  fileColumns: z.array(fileColumn).optional(),
});

/** A many-to-many relationship, named and shaped as ManyToManyRelationshipMetadata names it. */
const manyToMany = z.object({
  schemaName: z.string(),
  entity1LogicalName: z.string(),
  entity2LogicalName: z.string(),
  intersectEntityName: z.string(),
  entity1IntersectAttribute: z.string(),
  entity2IntersectAttribute: z.string(),
  /** Collection-valued navigation property on entity 1 (defaults to the schema name). */
  entity1NavigationPropertyName: z.string().optional(),
  entity2NavigationPropertyName: z.string().optional(),
});

export const emulatorSchemaSchema = z.object({
  $schema: z.string().optional(),
  description: z.string().optional(),
  tables: z.array(table).min(1),
  manyToMany: z.array(manyToMany).optional(),
});

export type EmulatorSchema = z.input<typeof emulatorSchemaSchema>;
export type TableSpec = z.output<typeof table>;
export type AttributeSpec = z.output<typeof attribute>;
export type KeySpec = z.output<typeof key>;
export type OptionSpec = z.output<typeof option>;
export type ManyToManySpec = z.output<typeof manyToMany>;
export type FileColumnSpec = z.output<typeof fileColumn>;

/** Parses and checks a schema object (zod); throws with the offending path on error. */
export function parseSchema(input: unknown): z.output<typeof emulatorSchemaSchema> {
  const result = emulatorSchemaSchema.safeParse(input);
  if (!result.success) {
    throw new Error(`Invalid emulator schema: ${z.prettifyError(result.error)}`);
  }
  return result.data;
}

export function loadSchemaFile(path: string): z.output<typeof emulatorSchemaSchema> {
  return parseSchema(JSON.parse(readFileSync(path, 'utf8')));
}

/** JSON Schema of the schema-file format, for editors (`dvpipe emulator --print-schema-format`). */
export function schemaFormatJsonSchema(): unknown {
  return z.toJSONSchema(emulatorSchemaSchema, { io: 'input' });
}
