import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../emulator/index.js';
import { call, startFast } from './client.js';

let emu: RunningEmulator;
beforeAll(async () => {
  emu = await startFast();
});
afterAll(() => emu.close());

const control = async (method: string, path: string, body?: unknown) => {
  const r = await fetch(`${emu.url}/_emulator/${path}`, {
    method,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: r.status, json: (await r.json()) as any };
};

describe('/_emulator control endpoints (inspect, seed, stats, ceiling, configure)', () => {
  it('seeds rows over HTTP, dumps them in Web API shape, and clears them', async () => {
    const seeded = await control('POST', 'tables/contacts', [
      { lastname: 'Seed', emailaddress1: 'seed@example.com' },
    ]);
    expect(seeded.status).toBe(200);
    const [id] = seeded.json.ids;
    const dump = await control('GET', 'tables/contact');
    expect(dump.json).toHaveLength(1);
    expect(dump.json[0]).toMatchObject({ contactid: id, lastname: 'Seed', fullname: 'Seed', statecode: 0 });
    const one = await control('GET', `tables/contact/${id}`);
    expect(one.json.emailaddress1).toBe('seed@example.com');
    const list = await control('GET', 'tables');
    expect(list.json).toContainEqual({ table: 'contact', entitySetName: 'contacts', count: 1 });
    await control('DELETE', 'tables/contact');
    expect(emu.store.count('contact')).toBe(0);
  });

  it('pages a table with skip and top, in the same order as the whole dump', async () => {
    const rows = Array.from({ length: 5 }, (_, i) => ({
      lastname: `Page ${i}`,
      emailaddress1: `p${i}@example.com`,
    }));
    await control('POST', 'tables/contacts', rows);
    const whole = (await control('GET', 'tables/contact')).json as { contactid: string }[];
    const first = (await control('GET', 'tables/contact?skip=0&top=2')).json as { contactid: string }[];
    const next = (await control('GET', 'tables/contact?skip=2&top=2')).json as { contactid: string }[];
    const last = (await control('GET', 'tables/contact?skip=4&top=2')).json as { contactid: string }[];
    expect([...first, ...next, ...last].map((r) => r.contactid)).toEqual(whole.map((r) => r.contactid));
    expect(last).toHaveLength(1);
    await control('DELETE', 'tables/contact');
  });

  it('seeding validates like the API does', async () => {
    const r = await control('POST', 'tables/contact', { lastname: 'x'.repeat(60) });
    expect(r.status).toBe(400);
    expect(r.json.error).toContain('0x80044331');
  });

  it('stats count requests per status and per user', async () => {
    await call(emu, 'GET', 'WhoAmI', { user: 'stats-user' });
    await call(emu, 'GET', 'nosuch', { user: 'stats-user' });
    const s = await control('GET', 'stats');
    expect(s.json.byStatus['200']).toBeGreaterThanOrEqual(1);
    expect(s.json.byStatus['404']).toBeGreaterThanOrEqual(1);
    expect(s.json.users.find((u: { user: string }) => u.user === 'stats-user').totalRequests).toBe(2);
  });

  it('ceiling over HTTP matches ceiling() in process', async () => {
    const r = await control('GET', 'ceiling?operation=create-multiple&batchSize=100&runSeconds=600&users=2');
    const local = emu.ceiling({ operation: 'create-multiple', batchSize: 100, runSeconds: 600, users: 2 });
    expect(r.json.recordsPerSecond).toBeCloseTo(local.recordsPerSecond, 9);
    expect(r.json.binding).toBe(local.binding);
  });

  it('configure switches profile and settings at run time', async () => {
    const r = await control('POST', 'configure', {
      profile: 'realistic',
      timeScale: 0.001,
      settings: { dopHint: 48 },
    });
    expect(r.status).toBe(200);
    expect(r.json.settings).toMatchObject({
      limitsEnabled: true,
      latencyEnabled: true,
      timeScale: 0.001,
      dopHint: 48,
    });
    const who = await call(emu, 'GET', 'WhoAmI');
    expect(who.headers.get('x-ms-dop-hint')).toBe('48');
    await control('POST', 'configure', { profile: 'fast', timeScale: 1 });
    expect(emu.settings().limitsEnabled).toBe(false);
  });

  it('the request log is readable over HTTP', async () => {
    await call(emu, 'GET', 'WhoAmI', { user: 'log-reader' });
    const r = await control('GET', 'log?limit=1');
    expect(r.json).toHaveLength(1);
    expect(r.json[0]).toMatchObject({ user: 'log-reader', method: 'GET', status: 200 });
  });
});
