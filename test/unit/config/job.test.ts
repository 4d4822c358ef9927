import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  isJobDefinitionError,
  JobDefinitionError,
  loadJobFile,
  parseImportJob,
  parseJob,
  requiredHeaders,
} from '../../../src/config/job.js';
import { designContactsJob } from '../../fixtures/design-job.js';

const designExample = designContactsJob;

function problemText(json: unknown, source = 'jobs/contacts.json'): string {
  try {
    parseJob(json, source);
  } catch (error) {
    if (isJobDefinitionError(error)) return error.message;
    throw error;
  }
  throw new Error('expected the job to be rejected');
}

describe('parseJob: import jobs', () => {
  it('accepts the DESIGN.md example and fills defaults', () => {
    const job = parseImportJob(designExample, 'jobs/contacts.json');
    expect(job.type).toBe('import');
    expect(job.operation).toBe('upsert');
    expect(job.key).toEqual(['emailaddress1']);
    expect(job.emptyCells).toBe('skip');
    expect(job.duplicateKeys).toBe('lastWins');
    expect(job.writeStrategy).toBe('auto');
    expect(job.csv).toEqual({ delimiter: ',', encoding: 'utf-8', bom: true, quote: '"' });
    expect(job.timeZone).toBe('UTC');
    expect(job.trim).toBe(true);
  });

  it('names the file and the field path of a bad lookup table', () => {
    const json = {
      ...designExample,
      columns: {
        ...designExample.columns,
        Company: { attribute: 'parentcustomerid', lookup: 'Account', by: 'accountnumber' },
      },
    };
    expect(problemText(json)).toMatch(
      /^jobs\/contacts\.json: columns\."Company"\.lookup: expected a table logical name/,
    );
  });

  it('reports a wrong type of column spec without union noise', () => {
    const json = { ...designExample, columns: { ...designExample.columns, Email: 42 } };
    expect(problemText(json)).toBe(
      'jobs/contacts.json: columns."Email": expected a column logical name or a mapping object',
    );
  });

  it('reports unknown fields (typos) at their place', () => {
    const json = { ...designExample, colums: {} };
    expect(problemText(json)).toContain('unknown field "colums"');
    const inner = { ...designExample, columns: { Email: { attribute: 'emailaddress1', lookp: 'x' } } };
    expect(problemText(inner)).toContain('columns."Email": unknown field "lookp"');
  });

  it('requires a key or a primary id column for update, upsert and delete', () => {
    for (const operation of ['update', 'upsert', 'delete']) {
      const { key: _key, ...noKey } = designExample;
      expect(problemText({ ...noKey, operation })).toContain(`key: operation "${operation}" needs "key"`);
    }
    const byId = { name: 'purge', table: 'contact', operation: 'delete', columns: { Id: 'contactid' } };
    expect(parseJob(byId, 'jobs/purge.json').type).toBe('import');
    const create = { name: 'c', table: 'contact', operation: 'create', columns: { Last: 'lastname' } };
    expect(parseJob(create, 'c.json').type).toBe('import');
  });

  it('requires key columns to be mapped', () => {
    expect(problemText({ ...designExample, key: ['contactnumber'] })).toContain(
      'key[0]: key column "contactnumber" is not mapped by any CSV column',
    );
  });

  it('rejects one attribute mapped twice, or by a column and a constant', () => {
    const twice = { ...designExample, columns: { ...designExample.columns, Mail: 'emailaddress1' } };
    expect(problemText(twice)).toContain(
      'columns."Mail": "emailaddress1" is already mapped by column "Email"',
    );
    const constant = { ...designExample, constants: { firstname: 'x' } };
    expect(problemText(constant)).toContain('constants."firstname": "firstname" is also mapped by column');
  });

  it('checks date formats, time zones, encodings and delimiters', () => {
    const badFormat = {
      ...designExample,
      columns: { ...designExample.columns, Birthday: { attribute: 'birthdate', format: 'dd/MM/yy' } },
    };
    expect(problemText(badFormat)).toContain(
      'columns."Birthday".format: two-digit years are ambiguous: use yyyy',
    );
    expect(problemText({ ...designExample, timeZone: 'Mars/Olympus' })).toContain(
      'timeZone: expected an IANA time zone',
    );
    expect(problemText({ ...designExample, csv: { encoding: 'klingon-8' } })).toContain('csv.encoding:');
    expect(problemText({ ...designExample, csv: { delimiter: ';;' } })).toContain('csv.delimiter:');
    const ok = parseImportJob(
      { ...designExample, timeZone: 'Europe/Paris', csv: { delimiter: ';', encoding: 'windows-1252' } },
      'x',
    );
    expect(ok.csv.delimiter).toBe(';');
    expect(ok.csv.quote).toBe('"');
  });

  it('lists every problem, one per line', () => {
    const text = problemText({ name: 'bad name!', table: 'Contact', operation: 'merge', columns: {} });
    const lines = text.split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(lines.every((l) => l.startsWith('jobs/contacts.json: '))).toBe(true);
    expect(text).toMatch(/name: expected a job name/);
    expect(text).toMatch(/table: expected a table logical name/);
    expect(text).toMatch(/operation: /);
    expect(text).toMatch(/columns: map at least one CSV column/);
  });

  it('required headers are the mapped columns not marked optional', () => {
    const job = parseImportJob(
      {
        ...designExample,
        columns: { ...designExample.columns, Phone: { attribute: 'telephone1', optional: true } },
      },
      'x',
    );
    expect(requiredHeaders(job)).toEqual([
      'Email',
      'First Name',
      'Last Name',
      'Company',
      'Contact Method',
      'Birthday',
    ]);
  });
});

describe('parseJob: extract jobs', () => {
  it('accepts a minimal extract job and fills output defaults', () => {
    const job = parseJob(
      { name: 'accounts-nightly', table: 'account', columns: ['accountid', 'name'] },
      'x.json',
    );
    if (job.type !== 'extract') throw new Error('expected an extract job');
    expect(job.output.neutraliseFormulas).toBe(true);
    expect(job.output.deletes).toBe('omit');
    expect(job.output.path).toBe('extracts/{job}/{yyyy}/{MM}/{dd}/{job}-{timestamp}.csv');
    expect(job.partitions).toBe(1);
  });

  it('fills incremental watermark defaults and rejects unknown modes and placeholders', () => {
    const job = parseJob(
      {
        name: 'a',
        table: 'account',
        columns: ['name'],
        incremental: { mode: 'watermark' },
        schedule: '0 0 2 * * *',
      },
      'x',
    );
    expect(job.type === 'extract' && job.incremental).toEqual({
      mode: 'watermark',
      column: 'modifiedon',
      overlapSeconds: 300,
    });
    expect(
      problemText(
        { name: 'a', table: 'account', columns: ['name'], incremental: { mode: 'magic' } },
        'e.json',
      ),
    ).toMatch(/^e\.json: incremental\.mode: /);
    expect(
      problemText(
        { name: 'a', table: 'account', columns: ['name'], output: { path: 'x/{week}.csv' } },
        'e.json',
      ),
    ).toContain('output.path: unknown placeholder');
    expect(
      problemText({ name: 'a', table: 'account', columns: ['name'], schedule: 'nightly' }, 'e.json'),
    ).toContain('schedule: expected a cron expression');
  });

  it('defaults to CSV; a Parquet job gets a .parquet default path and 50,000-row groups, and a path that says otherwise is refused', () => {
    const csv = parseJob({ name: 'a', table: 'account', columns: ['name'] }, 'x');
    expect(
      csv.type === 'extract' && [csv.format, csv.output.formattedValues, csv.output.lookupTargets],
    ).toEqual(['csv', false, false]);
    const parquet = parseJob({ name: 'a', table: 'account', columns: ['name'], format: 'parquet' }, 'x');
    expect(parquet.type === 'extract' && [parquet.output.path, parquet.output.rowGroupRows]).toEqual([
      'extracts/{job}/{yyyy}/{MM}/{dd}/{job}-{timestamp}.parquet',
      50_000,
    ]);
    expect(
      problemText(
        {
          name: 'a',
          table: 'account',
          columns: ['name'],
          format: 'parquet',
          output: { path: 'x/{job}.csv' },
        },
        'p.json',
      ),
    ).toBe('p.json: output.path: the path ends in ".csv" but "format" is "parquet"');
    expect(problemText({ name: 'a', table: 'account', columns: ['name'], format: 'xlsx' }, 'p.json')).toMatch(
      /^p\.json: format: /,
    );
  });

  it('rejects something that is neither kind', () => {
    expect(problemText({ name: 'a', table: 'account' }, 'j.json')).toMatch(
      /^j\.json: expected an import job/,
    );
    expect(problemText([], 'j.json')).toBe('j.json: expected a JSON object');
  });
});

describe('loadJobFile', () => {
  it('reads a file, and names it in JSON syntax errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'job-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const good = join(dir, 'contacts.json');
    await writeFile(good, '\ufeff' + JSON.stringify(designExample));
    expect((await loadJobFile(good)).name).toBe('contacts');
    const bad = join(dir, 'broken.json');
    await writeFile(bad, '{ "name": ');
    const error = await loadJobFile(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobDefinitionError);
    expect((error as Error).message).toMatch(
      new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not valid JSON`),
    );
  });
});
