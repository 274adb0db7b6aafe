// One value → the JSON form its column takes, by the column's metadata. Never returns null for a
// value it cannot read: that is an issue, so nothing silently becomes empty.
import type { ColumnMeta, ColumnType } from "../model/table-meta.js";
import type { ColumnValue } from "../model/operation.js";
import { resolveChoice, resolveMultiChoice } from "./choices.js";
import { convertDateTime } from "./datetime.js";
import { decimalPlaces, expandExponent, isIntegerText, roundHalfAwayFromZero, toDecimalText } from "./numbers.js";
import { normalizeGuid } from "./uuid.js";

export type Coerced =
  | { readonly ok: true; readonly value: ColumnValue; readonly truncated: boolean }
  | { readonly ok: false; readonly code: string; readonly message: string };

export interface CoerceOptions {
  readonly truncateStrings: boolean;
  /** Multi-select delimiter; undefined = "," or ";". */
  readonly delimiter?: string | undefined;
}

/** Column types mapping can write as plain values (lookups go through bindings instead). */
export const SCALAR_TYPES: ReadonlySet<ColumnType> = new Set<ColumnType>([
  "String", "Memo", "Integer", "BigInt", "Decimal", "Double", "Money", "Boolean", "DateTime",
  "Picklist", "MultiSelectPicklist", "State", "Status", "Uniqueidentifier",
]);

// Platform limits when the column metadata leaves a bound out (dataverse-web-api.md §9).
const INT_MIN = -2147483648;
const INT_MAX = 2147483647;
export const DEFAULT_RANGE: Partial<Record<ColumnType, readonly [number, number]>> = {
  Integer: [INT_MIN, INT_MAX],
  // Edm.Int64; beyond ±2^53 coerceInt64 checks the exact value.
  BigInt: [-9223372036854775808, 9223372036854775807],
  Decimal: [-100_000_000_000, 100_000_000_000],
  Double: [-100_000_000_000, 100_000_000_000],
  Money: [-922_337_203_685_477, 922_337_203_685_477],
};

const ok = (value: ColumnValue, truncated = false): Coerced => ({ ok: true, value, truncated });
const fail = (code: string, message: string): Coerced => ({ ok: false, code, message });

const TRUE_WORDS = new Set(["true", "t", "yes", "y", "1"]);
const FALSE_WORDS = new Set(["false", "f", "no", "n", "0"]);

/** Cuts to `max` UTF-16 units (Dataverse counts .NET string length), never splitting a surrogate pair. */
function cut(text: string, max: number): string {
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (end > 0 && last >= 0xd800 && last <= 0xdbff) end -= 1;
  return text.slice(0, end);
}

/**
 * True when the text holds half a surrogate pair (JSON "\ud800" alone). That is not Unicode text:
 * it has no UTF-8 form, so it cannot travel in a request body (it would arrive as U+FFFD, another
 * value) nor in a URL (encodeURIComponent throws). With the u flag a proper pair is one code point,
 * so only lone halves match.
 */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}
const LONE_SURROGATE = /\p{Cs}/u;

const invalidText = (column: ColumnMeta): Coerced =>
  fail("invalid_text", `Column '${column.logicalName}' takes Unicode text; the value holds half of a UTF-16 surrogate pair.`);

function coerceString(column: ColumnMeta, raw: unknown, options: CoerceOptions): Coerced {
  let text: string;
  // Numbers and booleans have one obvious text form, so taking them loses nothing.
  if (typeof raw === "string") text = raw;
  else if (typeof raw === "number" && Number.isFinite(raw)) text = String(raw);
  else if (typeof raw === "boolean") text = String(raw);
  else return fail("not_a_string", `Column '${column.logicalName}' takes text.`);
  if (hasLoneSurrogate(text)) return invalidText(column);
  const max = column.maxLength;
  if (max !== undefined && text.length > max) {
    if (!options.truncateStrings) {
      return fail("too_long", `Column '${column.logicalName}' holds at most ${max} characters; the value is longer.`);
    }
    return ok(cut(text, max), true);
  }
  return ok(text);
}

function coerceNumber(column: ColumnMeta, raw: unknown): Coerced {
  const col = column.logicalName;
  const text = toDecimalText(raw);
  if (text === undefined) return fail("not_a_number", `Column '${col}' takes a number.`);
  const type = column.type;
  let out = text;
  if (type === "Integer" || type === "BigInt") {
    if (!isIntegerText(text)) return fail("not_an_integer", `Column '${col}' takes whole numbers.`);
    out = text.replace(/\.0*$/, "");
    const n = Number(out);
    if (type === "BigInt" && !Number.isSafeInteger(n)) return coerceInt64(column, out);
  } else if (column.precision !== undefined && decimalPlaces(text) > column.precision) {
    // More decimals than the column keeps: round half away from zero (the SQL Server and .NET
    // MidpointRounding.AwayFromZero convention). Microsoft's docs do not say what the platform
    // does with extra decimals, so we decide here rather than leave it to the server.
    out = roundHalfAwayFromZero(text, column.precision);
  }
  const n = Number(out);
  const [dmin, dmax] = DEFAULT_RANGE[type] ?? [-Infinity, Infinity];
  const min = column.minValue ?? dmin;
  const max = column.maxValue ?? dmax;
  if (n < min || n > max) return fail("out_of_range", `Column '${col}' takes values from ${min} to ${max}.`);
  if ((type === "Decimal" || type === "Money") && expandExponent(String(n)) !== expandExponent(out)) {
    // Decimal keeps up to 22 significant digits and Money 19, a JSON number about 15-17: sending the
    // nearest double would write a different amount without a word, so the record is refused instead.
    return fail("out_of_range", `Column '${col}' value has more significant digits than this connector can send exactly (about 15).`);
  }
  return ok(n);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A BigInt value beyond ±2^53 as a bigint, which the writer sends digit for digit (a double would
 * change it). The column's own bounds came through JSON.parse, so they are only trusted inside
 * Edm.Int64's range.
 */
function coerceInt64(column: ColumnMeta, digits: string): Coerced {
  const big = BigInt(digits);
  const bound = (v: number | undefined, fallback: bigint, pick: (a: bigint, b: bigint) => bigint): bigint =>
    v !== undefined && Number.isFinite(v) ? pick(BigInt(Math.trunc(v)), fallback) : fallback;
  const min = bound(column.minValue, INT64_MIN, (a, b) => (a > b ? a : b));
  const max = bound(column.maxValue, INT64_MAX, (a, b) => (a < b ? a : b));
  if (big < min || big > max) return fail("out_of_range", `Column '${column.logicalName}' takes values from ${min} to ${max}.`);
  return ok(big);
}

function coerceBoolean(column: ColumnMeta, raw: unknown): Coerced {
  if (typeof raw === "boolean") return ok(raw);
  if (raw === 1 || raw === 0) return ok(raw === 1);
  if (typeof raw === "string") {
    const w = raw.trim().toLowerCase();
    if (TRUE_WORDS.has(w)) return ok(true);
    if (FALSE_WORDS.has(w)) return ok(false);
  }
  return fail("not_a_boolean", `Column '${column.logicalName}' takes true/false (also 1/0, yes/no, y/n, t/f).`);
}

function coerceDateTime(column: ColumnMeta, raw: unknown): Coerced {
  // Epoch numbers are refused: seconds or milliseconds cannot be told apart reliably.
  if (typeof raw !== "string") return fail("invalid_date", `Column '${column.logicalName}' takes an ISO 8601 date or date-time text.`);
  const r = convertDateTime(raw, column.dateTimeBehavior, column.dateTimeFormat === "DateOnly");
  if (r.ok) return ok(r.value);
  return r.code === "date_out_of_range"
    ? fail("date_out_of_range", `Column '${column.logicalName}' takes dates from 1753-01-01 to 9999-12-31.`)
    : fail("invalid_date", `Column '${column.logicalName}' takes an ISO 8601 date or date-time (YYYY-MM-DD[THH:MM[:SS]][Z|±HH:MM]).`);
}

/** Coerces a non-null value; the caller applies null handling. */
export function coerceValue(column: ColumnMeta, raw: unknown, options: CoerceOptions): Coerced {
  if (raw !== null && typeof raw === "object" && !(Array.isArray(raw) && column.type === "MultiSelectPicklist")) {
    return fail("not_a_scalar", `Column '${column.logicalName}' takes a single value, not an object or array.`);
  }
  switch (column.type) {
    case "String":
    case "Memo":
      return coerceString(column, raw, options);
    case "Integer":
    case "BigInt":
    case "Decimal":
    case "Double":
    case "Money":
      return coerceNumber(column, raw);
    case "Boolean":
      return coerceBoolean(column, raw);
    case "DateTime":
      return coerceDateTime(column, raw);
    case "Picklist":
    case "State":
    case "Status": {
      const r = resolveChoice(column, raw);
      return r.ok ? ok(r.value) : fail(r.code, r.message);
    }
    case "MultiSelectPicklist": {
      const r = resolveMultiChoice(column, raw, options.delimiter);
      return r.ok ? ok(r.value) : fail(r.code, r.message);
    }
    case "Uniqueidentifier": {
      const g = typeof raw === "string" ? normalizeGuid(raw) : undefined;
      return g === undefined ? fail("invalid_guid", `Column '${column.logicalName}' takes a GUID.`) : ok(g);
    }
    case "Lookup":
    case "Customer":
    case "Owner":
    case "Other":
      return fail("unsupported_column", `Column '${column.logicalName}' cannot be written as a plain value.`);
  }
}
