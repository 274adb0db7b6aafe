// Column values on write: Web API JSON value → stored Value, or Dataverse's validation error.
// Dataverse quotes the offending value in several of these messages; we leave values out so a
// record value never reaches a log through an emulator answer (house rule).
import type { ColumnDefinition } from "./schema.js";
import type { TableModel } from "./model.js";
import type { Value } from "./store.js";
import { type DataverseError, errors } from "./errors.js";

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;
// Learn type limits (reference note §9): Decimal ±1e11, precision 0-10; Double ±1e11, 0-5;
// Money ±922,337,203,685,477, 0-4.
const DEFAULTS = {
  Decimal: { min: -100_000_000_000, max: 100_000_000_000, precision: 2 },
  Double: { min: -100_000_000_000, max: 100_000_000_000, precision: 2 },
  Money: { min: -922_337_203_685_477, max: 922_337_203_685_477, precision: 2 },
} as const;
// "minimum 1753-01-01" (behavior-format-date-time-attribute): SQL datetime's range.
const MIN_DATE = "1753-01-01";
const MAX_DATE = "9999-12-31";
const MAX_MULTISELECT = 150;
const INVALID_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The Edm type a column has in $metadata: names conversion errors and $filter operand checks. */
export function edmType(c: ColumnDefinition): string {
  switch (c.type) {
    case "String":
    case "Memo":
    case "MultiSelectPicklist":
    case "EntityName":
      return "Edm.String";
    case "Integer":
    case "Picklist":
    case "State":
    case "Status":
      return "Edm.Int32";
    case "BigInt":
      return "Edm.Int64";
    case "Decimal":
    case "Money":
      return "Edm.Decimal";
    case "Double":
      return "Edm.Double";
    case "Boolean":
      return "Edm.Boolean";
    case "DateTime":
      return c.dateTimeBehavior === "DateOnly" ? "Edm.Date" : "Edm.DateTimeOffset";
    case "Uniqueidentifier":
    case "Lookup":
    case "Customer":
    case "Owner":
      return "Edm.Guid";
  }
}

function cannotConvert(table: TableModel, c: ColumnDefinition): DataverseError {
  return errors.cannotConvert(table.entitySetName, c.logicalName, edmType(c));
}

function outOfRange(table: TableModel, c: ColumnDefinition, min: number, max: number): DataverseError {
  return errors.outOfRange(c.logicalName, table.logicalName, min, max);
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

function validCalendarDate(y: number, m: number, d: number): boolean {
  const dt = new Date(Date.UTC(y, m - 1, d));
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === m - 1 && dt.getUTCDate() === d;
}

/** Normalizes a DateTimeOffset to UTC "YYYY-MM-DDTHH:MM:SSZ" as Dataverse returns it. */
export function normalizeDateTime(text: string): string | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!validCalendarDate(y, mo, d)) return undefined;
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59)) return undefined;
  // An API value without an offset is taken as UTC (behavior-format-date-time-attribute).
  const iso = m[4] === undefined ? `${m[1]}-${m[2]}-${m[3]}T00:00:00Z` : text + (m[8] === undefined ? "Z" : "");
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return undefined;
  const out = new Date(ms).toISOString();
  return out.slice(0, 19) + "Z";
}

export function validateValue(table: TableModel, c: ColumnDefinition, raw: unknown): Value {
  if (raw === null) return null;
  switch (c.type) {
    case "String":
    case "Memo": {
      if (typeof raw !== "string") throw cannotConvert(table, c);
      const max = c.maxLength ?? (c.type === "Memo" ? 1_048_576 : 4000);
      if (raw.length > max) {
        throw errors.tooLong(c.logicalName, table.logicalName, max);
      }
      // invalidcharactersinfield: characters XmlConvert.VerifyXmlChars refuses (C0 controls other
      // than tab, LF and CR, U+FFFE/U+FFFF, unpaired surrogates) cannot be saved in string or memo
      // columns.
      if (INVALID_XML_CHARS.test(raw)) throw errors.invalidCharacters(c.logicalName);
      return raw;
    }
    case "EntityName":
      if (typeof raw !== "string") throw cannotConvert(table, c);
      return raw;
    case "Integer":
    case "BigInt": {
      // Edm.Int64 beyond ±2^53: the body reader (int64.ts) kept the literal's digits as a bigint.
      if (typeof raw === "bigint") {
        if (c.type !== "BigInt") throw outOfRange(table, c, c.minValue ?? INT32_MIN, c.maxValue ?? INT32_MAX);
        const min = c.minValue === undefined ? INT64_MIN : BigInt(c.minValue);
        const max = c.maxValue === undefined ? INT64_MAX : BigInt(c.maxValue);
        if (raw < min || raw > max) throw outOfRange(table, c, c.minValue ?? Number(INT64_MIN), c.maxValue ?? Number(INT64_MAX));
        return raw;
      }
      // create-entity-web-api's InitializeFrom sample posts "numberofemployees":"200": an integer
      // literal in a JSON string converts as ODataLib's reader converts it.
      const n = typeof raw === "string" && /^[+-]?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
      if (typeof n !== "number" || !Number.isInteger(n)) throw cannotConvert(table, c);
      const min = c.minValue ?? (c.type === "Integer" ? INT32_MIN : Number(INT64_MIN));
      const max = c.maxValue ?? (c.type === "Integer" ? INT32_MAX : Number(INT64_MAX));
      if (n < min || n > max) throw outOfRange(table, c, min, max);
      // A double beyond 2^53 names no one integer: only the literal's digits (a bigint above) do.
      if (!Number.isSafeInteger(n)) throw outOfRange(table, c, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      return n;
    }
    case "Decimal":
    case "Double":
    case "Money": {
      // Edm.Decimal also accepts a JSON string (IEEE754Compatible); Dataverse's reader does too.
      const n = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
      if (!Number.isFinite(n)) throw cannotConvert(table, c);
      const d = DEFAULTS[c.type];
      const min = c.minValue ?? d.min;
      const max = c.maxValue ?? d.max;
      if (n < min || n > max) throw outOfRange(table, c, min, max);
      // Extra decimals are rounded to the column's precision, not refused: what the platform does
      // with SDK decimals; Learn is silent on it for the Web API.
      const p = c.precision ?? d.precision;
      const f = 10 ** p;
      return Math.round(n * f) / f;
    }
    case "Boolean":
      if (typeof raw !== "boolean") throw cannotConvert(table, c);
      return raw;
    case "DateTime": {
      if (typeof raw !== "string") throw cannotConvert(table, c);
      if (c.dateTimeBehavior === "DateOnly") {
        const m = DATE_ONLY.exec(raw);
        // Edm.Date: a date-time string is a type error in the payload, not a range error.
        if (!m) throw cannotConvert(table, c);
        if (!validCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]))) throw errors.invalidDate();
        if (raw < MIN_DATE || raw > MAX_DATE) throw errors.invalidDate();
        return raw;
      }
      const norm = normalizeDateTime(raw);
      if (norm === undefined) throw errors.invalidDate();
      if (norm.slice(0, 10) < MIN_DATE) throw errors.invalidDate();
      return norm;
    }
    case "Picklist":
    case "State":
    case "Status": {
      if (typeof raw !== "number" || !Number.isInteger(raw)) throw cannotConvert(table, c);
      if (!(c.options ?? []).some((o) => o.value === raw)) throw picklistOutOfRange(table, c);
      return raw;
    }
    case "MultiSelectPicklist": {
      if (typeof raw !== "string") throw cannotConvert(table, c);
      if (raw === "") return null;
      const parts = raw.split(",");
      const values: number[] = [];
      for (const p of parts) {
        const t = p.trim();
        if (!/^-?\d+$/.test(t)) throw cannotConvert(table, c);
        const v = Number(t);
        if (!(c.options ?? []).some((o) => o.value === v)) throw errors.optionSetOutOfRange();
        if (!values.includes(v)) values.push(v);
      }
      if (values.length > MAX_MULTISELECT) throw picklistOutOfRange(table, c);
      return values.join(",");
    }
    case "Uniqueidentifier": {
      if (typeof raw !== "string" || !/^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/.test(raw)) {
        throw cannotConvert(table, c);
      }
      return raw.toLowerCase();
    }
    case "Lookup":
    case "Customer":
    case "Owner":
      // Lookups are written only through <nav>@odata.bind; row-engine.ts handles that path.
      throw errors.invalidProperty(c.logicalName, table.logicalName);
  }
}

function picklistOutOfRange(table: TableModel, c: ColumnDefinition): DataverseError {
  return errors.picklistOutOfRange(c.logicalName, table.logicalName);
}
