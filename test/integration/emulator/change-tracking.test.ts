import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../emulator/index.js';
import { call, idFrom, startFast } from './client.js';

let emu: RunningEmulator;
beforeAll(async () => {
  emu = await startFast();
});
afterAll(() => emu.close());

const TRACK = { Prefer: 'odata.track-changes' };

describe('change tracking (behaviours item 10)', () => {
  it('[webapi §5 change tracking] initial load gives a deltaLink; the delta has new, changed and deleted rows', async () => {
    const a = idFrom(
      (await call(emu, 'POST', 'accounts', { body: { name: 'A', accountnumber: 'CT-A' } })).headers.get(
        'odata-entityid',
      ),
    );
    const b = idFrom(
      (await call(emu, 'POST', 'accounts', { body: { name: 'B' } })).headers.get('odata-entityid'),
    );
    const initial = await call(emu, 'GET', 'accounts?$select=name,accountnumber', { headers: TRACK });
    expect(initial.status).toBe(200);
    expect(initial.headers.get('preference-applied')).toBe('odata.track-changes');
    expect(initial.json.value).toHaveLength(2);
    const deltaLink: string = initial.json['@odata.deltaLink'];
    expect(deltaLink).toMatch(
      new RegExp(
        `^${emu.apiRoot.replace(/\./g, '\\.')}accounts\\?\\$select=name,accountnumber&\\$deltatoken=\\d+%21`,
      ),
    );

    await call(emu, 'PATCH', `accounts(${a})`, { body: { name: 'A2' } });
    await call(emu, 'DELETE', `accounts(${b})`);
    const c = idFrom(
      (await call(emu, 'POST', 'accounts', { body: { name: 'C' } })).headers.get('odata-entityid'),
    );

    const delta = await call(emu, 'GET', deltaLink, { headers: TRACK });
    expect(delta.status).toBe(200);
    expect(delta.json['@odata.context']).toBe(`${emu.apiRoot}$metadata#accounts(name,accountnumber)/$delta`);
    const changed = delta.json.value.filter((v: { id?: string }) => v.id === undefined);
    expect(changed.map((v: { accountid: string; name: string }) => [v.accountid, v.name])).toEqual([
      [a, 'A2'],
      [c, 'C'],
    ]);
    const deleted = delta.json.value.filter((v: { id?: string }) => v.id !== undefined);
    expect(deleted).toEqual([
      { '@odata.context': `${emu.apiRoot}$metadata#accounts/$deletedEntity`, id: b, reason: 'deleted' },
    ]);
    // Deletes come after new and updated rows.
    expect(delta.json.value.at(-1).reason).toBe('deleted');

    const token = new URL(deltaLink).searchParams.get('$deltatoken')!;
    const count = await call(emu, 'GET', `accounts/$count?$deltatoken=${encodeURIComponent(token)}`);
    expect(count.text).toBe('3');

    const next = await call(emu, 'GET', delta.json['@odata.deltaLink'], { headers: TRACK });
    expect(next.json.value).toEqual([]);
  });

  it('[webapi §5 change tracking] $filter/$orderby/$top with track-changes → documented message', async () => {
    for (const option of ['$filter', '$orderby', '$top']) {
      const value = option === '$top' ? '1' : option === '$filter' ? "name eq 'x'" : 'name';
      const r = await call(emu, 'GET', `accounts?$select=name&${option}=${encodeURIComponent(value)}`, {
        headers: TRACK,
      });
      expect(r.status).toBe(400);
      expect(r.json.error.message).toBe(
        `The "${option}" query parameter isn't supported when Change Tracking is enabled.`,
      );
    }
  });

  it('[webapi §5 change tracking] an invalid or expired delta token gives an error (code UNCONFIRMED, see docs)', async () => {
    const bad = await call(emu, 'GET', 'accounts?$select=name&$deltatoken=garbage', { headers: TRACK });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('0x80044352');
    const initial = await call(emu, 'GET', 'accounts?$select=name', { headers: TRACK });
    const link: string = initial.json['@odata.deltaLink'];
    expect((await call(emu, 'GET', link, { headers: TRACK })).status).toBe(200);
    emu.configure({ expireDeltaTokens: true });
    const expired = await call(emu, 'GET', link, { headers: TRACK });
    expect(expired.status).toBe(400);
    expect(expired.json.error.code).toBe('0x80044352');
  });

  it('[webapi §13 change tracking] a token lives 7 days by default; an older one answers "Version stamp ... expired"', async () => {
    expect(emu.settings().changeTrackingDays).toBe(7);
    // A write after the earlier test expired every token issued so far.
    emu.store.put('account', { name: 'lifetime' });
    const initial = await call(emu, 'GET', 'accounts?$select=name', { headers: TRACK });
    const token = new URL(initial.json['@odata.deltaLink']).searchParams.get('$deltatoken')!;
    const [, version] = /^(\d+)!/.exec(token)!;
    // The same version stamped 6 days 23 hours ago is still valid; stamped 7 days and 1 minute ago it is not.
    const stamped = (msAgo: number) => {
      const iso = new Date(Date.now() - msAgo).toISOString();
      return `${version}!${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(0, 4)} ${iso.slice(11, 19)}`;
    };
    const day = 86_400_000;
    const young = await call(
      emu,
      'GET',
      `accounts?$select=name&$deltatoken=${encodeURIComponent(stamped(7 * day - 3_600_000))}`,
      {
        headers: TRACK,
      },
    );
    expect(young.status).toBe(200);
    const old = await call(
      emu,
      'GET',
      `accounts?$select=name&$deltatoken=${encodeURIComponent(stamped(7 * day + 60_000))}`,
      {
        headers: TRACK,
      },
    );
    expect(old.status).toBe(400);
    expect(old.json.error.message).toBe(
      'The version stamp associated with the client has expired. Please perform a full sync.',
    );
  });

  it('[webapi §5 change tracking] the initial load pages with istracking="True" and ends with the deltaLink', async () => {
    emu.store.clear('contact');
    for (let i = 0; i < 5; i += 1) emu.store.put('contact', { lastname: `T${i}` });
    const first = await call(emu, 'GET', 'contacts?$select=lastname', {
      headers: { Prefer: 'odata.track-changes,odata.maxpagesize=3' },
    });
    expect(first.json.value).toHaveLength(3);
    expect(first.json['@odata.deltaLink']).toBeUndefined();
    const next: string = first.json['@odata.nextLink'];
    expect(new URL(next).searchParams.get('$skiptoken')).toContain('istracking="True"');
    const second = await call(emu, 'GET', next, {
      headers: { Prefer: 'odata.track-changes,odata.maxpagesize=3' },
    });
    expect(second.json.value).toHaveLength(2);
    expect(second.json['@odata.deltaLink']).toContain('$deltatoken=');
  });

  it('[webapi §5 change tracking] delta answers page with nextLink; changes made meanwhile wait for the next delta', async () => {
    emu.store.clear('dvp_sample');
    const initial = await call(emu, 'GET', 'dvp_samples?$select=dvp_name', { headers: TRACK });
    const link: string = initial.json['@odata.deltaLink'];
    const ids = Array.from({ length: 5 }, (_, i) => emu.store.put('dvp_sample', { dvp_name: `d${i}` }));
    await call(emu, 'DELETE', `dvp_samples(${ids[0]})`);
    const prefer = { Prefer: 'odata.track-changes,odata.maxpagesize=2' };
    const seen: unknown[] = [];
    let url: string | undefined = link;
    let deltaLink: string | undefined;
    let pages = 0;
    while (url) {
      const r = await call(emu, 'GET', url, { headers: prefer });
      expect(r.status).toBe(200);
      seen.push(
        ...r.json.value.map((v: { dvp_name?: string; id?: string }) => v.dvp_name ?? `deleted:${v.id}`),
      );
      url = r.json['@odata.nextLink'];
      deltaLink = r.json['@odata.deltaLink'];
      if (pages === 0) emu.store.put('dvp_sample', { dvp_name: 'during paging' });
      pages += 1;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(['d1', 'd2', 'd3', 'd4', `deleted:${ids[0]}`]);
    const next = await call(emu, 'GET', deltaLink!, { headers: TRACK });
    expect(next.json.value.map((v: { dvp_name: string }) => v.dvp_name)).toEqual(['during paging']);
  });
});
