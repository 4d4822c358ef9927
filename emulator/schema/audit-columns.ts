import type { EmulatorSchema } from './format.js';

type Attr = EmulatorSchema['tables'][number]['attributes'][number];

/**
 * The four audit lookups every Dataverse table carries (Learn's table/entity reference, e.g. Account:
 * CreatedBy "Created By", CreatedOnBehalfBy "Created By (Delegate)", ModifiedBy "Modified By",
 * ModifiedOnBehalfBy "Modified By (Delegate)"; Type Lookup, Targets systemuser, RequiredLevel None,
 * read-only). The platform fills them: see Records.stamp.
 */
export function auditColumns(): Attr[] {
  const lookup = (logicalName: string, schemaName: string, displayName: string): Attr => ({
    logicalName,
    schemaName,
    displayName,
    type: 'Lookup',
    targets: ['systemuser'],
    validForCreate: false,
    validForUpdate: false,
  });
  return [
    lookup('createdby', 'CreatedBy', 'Created By'),
    lookup('createdonbehalfby', 'CreatedOnBehalfBy', 'Created By (Delegate)'),
    lookup('modifiedby', 'ModifiedBy', 'Modified By'),
    lookup('modifiedonbehalfby', 'ModifiedOnBehalfBy', 'Modified By (Delegate)'),
  ];
}
