import { describe, expect, it } from "vitest";
import { coerceValue, type Coerced } from "./coerce.js";
import type { ColumnMeta } from "../model/table-meta.js";
import { contactTable } from "./test-fixtures.js";
import { expandExponent, roundHalfAwayFromZero } from "./numbers.js";
import { convertDateTime } from "./datetime.js";

const contact = contactTable();
function column(name: string) {
  const c = contact.columns.get(name);
  if (c === undefined) throw new Error(`fixture lacks ${name}`);
  return c;
}
const coerce = (name: string, raw: unknown, truncateStrings = false, delimiter?: string): Coerced =>
  coerceValue(column(name), raw, { truncateStrings, delimiter });

type Row = readonly [column: string, input: unknown, expected: unknown];
const okRows = (rows: readonly Row[]) => rows.map(([c, i, e]) => [c, i, e] as const);
const failRows = (rows: readonly Row[]) => rows.map(([c, i, e]) => [c, i, e] as const);

describe("coerceValue: accepted values", () => {
  it.each(okRows([
    // strings: limits are inclusive; numbers and booleans have one text form
    ["firstname", "x".repeat(50), "x".repeat(50)],
    ["firstname", "Zoë", "Zoë"],
    ["firstname", 42, "42"],
    ["firstname", true, "true"],
    ["description", "line1\nline2", "line1\nline2"],
    // whole numbers
    ["numberofchildren", 3, 3],
    ["numberofchildren", "3", 3],
    ["numberofchildren", " 7 ", 7],
    ["numberofchildren", "2.0", 2],
    ["numberofchildren", 0, 0],
    ["numberofchildren", 1_000_000_000, 1_000_000_000],
    ["contoso_views", "9007199254740991", 9007199254740991],
    // decimals: rounded half away from zero to the column precision
    ["contoso_score", 12.345, 12.35],
    ["contoso_score", "-12.345", -12.35],
    ["contoso_score", "1.005", 1.01],
    ["contoso_score", "1e2", 100],
    ["contoso_score", 999.994, 999.99],
    ["annualincome", "1234.5", 1234.5],
    ["annualincome", 0.125, 0.13],
    ["annualincome", "123456789012.34", 123456789012.34],
    ["address1_latitude", 47.6062095, 47.60621],
    // booleans from common spellings
    ["donotemail", true, true],
    ["donotemail", false, false],
    ["donotemail", 1, true],
    ["donotemail", 0, false],
    ["donotemail", "YES", true],
    ["donotemail", "no", false],
    ["donotemail", "Y", true],
    ["donotemail", "n", false],
    ["donotemail", "T", true],
    ["donotemail", "f", false],
    ["donotemail", " True ", true],
    ["donotemail", "FALSE", false],
    ["donotemail", "1", true],
    ["donotemail", "0", false],
    // dates: DateOnly keeps the written day whatever the offset
    ["birthdate", "1990-05-17", "1990-05-17"],
    ["birthdate", "1990-05-17T00:00:00-05:00", "1990-05-17"],
    ["birthdate", "1990-05-17T23:30:00+14:00", "1990-05-17"],
    ["birthdate", "1990-05-17T00:00:00Z", "1990-05-17"],
    ["birthdate", "2000-02-29", "2000-02-29"],
    ["birthdate", "1753-01-01", "1753-01-01"],
    // UserLocal: instant in UTC
    ["lastonholdtime", "2024-03-10T08:15:00-05:00", "2024-03-10T13:15:00Z"],
    ["lastonholdtime", "2024-03-10T23:15:00-05:00", "2024-03-11T04:15:00Z"],
    ["lastonholdtime", "2024-03-10T01:00:00+0530", "2024-03-09T19:30:00Z"],
    ["lastonholdtime", "2024-03-10T08:15:00.987Z", "2024-03-10T08:15:00Z"],
    ["lastonholdtime", "2024-03-10 08:15", "2024-03-10T08:15:00Z"],
    ["lastonholdtime", "2024-03-10", "2024-03-10T00:00:00Z"],
    // TimeZoneIndependent: the wall clock as written, no conversion
    ["contoso_lastcontacted", "2024-03-10T08:15:00-05:00", "2024-03-10T08:15:00Z"],
    ["contoso_lastcontacted", "2024-03-10T08:15:30", "2024-03-10T08:15:30Z"],
    // GUIDs normalised
    ["stageid", "{6F9619FF-8B86-D011-B42D-00C04FC964FF}", "6f9619ff-8b86-d011-b42d-00c04fc964ff"],
    // choices by value, numeric text or label (case-insensitive, trimmed)
    ["gendercode", 2, 2],
    ["gendercode", "2", 2],
    ["gendercode", "female", 2],
    ["gendercode", "  MALE ", 1],
    ["preferredcontactmethodcode", "Email", 2],
    // multi-select: arrays, "," or ";" delimited, labels or values → comma-separated values
    ["contoso_hobbies", ["Reading", "Chess"], "1,3"],
    ["contoso_hobbies", [4, "hiking"], "4,2"],
    ["contoso_hobbies", "reading, chess", "1,3"],
    ["contoso_hobbies", "Reading;Cooking", "1,4"],
    ["contoso_hobbies", "1,1,3", "1,3"],
    ["contoso_hobbies", 2, "2"],
    ["contoso_hobbies", [], null],
    ["contoso_hobbies", "", null],
  ]))("%s ← %j gives %j", (name, raw, expected) => {
    const r = coerce(name, raw);
    expect(r).toEqual({ ok: true, value: expected, truncated: false });
  });
});

describe("coerceValue: refused values name a code, never become null", () => {
  it.each(failRows([
    // Money keeps 19 significant digits, a JSON number ~15-17: the nearest double would be another amount.
    ["annualincome", "92233720368547.71", "out_of_range"],
    ["annualincome", "99999999999999.99", "out_of_range"],
    ["firstname", "x".repeat(51), "too_long"],
    ["firstname", "😀".repeat(26), "too_long"],
    ["firstname", "a\ud800b", "invalid_text"],
    ["firstname", "\udfff", "invalid_text"],
    ["firstname", "😀\ud83d", "invalid_text"],
    ["firstname", { first: "a" }, "not_a_scalar"],
    ["firstname", ["a"], "not_a_scalar"],
    ["numberofchildren", "three", "not_a_number"],
    ["numberofchildren", "", "not_a_number"],
    ["numberofchildren", 2.5, "not_an_integer"],
    ["numberofchildren", -1, "out_of_range"],
    ["numberofchildren", 1_000_000_001, "out_of_range"],
    ["numberofchildren", true, "not_a_number"],
    ["numberofchildren", Number.NaN, "not_a_number"],
    ["numberofchildren", Number.POSITIVE_INFINITY, "not_a_number"],
    ["contoso_legacyid", 2147483648, "out_of_range"],
    ["contoso_views", "9223372036854775808", "out_of_range"], // 2^63; up to 2^63-1 is taken exactly
    ["contoso_score", 1000.01, "out_of_range"],
    ["contoso_score", "12,5", "not_a_number"],
    ["annualincome", -0.01, "out_of_range"],
    ["address1_latitude", 90.00001, "out_of_range"],
    ["contoso_score", 1000.005, "out_of_range"],
    ["donotemail", "maybe", "not_a_boolean"],
    ["donotemail", 2, "not_a_boolean"],
    ["donotemail", "", "not_a_boolean"],
    ["birthdate", "17/05/1990", "invalid_date"],
    ["birthdate", "1990-02-30", "invalid_date"],
    ["birthdate", "1900-02-29", "invalid_date"],
    ["birthdate", "1990-05-17T24:00:00", "invalid_date"],
    ["birthdate", "1752-12-31", "date_out_of_range"],
    ["birthdate", 642902400000, "invalid_date"],
    ["lastonholdtime", "1753-01-01T02:00:00+05:00", "date_out_of_range"],
    ["lastonholdtime", "yesterday", "invalid_date"],
    ["stageid", "not-a-guid", "invalid_guid"],
    ["stageid", 12, "invalid_guid"],
    ["gendercode", 3, "unknown_choice"],
    ["gendercode", "Other", "unknown_choice"],
    ["gendercode", 1.5, "unknown_choice"],
    ["gendercode", true, "not_a_choice"],
    ["contoso_hobbies", ["Reading", "Skydiving"], "unknown_choice"],
    ["contoso_hobbies", { a: 1 }, "not_a_scalar"],
    ["parentcustomerid", "00000000-0000-0000-0000-000000000001", "unsupported_column"],
  ]))("%s ← %j is refused with %s", (name, raw, code) => {
    const r = coerce(name, raw);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe(code);
      expect(r.message).toContain(name);
    }
  });

  it("messages never carry the value", () => {
    const secret = "s3cr3t-value-xyz";
    for (const name of ["firstname", "numberofchildren", "birthdate", "gendercode", "donotemail", "stageid"]) {
      const r = coerce(name, name === "firstname" ? secret.repeat(10) : secret);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.message).not.toContain(secret);
    }
  });
});

describe("lone surrogates", () => {
  it("a proper surrogate pair is text; half of one is not, even where truncation would cut it off", () => {
    expect(coerce("firstname", "😀")).toEqual({ ok: true, value: "😀", truncated: false });
    expect(coerce("firstname", `${"x".repeat(60)}\ud800`, true)).toMatchObject({ ok: false, code: "invalid_text" });
  });
});

describe("truncation", () => {
  it("cuts to MaxLength and says so when truncateStrings is on", () => {
    expect(coerce("firstname", "x".repeat(51), true)).toEqual({ ok: true, value: "x".repeat(50), truncated: true });
  });

  it("never splits a surrogate pair", () => {
    const r = coerce("firstname", `${"a".repeat(49)}😀`, true);
    expect(r).toEqual({ ok: true, value: "a".repeat(49), truncated: true });
  });

  it("leaves values at the limit untouched", () => {
    expect(coerce("firstname", "x".repeat(50), true)).toEqual({ ok: true, value: "x".repeat(50), truncated: false });
  });
});

describe("multi-select delimiter", () => {
  it("uses only the configured delimiter when one is set", () => {
    expect(coerce("contoso_hobbies", "Reading|Chess", false, "|")).toEqual({ ok: true, value: "1,3", truncated: false });
    expect(coerce("contoso_hobbies", "Reading;Chess", false, "|").ok).toBe(false);
  });

  it("caps the selection at 150 options", () => {
    const many = contactTable().columns.get("contoso_hobbies");
    if (many === undefined) throw new Error("fixture");
    const options = Array.from({ length: 151 }, (_, i) => ({ value: i, label: `o${i}` }));
    const r = coerceValue({ ...many, options }, options.map((o) => o.value), { truncateStrings: false });
    expect(r).toMatchObject({ ok: false, code: "too_many_choices" });
  });
});

describe("decimal text helpers", () => {
  it.each([
    ["1.5e3", "1500"], ["-2e-3", "-0.002"], ["0.000", "0"], ["007.50", "7.5"], ["1e21", "1000000000000000000000"], ["-0", "0"],
  ])("expandExponent(%s) = %s", (input, expected) => {
    expect(expandExponent(input)).toBe(expected);
  });

  it.each([
    ["2.5", 0, "3"], ["-2.5", 0, "-3"], ["2.4999", 0, "2"], ["9.995", 2, "10"], ["-0.004", 2, "0"], ["1.2", 3, "1.2"], ["99.95", 1, "100"],
  ])("roundHalfAwayFromZero(%s, %i) = %s", (input, places, expected) => {
    expect(roundHalfAwayFromZero(input, places)).toBe(expected);
  });
});

describe("convertDateTime without behaviour metadata", () => {
  it("treats an unknown behaviour as UserLocal, the platform default", () => {
    expect(convertDateTime("2024-01-01T01:00:00+01:00", undefined, false)).toEqual({ ok: true, value: "2024-01-01T00:00:00Z" });
  });

  it("keeps midnight for a TimeZoneIndependent date-only column", () => {
    expect(convertDateTime("2024-01-01T15:00:00", "TimeZoneIndependent", true)).toEqual({ ok: true, value: "2024-01-01T00:00:00Z" });
  });
});

describe("BigInt beyond ±2^53", () => {
  const big: ColumnMeta = { logicalName: "new_big", schemaName: "new_Big", type: "BigInt", typeName: "BigIntType", requiredLevel: "None", validForCreate: true, validForUpdate: true, isPrimaryId: false };
  it.each([
    ["9007199254740993", 9007199254740993n],
    ["9223372036854775807", 9223372036854775807n],
    ["-9223372036854775808", -9223372036854775808n],
    ["1234567890123456789.000", 1234567890123456789n],
  ])("%s is taken digit for digit", (text, value) => {
    expect(coerceValue(big, text, { truncateStrings: false })).toEqual({ ok: true, value, truncated: false });
  });
  it("a safe integer stays a number", () => {
    expect(coerceValue(big, 9007199254740991, { truncateStrings: false })).toEqual({ ok: true, value: 9007199254740991, truncated: false });
  });
  it.each(["9223372036854775808", "-9223372036854775809"])("%s is out of range", (text) => {
    expect(coerceValue(big, text, { truncateStrings: false })).toMatchObject({ ok: false, code: "out_of_range" });
  });
  it("the column's own bounds apply", () => {
    expect(coerceValue({ ...big, maxValue: 1e16 }, "10000000000000001", { truncateStrings: false })).toMatchObject({ ok: false, code: "out_of_range" });
  });
});
