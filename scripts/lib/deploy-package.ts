// What goes into the function app's deployment package, and checks that it needs nothing else.
// scripts/package-app.ts builds the package from this; test/infra/deploy-package.test.ts checks it.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/** The folder azd deploys (azure.yaml `dist`), relative to the repository root. */
export const DEPLOY_FOLDER = '.deploy/app';

/**
 * Copied into the package: the compiled functions and the core they import, the host's settings,
 * the bundled job definitions the app falls back to, and the manifest and lockfile that
 * `npm ci --omit=dev` installs the production dependencies from.
 */
export const SHIPPED = ['host.json', 'package-lock.json', 'jobs', 'dist/functions', 'dist/src'] as const;

/** Left out of copied folders: source maps (the host runs without --enable-source-maps) and docs. */
export function isShippedFile(path: string): boolean {
  return !path.endsWith('.map') && !path.endsWith('.md') && !path.endsWith('.tsbuildinfo');
}

interface Manifest {
  readonly scripts?: Record<string, string>;
  readonly bin?: unknown;
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
  readonly [key: string]: unknown;
}

/**
 * The package.json that ships: the same dependencies (npm ci insists the manifest matches the
 * lockfile; `--omit=dev` leaves the devDependencies out), without scripts (`prepare` would compile
 * again) or the CLI's bin, which stays home.
 */
export function deployManifest(manifest: Manifest): Manifest {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { scripts, bin, ...rest } = manifest;
  return rest;
}

interface LockEntry {
  readonly dev?: boolean;
  readonly optional?: boolean;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
}

interface Lockfile {
  readonly packages: Record<string, LockEntry>;
}

/**
 * The lockfile paths (`node_modules/a`, `node_modules/a/node_modules/b`) a production install holds:
 * the root's dependencies and, transitively, theirs, resolved the way Node looks packages up (the
 * nearest node_modules above the dependant first).
 */
export function productionClosure(lock: Lockfile): Set<string> {
  const root = lock.packages[''];
  const found = new Set<string>();
  const visit = (from: string, deps: Record<string, string> | undefined) => {
    for (const name of Object.keys(deps ?? {})) {
      const at = resolveInLock(lock, from, name);
      if (at === undefined || found.has(at)) continue;
      found.add(at);
      const entry = lock.packages[at];
      visit(at, { ...entry?.dependencies, ...entry?.optionalDependencies });
    }
  };
  visit('', { ...root?.dependencies, ...root?.optionalDependencies });
  return found;
}

function resolveInLock(lock: Lockfile, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!base) return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut < 0 ? '' : base.slice(0, cut);
  }
}

/** The package name of a lockfile path: `node_modules/@a/b/node_modules/c` is `c`. */
export function packageName(lockPath: string): string {
  return lockPath.slice(lockPath.lastIndexOf('node_modules/') + 'node_modules/'.length);
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s+(?!type\s)(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/**
 * Every source file and bare package the given TypeScript entry points import at run time,
 * following relative imports (`./x.js` is `./x.ts` in the sources); `import type` is erased and
 * skipped. Sources, not dist/, so the check holds before a build.
 */
export function runtimeImports(
  root: string,
  entries: readonly string[],
): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = entries.map((entry) => join(root, entry));
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2] ?? '';
      if (specifier.startsWith('node:')) continue;
      if (specifier.startsWith('.')) {
        const target = join(dirname(file), specifier).replace(/\.js$/, '.ts');
        if (!existsSync(target))
          throw new Error(`${relative(root, file)} imports ${specifier}, which does not exist`);
        pending.push(target);
      } else {
        const parts = specifier.split('/');
        packages.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier));
      }
    }
  }
  return { files: [...files].map((f) => relative(root, f)).sort(), packages: [...packages].sort() };
}
