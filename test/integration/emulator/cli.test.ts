import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill('SIGTERM');
});

function firstLine(proc: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    proc.once('exit', (code) => reject(new Error(`emulator exited with ${code}: ${err}`)));
  });
}

describe('dvpipe emulator (DESIGN contract)', () => {
  it('[webapi §2] `dvpipe emulator --port 0` prints the URL line; create-then-read over plain HTTP works', async () => {
    // DVPIPE_FROM_SOURCE: test the TypeScript sources, not a possibly stale dist/.
    child = spawn(process.execPath, [join(root, 'bin', 'dvpipe.js'), 'emulator', '--port', '0'], {
      cwd: root,
      env: { ...process.env, DVPIPE_FROM_SOURCE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const line = await firstLine(child);
    const url = /http:\/\/127\.0\.0\.1:\d+/.exec(line)?.[0];
    expect(url).toBeDefined();
    const headers = {
      Authorization: 'Bearer emulator:cli',
      'Content-Type': 'application/json',
      Accept: 'application/json',
    };
    const created = await fetch(`${url}/api/data/v9.2/accounts`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'From CLI test', accountnumber: 'CLI-1' }),
    });
    expect(created.status).toBe(204);
    const entityId = created.headers.get('odata-entityid')!;
    expect(entityId.startsWith(`${url}/api/data/v9.2/accounts(`)).toBe(true);
    const read = await fetch(`${entityId}?$select=name,accountnumber`, { headers });
    expect(read.status).toBe(200);
    const body = (await read.json()) as Record<string, unknown>;
    expect(body.name).toBe('From CLI test');
    expect(body.accountnumber).toBe('CLI-1');
    const anonymous = await fetch(`${url}/api/data/v9.2/accounts`);
    expect(anonymous.status).toBe(401);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    child = undefined;
  });

  it('[perf §3] --profile realistic --time-scale --set override settings', async () => {
    child = spawn(
      process.execPath,
      [
        join(root, 'bin', 'dvpipe.js'),
        'emulator',
        '--port',
        '0',
        '--profile',
        'realistic',
        '--time-scale',
        '0.01',
        '--set',
        'dopHint=48',
        'maxRequests=8000',
      ],
      { cwd: root, env: { ...process.env, DVPIPE_FROM_SOURCE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const url = /http:\/\/127\.0\.0\.1:\d+/.exec(await firstLine(child))?.[0];
    const who = await fetch(`${url}/api/data/v9.2/WhoAmI`, {
      headers: { Authorization: 'Bearer emulator:cli' },
    });
    expect(who.status).toBe(200);
    expect(who.headers.get('x-ms-dop-hint')).toBe('48');
    expect(who.headers.get('x-ms-ratelimit-burst-remaining-xrm-requests')).toBe('7999');
    const settings = (await (await fetch(`${url}/_emulator/settings`)).json()) as {
      settings: Record<string, unknown>;
    };
    expect(settings.settings).toMatchObject({
      limitsEnabled: true,
      timeScale: 0.01,
      dopHint: 48,
      maxRequests: 8000,
    });
    child.kill('SIGTERM');
    await once(child, 'exit');
    child = undefined;
  });
});
