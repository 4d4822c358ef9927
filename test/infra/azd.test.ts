import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadInfra, outputs, params, repoRoot } from './bicep-tree.js';

// azd wiring: azure.yaml -> infra/main.bicep + main.parameters.json -> outputs the hook reads.

const main = loadInfra().find((f) => f.path === 'infra/main.bicep');
const parameters = JSON.parse(readFileSync(join(repoRoot, 'infra', 'main.parameters.json'), 'utf8')) as {
  parameters: Record<string, { value: unknown }>;
};
const azureYaml = readFileSync(join(repoRoot, 'azure.yaml'), 'utf8');
const hookScript = readFileSync(join(repoRoot, 'scripts', 'postprovision.ts'), 'utf8');

describe('azd project', () => {
  it('main.parameters.json names only parameters main.bicep declares, and every required one', () => {
    expect(main).toBeDefined();
    if (!main) return;
    const declared = params(main);
    const given = Object.keys(parameters.parameters);
    expect(given.filter((g) => !declared.some((d) => d.name === g))).toEqual([]);
    const required = declared.filter((d) => d.defaultValue === undefined).map((d) => d.name);
    expect(required.filter((r) => !given.includes(r))).toEqual([]);
  });

  it('main.bicep is subscription-scoped, as azd provisions it', () => {
    expect(main?.text).toMatch(/^targetScope = 'subscription'$/m);
  });

  it('deploys the repository root as a function app service with a TypeScript post-provision hook', () => {
    expect(azureYaml).toMatch(/^ {4}project: \.$/m);
    expect(azureYaml).toMatch(/^ {4}host: function$/m);
    expect(azureYaml).toMatch(/^ {4}language: ts$/m);
    const hooks = [...azureYaml.matchAll(/run: npx tsx (\S+)/g)].map((m) => m[1]);
    expect(hooks).toEqual(['scripts/postprovision.ts', 'scripts/postprovision.ts']);
    expect(existsSync(join(repoRoot, 'scripts', 'postprovision.ts'))).toBe(true);
  });

  it('the function app carries the azd-service-name tag of the service', () => {
    const service = /^services:\n {2}([a-z0-9-]+):/m.exec(azureYaml)?.[1];
    const app = loadInfra().find((f) => f.path === 'infra/modules/functionapp.bicep');
    expect(app?.text).toContain(`'azd-service-name': '${service}'`);
  });

  it('outputs every environment variable the post-provision hook reads', () => {
    const read = [...hookScript.matchAll(/env\.([A-Z_]+)/g)].map((m) => m[1] ?? '');
    const fromTemplate = read.filter((name) => name.startsWith('DATAVERSE_') || name.startsWith('AZURE_'));
    expect(fromTemplate.length).toBeGreaterThanOrEqual(3);
    expect(fromTemplate.filter((name) => !(main ? outputs(main) : []).includes(name))).toEqual([]);
  });

  it('keeps local settings and tests out of a package of the repository root', () => {
    const ignored = readFileSync(join(repoRoot, '.funcignore'), 'utf8').split('\n');
    for (const entry of ['local.settings.json', 'test', 'node_modules', '.azure'])
      expect(ignored).toContain(entry);
    // A remote build of the root (Core Tools) compiles these; they must ship.
    for (const kept of ['src', 'functions']) expect(ignored).not.toContain(kept);
  });
});

describe('infra workflow', () => {
  const workflow = readFileSync(join(repoRoot, '.github', 'workflows', 'infra.yml'), 'utf8');

  it('runs the offline checks, az bicep build, and what-if only with OIDC and no stored secrets', () => {
    expect(workflow).toContain('npx vitest run --project integration test/infra');
    expect(workflow).toMatch(/az bicep build --file infra\/main\.bicep/);
    expect(workflow).toMatch(/az deployment sub what-if/);
    expect(workflow).toMatch(/id-token: write/);
    expect(workflow).not.toMatch(/secrets\.|client-secret|creds:/);
  });
});
