import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './bicep-tree.js';

// The script's command line, run as azd's hook runs it (tsx), for the paths that need no sign-in.

function postprovision(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(
    join(repoRoot, 'node_modules', '.bin', 'tsx'),
    ['scripts/postprovision.ts', ...args],
    {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      timeout: 60_000,
    },
  );
  return { code: result.status, out: `${result.stdout}${result.stderr}` };
}

describe('scripts/postprovision.ts', () => {
  it('skips when told to, for deployers without Power Platform rights', () => {
    const { code, out } = postprovision([], {
      DVPIPE_SKIP_APP_USERS: 'true',
      DATAVERSE_URL: 'https://x.crm.dynamics.com',
    });
    expect(code).toBe(0);
    expect(out).toContain('not registering');
  });

  it('exits 2 without a URL or client ids', () => {
    const { code, out } = postprovision(['--client-ids', '0d2c6b1e-3f4a-4b5c-8d9e-0f1a2b3c4d5e']);
    expect(code).toBe(2);
    expect(out).toContain('DATAVERSE_URL');
  });

  it('refuses to send the deployer token over plain http to a remote host', () => {
    const { code, out } = postprovision([
      '--url',
      'http://contoso.crm.dynamics.com',
      '--client-ids',
      '0d2c6b1e-3f4a-4b5c-8d9e-0f1a2b3c4d5e',
    ]);
    expect(code).toBe(2);
    expect(out).toContain('not https');
  });

  it('exits 1 with the reason when a client id is not a GUID', () => {
    const { code, out } = postprovision([
      '--url',
      'https://contoso.crm.dynamics.com',
      '--client-ids',
      'not-a-guid',
    ]);
    expect(code).toBe(1);
    expect(out).toContain('Not client ids (GUIDs): not-a-guid');
  });

  it('a failed registration says loudly that the app will get 401s, and what to run by hand', () => {
    const env = {
      DATAVERSE_URL: 'https://contoso.crm.dynamics.com',
      DATAVERSE_CLIENT_IDS: 'not-a-guid',
      DATAVERSE_SECURITY_ROLE: 'Dataverse Pipelines',
    };
    const { code, out } = postprovision([], env);
    expect(code).toBe(1);
    expect(out).toContain('postprovision: FAILED.');
    expect(out).toContain('will get 401 until they are');
    expect(out).toContain(
      'npx tsx scripts/postprovision.ts --url https://contoso.crm.dynamics.com --client-ids not-a-guid --role "Dataverse Pipelines"',
    );
    expect(out).toContain('azd env set DVPIPE_SKIP_APP_USERS true');
  });

  it('azd stops when the hook fails (no green `azd up` with an app that only gets 401s)', () => {
    const yaml = readFileSync(join(repoRoot, 'azure.yaml'), 'utf8');
    expect([...yaml.matchAll(/continueOnError: (\w+)/g)].map((m) => m[1])).toEqual(['false', 'false']);
  });
});
