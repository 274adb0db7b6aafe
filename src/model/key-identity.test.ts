import { describe, expect, it } from "vitest";
import { collatedText, collationForLanguage, collationName, DEFAULT_KEY_COLLATION, decimalText, keyIdentity, keyValueIdentity, tableKeyIdentity } from "./key-identity.js";
import type { TableMeta } from "./table-meta.js";

describe("keyValueIdentity", () => {
  it("matches text without trailing blanks and in lower case", () => {
    expect(keyValueIdentity("ACME  ", "String")).toBe(keyValueIdentity("acme", "String"));
    expect(keyValueIdentity(" acme", "String")).not.toBe(keyValueIdentity("acme", "String"));
  });
  it("an empty or blank text is no key value, for every column type", () => {
    for (const type of ["String", "Integer", undefined] as const) {
      expect(keyValueIdentity("", type)).toBeUndefined();
      expect(keyValueIdentity("   ", type)).toBeUndefined();
    }
  });
  it("matches numbers by value, as text or number", () => {
    expect(keyValueIdentity("1.50", "Decimal")).toBe(keyValueIdentity(1.5, "Decimal"));
    expect(keyValueIdentity("42", "Integer")).toBe(keyValueIdentity(42, undefined));
    expect(keyValueIdentity("42", "Picklist")).toBe(keyValueIdentity(42, "Picklist"));
    expect(keyValueIdentity(420, "Integer")).not.toBe(keyValueIdentity(42, "Integer"));
  });
  it("keeps integers beyond 2^53 apart", () => {
    expect(keyValueIdentity("9007199254740993", "BigInt")).not.toBe(keyValueIdentity("9007199254740992", "BigInt"));
    expect(keyValueIdentity("12345678901234567891", "BigInt")).toBe(keyValueIdentity("012345678901234567891.0", "BigInt"));
  });
  it("a lookup value is a GUID in any case, anything else is no key value", () => {
    expect(keyValueIdentity("0000000A-0000-0000-0000-000000000001", "Lookup")).toBe(keyValueIdentity("0000000a-0000-0000-0000-000000000001", "Owner"));
    expect(keyValueIdentity("not-a-guid", "Customer")).toBeUndefined();
  });
  it("a number column's non-numeric text, a boolean or a non-finite number is no key value", () => {
    expect(keyValueIdentity("abc", "Integer")).toBeUndefined();
    expect(keyValueIdentity(true, "String")).toBeUndefined();
    expect(keyValueIdentity(Number.NaN, undefined)).toBeUndefined();
    expect(keyValueIdentity(null, "String")).toBeUndefined();
  });
});

describe("key text under the environment's collation", () => {
  const english = collationForLanguage(1033);
  const finnish = collationForLanguage(1035);
  it("takes the collation from the base language as Learn's table lists it; unknown languages get _CI_AI", () => {
    expect([1033, 1031, 1036, 3082].map((l) => collationName(collationForLanguage(l)))).toEqual(["_CI_AI", "_CI_AI", "_CI_AI", "_CI_AI"]);
    expect([1035, 1048, 1050, 1054, 3081].map((l) => collationName(collationForLanguage(l)))).toEqual(["_CI_AS", "_CI_AS", "_CI_AS", "_CI_AS", "_CI_AS"]);
    expect(collationName(collationForLanguage(9999))).toBe("_CI_AI");
    expect(collationName(DEFAULT_KEY_COLLATION)).toBe("_CI_AI");
  });
  it.each([
    ["trailing spaces do not count", "cat/1  ", "CAT/1", true],
    ["a trailing tab does", "cat/1\t", "cat/1", false],
    ["a trailing no-break space does", "cat/1\u00a0", "cat/1", false],
    ["a leading space does", " cat/1", "cat/1", false],
    ["accents do not count under _CI_AI", "Café", "CAFE", true],
    ["a decomposed accent is the precomposed one", "cafe\u0301", "café", true],
    ["full width is narrow width", "ＡＢＣ", "abc", true],
    ["ß is ss", "Straße", "STRASSE", true],
    ["katakana is hiragana", "カナ", "かな", true],
  ] as const)("%s (_CI_AI)", (_name, a, b, same) => {
    expect(collatedText(a, english) === collatedText(b, english)).toBe(same);
  });
  it("under _CI_AS accents count, case and trailing spaces still do not", () => {
    expect(collatedText("café", finnish)).not.toBe(collatedText("cafe", finnish));
    expect(collatedText("CAFÉ ", finnish)).toBe(collatedText("café", finnish));
    expect(collatedText("cafe\u0301", finnish)).toBe(collatedText("café", finnish));
    expect(keyValueIdentity("Zoë", "String", finnish)).not.toBe(keyValueIdentity("Zoe", "String", finnish));
    expect(keyValueIdentity("Zoë", "String", english)).toBe(keyValueIdentity("Zoe", "String", english));
  });
});

describe("keyIdentity", () => {
  it("ignores column order and keeps values apart that a separator could join", () => {
    const typeOf = (): undefined => undefined;
    expect(keyIdentity([["a", "x"], ["b", 1]], typeOf)).toBe(keyIdentity([["b", "1.0"], ["a", "X"]], (c) => (c === "b" ? "Integer" : undefined)));
    expect(keyIdentity([["a", "a,b"], ["b", "c"]], typeOf)).not.toBe(keyIdentity([["a", "a"], ["b", "b,c"]], typeOf));
    expect(keyIdentity([["a", ""]], typeOf)).toBeUndefined();
  });

  it("keeps keys apart whose values hold the text that marks a part's end", () => {
    const typeOf = (): undefined => undefined;
    // Two parts, and one part whose value spells the second part out.
    expect(keyIdentity([["a", "x"], ["b", "y"]], typeOf)).not.toBe(keyIdentity([["a", "x" + "b:3:s:y"]], typeOf));
    expect(keyIdentity([["a", "1:x"]], typeOf)).not.toBe(keyIdentity([["a", "1"]], typeOf));
  });
});

describe("tableKeyIdentity", () => {
  it("is keyIdentity under the table's types and collation, and follows the table it is asked for", () => {
    const columns = new Map([["code", { type: "Integer" }]]) as unknown as TableMeta["columns"];
    const table = { columns, keyCollation: DEFAULT_KEY_COLLATION } as unknown as TableMeta;
    const values: [string, string | number][] = [["code", "7.0"]];
    expect(tableKeyIdentity(values, table)).toBe(keyIdentity([["code", 7]], () => "Integer"));
    // Without the table the column's type is unknown: the text is compared as text.
    expect(tableKeyIdentity(values, undefined)).toBe(keyIdentity(values, () => undefined));
    expect(tableKeyIdentity(values, table)).not.toBe(tableKeyIdentity(values, undefined));
  });
});

describe("decimalText", () => {
  it.each([
    [1.5, "1.5"],
    ["1.50", "1.5"],
    ["0042", "42"],
    ["-0", "0"],
    [".5", "0.5"],
    ["5.", "5"],
    [1e21, "1000000000000000000000"],
    [1e-7, "0.0000001"],
    ["15e-1", "1.5"],
    [" 7 ", "7"],
  ] as const)("%s → %s", (v, text) => expect(decimalText(v)).toBe(text));
  it.each(["", ".", "1.2.3", "0x1a", "abc", "Infinity"])("%s is not decimal text", (v) => expect(decimalText(v)).toBeUndefined());
});
