import { describe, expect, it } from 'vitest';
import { loadInfra, modules, parseBicep, syntaxProblems } from './bicep-tree.js';

const files = loadInfra();

describe('infra/*.bicep syntax (tree-sitter-bicep)', () => {
  it('finds the templates', () => {
    expect(files.map((f) => f.path)).toContain('infra/modules/storage.bicep');
  });

  it.each(files.map((f) => [f.path, f] as const))(
    '%s parses with no error or missing nodes',
    (_path, file) => {
      expect(syntaxProblems(file)).toEqual([]);
    },
  );

  it('the check itself catches broken Bicep', () => {
    const broken = parseBicep(
      'broken.bicep',
      "resource sa 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: \n",
    );
    expect(syntaxProblems(broken).length).toBeGreaterThan(0);
  });

  it('uses no registry modules (br:, br/public:, ts:), only local files', () => {
    const sources = files.flatMap((f) => modules(f).map((m) => `${f.path}: ${m.source}`));
    const remote = sources.filter((s) => /: (br[:/]|ts[:/])/.test(s));
    expect(remote).toEqual([]);
    for (const file of files) expect(file.text).not.toMatch(/'(br|ts)(\/[a-z]+)?:/);
  });
});
