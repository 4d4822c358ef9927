import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEPLOY_FOLDER,
  deployManifest,
  isShippedFile,
  packageName,
  productionClosure,
  runtimeImports,
  SHIPPED,
} from '../../scripts/lib/deploy-package.js';
import { repoRoot } from './bicep-tree.js';

// The function app's package holds the production dependencies only (issue 19, item 10):
// scripts/package-app.ts installs them with `npm ci --omit=dev`; these checks need no install.

const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  bin: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean; link?: boolean }>;
};
const functionEntries = readdirSync(join(repoRoot, 'functions'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => `functions/${f}`);

describe('deployment package', () => {
  const closure = productionClosure(lock);
  const installed = new Set([...closure].map(packageName));

  it('a production install holds none of the development tools', () => {
    for (const tool of ['node', 'vitest', 'azurite', 'typescript', 'tsx', 'esbuild', 'eslint', 'prettier'])
      expect(installed.has(tool), tool).toBe(false);
    for (const tool of ['puppeteer-core', '@duckdb/node-api', 'tree-sitter', 'fast-check'])
      expect(installed.has(tool), tool).toBe(false);
    // What npm itself marks as needed outside development is exactly that closure.
    const notDev = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && !entry.dev && !entry.link)
      .map(([path]) => path)
      .sort();
    expect([...closure].sort()).toEqual(notDev);
  });

  it('the functions import only production dependencies, and only code that ships compiled', () => {
    const { files, packages } = runtimeImports(repoRoot, functionEntries);
    expect(packages.filter((name) => !(name in manifest.dependencies))).toEqual([]);
    expect(packages).toContain('@azure/functions');
    // dist/src and dist/functions ship; dev/, emulator/ and scripts/ do not.
    expect(files.filter((file) => !/^(src|functions)\//.test(file))).toEqual([]);
    expect(files).toContain('src/app/runtime.ts');
  });

  it('follows relative imports and skips type-only ones', () => {
    const { files, packages } = runtimeImports(repoRoot, ['src/storage/queue.ts']);
    // queue.ts imports QueueClient as a type only.
    expect(packages).toEqual([]);
    expect(files).toEqual(['src/storage/queue.ts']);
  });

  it('ships the compiled code, host.json and the bundled jobs, and leaves source maps home', () => {
    expect([...SHIPPED].sort()).toEqual([
      'dist/functions',
      'dist/src',
      'host.json',
      'jobs',
      'package-lock.json',
    ]);
    expect(isShippedFile('dist/src/app/runtime.js')).toBe(true);
    expect(isShippedFile('dist/src/app/runtime.js.map')).toBe(false);
    expect(isShippedFile('jobs/README.md')).toBe(false);
    expect(isShippedFile('jobs/contacts.json')).toBe(true);
    // main names the compiled functions, which ship.
    expect(manifest).toMatchObject({ main: 'dist/functions/*.js' });
  });

  it('the shipped package.json keeps the dependencies and drops the scripts and the CLI', () => {
    const shipped = deployManifest(manifest);
    expect(shipped).not.toHaveProperty('scripts');
    expect(shipped).not.toHaveProperty('bin');
    expect(shipped.dependencies).toEqual(manifest.dependencies);
    // npm ci needs the manifest to match the lockfile, devDependencies included (--omit=dev skips them).
    expect(shipped.devDependencies).toEqual(manifest.devDependencies);
  });

  it('azd builds the package before packaging and deploys that folder without a remote build', () => {
    const azureYaml = readFileSync(join(repoRoot, 'azure.yaml'), 'utf8');
    expect(azureYaml).toMatch(new RegExp(`^ {4}dist: ${DEPLOY_FOLDER.replace('.', '\\.')}$`, 'm'));
    expect(azureYaml).toMatch(/^ {4}remoteBuild: false$/m);
    expect([...azureYaml.matchAll(/^ {10}run: (.+)$/gm)].map((m) => m[1])).toContain('npm run package:app');
    expect(manifest.scripts['package:app']).toBe('tsx scripts/package-app.ts');
  });
});
