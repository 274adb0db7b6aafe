// When two alternate-key values name the same row: the one rule the writer (matching rows read
// back to the spellings that asked for them), the pipeline (which records claim one row, so they
// go out in order) and mirror (rows in the sync or not) share. Change the rule here only.
//
// Dataverse keeps rows in SQL Server, and an alternate key is a unique index compared under the
// environment's collation, which the base language chose when the environment was created (Learn,
// Power Platform admin, "Dataverse language collations"): every language is case-insensitive
// (_CI); most are accent-insensitive (_AI: "cafe" and "café" are one word), some accent-sensitive
// (_AS). The collations name no kana or width sensitivity, so those are insensitive too. SQL
// Server's `=` pads the shorter text with spaces, so trailing U+0020 spaces do not count; a tab,
// a no-break space or a leading space does. Numbers match by value, compared as exact decimal
// text so integers beyond 2^53 stay apart; an empty text is no key value at all.
//
// The text form below approximates the collation with Unicode's own tables (compatibility
// decomposition, which folds widths and ligatures; katakana as hiragana; marks dropped under _AI;
// full case folding).
// Where it errs it errs coarse, taking as one a few values SQL Server tells apart: the writer
// treats a row read back that matches several spellings, or a spelling matching several rows, as
// not known and asks Dataverse about that spelling alone, so a coarse rule costs a query, never a row.
import { isGuid } from "./guid.js";
import { isLookupType, lookupOfValueName } from "./lookup.js";
import type { ColumnType, KeyCollation, TableMeta } from "./table-meta.js";

export type { KeyCollation } from "./table-meta.js";

/**
 * Base languages whose collation is accent-sensitive (_CI_AS), from Learn's table; every other
 * language in it is _CI_AI. (The page lists English (UK) as 3081 beside English (Australia).)
 */
const ACCENT_SENSITIVE_LANGUAGES: ReadonlySet<number> = new Set([
  1035, 1048, 1050, 1051, 1053, 1054, 1057, 1058, 1060, 1061, 1062, 1063, 1066, 1069, 1081, 1086, 1087, 1110, 2055, 2064, 2074, 3079, 3081,
]);

/**
 * The collation when the base language is unknown: _CI_AI, 1033 English's. It is also the safe
 * guess: taking two values as one when Dataverse tells them apart costs a query (see above),
 * while telling apart two values Dataverse takes as one would create a second row for one key.
 */
export const DEFAULT_KEY_COLLATION: KeyCollation = { language: undefined, accentSensitive: false };

/** The collation Dataverse chose for an environment of this base language (an LCID). */
export function collationForLanguage(language: number): KeyCollation {
  return { language, accentSensitive: ACCENT_SENSITIVE_LANGUAGES.has(language) };
}

/** `_CI_AI` or `_CI_AS`, as Learn names them. */
export function collationName(collation: KeyCollation): string {
  return collation.accentSensitive ? "_CI_AS" : "_CI_AI";
}

const MARKS = /\p{M}+/gu;
const KATAKANA = /[\u30a1-\u30f6]/g;
const PLAIN = /^[\x20-\x7e]*$/; // printable ASCII: no decomposition, no marks, case folding is toLowerCase

/** Text as the collation compares it: equal strings for text SQL Server's `=` finds equal. */
export function collatedText(text: string, collation: KeyCollation): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x20) end--;
  const trimmed = end === text.length ? text : text.slice(0, end);
  if (PLAIN.test(trimmed)) return trimmed.toLowerCase();
  // Katakana as hiragana (kana-insensitive), after the decomposition has made half-width kana full.
  let folded = trimmed.normalize("NFKD").replace(KATAKANA, (c) => String.fromCharCode(c.charCodeAt(0) - 0x60));
  if (!collation.accentSensitive) folded = folded.replace(MARKS, "");
  // Upper then lower: full case folding ("ß" and "ss", "ǅ" and "dž" become one text).
  folded = folded.toUpperCase().toLowerCase();
  return collation.accentSensitive ? folded.normalize("NFC") : folded;
}

const NUMERIC_TYPES: ReadonlySet<ColumnType> = new Set<ColumnType>(["Integer", "BigInt", "Decimal", "Double", "Money", "Picklist", "State", "Status"]);

/**
 * A key value's identity: equal strings for values Dataverse treats as the same key, undefined for a
 * value that can be no key (empty text, null, a non-number under a numeric column, a lookup value
 * that is not a GUID).
 */
export function keyValueIdentity(value: unknown, type: ColumnType | undefined, collation: KeyCollation = DEFAULT_KEY_COLLATION): string | undefined {
  if (type !== undefined && isLookupType(type)) return typeof value === "string" && isGuid(value) ? `g:${value.toLowerCase()}` : undefined;
  if (typeof value === "number" || typeof value === "bigint" || (typeof value === "string" && type !== undefined && NUMERIC_TYPES.has(type))) {
    const text = decimalText(typeof value === "bigint" ? value.toString() : value);
    return text === undefined ? undefined : `n:${text}`;
  }
  if (typeof value !== "string") return undefined;
  const text = collatedText(value, collation);
  // Only spaces (or nothing): SQL Server compares it equal to '', which Dataverse keeps as no value.
  return text === "" ? undefined : `s:${text}`;
}

/**
 * The identity of a whole key (column order does not matter); undefined when one value has none.
 * Each column's part is `column:length:value`, so the text reads back one way only (a logical name
 * holds no colon) without escaping anything.
 */
export function keyIdentity(
  values: Iterable<readonly [column: string, value: unknown]>,
  typeOf: (column: string) => ColumnType | undefined,
  collation: KeyCollation = DEFAULT_KEY_COLLATION,
): string | undefined {
  if (Array.isArray(values) && values.length === 1) {
    // One column, the common key: the same text as below without building and sorting the parts.
    const [column, value] = values[0] as readonly [string, unknown];
    return columnIdentity(column, value, typeOf(column), collation);
  }
  const parts: [string, string][] = [];
  for (const [column, value] of values) {
    const v = keyValueIdentity(value, typeOf(column), collation);
    if (v === undefined) return undefined;
    parts.push([column, v]);
  }
  parts.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let text = "";
  for (const [column, v] of parts) text += identityPart(column, v);
  return text;
}

/** keyIdentity of a one-column key. */
function columnIdentity(column: string, value: unknown, type: ColumnType | undefined, collation: KeyCollation): string | undefined {
  const v = keyValueIdentity(value, type, collation);
  return v === undefined ? undefined : identityPart(column, v);
}

function identityPart(column: string, value: string): string {
  return `${column}:${value.length}:${value}`;
}

/** keyIdentity of key values in `table`: typed and collated as the table has them (its columns' types, its environment's collation). */
export function tableKeyIdentity(values: Iterable<readonly [column: string, value: unknown]>, table: TableMeta | undefined): string | undefined {
  if (Array.isArray(values) && values.length === 1) {
    // The one-column case without the type lookup's closure (this runs once per record).
    const [column, value] = values[0] as readonly [string, unknown];
    return columnIdentity(column, value, table === undefined ? undefined : keyColumnType(table, column), tableCollation(table));
  }
  return keyIdentity(values, (c) => (table === undefined ? undefined : keyColumnType(table, c)), tableCollation(table));
}

/** The type of a key column as a key reference names it (`_x_value` is lookup column x). */
export function keyColumnType(table: TableMeta, name: string): ColumnType | undefined {
  const lookup = lookupOfValueName(name);
  return (lookup === undefined ? undefined : table.columns.get(lookup)?.type) ?? table.columns.get(name)?.type;
}

/** A table's key collation: the environment's, or the default when the metadata did not say. */
export function tableCollation(table: TableMeta | undefined): KeyCollation {
  return table?.keyCollation ?? DEFAULT_KEY_COLLATION;
}

/**
 * A number as plain decimal text without redundant zeros ("1.50", 1.5 and "15e-1" are "1.5"),
 * computed on the digits, never through a double; undefined when it is not decimal number text.
 */
export function decimalText(value: number | string): string | undefined {
  if (typeof value === "number" && !Number.isFinite(value)) return undefined;
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(String(value).trim());
  if (m === null) return undefined;
  const [, sign = "", int = "", frac = "", exp = "0"] = m;
  if (int === "" && frac === "") return undefined;
  const shift = Number(exp);
  if (!Number.isSafeInteger(shift) || Math.abs(shift) > 1000) return undefined;
  let digits = int + frac;
  let point = int.length + shift;
  if (point < 0) {
    digits = "0".repeat(-point) + digits;
    point = 0;
  }
  if (point > digits.length) digits += "0".repeat(point - digits.length);
  const whole = digits.slice(0, point).replace(/^0+/u, "") || "0";
  const fraction = digits.slice(point).replace(/0+$/u, "");
  const text = fraction === "" ? whole : `${whole}.${fraction}`;
  return sign === "-" && text !== "0" ? `-${text}` : text;
}
