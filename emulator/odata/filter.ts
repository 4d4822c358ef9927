import { errors } from '../errors.js';
import { formatUtc, parseDateTime } from '../values.js';

// OData $filter subset (reference §5, behaviours item 8): eq ne gt ge lt le, and or not, parentheses,
// contains/startswith/endswith (case-insensitive), null, numbers, strings, booleans, GUID, date and
// DateTimeOffset literals, enum literals (metadata), property paths with '/'.

export type Operand =
  | { readonly kind: 'prop'; readonly name: string }
  | { readonly kind: 'lit'; readonly value: string | number | boolean | null };

export type FilterExpr =
  | { readonly kind: 'and' | 'or'; readonly left: FilterExpr; readonly right: FilterExpr }
  | { readonly kind: 'not'; readonly expr: FilterExpr }
  | { readonly kind: 'cmp'; readonly op: CmpOp; readonly left: Operand; readonly right: Operand }
  | { readonly kind: 'fn'; readonly name: StringFn; readonly args: readonly Operand[] }
  | { readonly kind: 'operand'; readonly operand: Operand }
  | {
      readonly kind: 'crm';
      readonly name: CrmFn;
      readonly property: string;
      readonly values: readonly LiteralValue[];
    };

type LiteralValue = string | number | boolean | null;
/** Dataverse query functions (Microsoft.Dynamics.CRM.<Name>(PropertyName=...,PropertyValues=[...])). */
type CrmFn = 'In' | 'NotIn' | 'Between' | 'NotBetween' | 'ContainValues' | 'DoesNotContainValues';
const CRM_FNS: ReadonlySet<string> = new Set([
  'In',
  'NotIn',
  'Between',
  'NotBetween',
  'ContainValues',
  'DoesNotContainValues',
]);
const CRM_PREFIX = 'Microsoft.Dynamics.CRM.';

type CmpOp = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
type StringFn = 'contains' | 'startswith' | 'endswith';
const CMP_OPS: ReadonlySet<string> = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);
const STRING_FNS: ReadonlySet<string> = new Set(['contains', 'startswith', 'endswith']);

type Token =
  | { readonly t: 'punct'; readonly v: '(' | ')' | ',' | '[' | ']' | '='; readonly pos: number }
  | { readonly t: 'word'; readonly v: string; readonly pos: number }
  | {
      readonly t: 'lit';
      readonly v: string | number | boolean | null;
      readonly pos: number;
      /** How a string was quoted: `'` (an OData literal) or `"` (a JSON string in a collection). */
      readonly quote?: "'" | '"';
    };

const GUID_AT = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-])/;
const DATETIME_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?/;
const DATE_AT = /^\d{4}-\d{2}-\d{2}(?![\w:])/;
const NUMBER_AT = /^-?\d+(\.\d+)?([eE][+-]?\d+)?[mMdDfFlL]?(?![\w])/;
const WORD_AT = /^[A-Za-z_$][A-Za-z0-9_./$]*/;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') {
      i += 1;
      continue;
    }
    if (c === '(' || c === ')' || c === ',' || c === '[' || c === ']' || c === '=') {
      tokens.push({ t: 'punct', v: c, pos: i });
      i += 1;
      continue;
    }
    if (c === '"') {
      // JSON strings, escapes included, make up query-function value lists: PropertyValues=["5","2000"].
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const json = text.slice(i, end + 1);
      let value: unknown;
      try {
        value = JSON.parse(json);
      } catch {
        throw errors.uri(
          `Syntax error: the literal at position ${i} in '${text}' is not a valid JSON string.`,
        );
      }
      tokens.push({ t: 'lit', v: value as string, pos: i, quote: '"' });
      i = end + 1;
      continue;
    }
    if (c === "'") {
      const start = i;
      let value = '';
      i += 1;
      for (;;) {
        if (i >= text.length) {
          throw errors.uri(`There is an unterminated literal at position ${start} in '${text}'.`);
        }
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i += 1;
          break;
        }
        value += text[i];
        i += 1;
      }
      tokens.push({ t: 'lit', v: value, pos: start, quote: "'" });
      continue;
    }
    const rest = text.slice(i);
    let m = GUID_AT.exec(rest);
    if (m) {
      tokens.push({ t: 'lit', v: m[0].toLowerCase(), pos: i });
      i += m[0].length;
      continue;
    }
    m = DATETIME_AT.exec(rest);
    if (m) {
      const date = parseDateTime(m[0]);
      if (!date) throw errors.uri(`Syntax error at position ${i} in '${text}'.`);
      tokens.push({ t: 'lit', v: formatUtc(date), pos: i });
      i += m[0].length;
      continue;
    }
    m = DATE_AT.exec(rest);
    if (m) {
      tokens.push({ t: 'lit', v: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    m = NUMBER_AT.exec(rest);
    if (m) {
      tokens.push({ t: 'lit', v: Number(m[0].replace(/[mMdDfFlL]$/, '')), pos: i });
      i += m[0].length;
      continue;
    }
    m = WORD_AT.exec(rest);
    if (m) {
      const word = m[0];
      i += word.length;
      // Enum literal: Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'
      if (text[i] === "'" && word.includes('.')) {
        const end = text.indexOf("'", i + 1);
        if (end < 0) throw errors.uri(`There is an unterminated literal at position ${i} in '${text}'.`);
        tokens.push({ t: 'lit', v: text.slice(i + 1, end), pos: i });
        i = end + 1;
        continue;
      }
      if (word === 'null') tokens.push({ t: 'lit', v: null, pos: i - word.length });
      else if (word === 'true' || word === 'false')
        tokens.push({ t: 'lit', v: word === 'true', pos: i - word.length });
      else tokens.push({ t: 'word', v: word, pos: i - word.length });
      continue;
    }
    throw errors.uri(`Syntax error: character '${c}' is not valid at position ${i} in '${text}'.`);
  }
  return tokens;
}

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: readonly Token[],
    private readonly text: string,
  ) {}

  parse(): FilterExpr {
    const expr = this.or();
    if (this.i < this.tokens.length) this.fail(this.tokens[this.i]!.pos);
    return expr;
  }

  private fail(pos: number): never {
    throw errors.uri(`Syntax error at position ${pos} in '${this.text}'.`);
  }

  private peekWord(word: string): boolean {
    const t = this.tokens[this.i];
    return t?.t === 'word' && t.v === word;
  }

  private or(): FilterExpr {
    let left = this.and();
    while (this.peekWord('or')) {
      this.i += 1;
      left = { kind: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): FilterExpr {
    let left = this.unary();
    while (this.peekWord('and')) {
      this.i += 1;
      left = { kind: 'and', left, right: this.unary() };
    }
    return left;
  }

  private unary(): FilterExpr {
    if (this.peekWord('not')) {
      this.i += 1;
      return { kind: 'not', expr: this.unary() };
    }
    return this.comparison();
  }

  private comparison(): FilterExpr {
    const t = this.tokens[this.i];
    if (!t) this.fail(this.text.length);
    if (t.t === 'punct' && t.v === '(') {
      this.i += 1;
      const inner = this.or();
      this.expect(')');
      return this.maybeCmp(inner);
    }
    if (t.t === 'word' && t.v.startsWith(CRM_PREFIX) && this.tokens[this.i + 1]?.t === 'punct') {
      return this.crmFunction(t.v.slice(CRM_PREFIX.length), t.pos);
    }
    if (t.t === 'word' && STRING_FNS.has(t.v) && this.tokens[this.i + 1]?.t === 'punct') {
      this.i += 1;
      this.expect('(');
      const args = [this.operand()];
      while (this.tokens[this.i]?.t === 'punct' && this.tokens[this.i]!.v === ',') {
        this.i += 1;
        args.push(this.operand());
      }
      this.expect(')');
      return this.maybeCmp({ kind: 'fn', name: t.v as StringFn, args });
    }
    const left = this.operand();
    const op = this.tokens[this.i];
    if (op?.t === 'word' && CMP_OPS.has(op.v)) {
      this.i += 1;
      return { kind: 'cmp', op: op.v as CmpOp, left, right: this.operand() };
    }
    return { kind: 'operand', operand: left };
  }

  /**
   * `Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=["a","b"])` and friends. The value list is
   * an OData collection in JSON form, so its strings are double-quoted: a single-quoted item is a syntax
   * error, as in an OData parser (reference §13; Learn shows only the double-quoted form).
   */
  private crmFunction(name: string, pos: number): FilterExpr {
    if (!CRM_FNS.has(name)) {
      throw errors.uri(
        `The query function 'Microsoft.Dynamics.CRM.${name}' is not supported by the dvpipe emulator.`,
      );
    }
    this.i += 1;
    this.expect('(');
    let property: string | undefined;
    let values: LiteralValue[] | undefined;
    for (;;) {
      const key = this.tokens[this.i];
      if (key?.t !== 'word') this.fail(key?.pos ?? pos);
      this.i += 1;
      this.expect('=');
      if (key.v === 'PropertyName') {
        const v = this.tokens[this.i];
        if (v?.t !== 'lit' || typeof v.v !== 'string') this.fail(v?.pos ?? pos);
        property = v.v;
        this.i += 1;
      } else if (key.v === 'PropertyValues') {
        this.expect('[');
        values = [];
        for (let item = this.tokens[this.i]; item?.t === 'lit'; item = this.tokens[this.i]) {
          if (item.quote === "'") this.fail(item.pos);
          values.push(item.v);
          this.i += 1;
          if (this.tokens[this.i]?.t === 'punct' && this.tokens[this.i]!.v === ',') this.i += 1;
        }
        this.expect(']');
      } else this.fail(key.pos);
      const next = this.tokens[this.i];
      if (next?.t === 'punct' && next.v === ',') {
        this.i += 1;
        continue;
      }
      break;
    }
    this.expect(')');
    if (property === undefined || values === undefined) this.fail(pos);
    if ((name === 'Between' || name === 'NotBetween') && values.length !== 2) this.fail(pos);
    return { kind: 'crm', name: name as CrmFn, property, values };
  }

  /** `contains(a,'x') eq true` and `(expr) eq false` forms. */
  private maybeCmp(expr: FilterExpr): FilterExpr {
    const op = this.tokens[this.i];
    if (op?.t === 'word' && (op.v === 'eq' || op.v === 'ne')) {
      this.i += 1;
      const right = this.operand();
      if (right.kind !== 'lit' || typeof right.value !== 'boolean') this.fail(op.pos);
      const same = (op.v === 'eq') === right.value;
      return same ? expr : { kind: 'not', expr };
    }
    return expr;
  }

  private expect(v: string): void {
    const t = this.tokens[this.i];
    if (t?.t !== 'punct' || t.v !== v) this.fail(t?.pos ?? this.text.length);
    this.i += 1;
  }

  private operand(): Operand {
    const t = this.tokens[this.i];
    if (!t) this.fail(this.text.length);
    this.i += 1;
    // A JSON string is a collection item only, never an operand of its own.
    if (t.t === 'lit' && t.quote === '"') this.fail(t.pos);
    if (t.t === 'lit') return { kind: 'lit', value: t.v };
    if (t.t === 'word') return { kind: 'prop', name: t.v };
    return this.fail(t.pos);
  }
}

export function parseFilter(text: string): FilterExpr {
  return new Parser(tokenize(text), text).parse();
}

export type Getter<T> = (subject: T) => unknown;
/** Resolves a property name to a getter; throws the Dataverse error for unknown names. */
export type Resolver<T> = (name: string) => Getter<T>;

function norm(value: unknown): unknown {
  if (typeof value === 'string') return value.toLowerCase();
  if (typeof value === 'object' && value !== null && 'id' in value) return (value as { id: unknown }).id;
  return value;
}

function compare(op: CmpOp, a: unknown, b: unknown): boolean {
  const x = norm(a);
  const y = norm(b);
  if (op === 'eq') return x === y || (x == null && y == null);
  if (op === 'ne') return !(x === y || (x == null && y == null));
  if (x == null || y == null) return false;
  if (typeof x !== typeof y) return false;
  const lt = (x as number | string) < (y as number | string);
  const gt = (x as number | string) > (y as number | string);
  switch (op) {
    case 'gt':
      return gt;
    case 'ge':
      return !lt;
    case 'lt':
      return lt;
    default:
      return !gt;
  }
}

/** Compiles a parsed filter into a predicate, resolving properties once. */
export function compileFilter<T>(expr: FilterExpr, resolve: Resolver<T>): (subject: T) => boolean {
  const operand = (o: Operand): Getter<T> => {
    if (o.kind === 'lit') {
      const v = o.value;
      return () => v;
    }
    return resolve(o.name);
  };
  switch (expr.kind) {
    case 'and': {
      const l = compileFilter(expr.left, resolve);
      const r = compileFilter(expr.right, resolve);
      return (s) => l(s) && r(s);
    }
    case 'or': {
      const l = compileFilter(expr.left, resolve);
      const r = compileFilter(expr.right, resolve);
      return (s) => l(s) || r(s);
    }
    case 'not': {
      const e = compileFilter(expr.expr, resolve);
      return (s) => !e(s);
    }
    case 'cmp': {
      const l = operand(expr.left);
      const r = operand(expr.right);
      const op = expr.op;
      return (s) => compare(op, l(s), r(s));
    }
    case 'fn': {
      if (expr.args.length !== 2) throw errors.uri(`The function '${expr.name}' needs two arguments.`);
      const l = operand(expr.args[0]!);
      const r = operand(expr.args[1]!);
      const name = expr.name;
      return (s) => {
        const a = l(s);
        const b = r(s);
        if (typeof a !== 'string' || typeof b !== 'string') return false;
        const x = a.toLowerCase();
        const y = b.toLowerCase();
        return name === 'contains' ? x.includes(y) : name === 'startswith' ? x.startsWith(y) : x.endsWith(y);
      };
    }
    case 'operand': {
      const g = operand(expr.operand);
      return (s) => g(s) === true;
    }
    case 'crm':
      return compileCrm(expr.name, resolve(expr.property), expr.values);
  }
}

/** Values in query functions arrive as strings ("5"); compare them with the column's type. */
function asColumnType(sample: unknown, value: LiteralValue): unknown {
  if (typeof sample === 'number' && typeof value === 'string' && value.trim() !== '') return Number(value);
  if (typeof sample === 'boolean' && typeof value === 'string') return value === 'true' || value === '1';
  return value;
}

function compileCrm<T>(
  name: CrmFn,
  get: Getter<T>,
  values: readonly LiteralValue[],
): (subject: T) => boolean {
  switch (name) {
    case 'In':
    case 'NotIn': {
      const negate = name === 'NotIn';
      return (s) => {
        const v = get(s);
        if (v == null) return false;
        const hit = values.some((x) => compare('eq', v, asColumnType(norm(v), x)));
        return negate ? !hit : hit;
      };
    }
    case 'Between':
    case 'NotBetween': {
      const negate = name === 'NotBetween';
      return (s) => {
        const v = get(s);
        if (v == null) return false;
        const inside =
          compare('ge', v, asColumnType(norm(v), values[0]!)) &&
          compare('le', v, asColumnType(norm(v), values[1]!));
        return negate ? !inside : inside;
      };
    }
    case 'ContainValues':
    case 'DoesNotContainValues': {
      const wanted = new Set(values.map(String));
      const negate = name === 'DoesNotContainValues';
      return (s) => {
        const v = get(s);
        const held = typeof v === 'string' && v !== '' ? v.split(',') : [];
        const hit = held.some((x) => wanted.has(x));
        return negate ? !hit : hit;
      };
    }
  }
}

/** Resolver over plain objects with `/` paths (metadata queries). */
export function pathResolver(name: string): Getter<Record<string, unknown>> {
  const parts = name.split('/');
  return (subject) => {
    let v: unknown = subject;
    for (const p of parts) {
      if (typeof v !== 'object' || v === null) return undefined;
      v = (v as Record<string, unknown>)[p];
    }
    return v;
  };
}
