import { describe, expect, it } from 'vitest';
import { settingNames, settingsSchema } from '../../src/config/settings.js';
import type { BicepFile, SyntaxNode } from './bicep-tree.js';
import { appSettings, literalString, loadInfra, ownProperty, params, resources } from './bicep-tree.js';

// The acceptance check of issue 7: every app setting the code reads (src/config/settings.ts, the one
// source of truth) is set by the template, so a deployed app never falls back to a silent default.

/**
 * Settings the template may leave unset because the code's default is right in Azure too.
 * Keep it empty unless there is a reason; each entry needs one.
 */
const mayBeUnset: Readonly<Record<string, string>> = {};

function templateSite(): { file: BicepFile; body: SyntaxNode } {
  const sites = loadInfra().flatMap((file) =>
    resources(file)
      .filter((r) => r.type.startsWith('Microsoft.Web/sites@') && ownProperty(r.body, 'location'))
      .map((r) => ({ file, body: r.body })),
  );
  expect(sites).toHaveLength(1);
  const [site] = sites;
  if (!site) throw new Error('no Microsoft.Web/sites resource in infra/');
  return site;
}

/**
 * The values an app-setting expression can take, where that is knowable without deploying:
 * a literal, both branches of a ternary of literals, or ARM's string() of a bool parameter
 * ('True' / 'False', which is easy to get wrong).
 */
function possibleValues(node: SyntaxNode | undefined, file: BicepFile): string[] {
  if (!node) return [];
  const literal = literalString(node);
  if (literal !== undefined) return [literal];
  if (node.type === 'ternary_expression') {
    const branches = [node.childForFieldName('consequence'), node.childForFieldName('alternative')];
    const values = branches.map((b) => (b ? literalString(b) : undefined));
    return values.every((v) => v !== undefined) ? (values as string[]) : [];
  }
  if (node.type === 'call_expression' && node.childForFieldName('function')?.text === 'string') {
    const argument = node.childForFieldName('arguments')?.namedChildren[0];
    const param = params(file).find((p) => p.name === argument?.text);
    if (param?.type === 'bool') return ['True', 'False'];
  }
  return [];
}

describe('app settings: src/config/settings.ts vs infra/', () => {
  const set = appSettings(templateSite().body);
  const names = set.map((s) => s.name);

  it('reads the list from the code', () => {
    expect(settingNames).toContain('DATAVERSE_URL');
    expect(settingNames.length).toBe(Object.keys(settingsSchema.shape).length);
  });

  it('sets every setting the code reads', () => {
    const missing = settingNames.filter((n) => !names.includes(n) && !(n in mayBeUnset));
    expect(missing).toEqual([]);
  });

  it('exempts only settings the code actually reads', () => {
    expect(Object.keys(mayBeUnset).filter((n) => !settingNames.includes(n))).toEqual([]);
  });

  it('sets each setting once', () => {
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  it('sets no product-looking setting the code does not read', () => {
    // Platform settings (host storage, telemetry, the Storage__ connection, the Node worker's arguments) are
    // read by the host.
    const platform =
      /^(AzureWebJobsStorage__|Storage__|APPLICATIONINSIGHTS_|FUNCTIONS_|WEBSITE_|languageWorkers__)/;
    expect(names.filter((n) => !platform.test(n) && !settingNames.includes(n))).toEqual([]);
  });

  it('gives values the code accepts wherever they can be known offline', () => {
    const site = templateSite();
    const checked: string[] = [];
    for (const setting of set.filter((s) => settingNames.includes(s.name))) {
      for (const value of possibleValues(setting.valueNode, site.file)) {
        checked.push(setting.name);
        const result = settingsSchema.partial().safeParse({ [setting.name]: value });
        expect(result.error?.issues ?? [], `${setting.name}=${value}`).toEqual([]);
      }
    }
    expect(checked).toContain('LOG_CELL_VALUES');
  });

  it('points the product at the Storage connection the bindings use', () => {
    expect(set.find((s) => s.name === 'STORAGE_CONNECTION')?.value).toBe('Storage');
    expect(names).toContain('Storage__blobServiceUri');
  });
});
