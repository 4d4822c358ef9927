import type { Table } from './model.js';

/** An error the emulator answers with Dataverse's envelope `{"error":{"code","message"}}`. */
export class DataverseError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'DataverseError';
  }
}

export function isDataverseError(value: unknown): value is DataverseError {
  return value instanceof DataverseError;
}

// Codes and messages from reference/dataverse-webapi.md §3, §4, §5, §8, §9.

const PAYLOAD_PREFIX = (table: Table): string =>
  `Error identified in Payload provided by the user for Entity :'${table.entitySetName}', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : Microsoft.OData.ODataException: `;

export const errors = {
  notFound: (table: Table, id: string) =>
    new DataverseError(404, '0x80040217', `${table.logicalName} With Id = ${id} Does Not Exist`),
  notFoundByKey: (table: Table) =>
    new DataverseError(
      404,
      '0x80060891',
      `A record with the specified key values does not exist in ${table.logicalName} entity`,
    ),
  duplicateKey: () => new DataverseError(412, '0x80040237', 'Cannot insert duplicate key.'),
  alreadyExists: () =>
    new DataverseError(412, '0x80040237', 'A record with matching key values already exists.'),
  duplicateAlternateKey: (keyName: string, values: readonly string[]) =>
    new DataverseError(
      412,
      '0x80060892',
      `A record that has the attribute values ${values.join(', ')} already exists. The entity key ${keyName} requires that this set of attributes contains unique values. Select unique values and try again.`,
    ),
  /** Reference §13: duplicate detection on (`MSCRM.SuppressDuplicateDetection: false`) and a rule matched. */
  duplicateDetected: () =>
    new DataverseError(
      500,
      '0x80040333',
      'A record was not created or updated because a duplicate of the current record already exists.',
    ),
  versionMismatch: () =>
    new DataverseError(
      412,
      '0x80060882',
      "The version of the existing record doesn't match the RowVersion property provided.",
    ),
  stringTooLong: (table: Table, attr: string, max: number) =>
    new DataverseError(
      400,
      '0x80044331',
      `A validation error occurred.  The length of the '${attr}' attribute of the '${table.logicalName}' entity exceeded the maximum allowed length of '${max}'.`,
    ),
  outOfRange: (
    code: '0x8004431A' | '0x8004432F' | '0x80044330',
    table: Table,
    attr: string,
    value: unknown,
  ) =>
    new DataverseError(
      400,
      code,
      `A validation error occurred. The value ${String(value)} of '${attr}' on record of type '${table.logicalName}' is outside the valid range.`,
    ),
  payload: (table: Table, detail: string) =>
    new DataverseError(400, '0x80048d19', PAYLOAD_PREFIX(table) + detail),
  convert: (table: Table, literal: unknown, edmType: string) =>
    errors.payload(
      table,
      `Cannot convert the literal '${typeof literal === 'string' ? literal : JSON.stringify(literal)}' to the expected type '${edmType}'.`,
    ),
  unknownProperty: (table: Table, name: string) =>
    errors.payload(
      table,
      `The property '${name}' does not exist on type '${table.typeName}'. Make sure to only use property names that are defined by the type or mark the type as open type.`,
    ),
  undeclaredAnnotated: (table: Table, name: string) =>
    errors.payload(
      table,
      `An undeclared property '${name}' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.`,
    ),
  uriProperty: (typeName: string, name: string) =>
    new DataverseError(400, '0x80060888', `Could not find a property named '${name}' on type '${typeName}'.`),
  uri: (message: string) => new DataverseError(400, '0x80060888', message),
  segment: (segment: string) =>
    new DataverseError(404, '0x80060888', `Resource not found for the segment '${segment}'.`),
  badKey: (table: Table) =>
    new DataverseError(
      400,
      '0x80060888',
      `The key in the request URI is not valid for resource '${table.typeName}'. Ensure that the names and number of key properties match the declared or alternate key properties for the resource '${table.typeName}'.`,
    ),
  invalidArgument: (message: string) => new DataverseError(400, '0x80040203', message),
  methodNotAllowed: (method: string) =>
    new DataverseError(405, '0x80060888', `The HTTP method '${method}' is not allowed on this resource.`),
  messageNotSupported: (message: string, table: Table) =>
    new DataverseError(
      400,
      '0x80040800',
      `The '${message}' method does not support entities of type '${table.logicalName}'. MessageProcessorCache returned MessageProcessor.Empty.`,
    ),
  trackingOption: (option: string) =>
    new DataverseError(
      400,
      '0x80060888',
      `The "${option}" query parameter isn't supported when Change Tracking is enabled.`,
    ),
  expiredDeltaToken: () =>
    new DataverseError(
      400,
      '0x80044352',
      'The version stamp associated with the client has expired. Please perform a full sync.',
    ),
};
