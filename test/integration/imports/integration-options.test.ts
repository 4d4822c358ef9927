// Issue 20, import: bypass business logic, duplicate detection, impersonation and owners, each through
// `dvpipe import` against the emulator, as a user runs them.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../emulator/index.js';
import { stableGuid } from '../../../emulator/model.js';
import { dvpipe } from '../../helpers/cli.js';

const ADA_OBJECT_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const ALAN_OBJECT_ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const CALLER = stableGuid('systemuser:dvpipe');

let emu: RunningEmulator;
let dir: string;
let runs = 0;
/** The request log's length when the last import started: its requests are the ones after it. */
let logMark = 0;
const runLog = () => emu.recentLog().slice(logMark);

beforeAll(async () => {
  emu = await startEmulator({ profile: 'fast' });
  dir = await mkdtemp(join(tmpdir(), 'dvp-integration-options-'));
});
afterAll(async () => {
  await emu?.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await fetch(`${emu.url}/_emulator/reset`, { method: 'POST' });
});

const grant = async (privileges: Record<string, Record<string, boolean>>) => {
  const r = await fetch(`${emu.url}/_emulator/configure`, {
    method: 'POST',
    body: JSON.stringify({ privileges }),
  });
  expect(r.status).toBe(200);
};

/** Writes the CSV and the job, runs `dvpipe import`, and reads what it left in --out. */
async function runImport(
  job: Record<string, unknown>,
  rows: readonly (readonly string[])[],
  extra: readonly string[] = [],
) {
  runs += 1;
  logMark = emu.recentLog().length;
  const file = join(dir, `input-${runs}.csv`);
  const jobFile = join(dir, `job-${runs}.json`);
  const out = join(dir, `out-${runs}`);
  await writeFile(file, rows.map((row) => row.join(',')).join('\n'));
  await writeFile(jobFile, JSON.stringify(job));
  const ran = await dvpipe(['import', file, '--job', jobFile, '--url', emu.url, '--out', out, ...extra]);
  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Record<string, unknown>;
  const errorsText = await readFile(join(out, 'errors.csv'), 'utf8').catch(() => '');
  const errors = errorsText
    ? (parse(errorsText, { columns: true, bom: true }) as Record<string, string>[])
    : [];
  return { ran, summary, errors };
}

const accounts = (extra: Record<string, unknown> = {}) => ({
  name: 'accounts',
  table: 'account',
  operation: 'create',
  columns: { Name: 'name', Number: 'accountnumber' },
  ...extra,
});

describe('bypass business logic (job "bypass")', () => {
  const job = accounts({ bypass: { customSync: true, customAsync: true, powerAutomateFlows: true } });
  const rows = [
    ['Name', 'Number'],
    ['Contoso', 'A-1'],
    ['Fabrikam', 'A-2'],
  ];

  it('fails the run up front, naming the privilege, when the identity lacks it: no row is written', async () => {
    const { ran, summary } = await runImport(job, rows);
    expect(ran.code).toBe(2);
    expect(summary.error).toMatchObject({ code: 'MissingPrivilege' });
    const message = (summary.error as { message: string }).message;
    expect(message).toContain('prvBypassCustomBusinessLogic');
    expect(message).toContain('bypass.customSync, bypass.customAsync');
    expect(message).toContain(CALLER);
    expect(ran.stdout + ran.stderr).toContain('prvBypassCustomBusinessLogic');
    expect(emu.store.count('account')).toBe(0);
    // Not one write request reached the emulator.
    expect(runLog().filter((e) => e.method !== 'GET')).toEqual([]);
  });

  it('with the privilege, every write carries the bypass headers', async () => {
    await grant({ dvpipe: { prvBypassCustomBusinessLogic: true } });
    const { ran } = await runImport(job, rows);
    expect(ran.code).toBe(0);
    expect(emu.store.all('account').map((a) => a.name)).toEqual(
      expect.arrayContaining(['Contoso', 'Fabrikam']),
    );
    const writes = runLog().filter((e) => e.method !== 'GET');
    expect(writes.length).toBeGreaterThan(0);
    for (const write of writes) {
      expect(write.options).toEqual([
        'BypassBusinessLogicExecution=CustomSync,CustomAsync',
        'SuppressCallbackRegistrationExpanderJob',
      ]);
    }
  });
});

describe('a pool of identities (--user a,b; DATAVERSE_CLIENT_IDS in the app)', () => {
  const job = accounts({ bypass: { customSync: true, customAsync: false, powerAutomateFlows: false } });
  const rows = [['Name', 'Number'], ...Array.from({ length: 40 }, (_, i) => [`Pool ${i}`, `P-${i}`])];

  it('checks every identity that writes, naming the one lacking the privilege by client id', async () => {
    await grant({ dvpipe: { prvBypassCustomBusinessLogic: true } });
    const { ran, summary } = await runImport(job, rows, ['--user', 'dvpipe,ops-writer']);
    expect(ran.code).toBe(2);
    expect(summary.error).toMatchObject({ code: 'MissingPrivilege' });
    const message = (summary.error as { message: string }).message;
    expect(message).toContain(
      `1 of the 2 identities running the import do not hold it (client id ops-writer, systemuserid ${stableGuid('systemuser:ops-writer')})`,
    );
    expect(message).not.toContain('client id dvpipe');
    expect(emu.store.count('account')).toBe(0);
    expect(runLog().filter((e) => e.method !== 'GET')).toEqual([]);
    // Each identity asked WhoAmI as itself (the privilege check, and the probes that find its web servers).
    const whoAmI = runLog().filter((e) => e.url.startsWith('/api/data/v9.2/WhoAmI'));
    expect([...new Set(whoAmI.map((e) => e.user))].sort()).toEqual(['dvpipe', 'ops-writer']);
  });

  it('runs once every identity holds it', async () => {
    await grant({
      dvpipe: { prvBypassCustomBusinessLogic: true },
      'ops-writer': { prvBypassCustomBusinessLogic: true },
    });
    const { ran, summary } = await runImport(job, rows, ['--user', 'dvpipe,ops-writer']);
    expect(ran.code).toBe(0);
    expect(summary.rows).toMatchObject({ total: 40, succeeded: 40 });
    expect(emu.store.count('account')).toBe(40);
  });
});

describe('duplicate detection (job "duplicateDetection")', () => {
  const rows = [
    ['Name', 'Number'],
    ['contoso', 'A-1'],
    ['Fabrikam', 'A-2'],
    ['Northwind', 'A-3'],
  ];

  it('is off by default: a second "Contoso" is created', async () => {
    emu.store.put('account', { name: 'Contoso' });
    const { ran } = await runImport(accounts(), rows);
    expect(ran.code).toBe(0);
    expect(emu.store.count('account')).toBe(4);
  });

  it('when on, the duplicate row fails with DuplicateRecord naming the matching record; the others are written', async () => {
    const existing = emu.store.put('account', { name: 'Contoso' });
    const { ran, errors, summary } = await runImport(accounts({ duplicateDetection: true }), rows);
    expect(ran.code).toBe(1);
    expect(summary.rows).toMatchObject({ total: 3, succeeded: 2, failed: 1 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ row: '2', Name: 'contoso', code: 'DuplicateRecord' });
    expect(errors[0]!.message).toContain(`"Contoso" (${existing})`);
    expect(
      emu.store
        .all('account')
        .map((a) => a.name)
        .sort(),
    ).toEqual(['Contoso', 'Fabrikam', 'Northwind']);
  });
});

describe('duplicate detection in a dry run', () => {
  it('says it cannot predict duplicates, and counts the row the real run refuses as valid', async () => {
    emu.store.put('account', { name: 'Contoso' });
    const rows = [
      ['Name', 'Number'],
      ['contoso', 'A-1'],
      ['Fabrikam', 'A-2'],
    ];
    const dry = await runImport(accounts({ duplicateDetection: true }), rows, ['--dry-run']);
    expect(dry.ran.code).toBe(0);
    expect(dry.summary.rows).toMatchObject({ total: 2, succeeded: 2, failed: 0 });
    expect(dry.ran.stdout).toContain(
      'Duplicate detection is on for this job, but a dry run cannot predict duplicates',
    );
    expect(emu.store.count('account')).toBe(1);
    // Without duplicate detection there is nothing to say.
    const plain = await runImport(accounts(), rows, ['--dry-run']);
    expect(plain.ran.stdout).not.toContain('Duplicate detection');
    // The real run: the rule refuses the row the dry run counted valid.
    const real = await runImport(accounts({ duplicateDetection: true }), rows);
    expect(real.summary.rows).toMatchObject({ total: 2, succeeded: 1, failed: 1 });
    expect(real.errors.map((e) => e.code)).toEqual(['DuplicateRecord']);
  });
});

describe('impersonation (job "callerObjectId")', () => {
  const seedAda = () =>
    emu.store.put('systemuser', {
      firstname: 'Ada',
      lastname: 'Lovelace',
      domainname: 'ada@contoso.com',
      internalemailaddress: 'ada@contoso.com',
      azureactivedirectoryobjectid: ADA_OBJECT_ID,
    });
  const job = {
    name: 'people',
    table: 'contact',
    operation: 'create',
    columns: { Email: 'emailaddress1', 'Last Name': 'lastname' },
    callerObjectId: ADA_OBJECT_ID,
  };
  const rows = [
    ['Email', 'Last Name'],
    ['grace@example.com', 'Hopper'],
  ];

  it('is refused up front without prvActOnBehalfOfAnotherUser, naming it', async () => {
    seedAda();
    const { ran, summary } = await runImport(job, rows);
    expect(ran.code).toBe(2);
    expect(summary.error).toMatchObject({ code: 'MissingPrivilege' });
    expect((summary.error as { message: string }).message).toContain('prvActOnBehalfOfAnotherUser');
    expect(ran.stdout + ran.stderr).toContain('prvActOnBehalfOfAnotherUser');
    expect(emu.store.count('contact')).toBe(0);
  });

  it('refuses an object id no user has', async () => {
    await grant({ dvpipe: { prvActOnBehalfOfAnotherUser: true } });
    const { ran, summary } = await runImport(job, rows);
    expect(ran.code).toBe(2);
    expect(summary.error).toMatchObject({ code: 'UnknownCaller' });
    expect((summary.error as { message: string }).message).toContain(ADA_OBJECT_ID);
    expect(emu.store.count('contact')).toBe(0);
  });

  it('with the privilege, records are created as (and owned by) that user', async () => {
    const ada = seedAda();
    await grant({ dvpipe: { prvActOnBehalfOfAnotherUser: true } });
    const { ran } = await runImport(job, rows);
    expect(ran.code).toBe(0);
    const [contact] = emu.store.all('contact');
    expect(contact).toMatchObject({ lastname: 'Hopper', _ownerid_value: ada });
    const writes = runLog().filter((e) => e.method !== 'GET');
    expect(writes.length).toBeGreaterThan(0);
    for (const write of writes) expect(write.impersonating).toBe(ada);
  });

  // Learn, "Impersonate another user using the Web API" (Determine the actual user): createdby is the
  // impersonated user, createdonbehalfby the one who called; modifiedonbehalfby likewise for updates.
  it('audit: each row shows the impersonated user as createdby and the caller as createdonbehalfby; a later update by another run moves only modified*; an extract reads them back with names', async () => {
    const ada = seedAda();
    const alan = emu.store.put('systemuser', {
      firstname: 'Alan',
      lastname: 'Turing',
      domainname: 'alan@contoso.com',
      azureactivedirectoryobjectid: ALAN_OBJECT_ID,
    });
    const opsWriter = stableGuid('systemuser:ops-writer');
    await grant({
      dvpipe: { prvActOnBehalfOfAnotherUser: true },
      'ops-writer': { prvActOnBehalfOfAnotherUser: true },
    });
    const people = [
      ['grace@example.com', 'Hopper'],
      ['barbara@example.com', 'Liskov'],
      ['edsger@example.com', 'Dijkstra'],
    ];
    const created = await runImport(job, [['Email', 'Last Name'], ...people]);
    expect(created.ran.code).toBe(0);
    expect(created.summary.rows).toMatchObject({ total: 3, succeeded: 3 });
    const audit = () =>
      Object.fromEntries(
        emu.store
          .all('contact')
          .map((c) => [
            c.emailaddress1,
            [
              c._createdby_value,
              c._createdonbehalfby_value,
              c._modifiedby_value,
              c._modifiedonbehalfby_value,
            ],
          ]),
      );
    expect(audit()).toEqual(Object.fromEntries(people.map(([email]) => [email, [ada, CALLER, ada, CALLER]])));
    const createdOn = Object.fromEntries(emu.store.all('contact').map((c) => [c.emailaddress1, c.createdon]));

    // Another run, another identity, acting for Alan, updates two of the three.
    const update = await runImport(
      {
        ...job,
        name: 'people-update',
        operation: 'update',
        key: ['emailaddress1'],
        callerObjectId: ALAN_OBJECT_ID,
      },
      [['Email', 'Last Name'], ...people.slice(0, 2).map(([email, last]) => [email!, `${last} (updated)`])],
      ['--user', 'ops-writer'],
    );
    expect(update.ran.code).toBe(0);
    expect(update.summary.rows).toMatchObject({ total: 2, succeeded: 2 });
    expect(audit()).toEqual({
      'grace@example.com': [ada, CALLER, alan, opsWriter],
      'barbara@example.com': [ada, CALLER, alan, opsWriter],
      'edsger@example.com': [ada, CALLER, ada, CALLER],
    });
    expect(Object.fromEntries(emu.store.all('contact').map((c) => [c.emailaddress1, c.createdon]))).toEqual(
      createdOn,
    );

    // `dvpipe extract` of the audit columns, labels on: the ids and the users' names beside them.
    const extractJob = join(dir, `audit-extract-${runs}.json`);
    await writeFile(
      extractJob,
      JSON.stringify({
        name: 'contact-audit',
        table: 'contact',
        columns: ['emailaddress1', 'createdby', 'createdonbehalfby', 'modifiedby', 'modifiedonbehalfby'],
        output: { formattedValues: true, bom: false },
      }),
    );
    const out = join(dir, `audit-${runs}`, 'contacts.csv');
    const extract = await dvpipe(['extract', '--job', extractJob, '--url', emu.url, '--out', out]);
    expect(extract.code).toBe(0);
    const text = await readFile(out, 'utf8');
    expect(text.split(/\r?\n/)[0]).toBe(
      'emailaddress1,createdby,createdby@label,createdonbehalfby,createdonbehalfby@label,' +
        'modifiedby,modifiedby@label,modifiedonbehalfby,modifiedonbehalfby@label',
    );
    const extracted = (parse(text, { columns: true }) as Record<string, string>[]).sort((a, b) =>
      a.emailaddress1!.localeCompare(b.emailaddress1!),
    );
    const row = (email: string, modifiedBy: [string, string], onBehalf: [string, string]) => ({
      emailaddress1: email,
      createdby: ada,
      'createdby@label': 'Ada Lovelace',
      createdonbehalfby: CALLER,
      'createdonbehalfby@label': 'dvpipe',
      modifiedby: modifiedBy[0],
      'modifiedby@label': modifiedBy[1],
      modifiedonbehalfby: onBehalf[0],
      'modifiedonbehalfby@label': onBehalf[1],
    });
    expect(extracted).toEqual([
      row('barbara@example.com', [alan, 'Alan Turing'], [opsWriter, 'ops-writer']),
      row('edsger@example.com', [ada, 'Ada Lovelace'], [CALLER, 'dvpipe']),
      row('grace@example.com', [alan, 'Alan Turing'], [opsWriter, 'ops-writer']),
    ]);
  });
});

describe("associate with bypass and impersonation (the $batch links carry the job's headers)", () => {
  const job = {
    name: 'quiet-members',
    table: 'list',
    operation: 'associate',
    relationship: 'listcontact_association',
    columns: { List: 'listname', Email: { attribute: 'contactid', lookup: 'contact', by: 'emailaddress1' } },
    bypass: { customSync: true, customAsync: false, powerAutomateFlows: true },
    callerObjectId: ADA_OBJECT_ID,
  };
  const rows = [
    ['List', 'Email'],
    ['Spring Launch', 'grace@example.com'],
    ['Spring Launch', 'alan@example.com'],
  ];
  const seed = () => {
    const ada = emu.store.put('systemuser', {
      firstname: 'Ada',
      lastname: 'Lovelace',
      domainname: 'ada@contoso.com',
      azureactivedirectoryobjectid: ADA_OBJECT_ID,
    });
    const list = emu.store.put('list', { listname: 'Spring Launch', createdfromcode: 2 });
    const contacts = ['grace@example.com', 'alan@example.com'].map((email) =>
      emu.store.put('contact', { emailaddress1: email, lastname: email.split('@')[0] }),
    );
    return { ada, list, contacts };
  };

  it('is refused up front when the user it writes as lacks the bypass privilege', async () => {
    const { list } = seed();
    await grant({ dvpipe: { prvActOnBehalfOfAnotherUser: true, prvBypassCustomBusinessLogic: true } });
    const { ran, summary } = await runImport(job, rows);
    expect(ran.code).toBe(2);
    expect(summary.error).toMatchObject({ code: 'MissingPrivilege' });
    expect((summary.error as { message: string }).message).toContain(
      `the user it writes as (callerObjectId ${ADA_OBJECT_ID}`,
    );
    expect(emu.store.related('list', list, 'listcontact_association')).toEqual([]);
  });

  // The emulator runs each $batch part as the user CallerObjectId names and checks that user's
  // bypass privilege: the log shows both only when the headers reached it.
  it('links as the impersonated user with the bypass applied', async () => {
    const { ada, list, contacts } = seed();
    // The caller may act for Ada; Ada (whose context the links run in) may bypass custom logic.
    await grant({
      dvpipe: { prvActOnBehalfOfAnotherUser: true },
      [ada]: { prvBypassCustomBusinessLogic: true },
    });
    const { ran, summary } = await runImport(job, rows);
    expect(ran.code).toBe(0);
    expect(summary.rows).toMatchObject({ total: 2, succeeded: 2, associated: 2 });
    expect(emu.store.related('list', list, 'listcontact_association')).toEqual([...contacts].sort());
    const writes = runLog().filter((e) => e.method !== 'GET');
    expect(writes.map((e) => e.operation)).toEqual(['batch']);
    expect(writes[0]).toMatchObject({
      impersonating: ada,
      options: ['BypassBusinessLogicExecution=CustomSync', 'SuppressCallbackRegistrationExpanderJob'],
    });
  });
});

describe('owners: ownerid from a user email / domain name or a team name', () => {
  it('resolves each kind of cell, caches the look-ups, and fails an unknown owner on its row', async () => {
    const ada = emu.store.put('systemuser', {
      firstname: 'Ada',
      lastname: 'Lovelace',
      domainname: 'CONTOSO\\ada',
      internalemailaddress: 'ada@contoso.com',
    });
    const alan = emu.store.put('systemuser', {
      firstname: 'Alan',
      lastname: 'Turing',
      domainname: 'alan@contoso.com',
      internalemailaddress: 'alan.turing@contoso.com',
    });
    const sales = emu.store.put('team', { name: 'Sales', teamtype: 0 });
    const job = {
      name: 'owned',
      table: 'account',
      operation: 'create',
      columns: { Name: 'name', Owner: 'ownerid' },
    };
    const rows = [
      ['Name', 'Owner'],
      ['One', 'ada@contoso.com'],
      ['Two', 'CONTOSO\\ada'],
      ['Three', 'alan@contoso.com'],
      ['Four', 'sales'],
      ['Five', 'Nobody Team'],
      ['Six', 'ADA@contoso.com'],
    ];
    const { ran, errors } = await runImport(job, rows);
    expect(ran.code).toBe(1);
    const owners = Object.fromEntries(emu.store.all('account').map((a) => [a.name, a._ownerid_value]));
    expect(owners).toEqual({ One: ada, Two: ada, Three: alan, Four: sales, Six: ada });
    expect(errors.map((e) => [e.row, e.code, e.column])).toEqual([['6', 'LookupNotFound', 'Owner']]);
    // One query per (table, column), however many rows name the same owner.
    const userQueries = runLog().filter(
      (e) => e.method === 'GET' && e.url.startsWith('/api/data/v9.2/systemusers?'),
    );
    expect(userQueries.length).toBeLessThanOrEqual(2);
  });
});

describe('statecode / statuscode by label', () => {
  const contacts = (operation: string, extra: Record<string, unknown> = {}) => ({
    name: 'states',
    table: 'contact',
    operation,
    columns: {
      Email: 'emailaddress1',
      'Last Name': 'lastname',
      State: { attribute: 'statecode', choice: 'label', optional: true },
      Status: { attribute: 'statuscode', choice: 'label', optional: true },
    },
    ...extra,
  });

  it('creates in the initial state directly, sets any other state by a follow-up update of both, and reports each row once', async () => {
    const { ran, summary, errors } = await runImport(contacts('create'), [
      ['Email', 'Last Name', 'State', 'Status'],
      ['a@example.com', 'Active One', 'Active', 'Active'],
      ['b@example.com', 'Inactive Two', 'Inactive', 'Inactive'],
      ['c@example.com', 'Status Only', '', 'Inactive'],
      ['d@example.com', 'Mismatch', 'Active', 'Inactive'],
    ]);
    expect(ran.code).toBe(1);
    expect(summary.rows).toMatchObject({ total: 4, succeeded: 3, failed: 1 });
    expect(errors.map((e) => [e.row, e.code])).toEqual([['5', 'BadState']]);
    expect(errors[0]!.message).toContain('statuscode 2 belongs to statecode 1, not 0');
    const states = Object.fromEntries(
      emu.store.all('contact').map((c) => [c.lastname, [c.statecode, c.statuscode]]),
    );
    expect(states).toEqual({ 'Active One': [0, 1], 'Inactive Two': [1, 2], 'Status Only': [1, 2] });
    // The create never carried statecode; the follow-up sent both together, for the two inactive rows only.
    const updates = runLog().filter((e) => e.operation === 'UpdateMultiple');
    expect(updates).toHaveLength(1);
    expect(updates[0]!.records).toBe(2);
  });

  it('an update sends statecode and statuscode together (a status alone brings its state)', async () => {
    const id = emu.store.put('contact', { lastname: 'Sleeping', emailaddress1: 'z@example.com' });
    const deactivate = await runImport(contacts('update', { key: ['emailaddress1'] }), [
      ['Email', 'Last Name', 'Status'],
      ['z@example.com', 'Sleeping', 'Inactive'],
    ]);
    expect(deactivate.ran.code).toBe(0);
    expect(emu.store.get('contact', id)).toMatchObject({ statecode: 1, statuscode: 2 });
    const wake = await runImport(
      contacts('upsert', { key: ['emailaddress1'], writeStrategy: 'upsertMultiple' }),
      [
        ['Email', 'Last Name', 'State'],
        ['z@example.com', 'Awake', 'Active'],
        ['new@example.com', 'Born Inactive', 'Inactive'],
      ],
    );
    expect(wake.ran.code).toBe(0);
    expect(emu.store.get('contact', id)).toMatchObject({ lastname: 'Awake', statecode: 0, statuscode: 1 });
    const born = emu.store.all('contact').find((c) => c.lastname === 'Born Inactive');
    expect(born).toMatchObject({ statecode: 1, statuscode: 2 });
  });
});

describe('multi-select choices', () => {
  it('clearing a value sends null: an empty cell (empty: clear) and a cell of separators only', async () => {
    const first = emu.store.put('dvp_sample', {
      dvp_name: 'One',
      dvp_code: 'S-1',
      dvp_tags: '100000000,100000002',
    });
    const second = emu.store.put('dvp_sample', { dvp_name: 'Two', dvp_code: 'S-2', dvp_tags: '100000001' });
    const job = {
      name: 'samples',
      table: 'dvp_sample',
      operation: 'upsert',
      key: ['dvp_code'],
      columns: { Code: 'dvp_code', Tags: { attribute: 'dvp_tags', choice: 'label', empty: 'clear' } },
    };
    const { ran } = await runImport(job, [
      ['Code', 'Tags'],
      ['S-1', ''],
      ['S-2', ' ; '],
      ['S-3', 'Red;Yellow'],
    ]);
    expect(ran.code).toBe(0);
    expect(emu.store.get('dvp_sample', first)!.dvp_tags).toBeNull();
    expect(emu.store.get('dvp_sample', second)!.dvp_tags).toBeNull();
    const third = emu.store.all('dvp_sample').find((r) => r.dvp_code === 'S-3');
    expect(third!.dvp_tags).toBe('100000000,100000003');
  });
});

describe('dvpipe jobs validate', () => {
  it('checks the shape of the options, and with --url the privileges they need', async () => {
    const bad = join(dir, 'bad-options.json');
    await writeFile(
      bad,
      JSON.stringify(
        accounts({
          bypass: { customSync: 'yes', stepIds: [1, 2, 3, 4].map((n) => stableGuid(`step ${n}`)) },
          callerObjectId: 'ada@contoso.com',
        }),
      ),
    );
    const shape = await dvpipe(['jobs', 'validate', bad]);
    expect(shape.code).toBe(2);
    expect(shape.stdout).toContain('bypass.customSync');
    expect(shape.stdout).toContain('bypass.stepIds: at most 3 plug-in steps can be bypassed');
    expect(shape.stdout).toContain('callerObjectId: expected a GUID');

    const example = join(process.cwd(), 'jobs', 'accounts-assigned.json');
    const refused = await dvpipe(['jobs', 'validate', example, '--url', emu.url]);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toContain('MissingPrivilege');
    expect(refused.stdout).toContain('prvBypassCustomBusinessLogic');
    await grant({ dvpipe: { prvBypassCustomBusinessLogic: true } });
    const fits = await dvpipe(['jobs', 'validate', example, '--url', emu.url]);
    expect(fits.code).toBe(0);
    expect(fits.stdout).toContain("import job 'accounts-assigned' fits table 'account'");
  });
});
