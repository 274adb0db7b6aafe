// OData URL literals as Dataverse reads them in key predicates, bind URLs and $filter:
// strings in single quotes with '' for an embedded quote, numbers and GUIDs bare, true/false/null.

export type Literal =
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "number"; readonly value: number; readonly text: string }
  | { readonly kind: "guid"; readonly value: string }
  | { readonly kind: "boolean"; readonly value: boolean }
  | { readonly kind: "null" }
  | { readonly kind: "datetime"; readonly value: string }
  | { readonly kind: "date"; readonly value: string }
  | { readonly kind: "enum"; readonly type: string; readonly value: string };

export class LiteralSyntaxError extends Error {
  readonly code = "ODATA_LITERAL_SYNTAX";
  constructor(readonly position: number) {
    super(`Syntax error at position ${position}.`);
    this.name = "LiteralSyntaxError";
  }
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/;
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})/;
const DATE = /^\d{4}-\d{2}-\d{2}(?![\d:T])/;
const NUMBER = /^-?\d+(\.\d+)?([eE][+-]?\d+)?[mMdDfFlL]?/;
const ENUM = /^(Microsoft\.Dynamics\.CRM\.[A-Za-z_][A-Za-z0-9_]*)'((?:[^']|'')*)'/;

export function isGuid(text: string): boolean {
  return text.length === 36 && GUID.test(text);
}

/** Reads one literal at text[start]; returns it and the index after it. */
export function readLiteral(text: string, start: number): { literal: Literal; end: number } {
  const rest = text.slice(start);
  if (rest.startsWith("'")) {
    let out = "";
    let i = start + 1;
    for (;;) {
      const q = text.indexOf("'", i);
      if (q < 0) throw new LiteralSyntaxError(start);
      out += text.slice(i, q);
      if (text[q + 1] === "'") {
        out += "'";
        i = q + 2;
        continue;
      }
      return { literal: { kind: "string", value: out }, end: q + 1 };
    }
  }
  const guid = GUID.exec(rest);
  if (guid && !/[0-9A-Za-z]/.test(rest[36] ?? "")) {
    return { literal: { kind: "guid", value: guid[0].toLowerCase() }, end: start + 36 };
  }
  const dt = DATETIME.exec(rest);
  if (dt) return { literal: { kind: "datetime", value: dt[0] }, end: start + dt[0].length };
  const d = DATE.exec(rest);
  if (d) return { literal: { kind: "date", value: d[0] }, end: start + d[0].length };
  const en = ENUM.exec(rest);
  if (en) {
    return {
      literal: { kind: "enum", type: en[1] ?? "", value: (en[2] ?? "").replaceAll("''", "'") },
      end: start + en[0].length,
    };
  }
  const num = NUMBER.exec(rest);
  if (num && !/[A-Za-z_]/.test(rest[num[0].length] ?? "")) {
    const text = num[0].replace(/[mMdDfFlL]$/, "");
    return { literal: { kind: "number", value: Number(text), text }, end: start + num[0].length };
  }
  for (const [word, literal] of [
    ["true", { kind: "boolean", value: true }],
    ["false", { kind: "boolean", value: false }],
    ["null", { kind: "null" }],
  ] as const) {
    if (rest.startsWith(word) && !/[A-Za-z0-9_]/.test(rest[word.length] ?? "")) {
      return { literal, end: start + word.length };
    }
  }
  throw new LiteralSyntaxError(start);
}

export interface KeyPart {
  /** Absent for the bare form `(<guid>)`. */
  readonly name?: string;
  readonly value: Literal;
}

/** Parses the inside of a key predicate: `<guid>`, `name='v'`, `a=1,b='x'`. */
export function parseKeyPredicate(inner: string): KeyPart[] {
  const parts: KeyPart[] = [];
  let i = 0;
  const skipSpace = () => {
    while (inner[i] === " ") i++;
  };
  skipSpace();
  if (i >= inner.length) throw new LiteralSyntaxError(i);
  for (;;) {
    skipSpace();
    const name = /^[A-Za-z_][A-Za-z0-9_]*(?=\s*=)/.exec(inner.slice(i));
    let partName: string | undefined;
    if (name) {
      partName = name[0];
      i += name[0].length;
      skipSpace();
      i++; // '='
      skipSpace();
    }
    const { literal, end } = readLiteral(inner, i);
    parts.push(partName === undefined ? { value: literal } : { name: partName, value: literal });
    i = end;
    skipSpace();
    if (i >= inner.length) break;
    if (inner[i] !== ",") throw new LiteralSyntaxError(i);
    i++;
  }
  if (parts.length > 1 && parts.some((p) => p.name === undefined)) throw new LiteralSyntaxError(0);
  return parts;
}
