// When two alternate-key values name the same row: the one rule the writer (matching rows read
// back to the refs that asked for them) and mirror (rows in the sync or not) share. Dataverse's key
// index compares text as SQL Server's default collation does, so text matches without trailing
// blanks and in lower case; numbers match by value, compared as exact decimal text so integers
// beyond 2^53 stay apart; an empty text is no key value at all. Change the rule here only.
import { isGuid } from "./guid.js";
import { isLookupType, lookupOfValueName } from "./lookup.js";
import type { ColumnType, TableMeta } from "./table-meta.js";

const NUMERIC_TYPES: ReadonlySet<ColumnType> = new Set<ColumnType>(["Integer", "BigInt", "Decimal", "Double", "Money", "Picklist", "State", "Status"]);

/**
 * A key value's identity: equal strings for values Dataverse treats as the same key, undefined for a
 * value that can be no key (empty text, null, a non-number under a numeric column, a lookup value
 * that is not a GUID).
 */
export function keyValueIdentity(value: unknown, type: ColumnType | undefined): string | undefined {
  if (type !== undefined && isLookupType(type)) return typeof value === "string" && isGuid(value) ? `g:${value.toLowerCase()}` : undefined;
  if (typeof value === "number" || (typeof value === "string" && type !== undefined && NUMERIC_TYPES.has(type))) {
    const text = decimalText(value);
    return text === undefined ? undefined : `n:${text}`;
  }
  if (typeof value !== "string") return undefined;
  const text = value.replace(/\s+$/u, "").toLowerCase();
  return text === "" ? undefined : `s:${text}`;
}

/** The identity of a whole key (column order does not matter); undefined when one value has none. */
export function keyIdentity(values: Iterable<readonly [column: string, value: unknown]>, typeOf: (column: string) => ColumnType | undefined): string | undefined {
  const parts: [string, string][] = [];
  for (const [column, value] of values) {
    const v = keyValueIdentity(value, typeOf(column));
    if (v === undefined) return undefined;
    parts.push([column, v]);
  }
  parts.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return JSON.stringify(parts);
}

/** The type of a key column as a key reference names it (`_x_value` is lookup column x). */
export function keyColumnType(table: TableMeta, name: string): ColumnType | undefined {
  const lookup = lookupOfValueName(name);
  return (lookup === undefined ? undefined : table.columns.get(lookup)?.type) ?? table.columns.get(name)?.type;
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
