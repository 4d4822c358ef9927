import { describe, expect, it } from 'vitest';
import { ensureApplicationUsers } from '../../scripts/lib/app-users.js';
import { isDeployScriptError } from '../../scripts/lib/errors.js';
import type { HttpRequest, HttpResponse, SendHttp } from '../../scripts/lib/http.js';

// The application-user logic against a small in-memory fake of the Dataverse Web API routes it
// uses (narrow, pure request/response logic; the real environment cannot be reached offline).

const ORG = 'https://contoso.crm.dynamics.com';
const API = `${ORG}/api/data/v9.2/`;
const ROOT_BU = '11111111-1111-1111-1111-111111111111';
const CHILD_BU = '22222222-2222-2222-2222-222222222222';
const ROLE = 'aaaaaaaa-0000-0000-0000-000000000001';
const ROLE_IN_CHILD_BU = 'aaaaaaaa-0000-0000-0000-000000000002';
const MI_1 = '0d2c6b1e-3f4a-4b5c-8d9e-0f1a2b3c4d5e';
const MI_2 = '9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b';

interface FakeUser {
  systemuserid: string;
  applicationid: string;
  businessunitid: string;
  isdisabled: boolean;
  roles: Set<string>;
}

class FakeDataverse {
  readonly users: FakeUser[] = [];
  readonly requests: HttpRequest[] = [];
  failWith: HttpResponse | undefined;
  #nextId = 1;

  readonly roles = [
    { roleid: ROLE, name: "Dataverse Pipelines' Writer", businessunitid: ROOT_BU },
    { roleid: ROLE_IN_CHILD_BU, name: "Dataverse Pipelines' Writer", businessunitid: CHILD_BU },
  ];

  readonly send: SendHttp = async (request) => {
    this.requests.push(request);
    if (this.failWith) return this.failWith;
    const url = new URL(request.url);
    const path = decodeURIComponent(url.pathname.slice('/api/data/v9.2/'.length));
    const filter = url.searchParams.get('$filter') ?? '';
    if (request.method === 'GET' && path === 'businessunits') {
      expect(filter).toBe('_parentbusinessunitid_value eq null');
      return json(200, { value: [{ businessunitid: ROOT_BU }] });
    }
    if (request.method === 'GET' && path === 'roles') {
      const match = /^name eq '((?:[^']|'')*)' and _businessunitid_value eq ([0-9a-f-]+)$/.exec(filter);
      const [, name = '', bu] = match ?? [];
      const rows = this.roles.filter((r) => r.name === name.replaceAll("''", "'") && r.businessunitid === bu);
      return json(200, { value: rows.map((r) => ({ roleid: r.roleid, name: r.name })) });
    }
    if (request.method === 'GET' && path === 'systemusers') {
      const appId = /^applicationid eq ([0-9a-f-]+)$/.exec(filter)?.[1];
      const rows = this.users.filter((u) => u.applicationid === appId);
      return json(200, {
        value: rows.map((u) => ({ systemuserid: u.systemuserid, isdisabled: u.isdisabled })),
      });
    }
    if (request.method === 'POST' && path === 'systemusers') {
      const body = JSON.parse(request.body ?? '{}') as Record<string, string>;
      const bu = /^\/businessunits\(([0-9a-f-]+)\)$/.exec(body['businessunitid@odata.bind'] ?? '')?.[1];
      if (!body.applicationid || !bu) return json(400, { error: { code: '0x80040203', message: 'missing' } });
      const id = `00000000-0000-0000-0000-${String(this.#nextId++).padStart(12, '0')}`;
      this.users.push({
        systemuserid: id,
        applicationid: body.applicationid,
        businessunitid: bu,
        isdisabled: false,
        roles: new Set(),
      });
      return { status: 204, headers: { 'odata-entityid': `${API}systemusers(${id})` }, body: '' };
    }
    const roles = /^systemusers\(([0-9a-f-]+)\)\/systemuserroles_association(\/\$ref)?$/.exec(path);
    const user = roles && this.users.find((u) => u.systemuserid === roles[1]);
    if (roles && user && request.method === 'GET') {
      const roleId = /^roleid eq ([0-9a-f-]+)$/.exec(filter)?.[1];
      return json(200, { value: [...user.roles].filter((r) => r === roleId).map((roleid) => ({ roleid })) });
    }
    if (roles && user && request.method === 'POST' && roles[2]) {
      const target = (JSON.parse(request.body ?? '{}') as Record<string, string>)['@odata.id'] ?? '';
      const roleId = new RegExp(`^${API.replaceAll('.', '\\.')}roles\\(([0-9a-f-]+)\\)$`).exec(target)?.[1];
      if (!roleId) return json(400, { error: { code: '0x80060888', message: 'bad @odata.id' } });
      user.roles.add(roleId);
      return { status: 204, headers: {}, body: '' };
    }
    return json(404, { error: { code: '0x80060888', message: `no route ${request.method} ${path}` } });
  };

  writes(): HttpRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }
}

function json(status: number, body: unknown): HttpResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function run(fake: FakeDataverse, overrides: Partial<Parameters<typeof ensureApplicationUsers>[0]> = {}) {
  return ensureApplicationUsers({
    dataverseUrl: ORG,
    clientIds: [MI_1, MI_2],
    roleName: "Dataverse Pipelines' Writer",
    send: fake.send,
    ...overrides,
  });
}

describe('ensureApplicationUsers', () => {
  it('creates one application user per identity in the root business unit and assigns the role', async () => {
    const fake = new FakeDataverse();
    const outcomes = await run(fake);

    expect(outcomes.map((o) => [o.clientId, o.user, o.role])).toEqual([
      [MI_1, 'created', 'assigned'],
      [MI_2, 'created', 'assigned'],
    ]);
    expect(fake.users.map((u) => [u.applicationid, u.businessunitid, [...u.roles]])).toEqual([
      [MI_1, ROOT_BU, [ROLE]],
      [MI_2, ROOT_BU, [ROLE]],
    ]);
    const create = fake.writes()[0];
    expect(create?.url).toBe(`${API}systemusers`);
    expect(JSON.parse(create?.body ?? '')).toEqual({
      applicationid: MI_1,
      'businessunitid@odata.bind': `/businessunits(${ROOT_BU})`,
    });
    expect(create?.headers['content-type']).toMatch(/^application\/json/);
    const associate = fake.writes()[1];
    expect(associate?.url).toBe(
      `${API}systemusers(${outcomes[0]?.systemUserId})/systemuserroles_association/$ref`,
    );
    expect(JSON.parse(associate?.body ?? '')).toEqual({ '@odata.id': `${API}roles(${ROLE})` });
  });

  it('changes nothing when run again', async () => {
    const fake = new FakeDataverse();
    const first = await run(fake);
    const writesAfterFirst = fake.writes().length;

    const second = await run(fake);

    expect(fake.writes()).toHaveLength(writesAfterFirst);
    expect(second.map((o) => [o.user, o.role])).toEqual([
      ['exists', 'had-role'],
      ['exists', 'had-role'],
    ]);
    expect(second.map((o) => o.systemUserId)).toEqual(first.map((o) => o.systemUserId));
    expect(fake.users).toHaveLength(2);
  });

  it('only adds the missing role to a user registered by hand', async () => {
    const fake = new FakeDataverse();
    fake.users.push({
      systemuserid: '33333333-3333-3333-3333-333333333333',
      applicationid: MI_1,
      businessunitid: ROOT_BU,
      isdisabled: true,
      roles: new Set(),
    });

    const [outcome] = await run(fake, { clientIds: [MI_1.toUpperCase()] });

    expect(outcome).toMatchObject({ clientId: MI_1, user: 'exists', role: 'assigned', disabled: true });
    expect(fake.writes().map((r) => r.url)).toEqual([
      `${API}systemusers(33333333-3333-3333-3333-333333333333)/systemuserroles_association/$ref`,
    ]);
  });

  it('assigns no role when none is asked for', async () => {
    const fake = new FakeDataverse();
    const outcomes = await run(fake, { roleName: undefined });
    expect(outcomes.map((o) => o.role)).toEqual(['not-requested', 'not-requested']);
    expect(fake.writes().every((r) => r.url === `${API}systemusers`)).toBe(true);
    expect(fake.requests.some((r) => r.url.includes('/roles'))).toBe(false);
  });

  it('writes nothing in a dry run and says what it would do', async () => {
    const fake = new FakeDataverse();
    const lines: string[] = [];
    const outcomes = await run(fake, { dryRun: true, log: (line) => lines.push(line) });
    expect(fake.writes()).toEqual([]);
    expect(outcomes.map((o) => [o.user, o.role, o.systemUserId])).toEqual([
      ['would-create', 'would-assign', undefined],
      ['would-create', 'would-assign', undefined],
    ]);
    expect(lines[0]).toContain('would be created');
  });

  it('looks the role up in the root business unit, quoting the name for OData', async () => {
    const fake = new FakeDataverse();
    await run(fake, { clientIds: [MI_1] });
    const lookup = fake.requests.find((r) => new URL(r.url).pathname.endsWith('/roles'));
    expect(new URL(lookup?.url ?? '').searchParams.get('$filter')).toBe(
      `name eq 'Dataverse Pipelines'' Writer' and _businessunitid_value eq ${ROOT_BU}`,
    );
    expect(fake.users[0]?.roles.has(ROLE_IN_CHILD_BU)).toBe(false);
  });

  it('fails before writing anything when the role does not exist', async () => {
    const fake = new FakeDataverse();
    const error = await run(fake, { roleName: 'No Such Role' }).catch((e: unknown) => e);
    expect(isDeployScriptError(error)).toBe(true);
    expect(String(error)).toContain("'No Such Role' not found");
    expect(fake.writes()).toEqual([]);
  });

  it('rejects client ids that are not GUIDs before any request', async () => {
    const fake = new FakeDataverse();
    const error = await run(fake, { clientIds: [MI_1, "x' or 1 eq 1"] }).catch((e: unknown) => e);
    expect(isDeployScriptError(error)).toBe(true);
    expect(fake.requests).toEqual([]);
  });

  it('explains a permission failure with what to do', async () => {
    const fake = new FakeDataverse();
    fake.failWith = json(403, {
      error: { code: '0x80040220', message: 'Principal user is missing prvReadBusinessUnit' },
    });
    const error = await run(fake).catch((e: unknown) => e);
    expect(isDeployScriptError(error)).toBe(true);
    if (!isDeployScriptError(error)) return;
    expect(error.details).toMatchObject({ status: 403, code: '0x80040220' });
    expect(error.message).toContain('prvReadBusinessUnit');
    expect(error.details.hint).toContain('System Administrator');
  });

  it("sends OData headers and only to the environment's own API root", async () => {
    const fake = new FakeDataverse();
    await run(fake, { dataverseUrl: `${ORG}/main.aspx?appid=1` });
    expect(fake.requests.length).toBeGreaterThan(0);
    for (const r of fake.requests) {
      expect(r.url.startsWith(API)).toBe(true);
      expect(r.headers['odata-version']).toBe('4.0');
      expect(r.headers.accept).toBe('application/json');
    }
  });
});
