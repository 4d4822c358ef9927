import { describe, expect, it } from 'vitest';
import { extractJobSchema, type ExtractJob } from '../../../src/config/job.js';
import {
  deletedColumn,
  fieldTypeName,
  fieldTypeOf,
  isoUtcCell,
  planColumns,
} from '../../../src/extracts/columns.js';
import { isExtractError } from '../../../src/extracts/errors.js';
import { attribute, contactTable } from './fakes.js';

const FV = '@OData.Community.Display.V1.FormattedValue';

function job(extra: Record<string, unknown> = {}): ExtractJob {
  return extractJobSchema.parse({
    name: 'contacts',
    table: 'contact',
    columns: ['firstname', 'preferredcontactmethodcode', 'parentcustomerid', 'birthdate', 'createdon'],
    ...extra,
  });
}

describe('planColumns', () => {
  it('selects lookups by their _x_value name and always the primary id; header is the job columns', () => {
    const plan = planColumns(job(), contactTable);
    expect(plan.header).toEqual([
      'firstname',
      'preferredcontactmethodcode',
      'parentcustomerid',
      'birthdate',
      'createdon',
    ]);
    expect(plan.select).toEqual([
      'contactid',
      'firstname',
      'preferredcontactmethodcode',
      '_parentcustomerid_value',
      'birthdate',
      'createdon',
    ]);
  });

  it('adds <column>@label after choices and lookups when formatted values are on', () => {
    const plan = planColumns(job({ output: { formattedValues: true } }), contactTable);
    expect(plan.header).toEqual([
      'firstname',
      'preferredcontactmethodcode',
      'preferredcontactmethodcode@label',
      'parentcustomerid',
      'parentcustomerid@label',
      'birthdate',
      'createdon',
    ]);
    const cells = plan.cells({
      contactid: 'c1',
      firstname: 'Ann',
      preferredcontactmethodcode: 2,
      [`preferredcontactmethodcode${FV}`]: 'Email',
      _parentcustomerid_value: 'a1',
      [`_parentcustomerid_value${FV}`]: 'Contoso',
      birthdate: '1990-02-03',
      createdon: '2026-01-02T03:04:05+02:00',
    });
    expect(cells).toEqual(['Ann', 2, 'Email', 'a1', 'Contoso', '1990-02-03', '2026-01-02T01:04:05Z']);
  });

  it('adds <column>@table after lookups, customers and owners when lookup targets are on', () => {
    const plan = planColumns(
      job({
        columns: ['firstname', 'parentcustomerid'],
        output: { formattedValues: true, lookupTargets: true },
      }),
      contactTable,
    );
    expect(plan.header).toEqual([
      'firstname',
      'parentcustomerid',
      'parentcustomerid@label',
      'parentcustomerid@table',
    ]);
    const cells = plan.cells({
      contactid: 'c1',
      firstname: 'Ann',
      _parentcustomerid_value: 'c2',
      [`_parentcustomerid_value${FV}`]: 'Bob Smith',
      '_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'contact',
    });
    expect(cells).toEqual(['Ann', 'c2', 'Bob Smith', 'contact']);
    expect(plan.fields.map((f) => [f.name, f.type.kind, f.attribute, f.role])).toEqual([
      ['firstname', 'string', 'firstname', undefined],
      ['parentcustomerid', 'string', 'parentcustomerid', undefined],
      ['parentcustomerid@label', 'string', 'parentcustomerid', 'label'],
      ['parentcustomerid@table', 'string', 'parentcustomerid', 'table'],
    ]);
  });

  it('types every field from the metadata: choices int32, dates date or timestamp, money decimal(19,4)', () => {
    expect(fieldTypeOf(attribute('x', 'Picklist'))).toEqual({ kind: 'int32' });
    expect(fieldTypeOf(attribute('x', 'BigInt'))).toEqual({ kind: 'int64' });
    expect(fieldTypeOf(attribute('x', 'Money', { precision: 2 }))).toEqual({
      kind: 'decimal',
      precision: 19,
      scale: 4,
    });
    expect(fieldTypeOf(attribute('x', 'Decimal', { precision: 3 }))).toEqual({
      kind: 'decimal',
      precision: 15,
      scale: 3,
    });
    expect(fieldTypeOf(attribute('x', 'DateTime', { dateTimeBehavior: 'DateOnly' }))).toEqual({
      kind: 'date',
    });
    expect(fieldTypeOf(attribute('x', 'DateTime', { dateTimeBehavior: 'UserLocal' }))).toEqual({
      kind: 'timestamp',
    });
    expect(fieldTypeOf(attribute('x', 'MultiSelectPicklist'))).toEqual({ kind: 'string' });
    expect(fieldTypeName({ kind: 'decimal', precision: 19, scale: 4 })).toBe('decimal(19,4)');
  });

  it('gives the same header for rows that are all empty (never inferred from data)', () => {
    const plan = planColumns(job({ output: { formattedValues: true } }), contactTable);
    expect(plan.cells({ contactid: 'c1' })).toEqual([null, null, null, null, null, null, null]);
  });

  it('puts the primary id first and a deleted flag last when change tracking reports deletes in a column', () => {
    const plan = planColumns(
      job({ columns: ['firstname'], incremental: { mode: 'changeTracking' }, output: { deletes: 'column' } }),
      contactTable,
    );
    expect(plan.header).toEqual(['contactid', 'firstname', deletedColumn]);
    expect(plan.cells({ contactid: 'c1', firstname: 'Ann' })).toEqual(['c1', 'Ann', false]);
    expect(plan.deletedCells('c9')).toEqual(['c9', null, true]);
  });

  it('selects the watermark column without writing it', () => {
    const plan = planColumns(job({ columns: ['firstname'] }), contactTable, { extraSelect: ['modifiedon'] });
    expect(plan.select).toContain('modifiedon');
    expect(plan.header).toEqual(['firstname']);
  });

  it('refuses unknown and unreadable columns with an ExtractError', () => {
    for (const name of ['nosuchcolumn', 'secret']) {
      let caught: unknown;
      try {
        planColumns(job({ columns: [name] }), contactTable);
      } catch (error) {
        caught = error;
      }
      expect(isExtractError(caught) && caught.code).toBe('UnknownColumn');
      expect(String(caught)).toContain(name);
    }
  });
});

describe('isoUtcCell', () => {
  it('writes UTC with Z, keeping milliseconds only when present', () => {
    expect(isoUtcCell('2026-03-01T00:30:00-01:00')).toBe('2026-03-01T01:30:00Z');
    expect(isoUtcCell('2026-03-01T00:30:00.250Z')).toBe('2026-03-01T00:30:00.250Z');
    expect(isoUtcCell(null)).toBeNull();
    expect(isoUtcCell('not a date')).toBe('not a date');
  });
});
