import { describe, expect, it } from 'vitest';
import { parseJob } from '../../../src/config/job.js';
import { formatProblems, isRunnable, validateJobAgainstMetadata } from '../../../src/mapping/validate.js';
import { getTable } from './fixtures.js';
import { designContactsJob } from '../../fixtures/design-job.js';

const validate = (json: Record<string, unknown>) =>
  validateJobAgainstMetadata(parseJob({ name: 'v', ...json }, 'v.json'), getTable);

describe('validateJobAgainstMetadata: import jobs', () => {
  it('the DESIGN.md example is clean', async () => {
    const problems = await validate({ ...designContactsJob, key: [...designContactsJob.key] });
    expect(problems).toEqual([]);
  });

  it('finds each kind of problem, at its path', async () => {
    const problems = await validate({
      table: 'contact',
      operation: 'update',
      key: ['lastname'],
      columns: {
        Last: 'lastname',
        Nick: 'nickname',
        Created: 'createdon',
        Company: { attribute: 'parentcustomerid', lookup: 'systemuser', by: 'fullname' },
        Parent: { attribute: 'parentcustomerid_x', lookup: 'account' },
        Account: { attribute: 'accountid', lookup: 'account', by: 'telephone1' },
        Gender: { attribute: 'gendercode', format: 'yyyy-MM-dd' },
        Title: { attribute: 'jobtitle', choice: 'label' },
        Kids: { attribute: 'numberofchildren', separator: '|' },
        Boss: { attribute: 'ownerid', lookup: 'queue' },
        Mail: { attribute: 'emailaddress1', true: ['x'] },
      },
      constants: { donotemail: 'perhaps' },
    });
    const byPath = Object.fromEntries(problems.map((p) => [p.path, `${p.severity}: ${p.message}`]));
    expect(byPath.key).toBe(
      'error: lastname is not an alternate key of contact; its keys: emailaddress1 (emailaddress1_key)',
    );
    expect(byPath['columns."Nick"']).toMatch(/^error: contact has no column "nickname"/);
    expect(byPath['columns."Created"']).toBe('error: "createdon" cannot be changed on an existing contact');
    expect(byPath['columns."Company".lookup']).toBe(
      'error: "parentcustomerid" points at account, contact, not "systemuser"',
    );
    expect(byPath['columns."Parent".attribute']).toMatch(
      /^error: contact has no column "parentcustomerid_x"; did you mean "parentcustomerid"\?/,
    );
    expect(byPath['columns."Account"']).toBe('error: "accountid" cannot be changed on an existing contact');
    expect(byPath['columns."Account".by']).toMatch(
      /^warning: "telephone1" is neither an alternate key nor the primary name/,
    );
    expect(byPath['columns."Gender".format']).toBe(
      'error: "format" applies to date columns; "gendercode" is Picklist',
    );
    expect(byPath['columns."Title".choice']).toBe(
      'error: "choice" applies to choice columns; "jobtitle" is String',
    );
    expect(byPath['columns."Kids".separator']).toMatch(/^error: "separator" applies to multi-select/);
    expect(byPath['columns."Boss".lookup']).toBe('error: "ownerid" points at systemuser, team, not "queue"');
    expect(byPath['columns."Mail".true']).toMatch(/^error: "true" applies to Yes\/No columns/);
    expect(byPath['constants."donotemail"']).toMatch(/^error: "perhaps" is not one of: true, yes/);
    expect(isRunnable(problems)).toBe(false);
  });

  it('warns about required columns left out of creates and columns ignored by one side of an upsert', async () => {
    const problems = await validate({
      table: 'account',
      operation: 'upsert',
      key: ['accountnumber'],
      columns: { Number: 'accountnumber', Created: 'overriddencreatedon' },
    });
    expect(problems).toEqual([
      {
        severity: 'warning',
        path: 'columns."Created"',
        message: '"overriddencreatedon" is ignored when the upsert updates a record',
      },
      {
        severity: 'warning',
        path: 'columns',
        message: '"name" is required by account but no column maps it: new records will lack it',
      },
    ]);
    expect(isRunnable(problems)).toBe(true);
  });

  it('reports an unknown table once', async () => {
    const problems = await validate({ table: 'invoice', operation: 'create', columns: { A: 'name' } });
    expect(problems).toEqual([
      { severity: 'error', path: 'table', message: 'cannot read table "invoice": table invoice not found' },
    ]);
  });
});

describe('validateJobAgainstMetadata: extract jobs', () => {
  it('checks columns and the incremental mode', async () => {
    const problems = await validate({
      table: 'account',
      columns: ['name', 'nmae'],
      incremental: { mode: 'watermark', column: 'name' },
    });
    expect(problems.map((p) => p.path)).toEqual(['columns[1]', 'incremental.column']);
  });
});

describe('formatProblems', () => {
  it('one line per problem, errors first, naming the file', () => {
    const text = formatProblems(
      [
        { severity: 'warning', path: 'columns."A"', message: 'w' },
        { severity: 'error', path: 'key', message: 'e' },
      ],
      'jobs/x.json',
    );
    expect(text).toBe('jobs/x.json: key: error: e\njobs/x.json: columns."A": warning: w');
  });
});
