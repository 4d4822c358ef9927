// Job-file rules of the associate / disassociate operations (issue 20, many-to-many).
import { describe, expect, it } from 'vitest';
import { isJobDefinitionError, parseImportJob, parseJob } from '../../../src/config/job.js';
import { compileAssociation } from '../../../src/imports/associations.js';
import { contact, list } from '../mapping/fixtures.js';

const job = {
  name: 'list-members',
  table: 'list',
  operation: 'associate',
  relationship: 'listcontact_association',
  columns: {
    List: 'listname',
    Email: { attribute: 'contactid', lookup: 'contact', by: 'emailaddress1' },
  },
};

function problemText(json: unknown): string {
  try {
    parseJob(json, 'jobs/list-members.json');
  } catch (error) {
    if (isJobDefinitionError(error)) return error.message;
    throw error;
  }
  throw new Error('expected the job to be rejected');
}

describe('associate / disassociate jobs', () => {
  it('accept a relationship, a column naming the record and one with "lookup" naming the related record', () => {
    const parsed = parseImportJob(job, 'jobs/list-members.json');
    expect(parsed.operation).toBe('associate');
    expect(parsed.relationship).toBe('listcontact_association');
    expect(parseImportJob({ ...job, operation: 'disassociate' }, 'x.json').operation).toBe('disassociate');
  });

  it('need the relationship and exactly one related column, and take no constants', () => {
    expect(problemText({ ...job, relationship: undefined })).toBe(
      'jobs/list-members.json: relationship: operation "associate" needs "relationship", the many-to-many relationship\'s name (e.g. "listcontact_association")',
    );
    expect(problemText({ ...job, columns: { List: 'listname', Email: 'emailaddress1' } })).toBe(
      'jobs/list-members.json: columns: operation "associate" needs exactly one column with "lookup" (the related table) naming the related record, found 0',
    );
    expect(problemText({ ...job, constants: { listname: 'x' } })).toContain(
      'constants: operation "associate" writes no columns, so "constants" cannot be used',
    );
  });

  it('refuse "relationship" on row operations', () => {
    expect(
      problemText({ ...job, operation: 'upsert', key: ['listname'], columns: { List: 'listname' } }),
    ).toBe(
      'jobs/list-members.json: relationship: "relationship" is only for the operations "associate" and "disassociate", not "upsert"',
    );
  });

  it('compile against metadata: the relationship, the related table and both columns', () => {
    const relatedOf = (name: string) => (name === 'contact' ? contact : undefined);
    const { plan, problems } = compileAssociation(parseImportJob(job, 'j.json'), list, relatedOf);
    expect(problems).toEqual([]);
    expect(plan).toMatchObject({
      operation: 'associate',
      relationship: { navigationProperty: 'listcontact_association', relatedTable: 'contact' },
      record: { header: 'List', attribute: 'listname' },
      related: { header: 'Email', attribute: 'emailaddress1' },
    });

    const wrongLookup = parseImportJob(
      {
        ...job,
        columns: { List: 'listname', Email: { attribute: 'accountid', lookup: 'account', by: 'name' } },
      },
      'j.json',
    );
    expect(compileAssociation(wrongLookup, list, relatedOf).problems).toEqual([
      {
        path: 'columns."Email".lookup',
        message: 'relationship "listcontact_association" links list to "contact", not "account"',
      },
    ]);
    const byId = parseImportJob(
      { ...job, columns: { List: 'listid', Email: { attribute: 'contactid', lookup: 'contact' } } },
      'j.json',
    );
    expect(compileAssociation(byId, list, relatedOf).plan?.related.attribute).toBe('contactid');
  });
});
