import type { Attribute, Model, NavigationProperty, Table } from './model.js';
import { etagOf } from './records.js';
import type { Store } from './store.js';
import { isLookupRef, jsonValue, type Row, type StoredValue } from './values.js';

export const FORMATTED = 'OData.Community.Display.V1.FormattedValue';
export const LOOKUP_LOGICAL_NAME = 'Microsoft.Dynamics.CRM.lookuplogicalname';
export const ASSOCIATED_NAV = 'Microsoft.Dynamics.CRM.associatednavigationproperty';

/** Which annotations `Prefer: odata.include-annotations="..."` asked for. */
export class AnnotationFilter {
  private constructor(private readonly patterns: readonly string[]) {}

  static none = new AnnotationFilter([]);

  static fromPrefer(prefer: readonly string[]): { filter: AnnotationFilter; applied?: string } {
    for (const p of prefer) {
      const m = /^odata\.include-annotations\s*=\s*"?([^"]*)"?$/i.exec(p);
      if (m) {
        const raw = m[1]!;
        return {
          filter: new AnnotationFilter(raw.split(',').map((s) => s.trim())),
          applied: `odata.include-annotations="${raw}"`,
        };
      }
    }
    return { filter: AnnotationFilter.none };
  }

  wants(name: string): boolean {
    for (const p of this.patterns) {
      if (p === '*' || p === name) return true;
      if (p.endsWith('.*') && name.startsWith(p.slice(0, -1))) return true;
    }
    return false;
  }

  get any(): boolean {
    return this.patterns.length > 0;
  }
}

const usDate = (iso: string): string => {
  const [y, m, d] = iso.slice(0, 10).split('-').map(Number);
  return `${m}/${d}/${y}`;
};

function usDateTime(iso: string): string {
  const hours = Number(iso.slice(11, 13));
  const minutes = iso.slice(14, 16);
  const h12 = hours % 12 === 0 ? 12 : hours % 12;
  return `${usDate(iso)} ${h12}:${minutes} ${hours < 12 ? 'AM' : 'PM'}`;
}

/** FormattedValue annotation text; the emulated user's locale is en-US and time zone UTC. */
export function formattedValue(
  model: Model,
  store: Store,
  attr: Attribute,
  value: StoredValue,
): string | undefined {
  if (value === null) return undefined;
  if (isLookupRef(value)) {
    const target = model.table(value.table);
    const row = target ? store.get(target, value.id) : undefined;
    const name = target && row ? row[target.primaryName] : undefined;
    return typeof name === 'string' ? name : undefined;
  }
  switch (attr.type) {
    case 'Picklist':
    case 'State':
    case 'Status':
      return typeof value === 'number' ? attr.options.get(value)?.label : undefined;
    case 'MultiSelectPicklist':
      return String(value)
        .split(',')
        .map((v) => attr.options.get(Number(v))?.label ?? v)
        .join('; ');
    case 'Boolean':
      return attr.options.get(value ? 1 : 0)?.label ?? (value ? 'Yes' : 'No');
    case 'Money':
      return `$${Number(value).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
    case 'Integer':
    case 'BigInt':
      return Number(value).toLocaleString('en-US');
    case 'Decimal':
    case 'Double': {
      const digits = attr.spec.precision ?? 2;
      return Number(value).toLocaleString('en-US', {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      });
    }
    case 'DateTime':
      return attr.spec.dateTimeBehavior === 'DateOnly' ? usDate(String(value)) : usDateTime(String(value));
    default:
      return undefined;
  }
}

export function readableColumns(table: Table): Attribute[] {
  return table.attributes.filter((a) => a.validForRead);
}

/** `$expand` of a single-valued navigation property, with the columns to return per target table. */
export interface Expansion {
  readonly nav: NavigationProperty;
  readonly columns: ReadonlyMap<string, readonly Attribute[]>;
}

/** One row as the Web API returns it: `@odata.etag`, then columns with annotations before values. */
export function renderRow(
  model: Model,
  store: Store,
  table: Table,
  row: Row,
  columns: readonly Attribute[],
  annotations: AnnotationFilter,
  expansions: readonly Expansion[] = [],
): Record<string, unknown> {
  const out: Record<string, unknown> = { '@odata.etag': etagOf(row) };
  const formatted = annotations.any && annotations.wants(FORMATTED);
  const lookupName = annotations.any && annotations.wants(LOOKUP_LOGICAL_NAME);
  const assocNav = annotations.any && annotations.wants(ASSOCIATED_NAV);
  let sawPk = false;
  for (const attr of columns) {
    if (attr === table.primaryId) sawPk = true;
    const value = row[attr.logicalName] ?? null;
    const name = attr.valueName;
    if (formatted && value !== null) {
      const text = formattedValue(model, store, attr, value);
      if (text !== undefined) out[`${name}@${FORMATTED}`] = text;
    }
    if (attr.isLookup && isLookupRef(value)) {
      if (assocNav) out[`${name}@${ASSOCIATED_NAV}`] = attr.navByTarget.get(value.table) ?? attr.logicalName;
      if (lookupName) out[`${name}@${LOOKUP_LOGICAL_NAME}`] = value.table;
    }
    out[name] = jsonValue(value);
  }
  if (!sawPk) out[table.primaryId.logicalName] = row[table.primaryId.logicalName];
  for (const { nav, columns: byTarget } of expansions) {
    const value = row[nav.attribute.logicalName];
    const target =
      isLookupRef(value) && nav.targets.includes(value.table) ? model.table(value.table) : undefined;
    const related = target && isLookupRef(value) ? store.get(target, value.id) : undefined;
    out[nav.name] =
      target && related
        ? renderRow(model, store, target, related, byTarget.get(target.logicalName) ?? [], annotations)
        : null;
  }
  return out;
}
