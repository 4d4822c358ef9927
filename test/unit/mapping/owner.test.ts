import { describe, expect, it } from 'vitest';
import { createRowMapper } from '../../../src/mapping/mapper.js';
import { account, related } from './fixtures.js';
import { answers, importJob, record } from './helpers.js';

const ADA = '6a2b0c3d-1111-4222-8333-944455556666';
const SALES = '7b3c1d4e-2222-4333-9444-a55566667777';

describe('ownerid from a user email / domain name or a team name (one column)', () => {
  const job = importJob({
    table: 'account',
    operation: 'create',
    columns: { Name: 'name', Owner: 'ownerid' },
  });
  const mapper = createRowMapper(job, account, related);
  const rows = [
    record(2, { Name: 'A', Owner: 'ada@contoso.com' }),
    record(3, { Name: 'B', Owner: 'CONTOSO\\ada' }),
    record(4, { Name: 'C', Owner: 'Sales' }),
    record(5, { Name: 'D', Owner: 'Nobody' }),
    record(6, { Name: 'E', Owner: 'twice@contoso.com' }),
  ];

  it('asks users for cells with "@" or "\\" (by domain name and email) and teams for the rest', () => {
    const wanted = mapper
      .lookupsNeeded(rows)
      .map((r) => [r.table, r.by, [...r.values].sort()])
      .sort((a, b) => String(a[1]).localeCompare(String(b[1])));
    expect(wanted).toEqual([
      ['systemuser', 'domainname', ['ada@contoso.com', 'CONTOSO\\ada', 'twice@contoso.com'].sort()],
      ['systemuser', 'internalemailaddress', ['ada@contoso.com', 'CONTOSO\\ada', 'twice@contoso.com'].sort()],
      ['team', 'name', ['Nobody', 'Sales']],
    ]);
  });

  it('binds the first user column that matches, or the team; fails unknown and ambiguous owners', () => {
    const lookups = answers({
      'systemuser.domainname': { 'CONTOSO\\ada': [ADA] },
      'systemuser.internalemailaddress': { 'ada@contoso.com': [ADA], 'twice@contoso.com': [ADA, SALES] },
      'team.name': { Sales: [SALES] },
    });
    const mapped = rows.map((r) => mapper.map(r, lookups));
    expect(mapped.slice(0, 3).map((m) => (m.ok ? m.payload['ownerid@odata.bind'] : m.errors))).toEqual([
      `/systemusers(${ADA})`,
      `/systemusers(${ADA})`,
      `/teams(${SALES})`,
    ]);
    const [nobody, twice] = mapped.slice(3);
    expect(nobody).toMatchObject({ ok: false, errors: [{ code: 'LookupNotFound', column: 'Owner' }] });
    expect(!nobody!.ok && nobody!.errors[0]!.message).toContain('no team by name');
    expect(twice).toMatchObject({ ok: false, errors: [{ code: 'LookupAmbiguous' }] });
  });

  it('"lookup" still forces one table', () => {
    const forced = createRowMapper(
      importJob({
        table: 'account',
        operation: 'create',
        columns: { Owner: { attribute: 'ownerid', lookup: 'team', by: 'name' }, Name: 'name' },
      }),
      account,
      related,
    );
    expect(forced.lookupsNeeded([record(2, { Owner: 'a@b.c', Name: 'x' })])).toEqual([
      { table: 'team', by: 'name', values: ['a@b.c'] },
    ]);
  });
});
