// Table metadata as the product uses it, read from EntityDefinitions (live or emulated).
// Kept free of transport concerns so mapping and validation can be unit-tested with literals.

export type AttributeType =
  | 'String'
  | 'Memo'
  | 'Integer'
  | 'BigInt'
  | 'Decimal'
  | 'Double'
  | 'Money'
  | 'Boolean'
  | 'DateTime'
  | 'Picklist'
  | 'MultiSelectPicklist'
  | 'State'
  | 'Status'
  | 'Lookup'
  | 'Customer'
  | 'Owner'
  | 'Uniqueidentifier'
  /** File and image columns: written by their own upload requests, never in a create or update. */
  | 'File'
  | 'Image'
  | 'Other';

export type DateTimeBehavior = 'UserLocal' | 'DateOnly' | 'TimeZoneIndependent';

export interface ChoiceOption {
  readonly value: number;
  readonly label: string;
  /** Status (statuscode) options: the statecode this status belongs to. */
  readonly state?: number;
  /** State (statecode) options: the statuscode a record gets in this state by default. */
  readonly defaultStatus?: number;
}

export interface AttributeMetadata {
  readonly logicalName: string;
  readonly schemaName: string;
  readonly type: AttributeType;
  readonly isValidForCreate: boolean;
  readonly isValidForUpdate: boolean;
  readonly isValidForRead: boolean;
  readonly requiredLevel: 'None' | 'SystemRequired' | 'ApplicationRequired' | 'Recommended';
  /** String and Memo. */
  readonly maxLength?: number;
  /** Numbers: inclusive range. */
  readonly minValue?: number;
  readonly maxValue?: number;
  /** Decimal, Double, Money: digits after the point. */
  readonly precision?: number;
  /** File and Image: the largest file the column takes, in KB (MaxSizeInKB). */
  readonly maxSizeInKB?: number;
  /** DateTime. */
  readonly dateTimeBehavior?: DateTimeBehavior;
  readonly dateTimeFormat?: 'DateOnly' | 'DateAndTime';
  /** Picklist, MultiSelectPicklist, State, Status, Boolean (false = options[0], true = options[1]). */
  readonly options?: readonly ChoiceOption[];
  /** Lookup, Customer, Owner: target table logical names. */
  readonly targets?: readonly string[];
}

/** A single-valued navigation property: the name used in `<name>@odata.bind`. */
export interface NavigationProperty {
  readonly name: string;
  /** The lookup attribute it writes (`parentcustomerid`). */
  readonly attribute: string;
  /** The table it points at (`account`). */
  readonly target: string;
}

export interface AlternateKey {
  readonly logicalName: string;
  readonly keyAttributes: readonly string[];
  readonly status: string;
}

/** A many-to-many relationship seen from one of its tables (ManyToManyRelationshipMetadata). */
export interface ManyToManyRelationship {
  readonly schemaName: string;
  /** The collection-valued navigation property on this table: the name in `<set>(<id>)/<name>/$ref`. */
  readonly navigationProperty: string;
  /** The table at the other end. */
  readonly relatedTable: string;
  readonly intersectEntityName: string;
}

export interface TableMetadata {
  readonly logicalName: string;
  readonly entitySetName: string;
  readonly primaryIdAttribute: string;
  readonly primaryNameAttribute: string;
  readonly attributes: ReadonlyMap<string, AttributeMetadata>;
  readonly keys: readonly AlternateKey[];
  readonly navigationProperties: readonly NavigationProperty[];
  readonly changeTrackingEnabled: boolean;
  /** Many-to-many relationships this table takes part in (absent when the server did not say). */
  readonly manyToMany?: readonly ManyToManyRelationship[];
  /** EntityMetadata.TableType: `Elastic` tables take bulk messages with partial success. */
  readonly tableType?: string;
}
