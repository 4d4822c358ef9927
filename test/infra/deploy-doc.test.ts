import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './bicep-tree.js';

// docs/deploy.md against the repository it describes (issue 19, item 13).

const doc = readFileSync(join(repoRoot, 'docs', 'deploy.md'), 'utf8');

/** Each function's name and trigger kind, from its `app.<kind>('<name>'` registration. */
function registeredFunctions(): { name: string; kind: string }[] {
  return readdirSync(join(repoRoot, 'functions'))
    .filter((file) => file.endsWith('.ts'))
    .flatMap((file) => {
      const text = readFileSync(join(repoRoot, 'functions', file), 'utf8');
      return [...text.matchAll(/app\.(\w+)\('(\w+)'/g)].map((m) => ({ kind: m[1]!, name: m[2]! }));
    });
}

describe('docs/deploy.md', () => {
  it('names every scale group of the app: one for the HTTP functions, one for each other function', () => {
    const functions = registeredFunctions();
    const http = functions.filter((f) => f.kind === 'http');
    const others = functions.filter((f) => f.kind !== 'http');
    expect(http.length).toBeGreaterThan(0);
    const paragraph = doc.slice(
      doc.indexOf('**Per-function scaling.**'),
      doc.indexOf('**If a region rejects'),
    );
    const words = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];
    // words[n] spells n + 1: the HTTP group and one group for each other function.
    expect(paragraph).toContain(`This app has ${words[others.length]} such groups`);
    for (const f of functions) expect(paragraph, f.name).toContain(`\`${f.name}\``);
  });

  it('says what it knows without hedging, and repeats no outdated instance minimum', () => {
    expect(doc).not.toMatch(/current reports say|reportedly|minimum of 40/i);
  });

  it('links only files that are in the repository', () => {
    const links = [...doc.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
      .map((m) => m[1]!)
      .filter((l) => !/^https?:/.test(l));
    for (const link of links)
      expect(readdirSync(join(repoRoot, 'docs', link, '..')), link).toContain(link.split('/').at(-1));
  });
});
