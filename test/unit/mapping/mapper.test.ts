import { describe, expect, it } from 'vitest';
import { createRowMapper, isMappingSetupError, type MapResult } from '../../../src/mapping/mapper.js';
import { account, contact, related } from './fixtures.js';
import { answers, importJob, record } from './helpers.js';
import { designContactsJob } from '../../fixtures/design-job.js';

const ACME_ID = '8c1c2f4e-0b1a-4c55-9d0e-0d2a1e6b7f01';

function ok(result: MapResult) {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.errors)}`);
  return result;
}
function failed(result: MapResult) {
  if (result.ok) throw new Error(`expected failure, got ${JSON.stringify(result.payload)}`);
  return result;
}

function contactMapper(columns: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return createRowMapper(
    importJob({
      table: 'contact',
      operation: 'upsert',
      key: ['emailaddress1'],
      columns: { Email: 'emailaddress1', ...columns },
      ...extra,
    }),
    contact,
    related,
  );
}

function mapOne(
  columns: Record<string, unknown>,
  values: Record<string, string>,
  extra: Record<string, unknown> = {},
) {
  return contactMapper(columns, extra).map(record(2, { Email: 'a@x.io', ...values }));
}

describe('mapper: the DESIGN.md contacts job', () => {
  const job = importJob({ ...designContactsJob, key: [...designContactsJob.key] });
  const mapper = createRowMapper(job, contact, related);
  const row = record(2, {
    Email: ' Ada@Example.com ',
    'First Name': 'Ada',
    'Last Name': 'Lovelace',
    Company: 'ACC-001',
    'Contact Method': 'email',
    Birthday: '1815-12-10',
  });

  it('asks for the lookups the chunk needs, once per distinct value', () => {
    const second = record(3, { ...row.values, Company: 'ACC-002' });
    const third = record(4, { ...row.values, Company: ' ACC-001 ' });
    expect(mapper.lookupsNeeded([row, second, third])).toEqual([
      { table: 'account', by: 'accountnumber', values: ['ACC-001', 'ACC-002'] },
    ]);
  });

  it('produces the payload, the key target and a case-folded key string', () => {
    const result = ok(mapper.map(row, answers({ 'account.accountnumber': { 'acc-001': [ACME_ID] } })));
    expect(result.payload).toEqual({
      emailaddress1: 'Ada@Example.com',
      firstname: 'Ada',
      lastname: 'Lovelace',
      'parentcustomerid_account@odata.bind': `/accounts(${ACME_ID})`,
      preferredcontactmethodcode: 2,
      birthdate: '1815-12-10',
    });
    expect(result.target).toEqual({ kind: 'key', key: { emailaddress1: 'Ada@Example.com' } });
    expect(result.keyString).toBe('ada@example.com');
    expect(result.row).toBe(2);
  });

  it('a missing or ambiguous lookup is a row error, and nothing is produced', () => {
    const missing = failed(mapper.map(row, answers({ 'account.accountnumber': {} })));
    expect(missing.errors).toEqual([
      {
        row: 2,
        column: 'Company',
        value: 'ACC-001',
        code: 'LookupNotFound',
        message: 'column "Company": "ACC-001" matches no account by accountnumber',
      },
    ]);
    const twice = failed(
      mapper.map(
        row,
        answers({ 'account.accountnumber': { 'ACC-001': [ACME_ID, ACME_ID.replace('01', '02')] } }),
      ),
    );
    expect(twice.errors[0]?.code).toBe('LookupAmbiguous');
    expect(twice.errors[0]?.message).toContain('matches 2 account records');
  });

  it('refuses to map a row whose lookups were never resolved', () => {
    expect(() => mapper.map(row)).toThrow(/was not resolved/);
  });

  it('lists every bad cell of a row', () => {
    const bad = record(7, {
      ...row.values,
      'Contact Method': 'pigeon',
      Birthday: '1815-13-10',
      'Last Name': 'x'.repeat(51),
    });
    const result = failed(mapper.map(bad, answers({ 'account.accountnumber': { 'ACC-001': [ACME_ID] } })));
    expect(result.errors.map((e) => [e.row, e.column, e.code])).toEqual([
      [7, 'Last Name', 'StringTooLong'],
      [7, 'Contact Method', 'BadChoice'],
      [7, 'Birthday', 'BadDate'],
    ]);
    expect(result.errors[0]?.message).toMatch(
      /^column "Last Name": "x{51}" is 51 characters long; the column allows 50$/,
    );
    expect(result.errors[1]?.message).toContain('(1 Any; 2 Email; 3 Phone; 4 Fax; 5 Mail)');
  });
});

describe('mapper: strings', () => {
  it('trims by default, and keeps spaces when told', () => {
    expect(ok(mapOne({ First: 'firstname' }, { First: '  Ada ' })).payload.firstname).toBe('Ada');
    expect(
      ok(mapOne({ First: { attribute: 'firstname', trim: false } }, { First: '  Ada ' })).payload.firstname,
    ).toBe('  Ada ');
  });

  it('cuts long values in messages', () => {
    const result = failed(mapOne({ Title: 'jobtitle' }, { Title: 'y'.repeat(500) }));
    expect(result.errors[0]?.message).toContain(
      '… (500 characters) is 500 characters long; the column allows 100',
    );
    expect(result.errors[0]?.value).toHaveLength(500);
  });
});

describe('mapper: numbers and money', () => {
  const map = (value: string, extra: Record<string, unknown> = {}, column = 'annualincome') =>
    mapOne({ N: column }, { N: value }, extra);

  it('parses grouped numbers with the declared decimal mark', () => {
    expect(ok(map('1,234.56')).payload.annualincome).toBe(1234.56);
    expect(ok(map('1.234,56', { decimalSeparator: ',' })).payload.annualincome).toBe(1234.56);
    expect(ok(map('1 234,5', { decimalSeparator: ',' })).payload.annualincome).toBe(1234.5);
  });

  it('rejects what could be misread', () => {
    expect(failed(map('1,5')).errors[0]?.code).toBe('NotANumber');
    expect(failed(map('1.234,56')).errors[0]?.message).toContain('set decimalSeparator to ","');
    expect(failed(map('1.23457E+11')).errors[0]?.message).toContain('scientific notation');
    expect(failed(map('12 apples')).errors[0]?.code).toBe('NotANumber');
  });

  it('checks range and precision of money', () => {
    expect(failed(map('-1')).errors[0]?.code).toBe('OutOfRange');
    expect(failed(map('100000000000001')).errors[0]?.message).toContain(
      "outside the column's range 0 to 100000000000000",
    );
    expect(failed(map('10.005')).errors[0]).toMatchObject({
      code: 'TooPrecise',
      message: expect.stringContaining('3 decimal places; the column allows 2'),
    });
    expect(ok(map('10.500')).payload.annualincome).toBe(10.5);
  });

  it('whole numbers must be whole', () => {
    expect(ok(map('3', {}, 'numberofchildren')).payload.numberofchildren).toBe(3);
    expect(ok(map('3.0', {}, 'numberofchildren')).payload.numberofchildren).toBe(3);
    expect(failed(map('3.5', {}, 'numberofchildren')).errors[0]?.message).toContain('is not a whole number');
  });

  it('floats are rounded to their precision, as Dataverse does', () => {
    const mapper = createRowMapper(
      importJob({
        table: 'account',
        operation: 'create',
        columns: { Name: 'name', Lat: 'address1_latitude' },
      }),
      account,
      related,
    );
    expect(ok(mapper.map(record(2, { Name: 'A', Lat: '47.639583' }))).payload.address1_latitude).toBe(
      47.63958,
    );
    expect(failed(mapper.map(record(2, { Name: 'A', Lat: '91' }))).errors[0]?.code).toBe('OutOfRange');
  });
});

describe('mapper: booleans', () => {
  it('accepts the default words and the column labels, case-insensitively', () => {
    for (const [text, value] of [
      ['Yes', true],
      ['no', false],
      ['1', true],
      ['FALSE', false],
      ['Do Not Allow', true],
      ['allow', false],
    ] as const) {
      expect(ok(mapOne({ D: 'donotemail' }, { D: text })).payload.donotemail).toBe(value);
    }
    expect(failed(mapOne({ D: 'donotemail' }, { D: 'maybe' })).errors[0]?.code).toBe('NotABoolean');
  });

  it('uses configured words instead', () => {
    const column = { D: { attribute: 'donotemail', true: ['ja'], false: ['nein'] } };
    expect(ok(mapOne(column, { D: 'Ja' })).payload.donotemail).toBe(true);
    expect(failed(mapOne(column, { D: 'yes' })).errors[0]?.message).toContain('is not one of: ja, nein');
    const jobWide = { booleans: { true: ['oui'], false: ['non'] } };
    expect(ok(mapOne({ D: 'donotemail' }, { D: 'OUI' }, jobWide)).payload.donotemail).toBe(true);
  });
});

describe('mapper: dates', () => {
  it('DateOnly: YYYY-MM-DD from the column format; a time is refused', () => {
    const col = { B: { attribute: 'birthdate', format: 'dd/MM/yyyy' } };
    expect(ok(mapOne(col, { B: '10/12/1815' })).payload.birthdate).toBe('1815-12-10');
    expect(ok(mapOne(col, { B: '1/2/2024' })).payload.birthdate).toBe('2024-02-01');
    expect(failed(mapOne(col, { B: '31/02/2024' })).errors[0]?.message).toContain('has no day 31');
    expect(failed(mapOne(col, { B: '2024-02-01' })).errors[0]?.message).toContain(
      'is not a date in the format dd/MM/yyyy',
    );
    expect(failed(mapOne({ B: 'birthdate' }, { B: '2024-02-01T10:00:00Z' })).errors[0]?.message).toContain(
      'holds a date only',
    );
    expect(failed(mapOne(col, { B: '01/01/1700' })).errors[0]?.message).toContain('before 1753');
  });

  it('UserLocal: an offset is honoured, no offset means the job time zone', () => {
    const col = { L: 'lastusedincampaign' };
    expect(ok(mapOne(col, { L: '2024-07-01T10:00:00+02:00' })).payload.lastusedincampaign).toBe(
      '2024-07-01T08:00:00Z',
    );
    expect(ok(mapOne(col, { L: '2024-07-01 10:00' })).payload.lastusedincampaign).toBe(
      '2024-07-01T10:00:00Z',
    );
    const paris = { timeZone: 'Europe/Paris' };
    expect(ok(mapOne(col, { L: '2024-07-01 10:00' }, paris)).payload.lastusedincampaign).toBe(
      '2024-07-01T08:00:00Z',
    );
    expect(ok(mapOne(col, { L: '2024-01-15 10:00' }, paris)).payload.lastusedincampaign).toBe(
      '2024-01-15T09:00:00Z',
    );
    const us = { L: { attribute: 'lastusedincampaign', format: 'MM/dd/yyyy HH:mm' } };
    expect(
      ok(mapOne(us, { L: '07/04/2024 18:30' }, { timeZone: 'America/New_York' })).payload.lastusedincampaign,
    ).toBe('2024-07-04T22:30:00Z');
  });

  it('UserLocal: a time skipped by daylight saving fails; a repeated one takes the first', () => {
    const paris = { timeZone: 'Europe/Paris' };
    const gap = failed(mapOne({ L: 'lastusedincampaign' }, { L: '2024-03-31 02:30' }, paris));
    expect(gap.errors[0]?.message).toContain('does not exist in the time zone Europe/Paris');
    expect(
      ok(mapOne({ L: 'lastusedincampaign' }, { L: '2024-10-27 02:30' }, paris)).payload.lastusedincampaign,
    ).toBe('2024-10-27T00:30:00Z');
  });

  it('TimeZoneIndependent: as entered, whatever the job time zone', () => {
    const col = { S: 'new_shiftstart' };
    expect(
      ok(mapOne(col, { S: '2024-07-01 10:00' }, { timeZone: 'Asia/Tokyo' })).payload.new_shiftstart,
    ).toBe('2024-07-01T10:00:00Z');
    expect(failed(mapOne(col, { S: '2024-07-01T10:00:00+09:00' })).errors[0]?.message).toContain(
      'time-zone independent',
    );
  });
});

describe('mapper: choices', () => {
  it('by label or value, case-insensitive; strict modes', () => {
    expect(
      ok(mapOne({ M: 'preferredcontactmethodcode' }, { M: 'PHONE' })).payload.preferredcontactmethodcode,
    ).toBe(3);
    expect(
      ok(mapOne({ M: 'preferredcontactmethodcode' }, { M: '3' })).payload.preferredcontactmethodcode,
    ).toBe(3);
    const byValue = { M: { attribute: 'preferredcontactmethodcode', choice: 'value' } };
    expect(failed(mapOne(byValue, { M: 'Phone' })).errors[0]?.code).toBe('BadChoice');
    expect(failed(mapOne(byValue, { M: '9' })).errors[0]?.message).toContain('is not a value of this choice');
    const byLabel = { M: { attribute: 'preferredcontactmethodcode', choice: 'label' } };
    expect(failed(mapOne(byLabel, { M: '3' })).errors[0]?.code).toBe('BadChoice');
  });

  it('multi-select with a separator -> "1,2,3", duplicates dropped', () => {
    const col = { I: { attribute: 'new_interests', separator: '|' } };
    expect(ok(mapOne(col, { I: 'hiking | Skiing|4|hiking' })).payload.new_interests).toBe('1,3,4');
    expect(
      ok(mapOne({ I: 'new_interests' }, { I: 'Camping; Mountain Climbing' })).payload.new_interests,
    ).toBe('4,2');
    const bad = failed(mapOne(col, { I: 'Hiking|Diving' }));
    expect(bad.errors[0]?.message).toContain('has "Diving", which is not an option');
  });
});

describe('mapper: lookups', () => {
  it('by record id: bound directly, no query needed', () => {
    const mapper = contactMapper({ Owner: { attribute: 'ownerid', lookup: 'systemuser' } });
    const row = record(2, { Email: 'a@x.io', Owner: `{${ACME_ID.toUpperCase()}}` });
    expect(mapper.lookupsNeeded([row])).toEqual([]);
    expect(ok(mapper.map(row)).payload['ownerid@odata.bind']).toBe(`/systemusers(${ACME_ID})`);
    expect(failed(mapper.map(record(2, { Email: 'a@x.io', Owner: 'bob' }))).errors[0]?.code).toBe('BadId');
  });

  it('by primary name: "name" means the target primary name; polymorphic customer picks the contact property', () => {
    const mapper = contactMapper({
      Parent: { attribute: 'parentcustomerid', lookup: 'contact', by: 'name' },
    });
    const row = record(2, { Email: 'a@x.io', Parent: 'Grace Hopper' });
    expect(mapper.lookupsNeeded([row])).toEqual([
      { table: 'contact', by: 'fullname', values: ['Grace Hopper'] },
    ]);
    const result = ok(mapper.map(row, answers({ 'contact.fullname': { 'grace hopper': [ACME_ID] } })));
    expect(result.payload).toEqual({
      emailaddress1: 'a@x.io',
      'parentcustomerid_contact@odata.bind': `/contacts(${ACME_ID})`,
    });
  });
});

describe('mapper: constants, defaults and empty cells', () => {
  it('constants are converted once and written on every row', () => {
    const mapper = contactMapper(
      {},
      { constants: { preferredcontactmethodcode: 'Email', donotemail: true, jobtitle: null } },
    );
    expect(ok(mapper.map(record(2, { Email: 'a@x.io' }))).payload).toEqual({
      emailaddress1: 'a@x.io',
      preferredcontactmethodcode: 2,
      donotemail: true,
      jobtitle: null,
    });
  });

  it('a bad constant stops the job before any row', () => {
    expect(() => contactMapper({}, { constants: { preferredcontactmethodcode: 'Carrier pigeon' } })).toThrow(
      /constants\."preferredcontactmethodcode": "Carrier pigeon" is not an option/,
    );
  });

  it('defaults stand in for empty cells, converted like a cell', () => {
    const col = { M: { attribute: 'preferredcontactmethodcode', default: 'Phone' } };
    expect(ok(mapOne(col, { M: '  ' })).payload.preferredcontactmethodcode).toBe(3);
  });

  it('empty cells are skipped, or cleared with null on update/upsert only', () => {
    expect(ok(mapOne({ T: 'jobtitle' }, { T: '' })).payload).toEqual({ emailaddress1: 'a@x.io' });
    expect(ok(mapOne({ T: 'jobtitle' }, { T: '' }, { emptyCells: 'clear' })).payload).toEqual({
      emailaddress1: 'a@x.io',
      jobtitle: null,
    });
    expect(
      ok(mapOne({ T: { attribute: 'jobtitle', empty: 'clear' } }, { T: '' })).payload.jobtitle,
    ).toBeNull();
    const create = createRowMapper(
      importJob({
        table: 'contact',
        operation: 'create',
        emptyCells: 'clear',
        columns: { L: 'lastname', T: 'jobtitle' },
      }),
      contact,
      related,
    );
    expect(ok(create.map(record(2, { L: 'X', T: '' }))).payload).toEqual({ lastname: 'X' });
  });
});

describe('mapper: identity', () => {
  it('an empty key cell is MissingKey', () => {
    const result = failed(contactMapper({ Last: 'lastname' }).map(record(9, { Email: ' ', Last: 'X' })));
    expect(result.errors).toEqual([
      {
        row: 9,
        column: 'Email',
        value: '',
        code: 'MissingKey',
        message: 'column "Email" is empty, but it is part of the key',
      },
    ]);
  });

  it('a primary id column targets the record by id and stays out of the payload', () => {
    const mapper = createRowMapper(
      importJob({ table: 'contact', operation: 'update', columns: { Id: 'contactid', Title: 'jobtitle' } }),
      contact,
      related,
    );
    const result = ok(mapper.map(record(2, { Id: ACME_ID.toUpperCase(), Title: 'CTO' })));
    expect(result.target).toEqual({ kind: 'id', id: ACME_ID });
    expect(result.payload).toEqual({ jobtitle: 'CTO' });
    expect(failed(mapper.map(record(3, { Id: '', Title: 'CTO' }))).errors[0]?.code).toBe('MissingKey');
  });

  it('create without key or id targets a new record', () => {
    const mapper = createRowMapper(
      importJob({ table: 'contact', operation: 'create', columns: { L: 'lastname' } }),
      contact,
      related,
    );
    const result = ok(mapper.map(record(2, { L: 'X' })));
    expect(result.target).toEqual({ kind: 'new' });
    expect(result.keyString).toBeUndefined();
  });

  it('delete reads only the key: other bad cells cannot fail it', () => {
    const mapper = createRowMapper(
      importJob({
        table: 'contact',
        operation: 'delete',
        key: ['emailaddress1'],
        columns: { Email: 'emailaddress1', Kids: 'numberofchildren' },
      }),
      contact,
      related,
    );
    expect(mapper.warnings.map((w) => w.path)).toContain('columns."Kids"');
    const result = ok(mapper.map(record(2, { Email: 'a@x.io', Kids: 'lots' })));
    expect(result.target).toEqual({ kind: 'key', key: { emailaddress1: 'a@x.io' } });
  });
});

describe('createRowMapper: jobs that do not fit the table', () => {
  it('throws one error listing every problem', () => {
    let error: unknown;
    try {
      createRowMapper(
        importJob({
          table: 'contact',
          operation: 'upsert',
          key: ['emailaddress1'],
          columns: {
            Email: 'emailaddress1',
            First: 'firstnme',
            Full: 'fullname',
            Company: { attribute: 'parentcustomerid', by: 'accountnumber' },
          },
        }),
        contact,
        related,
      );
    } catch (e) {
      error = e;
    }
    if (!isMappingSetupError(error)) throw new Error('expected a MappingSetupError');
    expect(error.problems.map((p) => p.path)).toEqual([
      'columns."First"',
      'columns."Full"',
      'columns."Company"',
    ]);
    expect(error.message).toContain('contact has no column "firstnme"; did you mean "firstname"?');
    expect(error.message).toContain('"fullname" is read-only');
    expect(error.message).toContain('can point at account or contact: say which with "lookup"');
  });
});

describe('mapper: reading cells by header position', () => {
  const job = importJob({
    table: 'contact',
    operation: 'upsert',
    key: ['emailaddress1'],
    columns: {
      Email: 'emailaddress1',
      Last: 'lastname',
      Title: { attribute: 'jobtitle', optional: true, default: 'n/a' },
    },
  });

  it('maps chunk rows (cells only) the same as records with values', () => {
    const byPosition = createRowMapper(job, contact, related, { header: ['Last', 'Notes', 'Email'] });
    const chunkRow = { row: 12, cells: ['Hopper', 'ignored', 'G@x.io'] };
    const result = ok(byPosition.map(chunkRow));
    expect(result.payload).toEqual({ emailaddress1: 'G@x.io', lastname: 'Hopper', jobtitle: 'n/a' });
    const byName = createRowMapper(job, contact, related);
    expect(ok(byName.map(record(12, { Last: 'Hopper', Notes: 'ignored', Email: 'G@x.io' }))).payload).toEqual(
      result.payload,
    );
  });

  it('without a header, records must carry values', () => {
    const byName = createRowMapper(job, contact, related);
    expect(() => byName.map({ row: 2, cells: ['a'] })).toThrow(/need `values`/);
  });
});
