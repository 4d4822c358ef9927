import { auditColumns } from './audit-columns.js';
import type { EmulatorSchema } from './format.js';

// Tables the integration operations need (issue 20), kept apart from account/contact:
// - `list`, Dynamics 365 Marketing's marketing list (real logical names; ObjectTypeCode 4300), and its
//   many-to-many relationship to contact `listcontact_association`, whose intersect table is
//   `listmember` (Dynamics CRM SDK, "ListMember intersect entity metadata": listaccount_association,
//   listcontact_association and listlead_association all go through listmember).
// - `contoso_sensordata`, an elastic table shaped as Learn's elastic-table examples name it
//   ("Use elastic tables": contoso_sensordata, partitionid, ttlinseconds; reference §1 and §7).

type Table = EmulatorSchema['tables'][number];
type Attr = Table['attributes'][number];

const str = (logicalName: string, maxLength: number, extra: Partial<Attr> = {}): Attr => ({
  logicalName,
  type: 'String',
  maxLength,
  format: 'Text',
  ...extra,
});
const readOnly = { validForCreate: false, validForUpdate: false } as const;

function ownedColumns(): Attr[] {
  return [
    {
      logicalName: 'ownerid',
      schemaName: 'OwnerId',
      type: 'Owner',
      targets: ['systemuser', 'team'],
      requiredLevel: 'SystemRequired',
    },
    {
      logicalName: 'createdon',
      type: 'DateTime',
      dateTimeBehavior: 'UserLocal',
      format: 'DateAndTime',
      ...readOnly,
    },
    {
      logicalName: 'modifiedon',
      type: 'DateTime',
      dateTimeBehavior: 'UserLocal',
      format: 'DateAndTime',
      ...readOnly,
    },
    ...auditColumns(),
    { logicalName: 'versionnumber', type: 'BigInt', ...readOnly },
  ];
}

const LIST: Table = {
  logicalName: 'list',
  schemaName: 'List',
  entitySetName: 'lists',
  displayName: 'Marketing List',
  displayCollectionName: 'Marketing Lists',
  primaryIdAttribute: 'listid',
  primaryNameAttribute: 'listname',
  objectTypeCode: 4300,
  ownershipType: 'UserOwned',
  changeTracking: true,
  attributes: [
    { logicalName: 'listid', schemaName: 'ListId', type: 'Uniqueidentifier', validForUpdate: false },
    str('listname', 128, {
      schemaName: 'ListName',
      displayName: 'Name',
      requiredLevel: 'ApplicationRequired',
    }),
    {
      logicalName: 'createdfromcode',
      schemaName: 'CreatedFromCode',
      displayName: 'Targeted At',
      type: 'Picklist',
      requiredLevel: 'ApplicationRequired',
      options: [
        { value: 1, label: 'Account' },
        { value: 2, label: 'Contact' },
        { value: 4, label: 'Lead' },
      ],
    },
    {
      logicalName: 'type',
      schemaName: 'Type',
      displayName: 'Type',
      type: 'Boolean',
      options: [
        { value: 0, label: 'Static' },
        { value: 1, label: 'Dynamic' },
      ],
      default: false,
    },
    str('purpose', 512, { schemaName: 'Purpose' }),
    str('source', 128, { schemaName: 'Source' }),
    {
      logicalName: 'description',
      schemaName: 'Description',
      type: 'Memo',
      maxLength: 2000,
      format: 'TextArea',
    },
    {
      logicalName: 'membercount',
      schemaName: 'MemberCount',
      type: 'Integer',
      minValue: 0,
      maxValue: 2147483647,
      ...readOnly,
    },
    {
      logicalName: 'statecode',
      type: 'State',
      requiredLevel: 'SystemRequired',
      validForCreate: false,
      options: [
        { value: 0, label: 'Active' },
        { value: 1, label: 'Inactive' },
      ],
      default: 0,
    },
    {
      logicalName: 'statuscode',
      type: 'Status',
      options: [
        { value: 0, label: 'Active', state: 0 },
        { value: 1, label: 'Inactive', state: 1 },
      ],
      default: 0,
    },
    ...ownedColumns(),
  ],
};

const SENSOR_DATA: Table = {
  logicalName: 'contoso_sensordata',
  schemaName: 'contoso_SensorData',
  entitySetName: 'contoso_sensordatas',
  displayName: 'Sensor Data',
  displayCollectionName: 'Sensor Data',
  primaryIdAttribute: 'contoso_sensordataid',
  primaryNameAttribute: 'contoso_name',
  objectTypeCode: 10010,
  ownershipType: 'UserOwned',
  isCustomEntity: true,
  // Elastic tables support change tracking only when enabled on the table; this one is not.
  changeTracking: false,
  tableType: 'Elastic',
  attributes: [
    {
      logicalName: 'contoso_sensordataid',
      schemaName: 'contoso_SensorDataId',
      type: 'Uniqueidentifier',
      validForUpdate: false,
    },
    str('contoso_name', 100, { schemaName: 'contoso_Name' }),
    str('contoso_deviceid', 1000, { schemaName: 'contoso_DeviceId' }),
    str('contoso_sensortype', 100, { schemaName: 'contoso_SensorType' }),
    {
      logicalName: 'contoso_value',
      schemaName: 'contoso_Value',
      type: 'Integer',
      minValue: -2147483648,
      maxValue: 2147483647,
    },
    {
      logicalName: 'contoso_timestamp',
      schemaName: 'contoso_TimeStamp',
      type: 'DateTime',
      dateTimeBehavior: 'UserLocal',
      format: 'DateAndTime',
    },
    // Elastic tables' partition key and time to live (Learn, "Use elastic tables").
    str('partitionid', 100, { schemaName: 'PartitionId' }),
    {
      logicalName: 'ttlinseconds',
      schemaName: 'TTLInSeconds',
      type: 'Integer',
      minValue: -1,
      maxValue: 2147483647,
    },
    ...ownedColumns(),
  ],
};

export const INTEGRATION_TABLES: readonly Table[] = [LIST, SENSOR_DATA];

export const INTEGRATION_MANY_TO_MANY: NonNullable<EmulatorSchema['manyToMany']> = [
  {
    schemaName: 'listcontact_association',
    entity1LogicalName: 'list',
    entity2LogicalName: 'contact',
    intersectEntityName: 'listmember',
    entity1IntersectAttribute: 'listid',
    entity2IntersectAttribute: 'entityid',
    entity1NavigationPropertyName: 'listcontact_association',
    entity2NavigationPropertyName: 'listcontact_association',
  },
];
