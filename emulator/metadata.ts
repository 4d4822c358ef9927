import { errors } from './errors.js';
import {
  stableGuid,
  type AlternateKey,
  type Attribute,
  type ManyToManySide,
  type Model,
  type Table,
} from './model.js';
import { compileFilter, parseFilter, pathResolver } from './odata/filter.js';
import { splitExpand } from './query.js';
import type { AttributeType, FileColumnSpec } from './schema/format.js';

// EntityDefinitions endpoints (reference §1): entity, Attributes with typed casts, OptionSet expansion, Keys.

type Json = Record<string, unknown>;

const CAST: Record<AttributeType, string> = {
  String: 'StringAttributeMetadata',
  Memo: 'MemoAttributeMetadata',
  Integer: 'IntegerAttributeMetadata',
  BigInt: 'BigIntAttributeMetadata',
  Decimal: 'DecimalAttributeMetadata',
  Double: 'DoubleAttributeMetadata',
  Money: 'MoneyAttributeMetadata',
  Boolean: 'BooleanAttributeMetadata',
  DateTime: 'DateTimeAttributeMetadata',
  Picklist: 'PicklistAttributeMetadata',
  MultiSelectPicklist: 'MultiSelectPicklistAttributeMetadata',
  State: 'StateAttributeMetadata',
  Status: 'StatusAttributeMetadata',
  Lookup: 'LookupAttributeMetadata',
  Customer: 'LookupAttributeMetadata',
  Owner: 'LookupAttributeMetadata',
  Uniqueidentifier: 'UniqueIdentifierAttributeMetadata',
  EntityName: 'EntityNameAttributeMetadata',
};
/** File and image columns are not attributes of the model: they answer their own casts. */
const FILE_CASTS: Readonly<Record<string, 'File' | 'Image'>> = {
  FileAttributeMetadata: 'File',
  ImageAttributeMetadata: 'Image',
};
const KNOWN_CASTS = new Set([...Object.values(CAST), ...Object.keys(FILE_CASTS)]);

export function label(text: string): Json {
  const localized = {
    Label: text,
    LanguageCode: 1033,
    IsManaged: false,
    MetadataId: stableGuid(`label:${text}`),
    HasChanged: null,
  };
  return { LocalizedLabels: [localized], UserLocalizedLabel: localized };
}

function optionSet(table: Table, attr: Attribute): Json {
  const base = {
    MetadataId: stableGuid(`optionset:${table.logicalName}.${attr.logicalName}`),
    Name: `${table.logicalName}_${attr.logicalName}`,
    IsGlobal: false,
    IsCustomOptionSet: table.spec.isCustomEntity ?? false,
    DisplayName: label(attr.displayName),
  };
  const option = (value: number, text: string, extra: Json = {}) => ({
    Value: value,
    Color: null,
    IsManaged: false,
    ExternalValue: null,
    Label: label(text),
    Description: label(''),
    ...extra,
  });
  if (attr.type === 'Boolean') {
    return {
      ...base,
      OptionSetType: 'Boolean',
      TrueOption: option(1, attr.options.get(1)?.label ?? 'Yes'),
      FalseOption: option(0, attr.options.get(0)?.label ?? 'No'),
    };
  }
  const type = attr.type === 'MultiSelectPicklist' ? 'Picklist' : attr.type;
  return {
    ...base,
    OptionSetType: type,
    Options: [...attr.options.values()].map((o) =>
      option(
        o.value,
        o.label,
        attr.type === 'Status'
          ? { State: o.state ?? 0 }
          : attr.type === 'State'
            ? { DefaultStatus: o.value + 1, InvariantName: o.label }
            : {},
      ),
    ),
  };
}

const TYPE_NAME: Partial<Record<AttributeType, string>> = {
  Uniqueidentifier: 'UniqueidentifierType',
};

export function attributeMetadata(table: Table, attr: Attribute): Json {
  const spec = attr.spec;
  const out: Json = {
    '@odata.type': `#Microsoft.Dynamics.CRM.${CAST[attr.type]}`,
    MetadataId: attr.metadataId,
    LogicalName: attr.logicalName,
    SchemaName: attr.schemaName,
    EntityLogicalName: table.logicalName,
    AttributeType: attr.type === 'MultiSelectPicklist' ? 'Virtual' : attr.type,
    AttributeTypeName: { Value: TYPE_NAME[attr.type] ?? `${attr.type}Type` },
    AttributeOf: null,
    IsPrimaryId: attr === table.primaryId,
    IsPrimaryName: attr.logicalName === table.primaryName,
    IsCustomAttribute: attr.logicalName.includes('_') && (table.spec.isCustomEntity ?? false),
    IsValidForCreate: attr.validForCreate,
    IsValidForUpdate: attr.validForUpdate,
    IsValidForRead: attr.validForRead,
    RequiredLevel: {
      Value: spec.requiredLevel ?? 'None',
      CanBeChanged: true,
      ManagedPropertyLogicalName: 'canmodifyrequirementlevelsettings',
    },
    DisplayName: label(attr.displayName),
    Description: label(''),
  };
  switch (attr.type) {
    case 'String':
    case 'Memo':
      out.MaxLength = spec.maxLength ?? (attr.type === 'Memo' ? 1048576 : 4000);
      out.Format = spec.format ?? (attr.type === 'Memo' ? 'TextArea' : 'Text');
      if (attr.type === 'String') out.FormatName = { Value: spec.format ?? 'Text' };
      out.DatabaseLength = Number(out.MaxLength) * 2;
      break;
    case 'Integer':
      out.MinValue = spec.minValue ?? -2147483648;
      out.MaxValue = spec.maxValue ?? 2147483647;
      out.Format = 'None';
      break;
    case 'BigInt':
      out.MinValue = spec.minValue ?? Number.MIN_SAFE_INTEGER;
      out.MaxValue = spec.maxValue ?? Number.MAX_SAFE_INTEGER;
      break;
    case 'Decimal':
    case 'Double':
    case 'Money':
      out.MinValue = spec.minValue ?? (attr.type === 'Money' ? -922337203685477 : -100000000000);
      out.MaxValue = spec.maxValue ?? (attr.type === 'Money' ? 922337203685477 : 100000000000);
      out.Precision = spec.precision ?? 2;
      if (attr.type === 'Money') out.PrecisionSource = 2;
      break;
    case 'DateTime':
      out.Format = spec.format ?? (spec.dateTimeBehavior === 'DateOnly' ? 'DateOnly' : 'DateAndTime');
      out.DateTimeBehavior = { Value: spec.dateTimeBehavior ?? 'UserLocal' };
      break;
    case 'Picklist':
    case 'MultiSelectPicklist':
    case 'State':
    case 'Status':
      out.DefaultFormValue = typeof spec.default === 'number' ? spec.default : -1;
      break;
    case 'Boolean':
      out.DefaultValue = spec.default === true;
      break;
    case 'Lookup':
    case 'Customer':
    case 'Owner':
      out.Targets = [...attr.targets];
      break;
    default:
      break;
  }
  return out;
}

function keyMetadata(table: Table, key: AlternateKey): Json {
  return {
    MetadataId: key.metadataId,
    LogicalName: key.logicalName,
    SchemaName: key.schemaName,
    EntityLogicalName: table.logicalName,
    KeyAttributes: key.attributes.map((a) => a.logicalName),
    EntityKeyIndexStatus: 'Active',
    DisplayName: label(key.schemaName),
  };
}

function entityMetadata(table: Table): Json {
  const s = table.spec;
  return {
    MetadataId: table.metadataId,
    LogicalName: table.logicalName,
    SchemaName: table.schemaName,
    EntitySetName: table.entitySetName,
    LogicalCollectionName: table.entitySetName,
    CollectionSchemaName: `${table.schemaName}s`,
    PrimaryIdAttribute: table.primaryId.logicalName,
    PrimaryNameAttribute: table.primaryName,
    ObjectTypeCode: s.objectTypeCode ?? null,
    OwnershipType: s.ownershipType ?? 'UserOwned',
    IsCustomEntity: s.isCustomEntity ?? false,
    IsActivity: false,
    ChangeTrackingEnabled: table.changeTracking,
    TableType: s.tableType ?? 'Standard',
    DisplayName: label(s.displayName ?? table.schemaName),
    DisplayCollectionName: label(s.displayCollectionName ?? `${s.displayName ?? table.schemaName}s`),
  };
}

/** ManyToManyRelationshipMetadata (the properties Dataverse names, for the relationship's two sides). */
function manyToManyMetadata(side: ManyToManySide): Json {
  const r = side.relationship;
  return {
    MetadataId: side.metadataId,
    SchemaName: r.schemaName,
    RelationshipType: 'ManyToManyRelationship',
    IsCustomRelationship: false,
    Entity1LogicalName: r.entity1LogicalName,
    Entity2LogicalName: r.entity2LogicalName,
    IntersectEntityName: r.intersectEntityName,
    Entity1IntersectAttribute: r.entity1IntersectAttribute,
    Entity2IntersectAttribute: r.entity2IntersectAttribute,
    Entity1NavigationPropertyName: r.entity1NavigationPropertyName ?? r.schemaName,
    Entity2NavigationPropertyName: r.entity2NavigationPropertyName ?? r.schemaName,
  };
}

function nestedParams(options: string): URLSearchParams {
  return new URLSearchParams(options.replace(/;/g, '&'));
}

/** Applies $filter then $select (MetadataId always kept) to metadata objects. */
function shape(items: Json[], params: URLSearchParams, typeName: string): Json[] {
  const filter = params.get('$filter');
  let out = items;
  if (filter) {
    const pred = compileFilter(parseFilter(filter), pathResolver);
    out = out.filter(pred);
  }
  const select = params.get('$select');
  if (select) {
    const names = select.split(',').map((s) => s.trim());
    out = out.map((item) => {
      const picked: Json = {};
      if (item['@odata.type'] !== undefined) picked['@odata.type'] = item['@odata.type'];
      for (const n of names) {
        if (!(n in item)) throw errors.uriProperty(typeName, n);
        picked[n] = item[n];
      }
      picked.MetadataId = item.MetadataId;
      return picked;
    });
  }
  return out;
}

interface Segment {
  readonly name: string;
  readonly key?: string;
}

function parseSegments(path: string): Segment[] {
  return path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      const m = /^([^()]+)(?:\((.*)\))?$/.exec(s);
      if (!m) throw errors.segment(s);
      return m[2] === undefined ? { name: m[1]! } : { name: m[1]!, key: m[2] };
    });
}

function keyName(key: string): string {
  const m = /^(?:LogicalName=)?'([^']*)'$/.exec(key.trim());
  return m ? m[1]! : key.trim().toLowerCase();
}

function findTable(model: Model, key: string): Table {
  const name = keyName(key);
  const table = model.table(name) ?? model.tables.find((t) => t.metadataId === name);
  if (!table) throw errors.segment(`EntityDefinitions(${key})`);
  return table;
}

/** FileAttributeMetadata / ImageAttributeMetadata: AttributeType Virtual, named by AttributeTypeName. */
function fileColumnMetadata(table: Table, f: FileColumnSpec): Json {
  return {
    '@odata.type': `#Microsoft.Dynamics.CRM.${f.kind}AttributeMetadata`,
    MetadataId: stableGuid(`attr:${table.logicalName}.${f.logicalName}`),
    LogicalName: f.logicalName,
    SchemaName: f.schemaName ?? f.logicalName,
    EntityLogicalName: table.logicalName,
    AttributeType: 'Virtual',
    AttributeTypeName: { Value: f.kind === 'File' ? 'FileType' : 'ImageType' },
    AttributeOf: null,
    IsPrimaryId: false,
    IsPrimaryName: false,
    IsCustomAttribute: table.spec.isCustomEntity ?? false,
    IsValidForCreate: false,
    IsValidForUpdate: false,
    IsValidForRead: true,
    RequiredLevel: {
      Value: 'None',
      CanBeChanged: true,
      ManagedPropertyLogicalName: 'canmodifyrequirementlevelsettings',
    },
    MaxSizeInKB: f.maxSizeInKB,
    DisplayName: label(f.schemaName ?? f.logicalName),
    Description: label(''),
  };
}

function attributesOf(table: Table, params: URLSearchParams, cast?: string): Json[] {
  let attrs = table.attributes;
  if (cast) attrs = attrs.filter((a) => CAST[a.type] === cast);
  const items = attrs.map((a) => attributeMetadata(table, a));
  // File and image columns: in the plain list, and each kind under its own cast.
  const fileKind = cast ? FILE_CASTS[cast] : undefined;
  const files = (table.spec.fileColumns ?? []).filter((f) => !cast || f.kind === fileKind);
  items.push(...files.map((f) => fileColumnMetadata(table, f)));
  const shaped = shape(items, params, `Microsoft.Dynamics.CRM.${cast ?? 'AttributeMetadata'}`);
  const expand = params.get('$expand');
  if (expand) {
    for (const e of splitExpand(expand)) {
      if (e.name !== 'OptionSet' && e.name !== 'GlobalOptionSet')
        throw errors.uriProperty('Microsoft.Dynamics.CRM.AttributeMetadata', e.name);
      for (const item of shaped) {
        const attr = table.attributes.find((a) => a.metadataId === item.MetadataId);
        const hasOptions =
          attr && ['Picklist', 'MultiSelectPicklist', 'State', 'Status', 'Boolean'].includes(attr.type);
        item[e.name] = e.name === 'OptionSet' && attr && hasOptions ? optionSet(table, attr) : null;
      }
    }
  }
  return shaped;
}

function entityWithExpand(table: Table, params: URLSearchParams): Json {
  const [item] = shape([entityMetadata(table)], params, 'Microsoft.Dynamics.CRM.EntityMetadata');
  const out = item!;
  const expand = params.get('$expand');
  if (expand) {
    for (const e of splitExpand(expand)) {
      const nested = nestedParams(e.options);
      if (e.name === 'Attributes') out.Attributes = attributesOf(table, nested);
      else if (e.name === 'Keys')
        out.Keys = shape(
          table.keys.map((k) => keyMetadata(table, k)),
          nested,
          'Microsoft.Dynamics.CRM.EntityKeyMetadata',
        );
      else throw errors.uriProperty('Microsoft.Dynamics.CRM.EntityMetadata', e.name);
    }
  }
  return out;
}

/** Answers GET `EntityDefinitions...`; `path` is the part after the API root. */
export function metadataRequest(model: Model, apiRoot: string, path: string, params: URLSearchParams): Json {
  const segs = parseSegments(path);
  const ctx = `${apiRoot}$metadata#`;
  const [root, second, third, fourth] = segs;
  if (!root || root.name !== 'EntityDefinitions') throw errors.segment(path);
  if (root.key === undefined) {
    if (second) throw errors.segment(second.name);
    return { '@odata.context': `${ctx}EntityDefinitions`, value: shapeAll(model, params) };
  }
  const table = findTable(model, root.key);
  if (!second)
    return { '@odata.context': `${ctx}EntityDefinitions/$entity`, ...entityWithExpand(table, params) };
  if (second.name === 'Keys') {
    const keys = table.keys.map((k) => keyMetadata(table, k));
    if (second.key !== undefined) {
      const k = keys.find(
        (x) => x.LogicalName === keyName(second.key!) || x.MetadataId === keyName(second.key!),
      );
      if (!k) throw errors.segment(`Keys(${second.key})`);
      return {
        '@odata.context': `${ctx}EntityDefinitions(${table.metadataId})/Keys/$entity`,
        ...shape([k], params, 'Microsoft.Dynamics.CRM.EntityKeyMetadata')[0],
      };
    }
    return {
      '@odata.context': `${ctx}EntityDefinitions(${table.metadataId})/Keys`,
      value: shape(keys, params, 'Microsoft.Dynamics.CRM.EntityKeyMetadata'),
    };
  }
  if (second.name === 'ManyToManyRelationships') {
    if (second.key !== undefined || third) throw errors.segment(path);
    return {
      '@odata.context': `${ctx}EntityDefinitions(${table.metadataId})/ManyToManyRelationships`,
      value: shape(
        model.manyToManyOf(table).map(manyToManyMetadata),
        params,
        'Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata',
      ),
    };
  }
  if (second.name !== 'Attributes') throw errors.segment(second.name);
  const castOf = (seg: Segment | undefined): string | undefined => {
    if (!seg) return undefined;
    const m = /^Microsoft\.Dynamics\.CRM\.(\w+)$/.exec(seg.name);
    if (!m || !KNOWN_CASTS.has(m[1]!)) {
      throw errors.uri(
        `The type '${seg.name}' is not a valid cast for Attributes. Cast to a derived type such as Microsoft.Dynamics.CRM.PicklistAttributeMetadata.`,
      );
    }
    return m[1]!;
  };
  if (second.key !== undefined) {
    const name = keyName(second.key);
    const attr = table.attributes.find((a) => a.logicalName === name || a.metadataId === name);
    if (!attr) throw errors.segment(`Attributes(${second.key})`);
    const cast = castOf(third);
    if (cast && CAST[attr.type] !== cast) throw errors.segment(third!.name);
    if (fourth) throw errors.segment(fourth.name);
    const [item] = attributesOf(table, params, cast).filter((i) => i.MetadataId === attr.metadataId);
    return { '@odata.context': `${ctx}EntityDefinitions(${table.metadataId})/Attributes/$entity`, ...item };
  }
  const cast = castOf(third);
  if (fourth) throw errors.segment(fourth.name);
  return {
    '@odata.context': `${ctx}EntityDefinitions(${table.metadataId})/Attributes${cast ? `/Microsoft.Dynamics.CRM.${cast}` : ''}`,
    value: attributesOf(table, params, cast),
  };
}

function shapeAll(model: Model, params: URLSearchParams): Json[] {
  const filter = params.get('$filter');
  const entities = model.tables.map((t) => ({ table: t, json: entityMetadata(t) }));
  const kept = filter
    ? entities.filter((e) => compileFilter(parseFilter(filter), pathResolver)(e.json))
    : entities;
  const rest = new URLSearchParams(params);
  rest.delete('$filter');
  return kept.map((e) => entityWithExpand(e.table, rest));
}
