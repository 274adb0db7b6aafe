// $filter: a parser to a small AST and an evaluator over stored rows.
// Supported: eq ne lt le gt ge, and or not, parentheses, null, contains/startswith/endswith, and the
// Dataverse query functions In, NotIn, Between and NotBetween.
import { type Literal, LiteralSyntaxError, readLiteral } from "./literal.js";

export type CompareOp = "eq" | "ne" | "lt" | "le" | "gt" | "ge";

export type FilterNode =
  | { readonly kind: "and" | "or"; readonly left: FilterNode; readonly right: FilterNode }
  | { readonly kind: "not"; readonly operand: FilterNode }
  | { readonly kind: "compare"; readonly op: CompareOp; readonly property: string; readonly literal: Literal }
  /** filter-rows, "Column comparison": `firstname eq lastname`, two columns of the same row. */
  | { readonly kind: "columns"; readonly op: CompareOp; readonly property: string; readonly other: string }
  | {
      /** Dataverse query functions In/NotIn/Between/NotBetween: values as the JSON strings sent. */
      readonly kind: "values";
      readonly name: "In" | "NotIn" | "Between" | "NotBetween";
      readonly property: string;
      readonly values: readonly string[];
    }
  | {
      readonly kind: "function";
      readonly name: "contains" | "startswith" | "endswith";
      readonly property: string;
      readonly literal: Literal;
    };

export class FilterSyntaxError extends Error {
  readonly code = "ODATA_FILTER_SYNTAX";
  constructor(
    readonly position: number,
    detail: string,
  ) {
    super(`Syntax error at position ${position} in the $filter expression: ${detail}`);
    this.name = "FilterSyntaxError";
  }
}

/**
 * ODataLib's ODataUriParserSettings.FilterLimit: "the limit for the depth of the tree that results
 * from parsing $filter", 800 by default, refused with "Recursion depth exceeded allowed limit."
 * Dataverse parses $filter with ODataLib; Learn does not state the limit. It also keeps a hostile
 * filter (thousands of nested parentheses or a very long `and` chain) from exhausting the stack.
 */
export const MAX_FILTER_DEPTH = 800;

/** A filter error whose whole message is the platform's text. */
export class FilterMessageError extends FilterSyntaxError {
  constructor(position: number, message: string) {
    super(position, message);
    this.message = message;
  }
}

export class FilterTooDeepError extends FilterSyntaxError {
  constructor(position: number) {
    super(position, "too deep");
    this.message = "Recursion depth exceeded allowed limit.";
  }
}

const OPS = new Set(["eq", "ne", "lt", "le", "gt", "ge"]);
const DATAVERSE_NS = "Microsoft.Dynamics.CRM.";
/** Words that are literals, not column names, on the right of a comparison. */
const LITERAL_WORDS = new Set(["null", "true", "false", "NaN", "INF"]);
const FUNCTIONS = new Set(["contains", "startswith", "endswith"]);
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*/;

export function parseFilter(text: string): FilterNode {
  const p = new Parser(text);
  const node = p.parseOr();
  p.skip();
  if (p.pos < text.length) throw new FilterSyntaxError(p.pos, "unexpected text");
  return node;
}

class Parser {
  pos = 0;
  #nesting = 0;
  readonly #depths = new WeakMap<FilterNode, number>();
  constructor(readonly text: string) {}

  /** Builds an and/or/not node, refusing a tree deeper than MAX_FILTER_DEPTH. */
  private node(n: FilterNode, ...children: FilterNode[]): FilterNode {
    const depth = 1 + Math.max(...children.map((c) => this.#depths.get(c) ?? 1));
    if (depth > MAX_FILTER_DEPTH) throw new FilterTooDeepError(this.pos);
    this.#depths.set(n, depth);
    return n;
  }

  /** Parentheses and `not` recurse in the parser; bound them before the stack is at risk. */
  private enter(): void {
    if (++this.#nesting > MAX_FILTER_DEPTH) throw new FilterTooDeepError(this.pos);
  }

  skip(): void {
    while (this.text[this.pos] === " ") this.pos++;
  }

  private word(): string | undefined {
    this.skip();
    const m = /^[A-Za-z]+/.exec(this.text.slice(this.pos));
    return m?.[0];
  }

  private acceptWord(w: string): boolean {
    const got = this.word();
    const next = this.text[this.pos + w.length];
    if (got === w && (next === " " || next === "(" || next === undefined)) {
      this.pos += w.length;
      return true;
    }
    return false;
  }

  private expect(ch: string): void {
    this.skip();
    if (this.text[this.pos] !== ch) throw new FilterSyntaxError(this.pos, `'${ch}' expected`);
    this.pos++;
  }

  parseOr(): FilterNode {
    let left = this.parseAnd();
    while (this.acceptWord("or")) {
      const right = this.parseAnd();
      left = this.node({ kind: "or", left, right }, left, right);
    }
    return left;
  }

  private parseAnd(): FilterNode {
    let left = this.parseUnary();
    while (this.acceptWord("and")) {
      const right = this.parseUnary();
      left = this.node({ kind: "and", left, right }, left, right);
    }
    return left;
  }

  private parseUnary(): FilterNode {
    if (this.acceptWord("not")) {
      this.enter();
      const operand = this.parseUnary();
      this.#nesting--;
      return this.node({ kind: "not", operand }, operand);
    }
    return this.parsePrimary();
  }

  private parsePrimary(): FilterNode {
    this.skip();
    if (this.text[this.pos] === "(") {
      this.pos++;
      this.enter();
      const inner = this.parseOr();
      this.expect(")");
      this.#nesting--;
      return inner;
    }
    if (this.text.startsWith(DATAVERSE_NS, this.pos)) return this.dataverseFunction();
    const ident = IDENT.exec(this.text.slice(this.pos));
    if (!ident) throw new FilterSyntaxError(this.pos, "property or function expected");
    const name = ident[0];
    this.pos += name.length;
    this.skip();
    if (FUNCTIONS.has(name) && this.text[this.pos] === "(") {
      this.pos++;
      this.skip();
      const prop = IDENT.exec(this.text.slice(this.pos));
      if (!prop) throw new FilterSyntaxError(this.pos, "property expected");
      this.pos += prop[0].length;
      this.expect(",");
      this.skip();
      const literal = this.literal();
      this.expect(")");
      const fn = { kind: "function", name: name as "contains" | "startswith" | "endswith", property: prop[0], literal } as const;
      // `contains(x,'a') eq true` is the same test written longhand.
      const save = this.pos;
      const op = this.word();
      if (op === "eq" || op === "ne") {
        this.pos += 2;
        this.skip();
        const b = this.literal();
        if (b.kind !== "boolean") throw new FilterSyntaxError(this.pos, "boolean expected");
        return b.value === (op === "eq") ? fn : { kind: "not", operand: fn };
      }
      this.pos = save;
      return fn;
    }
    const op = this.word();
    if (op === undefined || !OPS.has(op)) throw new FilterSyntaxError(this.pos, "comparison operator expected");
    this.pos += op.length;
    this.skip();
    const other = IDENT.exec(this.text.slice(this.pos))?.[0];
    const after = other === undefined ? undefined : this.text[this.pos + other.length];
    if (other !== undefined && !LITERAL_WORDS.has(other) && (after === undefined || after === " " || after === ")")) {
      this.pos += other.length;
      return { kind: "columns", op: op as CompareOp, property: name, other };
    }
    const literal = this.literal();
    return { kind: "compare", op: op as CompareOp, property: name, literal };
  }

  /**
   * filter-rows, "Dataverse query functions": `Microsoft.Dynamics.CRM.In(PropertyName='lastname',
   * PropertyValues=["a","O'Brian"])`, NotIn, and Between/NotBetween with two values. PropertyValues
   * is a JSON array of strings (Learn: values with an apostrophe need the double quotes). The other
   * 60-odd functions (dates, hierarchy, fiscal periods) are not emulated and read as a syntax error.
   */
  private dataverseFunction(): FilterNode {
    const m = /^Microsoft\.Dynamics\.CRM\.([A-Za-z]+)\(/.exec(this.text.slice(this.pos));
    const name = m?.[1];
    if (m === null || (name !== "In" && name !== "NotIn" && name !== "Between" && name !== "NotBetween")) {
      throw new FilterSyntaxError(this.pos, "unsupported query function");
    }
    this.pos += m[0].length;
    let property: string | undefined;
    let values: string[] | undefined;
    for (;;) {
      this.skip();
      const param = /^[A-Za-z]+/.exec(this.text.slice(this.pos))?.[0];
      if (param === undefined) throw new FilterSyntaxError(this.pos, "parameter expected");
      this.pos += param.length;
      this.expect("=");
      this.skip();
      if (param === "PropertyName") {
        const lit = this.literal();
        if (lit.kind !== "string") throw new FilterSyntaxError(this.pos, "PropertyName must be a string");
        property = lit.value;
      } else if (param === "PropertyValues") {
        values = this.jsonStringArray();
      } else {
        throw new FilterSyntaxError(this.pos, `unknown parameter ${param}`);
      }
      this.skip();
      if (this.text[this.pos] === ",") {
        this.pos++;
        continue;
      }
      this.expect(")");
      break;
    }
    if (property === undefined || values === undefined) throw new FilterSyntaxError(this.pos, "PropertyName and PropertyValues are required");
    if ((name === "Between" || name === "NotBetween") && values.length !== 2) throw new FilterSyntaxError(this.pos, "Between takes two values");
    return { kind: "values", name, property, values };
  }

  /**
   * PropertyValues: a JSON array read the way Dataverse reads it, which also takes single-quoted
   * strings (`['a','b']`, as Learn's examples and Power Automate's filters write them) and numbers.
   * A value that holds an apostrophe has to be double-quoted (filter-rows, "Manage single
   * quotes"): `['O'Brian']` and `['O''Brian']` get Learn's error, word for word.
   */
  private jsonStringArray(): string[] {
    if (this.text[this.pos] !== "[") throw new FilterSyntaxError(this.pos, "'[' expected");
    const start = this.pos;
    const values: string[] = [];
    this.pos++;
    this.skip();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return values;
    }
    for (;;) {
      this.skip();
      const ch = this.text[this.pos];
      if (ch === '"' || ch === "'") values.push(this.quoted(ch));
      else {
        const m = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(this.text.slice(this.pos));
        if (m === null) throw new FilterSyntaxError(this.pos, "PropertyValues must be an array of strings");
        values.push(String(Number(m[0])));
        this.pos += m[0].length;
      }
      this.skip();
      const next = this.text[this.pos];
      this.pos++;
      if (next === "]") return values;
      if (next !== ",") {
        throw new FilterMessageError(start, "Invalid JSON. A comma character ',' was expected in scope 'Array'. Every two elements in an array and properties of an object must be separated by commas.");
      }
    }
  }

  /** A string in PropertyValues, quoted with `quote`, with JSON's backslash escapes (and \'). */
  private quoted(quote: string): string {
    // Most values have no escape: one slice up to the closing quote.
    const close = this.text.indexOf(quote, this.pos + 1);
    const plain = close === -1 ? undefined : this.text.slice(this.pos + 1, close);
    if (plain !== undefined && !plain.includes("\\")) {
      this.pos = close + 1;
      return plain;
    }
    let out = "";
    for (let i = this.pos + 1; i < this.text.length; i++) {
      const ch = this.text[i] as string;
      if (ch === quote) {
        this.pos = i + 1;
        return out;
      }
      if (ch !== "\\") {
        out += ch;
        continue;
      }
      const esc = this.text[++i];
      if (esc !== undefined && Object.hasOwn(ESCAPES, esc)) out += ESCAPES[esc];
      else if (esc === "u" && /^[0-9a-fA-F]{4}$/.test(this.text.slice(i + 1, i + 5))) {
        out += String.fromCharCode(parseInt(this.text.slice(i + 1, i + 5), 16));
        i += 4;
      } else throw new FilterSyntaxError(i, "bad escape in PropertyValues");
    }
    throw new FilterSyntaxError(this.pos, "unterminated string in PropertyValues");
  }

  private literal(): Literal {
    try {
      const { literal, end } = readLiteral(this.text, this.pos);
      this.pos = end;
      return literal;
    } catch (cause) {
      if (cause instanceof LiteralSyntaxError) throw new FilterSyntaxError(this.pos, "literal expected");
      throw cause;
    }
  }
}

/** JSON's one-character escapes, and \' (Dataverse's JSON reader takes it in single-quoted strings). */
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', "'": "'", "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

/** Every property name the filter mentions, for validation against the table. */
export function filterProperties(node: FilterNode, out: string[] = []): string[] {
  switch (node.kind) {
    case "and":
    case "or":
      filterProperties(node.left, out);
      filterProperties(node.right, out);
      break;
    case "not":
      filterProperties(node.operand, out);
      break;
    case "columns":
      out.push(node.property, node.other);
      break;
    default:
      out.push(node.property);
  }
  return out;
}

export type Scalar = string | number | boolean | null;

/** Text as a comparison sees it: equal forms for texts the collation finds equal. */
export type TextKey = (text: string) => string;

const caseInsensitive: TextKey = (text) => text.toLowerCase();

/**
 * Evaluates the filter; `read` gives a property's comparable value (strings as stored, lookups
 * as their id, dates as ISO text). Strings compare under `textKey`: for rows, the environment's
 * collation (collation.ts); by default, case-insensitively.
 */
export function evaluate(node: FilterNode, read: (property: string) => Scalar, textKey: TextKey = caseInsensitive): boolean {
  const compare = (a: Scalar, op: CompareOp, b: Scalar): boolean => compareScalars(a, op, b, textKey);
  switch (node.kind) {
    case "and":
      return evaluate(node.left, read, textKey) && evaluate(node.right, read, textKey);
    case "or":
      return evaluate(node.left, read, textKey) || evaluate(node.right, read, textKey);
    case "not":
      return !evaluate(node.operand, read, textKey);
    case "function": {
      const v = read(node.property);
      if (typeof v !== "string" || node.literal.kind !== "string") return false;
      const a = v.toLowerCase();
      const b = node.literal.value.toLowerCase();
      return node.name === "contains" ? a.includes(b) : node.name === "startswith" ? a.startsWith(b) : a.endsWith(b);
    }
    case "compare":
      return compare(read(node.property), node.op, comparable(node.literal));
    case "columns":
      return compare(read(node.property), node.op, read(node.other));
    case "values": {
      const v = read(node.property);
      if (v === null) return false;
      if (node.name === "In" || node.name === "NotIn") {
        // The same answer as comparing v with each value by `eq` (text under textKey, numbers by
        // value), looked up in sets built once per query instead of once per row and value: a query
        // with 1,000 values over a large table is otherwise quadratic in the emulator's CPU.
        const sets = memberSets(node, textKey);
        const hit = typeof v === "string" ? sets.strings.has(textKey(v)) : typeof v === "number" ? sets.numbers.has(v) : sets.booleans.has(v);
        return node.name === "In" ? hit : !hit;
      }
      // The values arrive as strings; read them as the column's type.
      const typed = node.values.map((x): Scalar => (typeof v === "number" ? Number(x) : typeof v === "boolean" ? x === "true" : x));
      const inside = compare(v, "ge", typed[0] ?? null) && compare(v, "le", typed[1] ?? null);
      return node.name === "Between" ? inside : !inside;
    }
  }
}

function comparable(l: Literal): Scalar {
  switch (l.kind) {
    case "null":
      return null;
    case "datetime": {
      const ms = Date.parse(l.value);
      return Number.isNaN(ms) ? l.value : new Date(ms).toISOString().slice(0, 19) + "Z";
    }
    default:
      return l.value;
  }
}

interface MemberSets {
  readonly textKey: TextKey;
  readonly strings: ReadonlySet<string>;
  readonly numbers: ReadonlySet<number>;
  readonly booleans: ReadonlySet<boolean>;
}

const MEMBER_SETS = new WeakMap<object, MemberSets>();

/** An In/NotIn node's values read as each type a column can have, as compareScalars("eq") reads them. */
function memberSets(node: { readonly values: readonly string[] }, textKey: TextKey): MemberSets {
  let sets = MEMBER_SETS.get(node);
  if (sets === undefined || sets.textKey !== textKey) {
    sets = {
      textKey,
      strings: new Set(node.values.map(textKey)),
      numbers: new Set(node.values.map(Number).filter((n) => !Number.isNaN(n))),
      booleans: new Set(node.values.map((x) => x === "true")),
    };
    MEMBER_SETS.set(node, sets);
  }
  return sets;
}

function compareScalars(a: Scalar, op: CompareOp, b: Scalar, textKey: TextKey): boolean {
  if (a === null || b === null) {
    if (op === "eq") return a === b;
    if (op === "ne") return a !== b;
    return false;
  }
  let c: number;
  if (typeof a === "string" && typeof b === "string") {
    const x = textKey(a);
    const y = textKey(b);
    c = x < y ? -1 : x > y ? 1 : 0;
  } else if (typeof a === "number" && typeof b === "number") {
    c = a - b;
  } else if (typeof a === "boolean" && typeof b === "boolean") {
    c = Number(a) - Number(b);
  } else {
    return op === "ne";
  }
  switch (op) {
    case "eq":
      return c === 0;
    case "ne":
      return c !== 0;
    case "lt":
      return c < 0;
    case "le":
      return c <= 0;
    case "gt":
      return c > 0;
    case "ge":
      return c >= 0;
  }
}
