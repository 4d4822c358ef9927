import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import Parser from 'tree-sitter';
import Bicep from 'tree-sitter-bicep';

/** Offline view of the Bicep templates: tree-sitter-bicep syntax trees plus a few structural queries. */

export type SyntaxNode = Parser.SyntaxNode;

export const repoRoot = join(import.meta.dirname, '..', '..');
export const infraDir = join(repoRoot, 'infra');

const parser = new Parser();
parser.setLanguage(Bicep as Parser.Language);

export interface BicepFile {
  /** Path relative to the repository root, for messages. */
  readonly path: string;
  readonly text: string;
  readonly root: SyntaxNode;
}

export function parseBicep(path: string, text: string): BicepFile {
  return { path, text, root: parser.parse(text).rootNode };
}

/** Every .bicep file under infra/, parsed. */
export function loadInfra(): BicepFile[] {
  const files = readdirSync(infraDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.bicep'))
    .sort();
  return files.map((f) => {
    const full = join(infraDir, f);
    return parseBicep(relative(repoRoot, full), readFileSync(full, 'utf8'));
  });
}

/** ERROR and MISSING nodes, as `line:column text` (1-based lines). */
export function syntaxProblems(file: BicepFile): string[] {
  const problems: string[] = [];
  walk(file.root, (node) => {
    if (node.type === 'ERROR' || node.isMissing) {
      const where = `${node.startPosition.row + 1}:${node.startPosition.column + 1}`;
      problems.push(
        `${file.path}:${where} ${node.isMissing ? 'missing' : 'unexpected'} ${node.text.slice(0, 60)}`,
      );
    }
  });
  return problems;
}

export function walk(node: SyntaxNode, visit: (node: SyntaxNode) => void): void {
  visit(node);
  for (const child of node.namedChildren) walk(child, visit);
}

/** The key of an object property (`name: ...` or `'name': ...`). */
export function propertyKey(property: SyntaxNode): string | undefined {
  const key = property.namedChildren[0];
  if (!key) return undefined;
  return key.type === 'string' ? literalString(key) : key.text;
}

/** The value node of an object property. */
export function propertyValue(property: SyntaxNode): SyntaxNode | undefined {
  return property.namedChildren[property.namedChildCount - 1];
}

/** Value nodes of every object property named `key`, anywhere below `node`. */
export function propertyValues(node: SyntaxNode, key: string): SyntaxNode[] {
  const values: SyntaxNode[] = [];
  walk(node, (n) => {
    if (n.type !== 'object_property' || propertyKey(n) !== key) return;
    const value = propertyValue(n);
    if (value) values.push(value);
  });
  return values;
}

/** The direct property `key` of an object node. */
export function ownProperty(object: SyntaxNode, key: string): SyntaxNode | undefined {
  for (const child of object.namedChildren) {
    if (child.type === 'object_property' && propertyKey(child) === key) return propertyValue(child);
  }
  return undefined;
}

/** The text of a string node without interpolation; undefined for anything else. */
export function literalString(node: SyntaxNode): string | undefined {
  if (node.type !== 'string') return undefined;
  if (node.namedChildren.some((c) => c.type === 'interpolation')) return undefined;
  return node.namedChildren.map((c) => c.text).join('');
}

/** Resource declarations as `{ symbol, type, body }`, e.g. type `Microsoft.Web/sites@2024-04-01`. */
export function resources(file: BicepFile): { symbol: string; type: string; body: SyntaxNode }[] {
  const found: { symbol: string; type: string; body: SyntaxNode }[] = [];
  walk(file.root, (n) => {
    if (n.type !== 'resource_declaration') return;
    const [symbol, type] = n.namedChildren;
    const body = bodyOf(n);
    if (symbol && type && body)
      found.push({ symbol: symbol.text, type: literalString(type) ?? type.text, body });
  });
  return found;
}

/** Module declarations as `{ symbol, source, body }`, e.g. source `modules/storage.bicep`. */
export function modules(file: BicepFile): { symbol: string; source: string; body: SyntaxNode | undefined }[] {
  const found: { symbol: string; source: string; body: SyntaxNode | undefined }[] = [];
  walk(file.root, (n) => {
    if (n.type !== 'module_declaration') return;
    const [symbol, source] = n.namedChildren;
    if (symbol && source) {
      found.push({ symbol: symbol.text, source: literalString(source) ?? source.text, body: bodyOf(n) });
    }
  });
  return found;
}

/** The object a resource or module declaration assigns, looking through `[for ...]` and `if (...)`. */
function bodyOf(declaration: SyntaxNode): SyntaxNode | undefined {
  const last = declaration.namedChildren[declaration.namedChildCount - 1];
  if (!last) return undefined;
  if (last.type === 'object') return last;
  if (last.type === 'for_statement' || last.type === 'if_statement') return bodyOf(last);
  return undefined;
}

export interface ParamDeclaration {
  readonly name: string;
  readonly type: string;
  /** The default value's node, if the parameter has one. */
  readonly defaultValue: SyntaxNode | undefined;
}

/** Top-level `param` declarations. */
export function params(file: BicepFile): ParamDeclaration[] {
  return file.root.namedChildren
    .filter((n) => n.type === 'parameter_declaration')
    .map((n) => {
      const [name, type, defaultValue] = n.namedChildren;
      return { name: name?.text ?? '', type: type?.text ?? '', defaultValue };
    });
}

/** Top-level `output` declarations' names. */
export function outputs(file: BicepFile): string[] {
  return file.root.namedChildren
    .filter((n) => n.type === 'output_declaration')
    .map((n) => n.namedChildren[0]?.text ?? '');
}

/** The value node of a top-level `var`. */
export function variable(file: BicepFile, name: string): SyntaxNode | undefined {
  const declaration = file.root.namedChildren.find(
    (n) => n.type === 'variable_declaration' && n.namedChildren[0]?.text === name,
  );
  return declaration?.namedChildren[1];
}

/** The literal strings of an array node (non-literal elements are skipped). */
export function stringArray(node: SyntaxNode | undefined): string[] {
  if (node?.type !== 'array') return [];
  return node.namedChildren.map(literalString).filter((s): s is string => s !== undefined);
}

export interface AppSetting {
  readonly name: string;
  /** The literal value, or the expression's source text. */
  readonly value: string;
  readonly valueNode: SyntaxNode | undefined;
}

/** `siteConfig.appSettings: [{ name, value }]` of a Microsoft.Web/sites body. */
export function appSettings(site: SyntaxNode): AppSetting[] {
  const list = ownPath(site, ['properties', 'siteConfig', 'appSettings']);
  if (list?.type !== 'array') return [];
  return list.namedChildren
    .filter((n) => n.type === 'object')
    .map((n) => {
      const name = ownProperty(n, 'name');
      const value = ownProperty(n, 'value');
      return {
        name: (name && (literalString(name) ?? name.text)) ?? '',
        value: (value && (literalString(value) ?? value.text)) ?? '',
        valueNode: value,
      };
    });
}

/** Follows direct properties: ownPath(x, ['a', 'b']) is x.a.b. */
export function ownPath(node: SyntaxNode, keys: readonly string[]): SyntaxNode | undefined {
  let current: SyntaxNode | undefined = node;
  for (const key of keys) current = current && ownProperty(current, key);
  return current;
}
