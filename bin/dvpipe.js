#!/usr/bin/env node
// Runs the compiled CLI when it exists, else the TypeScript sources through tsx,
// so `npx dvpipe` works straight after `npm ci` and during development.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import module from 'node:module';
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

// Node's on-disk compile cache (22.1 and later): the second run of a command reuses the V8 code of
// the modules the first one compiled instead of compiling them again. The cache checks each module's
// source, so a rebuilt or updated module is compiled anew.
module.enableCompileCache?.(join(root, 'node_modules', '.cache', 'dvpipe'));

// `dvpipe import` streams files of any size in bounded memory, but V8 sizes its heap from the machine's
// memory and collects lazily while it is plentiful, so with Node's defaults the resident set drifts
// well above what the import needs (about 400 MB on a 200,000-row file). Unless the user chose a heap
// size, the import runs in a child with a capped old space, which makes V8 collect sooner: peaks near
// 250 MB (BENCHMARKS.md, "Import memory with the CLI's defaults"). 512 rather than 256: the same peak
// with less collection work.
const IMPORT_HEAP_MB = 512;
const heapChosen = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((flag) =>
  flag.startsWith('--max-old-space-size'),
);
if (process.argv[2] === 'import' && !heapChosen && !process.env.DVPIPE_SUPERVISED) {
  await supervise([`--max-old-space-size=${IMPORT_HEAP_MB}`]);
} else {
  if (process.env.DVPIPE_SUPERVISED && process.channel) {
    // The parent is only a wrapper: if it dies (even by SIGKILL), so does this process, as one would.
    process.channel.unref();
    process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
  }
  if (existsSync(compiled) && !process.env.DVPIPE_FROM_SOURCE) {
    await import(pathToFileURL(compiled).href);
  } else {
    const { register } = await import('tsx/esm/api');
    register();
    await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
  }
}

/** Runs this same command in a child with extra Node flags, passing signals on and its exit status back. */
async function supervise(nodeFlags) {
  const child = spawn(process.execPath, [...process.execArgv, ...nodeFlags, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, DVPIPE_SUPERVISED: '1' },
  });
  const forward = (signal) => {
    if (child.exitCode === null) child.kill(signal);
  };
  // Ctrl+C reaches the child through the terminal's process group as well; the wrapper waits for it.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => forward(signal));
  const [code, signal] = await new Promise((resolve) => child.once('exit', (...args) => resolve(args)));
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
  process.exitCode = code ?? 1;
}
