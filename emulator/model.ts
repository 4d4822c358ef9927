import { createHash } from 'node:crypto';
import type {
  AttributeSpec,
  AttributeType,
  KeySpec,
  ManyToManySpec,
  OptionSpec,
  TableSpec,
} from './schema/format.js';

export const LOOKUP_TYPES: ReadonlySet<AttributeType> = new Set(['Lookup', 'Customer', 'Owner']);

export interface Attribute {
  readonly logicalName: string;
  readonly schemaName: string;
  readonly displayName: string;
  readonly type: AttributeType;
  readonly spec: AttributeSpec;
  readonly isLookup: boolean;
  /** `_x_value` for lookups. */
  readonly valueName: string;
  readonly validForCreate: boolean;
  readonly validForUpdate: boolean;
  readonly validForRead: boolean;
  readonly options: ReadonlyMap<number, OptionSpec>;
  readonly targets: readonly string[];
  /** target logical name -> navigation property */
  readonly navByTarget: ReadonlyMap<string, string>;
  readonly metadataId: string;
}

export interface NavigationProperty {
  readonly name: string;
  readonly attribute: Attribute;
  /** Allowed targets through this navigation property (one for Customer navs, all for Owner). */
  readonly targets: readonly string[];
}

export interface AlternateKey {
  readonly logicalName: string;
  readonly schemaName: string;
  readonly attributes: readonly Attribute[];
  readonly metadataId: string;
}

export interface Table {
  readonly logicalName: string;
  readonly schemaName: string;
  readonly entitySetName: string;
  readonly spec: TableSpec;
  readonly primaryId: Attribute;
  readonly primaryName: string;
  readonly attributes: readonly Attribute[];
  /** Structural (non-lookup) attributes by logical name. */
  readonly structural: ReadonlyMap<string, Attribute>;
  /** Every attribute by logical name. */
  readonly byName: ReadonlyMap<string, Attribute>;
  /** Lookups by their `_x_value` name. */
  readonly byValueName: ReadonlyMap<string, Attribute>;
  readonly navigation: ReadonlyMap<string, NavigationProperty>;
  readonly keys: readonly AlternateKey[];
  readonly changeTracking: boolean;
  readonly metadataId: string;
  readonly typeName: string;
}

/** Stable GUID from a text: metadata ids and per-user systemuser ids stay the same across runs. */
export function stableGuid(text: string): string {
  const h = createHash('sha1').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function pascal(name: string): string {
  return name
    .split('_')
    .map((p) => (p ? p[0]!.toUpperCase() + p.slice(1) : p))
    .join('_');
}

function buildAttribute(table: TableSpec, spec: AttributeSpec): Attribute {
  const isLookup = LOOKUP_TYPES.has(spec.type);
  const targets = spec.targets ?? [];
  const navByTarget = new Map<string, string>();
  if (isLookup) {
    for (const target of targets) {
      const nav =
        spec.navigation?.[target] ??
        (spec.type === 'Owner' || targets.length === 1 ? spec.logicalName : `${spec.logicalName}_${target}`);
      navByTarget.set(target, nav);
    }
  }
  const options = new Map<number, OptionSpec>();
  for (const o of spec.options ?? []) options.set(o.value, o);
  return {
    logicalName: spec.logicalName,
    schemaName: spec.schemaName ?? pascal(spec.logicalName),
    displayName: spec.displayName ?? pascal(spec.logicalName).replace(/_/g, ' '),
    type: spec.type,
    spec,
    isLookup,
    valueName: isLookup ? `_${spec.logicalName}_value` : spec.logicalName,
    validForCreate: spec.validForCreate ?? true,
    validForUpdate: spec.validForUpdate ?? true,
    validForRead: spec.validForRead ?? true,
    options,
    targets,
    navByTarget,
    metadataId: stableGuid(`attr:${table.logicalName}.${spec.logicalName}`),
  };
}

function buildTable(spec: TableSpec): Table {
  const attributes = spec.attributes.map((a) => buildAttribute(spec, a));
  const byName = new Map(attributes.map((a) => [a.logicalName, a]));
  const primaryId = byName.get(spec.primaryIdAttribute);
  if (!primaryId || primaryId.type !== 'Uniqueidentifier') {
    throw new Error(
      `Table ${spec.logicalName}: primaryIdAttribute ${spec.primaryIdAttribute} must be a Uniqueidentifier attribute`,
    );
  }
  const structural = new Map(attributes.filter((a) => !a.isLookup).map((a) => [a.logicalName, a]));
  const byValueName = new Map(attributes.filter((a) => a.isLookup).map((a) => [a.valueName, a]));
  const navigation = new Map<string, NavigationProperty>();
  for (const a of attributes) {
    if (!a.isLookup) continue;
    if (a.type === 'Owner') {
      navigation.set(a.navByTarget.values().next().value ?? a.logicalName, {
        name: a.navByTarget.values().next().value ?? a.logicalName,
        attribute: a,
        targets: a.targets,
      });
      continue;
    }
    for (const [target, nav] of a.navByTarget) {
      const existing = navigation.get(nav);
      navigation.set(nav, {
        name: nav,
        attribute: a,
        targets: existing ? [...existing.targets, target] : [target],
      });
    }
  }
  const keys = (spec.keys ?? []).map((k: KeySpec) => ({
    logicalName: k.logicalName,
    schemaName: k.schemaName ?? k.logicalName,
    attributes: k.keyAttributes.map((name) => {
      const a = byName.get(name);
      if (!a)
        throw new Error(`Table ${spec.logicalName}: key ${k.logicalName} names unknown attribute ${name}`);
      return a;
    }),
    metadataId: stableGuid(`key:${spec.logicalName}.${k.logicalName}`),
  }));
  if (!byName.has(spec.primaryNameAttribute)) {
    throw new Error(
      `Table ${spec.logicalName}: primaryNameAttribute ${spec.primaryNameAttribute} is not an attribute`,
    );
  }
  return {
    logicalName: spec.logicalName,
    schemaName: spec.schemaName ?? pascal(spec.logicalName),
    entitySetName: spec.entitySetName,
    spec,
    primaryId,
    primaryName: spec.primaryNameAttribute,
    attributes,
    structural,
    byName,
    byValueName,
    navigation,
    keys,
    changeTracking: spec.changeTracking ?? true,
    metadataId: stableGuid(`table:${spec.logicalName}`),
    typeName: `Microsoft.Dynamics.CRM.${spec.logicalName}`,
  };
}

/** A many-to-many relationship as seen from one of its tables (its collection-valued navigation property). */
export interface ManyToManySide {
  readonly relationship: ManyToManySpec;
  readonly metadataId: string;
  /** The table the navigation property is on, and the table at the other end. */
  readonly table: Table;
  readonly other: Table;
  readonly navigationProperty: string;
  /** True when `table` is entity 1 (pairs are stored as entity 1 id, entity 2 id). */
  readonly isEntity1: boolean;
}

/** The schema in the shape the emulator reads it: indexed by logical name and entity set name. */
export class Model {
  readonly tables: readonly Table[];
  readonly manyToMany: readonly ManyToManySpec[];
  private readonly byLogical = new Map<string, Table>();
  private readonly bySet = new Map<string, Table>();
  /** `table|navigation property` -> side. */
  private readonly sides = new Map<string, ManyToManySide>();

  constructor(specs: readonly TableSpec[], manyToMany: readonly ManyToManySpec[] = []) {
    this.tables = specs.map(buildTable);
    for (const t of this.tables) {
      this.byLogical.set(t.logicalName, t);
      this.bySet.set(t.entitySetName, t);
    }
    for (const t of this.tables) {
      for (const a of t.attributes) {
        for (const target of a.targets) {
          if (!this.byLogical.has(target)) {
            throw new Error(
              `Table ${t.logicalName}: lookup ${a.logicalName} targets unknown table ${target}`,
            );
          }
        }
      }
    }
    this.manyToMany = manyToMany;
    for (const r of manyToMany) {
      const one = this.byLogical.get(r.entity1LogicalName);
      const two = this.byLogical.get(r.entity2LogicalName);
      if (!one || !two) {
        throw new Error(`Relationship ${r.schemaName} names an unknown table`);
      }
      const metadataId = stableGuid(`relationship:${r.schemaName}`);
      const nav1 = r.entity1NavigationPropertyName ?? r.schemaName;
      const nav2 = r.entity2NavigationPropertyName ?? r.schemaName;
      this.sides.set(`${one.logicalName}|${nav1}`, {
        relationship: r,
        metadataId,
        table: one,
        other: two,
        navigationProperty: nav1,
        isEntity1: true,
      });
      this.sides.set(`${two.logicalName}|${nav2}`, {
        relationship: r,
        metadataId,
        table: two,
        other: one,
        navigationProperty: nav2,
        isEntity1: false,
      });
    }
  }

  /** The many-to-many relationship a table reaches through a collection-valued navigation property. */
  manyToManySide(table: Table, navigationProperty: string): ManyToManySide | undefined {
    return this.sides.get(`${table.logicalName}|${navigationProperty}`);
  }

  /** Every many-to-many relationship a table takes part in, from its side. */
  manyToManyOf(table: Table): ManyToManySide[] {
    return [...this.sides.values()].filter((s) => s.table === table);
  }

  table(logicalName: string): Table | undefined {
    return this.byLogical.get(logicalName);
  }

  tableBySet(entitySetName: string): Table | undefined {
    return this.bySet.get(entitySetName);
  }

  /** Accepts a logical name or an entity set name (inspection helpers). */
  resolve(name: string): Table | undefined {
    return this.byLogical.get(name) ?? this.bySet.get(name);
  }
}
