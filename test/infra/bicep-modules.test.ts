import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BicepFile, SyntaxNode } from './bicep-tree.js';
import {
  loadInfra,
  modules,
  outputs,
  ownProperty,
  params,
  propertyKey,
  repoRoot,
  walk,
} from './bicep-tree.js';

// What `bicep build` would reject in module wiring, checked offline: missing files, unknown or
// missing parameters, and references to outputs a module does not declare.

const files = loadInfra();
const byPath = new Map(files.map((f) => [f.path, f]));

function target(file: BicepFile, source: string): BicepFile | undefined {
  return byPath.get(relative(repoRoot, join(repoRoot, dirname(file.path), source)));
}

const wiring = files.flatMap((file) =>
  modules(file).map((m) => ({ file, module: m, label: `${file.path} -> ${m.source}` })),
);

function objectKeys(object: SyntaxNode | undefined): string[] {
  return (
    object?.namedChildren.filter((c) => c.type === 'object_property').map((c) => propertyKey(c) ?? '') ?? []
  );
}

describe('infra module wiring', () => {
  it('main.bicep reaches every other template', () => {
    const reached = new Set<string>(['infra/main.bicep']);
    const queue = ['infra/main.bicep'];
    while (queue.length > 0) {
      const file = byPath.get(queue.shift() ?? '');
      if (!file) continue;
      for (const m of modules(file)) {
        const next = target(file, m.source)?.path;
        if (next && !reached.has(next)) {
          reached.add(next);
          queue.push(next);
        }
      }
    }
    expect([...reached].sort()).toEqual(files.map((f) => f.path).sort());
  });

  it.each(wiring.map((w) => [w.label, w] as const))('%s: file exists, parameters match', (_label, w) => {
    expect(existsSync(join(repoRoot, dirname(w.file.path), w.module.source))).toBe(true);
    const callee = target(w.file, w.module.source);
    expect(callee).toBeDefined();
    if (!callee) return;
    const declared = params(callee);
    const passed = objectKeys(w.module.body && ownProperty(w.module.body, 'params'));
    const unknown = passed.filter((p) => !declared.some((d) => d.name === p));
    const required = declared.filter((d) => d.defaultValue === undefined).map((d) => d.name);
    const missing = required.filter((r) => !passed.includes(r));
    expect({ unknown, missing }).toEqual({ unknown: [], missing: [] });
  });

  it.each(files.map((f) => [f.path, f] as const))(
    '%s references only outputs its modules declare',
    (_p, file) => {
      const declaredBySymbol = new Map(
        modules(file).map((m) => [m.symbol, outputs(target(file, m.source) ?? file)] as const),
      );
      const unknown: string[] = [];
      walk(file.root, (n) => {
        // <module>.outputs.<name>
        if (n.type !== 'member_expression') return;
        const inner = n.childForFieldName('object');
        const name = n.childForFieldName('property')?.text;
        if (inner?.type !== 'member_expression' || inner.childForFieldName('property')?.text !== 'outputs')
          return;
        const symbol = inner.childForFieldName('object')?.text ?? '';
        const declared = declaredBySymbol.get(symbol);
        if (declared && name && !declared.includes(name)) unknown.push(`${symbol}.outputs.${name}`);
      });
      expect(unknown).toEqual([]);
    },
  );
});
