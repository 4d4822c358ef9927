#!/usr/bin/env node
// Runs the compiled CLI when it exists, else the TypeScript sources through tsx,
// so `npx dvpipe` works straight after `npm ci` and during development.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'src', 'cli', 'main.js');
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(
    `dvpipe needs Node.js 22 or later (this is ${process.versions.node}). Run it through npm or npx inside the project, which bring Node 22.`,
  );
  process.exit(2);
}
if (existsSync(compiled) && !process.env.DVPIPE_FROM_SOURCE) {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
}
