import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolveEntryFiles } from '../../../dev/function-app.js';

const fixtureApp = fileURLToPath(new URL('../../fixtures/function-app/', import.meta.url));

describe('resolveEntryFiles', () => {
  it('expands the package.json main glob to absolute, sorted paths', async () => {
    const files = await resolveEntryFiles(fixtureApp);
    expect(files.map((f) => f.slice(fixtureApp.length))).toEqual([
      'functions/echo.js',
      'functions/fails.js',
      'functions/fan-out.js',
      'functions/gauge.js',
      'functions/runs.js',
      'functions/save.js',
      'functions/slow.js',
      'functions/tick.js',
    ]);
  });

  it('explains a main that matches nothing and a missing main', async () => {
    const root = await mkdtemp(join(tmpdir(), 'dev-host-'));
    try {
      await writeFile(join(root, 'package.json'), JSON.stringify({ main: 'dist/functions/*.js' }));
      await expect(resolveEntryFiles(root)).rejects.toThrow(/matches no file\. Build the app first/);
      await writeFile(join(root, 'package.json'), JSON.stringify({ name: 'x' }));
      await expect(resolveEntryFiles(root)).rejects.toThrow(/has no "main"/);
    } finally {
      await rm(root, { recursive: true });
    }
  });
});
