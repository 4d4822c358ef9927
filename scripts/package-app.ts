// Builds the function app's deployment package in .deploy/app: the compiled functions and core,
// host.json, the bundled jobs, and node_modules with the production dependencies only
// (`npm ci --omit=dev`). azd runs it before packaging (azure.yaml, prepackage hook) and deploys the
// folder as it is, without a remote build; a remote build would install the devDependencies too
// (the test tools, the Azurite emulator, the `node` package's own Node binary).
// Run: npm run package:app   (prints the package's size and file count)
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../src/app/package-root.js';
import {
  DEPLOY_FOLDER,
  deployManifest,
  isShippedFile,
  runtimeImports,
  SHIPPED,
} from './lib/deploy-package.js';

const root = packageRoot();
const target = join(root, DEPLOY_FOLDER);
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};

// Before copying anything: the functions may import only production dependencies.
const entries = readdirSync(join(root, 'functions')).filter((f) => f.endsWith('.ts'));
const { packages } = runtimeImports(
  root,
  entries.map((f) => join('functions', f)),
);
const missing = packages.filter((name) => !(name in manifest.dependencies));
if (missing.length > 0) {
  throw new Error(
    `The functions import ${missing.join(', ')}, which package.json lists outside "dependencies".`,
  );
}

execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
rmSync(target, { recursive: true, force: true });
mkdirSync(target, { recursive: true });
for (const path of SHIPPED) {
  cpSync(join(root, path), join(target, path), {
    recursive: true,
    filter: (source) => statSync(source).isDirectory() || isShippedFile(source),
  });
}
writeFileSync(join(target, 'package.json'), `${JSON.stringify(deployManifest(manifest), null, 2)}\n`);
// --ignore-scripts: no production dependency needs its install script at run time (protobufjs'
// only checks its version). --loglevel=error: the machine's npm may run on an older Node than the
// package's engines field names, which only prints warnings.
execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
  cwd: target,
  stdio: 'inherit',
});

// Each function module must load from the package alone: every import resolves inside it. Outside
// the Functions host the library only warns that it runs in test mode; those lines are dropped.
for (const entry of entries) {
  const file = join(target, 'dist', 'functions', entry.replace(/\.ts$/, '.js'));
  const loaded = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(file).href)})`],
    { cwd: target, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } },
  );
  if (loaded.status !== 0) {
    throw new Error(`${relative(root, file)} does not load from the package alone:\n${loaded.stderr}`);
  }
}

const { bytes, files } = measure(target);
const modules = measure(join(target, 'node_modules'));
process.stdout.write(
  `Deployment package in ${relative(root, target)}: ${mb(bytes)} in ${files.toLocaleString('en-US')} files ` +
    `(node_modules ${mb(modules.bytes)}, ${modules.files.toLocaleString('en-US')} files); every function loads from it.\n`,
);

function measure(dir: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    bytes += statSync(join(entry.parentPath, entry.name)).size;
    files += 1;
  }
  return { bytes, files };
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
