// account / contact metadata literals, from ../shared/reference/dataverse-schema.md (a subset of the
// columns, real names, types, limits and choice values).
import type {
  AttributeMetadata,
  AttributeType,
  ChoiceOption,
  NavigationProperty,
  TableMetadata,
} from '../../../src/dataverse/model.js';

type Extra = Partial<Omit<AttributeMetadata, 'logicalName' | 'type'>>;

function attr(logicalName: string, type: AttributeType, extra: Extra = {}): AttributeMetadata {
  return {
    logicalName,
    schemaName: logicalName,
    type,
    isValidForCreate: true,
    isValidForUpdate: true,
    isValidForRead: true,
    requiredLevel: 'None',
    ...extra,
  };
}

const str = (name: string, maxLength: number, extra: Extra = {}) =>
  attr(name, 'String', { maxLength, ...extra });
const options = (...pairs: [number, string][]): ChoiceOption[] =>
  pairs.map(([value, label]) => ({ value, label }));
const readOnly: Extra = { isValidForCreate: false, isValidForUpdate: false };

const contactMethod = options([1, 'Any'], [2, 'Email'], [3, 'Phone'], [4, 'Fax'], [5, 'Mail']);
const doNotAllow = options([0, 'Allow'], [1, 'Do Not Allow']);
const state = options([0, 'Active'], [1, 'Inactive']);
// Each status belongs to a state (dataverse-schema.md §5): 1 "Active" -> 0, 2 "Inactive" -> 1.
const status: ChoiceOption[] = [
  { value: 1, label: 'Active', state: 0 },
  { value: 2, label: 'Inactive', state: 1 },
];
const industries = options(
  [1, 'Accounting'],
  [2, 'Agriculture and Non-petrol Natural Resource Extraction'],
  [3, 'Broadcasting Printing and Publishing'],
  [4, 'Brokers'],
  [5, 'Building Supply Retail'],
  [6, 'Business Services'],
  [7, 'Consulting'],
  [8, 'Consumer Services'],
  [9, 'Design, Direction and Creative Management'],
  [10, 'Distributors, Dispatchers and Processors'],
  [11, "Doctor's Offices and Clinics"],
  [12, 'Durable Manufacturing'],
  [13, 'Eating and Drinking Places'],
  [14, 'Entertainment Retail'],
  [15, 'Equipment Rental and Leasing'],
  [16, 'Financial'],
  [17, 'Food and Tobacco Processing'],
  [18, 'Inbound Capital Intensive Processing'],
  [19, 'Inbound Repair and Services'],
  [20, 'Insurance'],
  [21, 'Legal Services'],
  [22, 'Non-Durable Merchandise Retail'],
  [23, 'Outbound Consumer Service'],
  [24, 'Petrochemical Extraction and Distribution'],
  [25, 'Service Retail'],
  [26, 'SIG Affiliations'],
  [27, 'Social Services'],
  [28, 'Special Outbound Trade Contractors'],
  [29, 'Specialty Realty'],
  [30, 'Transportation'],
  [31, 'Utility Creation and Distribution'],
  [32, 'Vehicle Retail'],
  [33, 'Wholesale'],
);
const money = { minValue: 0, maxValue: 100_000_000_000_000, precision: 2 };

function table(
  logicalName: string,
  entitySetName: string,
  primaryNameAttribute: string,
  attributes: AttributeMetadata[],
  keys: TableMetadata['keys'],
  navigationProperties: NavigationProperty[],
): TableMetadata {
  return {
    logicalName,
    entitySetName,
    primaryIdAttribute: `${logicalName}id`,
    primaryNameAttribute,
    attributes: new Map(attributes.map((a) => [a.logicalName, a])),
    keys,
    navigationProperties,
    changeTrackingEnabled: true,
  };
}

export const account: TableMetadata = table(
  'account',
  'accounts',
  'name',
  [
    attr('accountid', 'Uniqueidentifier', { isValidForUpdate: false, requiredLevel: 'SystemRequired' }),
    str('name', 160, { requiredLevel: 'ApplicationRequired' }),
    str('accountnumber', 20),
    str('telephone1', 50),
    str('emailaddress1', 100),
    str('websiteurl', 200),
    str('address1_city', 80),
    attr('address1_latitude', 'Double', { minValue: -90, maxValue: 90, precision: 5 }),
    attr('numberofemployees', 'Integer', { minValue: 0, maxValue: 1_000_000_000 }),
    attr('revenue', 'Money', money),
    attr('creditlimit', 'Money', money),
    attr('creditonhold', 'Boolean', { options: options([0, 'No'], [1, 'Yes']) }),
    attr('industrycode', 'Picklist', { options: industries }),
    attr('accountcategorycode', 'Picklist', { options: options([1, 'Preferred Customer'], [2, 'Standard']) }),
    attr('preferredcontactmethodcode', 'Picklist', { options: contactMethod }),
    attr('donotemail', 'Boolean', { options: doNotAllow }),
    attr('description', 'Memo', { maxLength: 2000 }),
    attr('parentaccountid', 'Lookup', { targets: ['account'] }),
    attr('primarycontactid', 'Lookup', { targets: ['contact'] }),
    attr('ownerid', 'Owner', { targets: ['systemuser', 'team'], requiredLevel: 'SystemRequired' }),
    attr('statecode', 'State', { options: state, isValidForCreate: false, requiredLevel: 'SystemRequired' }),
    attr('statuscode', 'Status', { options: status }),
    attr('createdon', 'DateTime', {
      ...readOnly,
      dateTimeBehavior: 'UserLocal',
      dateTimeFormat: 'DateAndTime',
    }),
    attr('modifiedon', 'DateTime', {
      ...readOnly,
      dateTimeBehavior: 'UserLocal',
      dateTimeFormat: 'DateAndTime',
    }),
    attr('overriddencreatedon', 'DateTime', {
      isValidForUpdate: false,
      dateTimeBehavior: 'UserLocal',
      dateTimeFormat: 'DateOnly',
    }),
    attr('versionnumber', 'BigInt', readOnly),
  ],
  [{ logicalName: 'accountnumber_key', keyAttributes: ['accountnumber'], status: 'Active' }],
  [
    { name: 'parentaccountid', attribute: 'parentaccountid', target: 'account' },
    { name: 'primarycontactid', attribute: 'primarycontactid', target: 'contact' },
    { name: 'ownerid', attribute: 'ownerid', target: 'principal' },
  ],
);

export const contact: TableMetadata = table(
  'contact',
  'contacts',
  'fullname',
  [
    attr('contactid', 'Uniqueidentifier', { isValidForUpdate: false, requiredLevel: 'SystemRequired' }),
    str('firstname', 50, { requiredLevel: 'Recommended' }),
    str('lastname', 50, { requiredLevel: 'ApplicationRequired' }),
    str('fullname', 160, readOnly),
    str('emailaddress1', 100),
    str('telephone1', 50),
    str('jobtitle', 100),
    attr('birthdate', 'DateTime', { dateTimeBehavior: 'DateOnly', dateTimeFormat: 'DateOnly' }),
    attr('anniversary', 'DateTime', { dateTimeBehavior: 'DateOnly', dateTimeFormat: 'DateOnly' }),
    attr('lastusedincampaign', 'DateTime', { dateTimeBehavior: 'UserLocal', dateTimeFormat: 'DateAndTime' }),
    attr('new_shiftstart', 'DateTime', {
      dateTimeBehavior: 'TimeZoneIndependent',
      dateTimeFormat: 'DateAndTime',
    }),
    attr('gendercode', 'Picklist', { options: options([1, 'Male'], [2, 'Female']) }),
    attr('familystatuscode', 'Picklist', {
      options: options([1, 'Single'], [2, 'Married'], [3, 'Divorced'], [4, 'Widowed']),
    }),
    attr('preferredcontactmethodcode', 'Picklist', { options: contactMethod }),
    // Not on the base contact: a custom multi-select to exercise that type.
    attr('new_interests', 'MultiSelectPicklist', {
      options: options([1, 'Hiking'], [2, 'Mountain Climbing'], [3, 'Skiing'], [4, 'Camping']),
    }),
    attr('donotemail', 'Boolean', { options: doNotAllow }),
    attr('creditlimit', 'Money', money),
    attr('annualincome', 'Money', money),
    attr('numberofchildren', 'Integer', { minValue: 0, maxValue: 1_000_000_000 }),
    attr('parentcustomerid', 'Customer', { targets: ['account', 'contact'] }),
    attr('accountid', 'Lookup', { ...readOnly, targets: ['account'] }),
    attr('ownerid', 'Owner', { targets: ['systemuser', 'team'], requiredLevel: 'SystemRequired' }),
    attr('statecode', 'State', { options: state, isValidForCreate: false, requiredLevel: 'SystemRequired' }),
    attr('statuscode', 'Status', { options: status }),
    attr('createdon', 'DateTime', {
      ...readOnly,
      dateTimeBehavior: 'UserLocal',
      dateTimeFormat: 'DateAndTime',
    }),
    attr('modifiedon', 'DateTime', {
      ...readOnly,
      dateTimeBehavior: 'UserLocal',
      dateTimeFormat: 'DateAndTime',
    }),
  ],
  [{ logicalName: 'emailaddress1_key', keyAttributes: ['emailaddress1'], status: 'Active' }],
  [
    { name: 'parentcustomerid_account', attribute: 'parentcustomerid', target: 'account' },
    { name: 'parentcustomerid_contact', attribute: 'parentcustomerid', target: 'contact' },
    { name: 'ownerid', attribute: 'ownerid', target: 'principal' },
  ],
);

export const systemuser: TableMetadata = table(
  'systemuser',
  'systemusers',
  'fullname',
  [
    attr('systemuserid', 'Uniqueidentifier'),
    str('fullname', 200, readOnly),
    str('domainname', 1024),
    str('internalemailaddress', 100),
  ],
  [],
  [],
);

export const team: TableMetadata = table(
  'team',
  'teams',
  'name',
  [attr('teamid', 'Uniqueidentifier'), str('name', 160)],
  [],
  [],
);
/** The marketing list and its many-to-many relationship to contact (associate / disassociate jobs). */
export const list: TableMetadata = {
  ...table(
    'list',
    'lists',
    'listname',
    [attr('listid', 'Uniqueidentifier', { isValidForUpdate: false }), str('listname', 128)],
    [],
    [],
  ),
  manyToMany: [
    {
      schemaName: 'listcontact_association',
      navigationProperty: 'listcontact_association',
      relatedTable: 'contact',
      intersectEntityName: 'listmember',
    },
  ],
};

export const related: ReadonlyMap<string, TableMetadata> = new Map([
  ['account', account],
  ['contact', contact],
  ['systemuser', systemuser],
  ['team', team],
  ['list', list],
]);

/** getTable for validateJobAgainstMetadata. */
export async function getTable(logicalName: string): Promise<TableMetadata> {
  const found = related.get(logicalName);
  if (found === undefined) throw new Error(`table ${logicalName} not found`);
  return found;
}
