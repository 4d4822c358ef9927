// Table metadata from EntityDefinitions, cached per process (metadata changes need a restart, as in Dataverse caches).
import { parseJson, type ApiSender } from './api.js';
import { DataverseError, isDataverseError } from './errors.js';
import type {
  AlternateKey,
  AttributeMetadata,
  AttributeType,
  ChoiceOption,
  DateTimeBehavior,
  ManyToManyRelationship,
  NavigationProperty,
  TableMetadata,
} from './model.js';

/** What record operations need: where the table lives and its primary key. */
export interface EntityInfo {
  readonly logicalName: string;
  readonly entitySetName: string;
  readonly primaryIdAttribute: string;
  readonly primaryNameAttribute: string;
  readonly changeTrackingEnabled: boolean;
  /** `Standard`, `Elastic` or `Virtual`; undefined when the server does not say. */
  readonly tableType?: string;
}

const entityCache = new Map<string, Promise<EntityInfo>>();
const tableCache = new Map<string, Promise<TableMetadata>>();

/** Forgets cached metadata (after a schema change in tests or long-lived processes). */
export function clearMetadataCache(): void {
  entityCache.clear();
  tableCache.clear();
}

function cached<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  let p = cache.get(key);
  if (!p) {
    p = load();
    cache.set(key, p);
    // A failed load is not remembered: the next caller tries again.
    p.catch(() => cache.delete(key));
  }
  return p;
}

function definition(table: string): string {
  return `EntityDefinitions(LogicalName='${table.replace(/'/g, "''")}')`;
}

async function get<T>(api: ApiSender, path: string, query: Record<string, string>): Promise<T> {
  const res = await api.send({ method: 'GET', path, query, idempotent: true });
  return parseJson<T>(res) as T;
}

interface RawEntity {
  LogicalName: string;
  EntitySetName: string;
  PrimaryIdAttribute: string;
  PrimaryNameAttribute?: string | null;
  ChangeTrackingEnabled?: boolean | null;
  TableType?: string | null;
}

export function entityInfo(api: ApiSender, table: string): Promise<EntityInfo> {
  return cached(entityCache, `${api.apiRoot}|${table}`, async () => {
    let raw: RawEntity;
    try {
      raw = await get<RawEntity>(api, definition(table), {
        $select:
          'LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,ChangeTrackingEnabled,TableType',
      });
    } catch (error) {
      if (isDataverseError(error) && error.status === 404) throw await notATable(api, table, error);
      throw error;
    }
    return {
      logicalName: raw.LogicalName,
      entitySetName: raw.EntitySetName,
      primaryIdAttribute: raw.PrimaryIdAttribute,
      primaryNameAttribute: raw.PrimaryNameAttribute ?? '',
      changeTrackingEnabled: raw.ChangeTrackingEnabled === true,
      ...(raw.TableType ? { tableType: raw.TableType } : {}),
    };
  });
}

/**
 * A table named by its entity set name (`contacts`, as in Web API URLs) instead of its logical name
 * (`contact`) is the common slip: when a singular form of the name is a table whose entity set name
 * is the name given, say so.
 */
async function notATable(api: ApiSender, table: string, error: DataverseError): Promise<DataverseError> {
  const candidates = [
    ...(table.endsWith('ies') ? [`${table.slice(0, -3)}y`] : []),
    ...(table.endsWith('es') ? [table.slice(0, -2)] : []),
    ...(table.endsWith('s') ? [table.slice(0, -1)] : []),
  ];
  for (const candidate of candidates) {
    try {
      const raw = await get<RawEntity>(api, definition(candidate), { $select: 'LogicalName,EntitySetName' });
      if (raw.EntitySetName === table) {
        return new DataverseError({
          status: 404,
          code: error.code,
          message:
            `There is no table '${table}'. Did you mean '${raw.LogicalName}'? Jobs name a table by its logical ` +
            `name; '${table}' is its entity set name (the plural in Web API URLs).`,
          cause: error,
        });
      }
    } catch (inner) {
      if (!isDataverseError(inner) || inner.status !== 404) throw inner;
    }
  }
  return new DataverseError({
    status: 404,
    code: error.code,
    message: `There is no table '${table}' (tables are named by their logical name, e.g. 'contact'): ${error.message}`,
    cause: error,
  });
}

interface Label {
  UserLocalizedLabel?: { Label?: string } | null;
  LocalizedLabels?: readonly { Label?: string }[];
}
interface RawOption {
  Value: number;
  Label?: Label | null;
  /** Status options: the state they belong to. */
  State?: number | null;
  /** State options: the status a record gets in that state by default. */
  DefaultStatus?: number | null;
}
interface RawAttribute {
  LogicalName: string;
  SchemaName?: string;
  AttributeType?: string;
  AttributeTypeName?: { Value?: string } | null;
  RequiredLevel?: { Value?: string } | null;
  IsValidForCreate?: boolean | null;
  IsValidForUpdate?: boolean | null;
  IsValidForRead?: boolean | null;
  MaxLength?: number | null;
  MinValue?: number | null;
  MaxValue?: number | null;
  Precision?: number | null;
  MaxSizeInKB?: number | null;
  Format?: string | null;
  DateTimeBehavior?: { Value?: string } | null;
  Targets?: readonly string[] | null;
  OptionSet?: { Options?: readonly RawOption[]; TrueOption?: RawOption; FalseOption?: RawOption } | null;
  GlobalOptionSet?: { Options?: readonly RawOption[] } | null;
}
interface RawKey {
  LogicalName: string;
  KeyAttributes: readonly string[];
  EntityKeyIndexStatus?: string | null;
}
interface RawManyToMany {
  SchemaName: string;
  Entity1LogicalName: string;
  Entity2LogicalName: string;
  Entity1NavigationPropertyName?: string | null;
  Entity2NavigationPropertyName?: string | null;
  IntersectEntityName?: string | null;
}
interface RawRelationship {
  ReferencingAttribute: string;
  ReferencedEntity: string;
  ReferencingEntityNavigationPropertyName: string;
}

const typeNames: Readonly<Record<string, AttributeType>> = {
  StringType: 'String',
  MemoType: 'Memo',
  IntegerType: 'Integer',
  BigIntType: 'BigInt',
  DecimalType: 'Decimal',
  DoubleType: 'Double',
  MoneyType: 'Money',
  BooleanType: 'Boolean',
  DateTimeType: 'DateTime',
  PicklistType: 'Picklist',
  MultiSelectPicklistType: 'MultiSelectPicklist',
  StateType: 'State',
  StatusType: 'Status',
  LookupType: 'Lookup',
  CustomerType: 'Customer',
  OwnerType: 'Owner',
  UniqueidentifierType: 'Uniqueidentifier',
  FileType: 'File',
  ImageType: 'Image',
};

export function attributeType(raw: Pick<RawAttribute, 'AttributeType' | 'AttributeTypeName'>): AttributeType {
  const byName = raw.AttributeTypeName?.Value ? typeNames[raw.AttributeTypeName.Value] : undefined;
  if (byName) return byName;
  const byType = raw.AttributeType ? typeNames[`${raw.AttributeType}Type`] : undefined;
  return byType ?? 'Other';
}

function labelOf(option: RawOption): string {
  const l = option.Label;
  return l?.UserLocalizedLabel?.Label ?? l?.LocalizedLabels?.[0]?.Label ?? String(option.Value);
}

const requiredLevels = new Set(['None', 'SystemRequired', 'ApplicationRequired', 'Recommended']);
const behaviors = new Set(['UserLocal', 'DateOnly', 'TimeZoneIndependent']);

/** Type-specific details come from cast segments, one per metadata type, as the Web API requires. */
const casts: readonly { type: string; query: Record<string, string> }[] = [
  { type: 'StringAttributeMetadata', query: { $select: 'LogicalName,MaxLength' } },
  { type: 'MemoAttributeMetadata', query: { $select: 'LogicalName,MaxLength' } },
  { type: 'IntegerAttributeMetadata', query: { $select: 'LogicalName,MinValue,MaxValue' } },
  { type: 'BigIntAttributeMetadata', query: { $select: 'LogicalName,MinValue,MaxValue' } },
  { type: 'DecimalAttributeMetadata', query: { $select: 'LogicalName,MinValue,MaxValue,Precision' } },
  { type: 'MoneyAttributeMetadata', query: { $select: 'LogicalName,MinValue,MaxValue,Precision' } },
  { type: 'DoubleAttributeMetadata', query: { $select: 'LogicalName,MinValue,MaxValue,Precision' } },
  { type: 'DateTimeAttributeMetadata', query: { $select: 'LogicalName,Format,DateTimeBehavior' } },
  { type: 'LookupAttributeMetadata', query: { $select: 'LogicalName,Targets' } },
  ...['Picklist', 'MultiSelectPicklist', 'State', 'Status'].map((t) => ({
    type: `${t}AttributeMetadata`,
    query: { $select: 'LogicalName', $expand: 'OptionSet($select=Options),GlobalOptionSet($select=Options)' },
  })),
  {
    type: 'BooleanAttributeMetadata',
    query: { $select: 'LogicalName', $expand: 'OptionSet($select=TrueOption,FalseOption)' },
  },
];

export function tableMetadata(api: ApiSender, table: string): Promise<TableMetadata> {
  return cached(tableCache, `${api.apiRoot}|${table}`, async () => {
    const def = definition(table);
    const [info, attrs, keys, relationships, manyToMany, ...details] = await Promise.all([
      entityInfo(api, table),
      get<{ value: RawAttribute[] }>(api, `${def}/Attributes`, {
        $select:
          'LogicalName,SchemaName,AttributeType,AttributeTypeName,RequiredLevel,IsValidForCreate,IsValidForUpdate,IsValidForRead',
      }),
      get<{ value: RawKey[] }>(api, `${def}/Keys`, {
        $select: 'LogicalName,SchemaName,KeyAttributes,EntityKeyIndexStatus',
      }),
      get<{ value: RawRelationship[] }>(api, `${def}/ManyToOneRelationships`, {
        $select: 'ReferencingAttribute,ReferencedEntity,ReferencingEntityNavigationPropertyName',
      }).catch((e: unknown) => {
        // Servers without relationship metadata (the local emulator): names are derived from the lookups.
        if (isDataverseError(e) && (e.status === 404 || e.status === 400)) return undefined;
        throw e;
      }),
      get<{ value: RawManyToMany[] }>(api, `${def}/ManyToManyRelationships`, {
        $select:
          'SchemaName,Entity1LogicalName,Entity2LogicalName,Entity1NavigationPropertyName,Entity2NavigationPropertyName,IntersectEntityName',
      }).catch((e: unknown) => {
        if (isDataverseError(e) && (e.status === 404 || e.status === 400)) return undefined;
        throw e;
      }),
      ...casts.map((c) =>
        get<{ value: RawAttribute[] }>(api, `${def}/Attributes/Microsoft.Dynamics.CRM.${c.type}`, c.query),
      ),
    ]).catch(async (e: unknown) => {
      // Any of the reads may fail first on a table that does not exist; entityInfo's error says why.
      if (isDataverseError(e) && e.status === 404) await entityInfo(api, table);
      throw e;
    });
    // File and image columns' size limits, read only for tables that have such columns.
    const fileKinds = [...new Set(attrs.value.map(attributeType))].filter(
      (t) => t === 'File' || t === 'Image',
    );
    const fileDetails = await Promise.all(
      fileKinds.map((kind) =>
        get<{ value: RawAttribute[] }>(
          api,
          `${def}/Attributes/Microsoft.Dynamics.CRM.${kind}AttributeMetadata`,
          {
            $select: 'LogicalName,MaxSizeInKB',
          },
        ),
      ),
    );
    const built = buildTableMetadata(
      info,
      attrs.value,
      [...details, ...fileDetails].flatMap((d) => d.value),
      keys.value,
      relationships?.value,
    );
    return manyToMany ? { ...built, manyToMany: manyToManyOf(info.logicalName, manyToMany.value) } : built;
  });
}

/** Pure assembly of the metadata answers into the model the mapping layer uses. */
export function buildTableMetadata(
  info: EntityInfo,
  attributes: readonly RawAttribute[],
  details: readonly RawAttribute[],
  keys: readonly RawKey[],
  relationships: readonly RawRelationship[] | undefined,
): TableMetadata {
  const extra = new Map<string, RawAttribute>();
  for (const d of details) extra.set(d.LogicalName, { ...extra.get(d.LogicalName), ...d });
  const map = new Map<string, AttributeMetadata>();
  for (const a of attributes) {
    const d = extra.get(a.LogicalName) ?? ({} as Partial<RawAttribute>);
    const type = attributeType(a);
    const level = a.RequiredLevel?.Value ?? 'None';
    const behavior = d.DateTimeBehavior?.Value;
    const options = optionsOf(type, d);
    map.set(a.LogicalName, {
      logicalName: a.LogicalName,
      schemaName: a.SchemaName ?? a.LogicalName,
      type,
      isValidForCreate: a.IsValidForCreate !== false,
      isValidForUpdate: a.IsValidForUpdate !== false,
      isValidForRead: a.IsValidForRead !== false,
      requiredLevel: (requiredLevels.has(level) ? level : 'None') as AttributeMetadata['requiredLevel'],
      ...(d.MaxLength != null ? { maxLength: d.MaxLength } : {}),
      ...(d.MinValue != null ? { minValue: d.MinValue } : {}),
      ...(d.MaxValue != null ? { maxValue: d.MaxValue } : {}),
      ...(d.Precision != null ? { precision: d.Precision } : {}),
      ...(d.MaxSizeInKB != null ? { maxSizeInKB: d.MaxSizeInKB } : {}),
      ...(behavior && behaviors.has(behavior) ? { dateTimeBehavior: behavior as DateTimeBehavior } : {}),
      ...(d.Format === 'DateOnly' || d.Format === 'DateAndTime' ? { dateTimeFormat: d.Format } : {}),
      ...(options ? { options } : {}),
      ...(d.Targets ? { targets: [...d.Targets] } : {}),
    });
  }
  const navigationProperties: NavigationProperty[] = relationships
    ? relationships
        .filter((r) => r.ReferencingEntityNavigationPropertyName)
        .map((r) => ({
          name: r.ReferencingEntityNavigationPropertyName,
          attribute: r.ReferencingAttribute,
          target: r.ReferencedEntity,
        }))
    : derivedNavigation([...map.values()]);
  const alternateKeys: AlternateKey[] = keys.map((k) => ({
    logicalName: k.LogicalName,
    keyAttributes: [...k.KeyAttributes],
    status: k.EntityKeyIndexStatus ?? 'Active',
  }));
  return {
    logicalName: info.logicalName,
    entitySetName: info.entitySetName,
    primaryIdAttribute: info.primaryIdAttribute,
    primaryNameAttribute: info.primaryNameAttribute,
    attributes: map,
    keys: alternateKeys,
    navigationProperties,
    changeTrackingEnabled: info.changeTrackingEnabled,
    ...(info.tableType ? { tableType: info.tableType } : {}),
  };
}

/** Each relationship from `table`'s side (a self-referencing one appears once per side). */
export function manyToManyOf(table: string, raw: readonly RawManyToMany[]): ManyToManyRelationship[] {
  const out: ManyToManyRelationship[] = [];
  for (const r of raw) {
    const sides: [string, string, string | null | undefined][] = [
      [r.Entity1LogicalName, r.Entity2LogicalName, r.Entity1NavigationPropertyName],
      [r.Entity2LogicalName, r.Entity1LogicalName, r.Entity2NavigationPropertyName],
    ];
    for (const [self, other, nav] of sides) {
      if (self !== table) continue;
      out.push({
        schemaName: r.SchemaName,
        navigationProperty: nav ?? r.SchemaName,
        relatedTable: other,
        intersectEntityName: r.IntersectEntityName ?? '',
      });
    }
  }
  return out;
}

/**
 * Dataverse's naming for lookups without relationship metadata: a single-target lookup (and Owner) is bound
 * through a property named like the attribute; a polymorphic one (Customer) through `<attribute>_<target>`.
 */
export function derivedNavigation(attributes: readonly AttributeMetadata[]): NavigationProperty[] {
  const out: NavigationProperty[] = [];
  for (const a of attributes) {
    const targets = a.targets ?? [];
    for (const target of targets) {
      const single = targets.length === 1 || a.type === 'Owner';
      out.push({
        name: single ? a.logicalName : `${a.logicalName}_${target}`,
        attribute: a.logicalName,
        target,
      });
    }
  }
  return out;
}

function optionsOf(type: AttributeType, d: Partial<RawAttribute>): ChoiceOption[] | undefined {
  if (type === 'Boolean') {
    const f = d.OptionSet?.FalseOption;
    const t = d.OptionSet?.TrueOption;
    if (!f || !t) return undefined;
    return [
      { value: 0, label: labelOf(f) },
      { value: 1, label: labelOf(t) },
    ];
  }
  const raw = d.OptionSet?.Options ?? d.GlobalOptionSet?.Options;
  return raw?.map((o) => ({
    value: o.Value,
    label: labelOf(o),
    ...(type === 'Status' && typeof o.State === 'number' ? { state: o.State } : {}),
    ...(type === 'State' && typeof o.DefaultStatus === 'number' ? { defaultStatus: o.DefaultStatus } : {}),
  }));
}
