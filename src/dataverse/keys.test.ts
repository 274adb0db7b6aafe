import { describe, expect, it } from "vitest";
import { bindUrl, checkRef, entityPath, filterLiteral, isUrlAddressable, keyFilter, KeyLiteralError, keySegment, keyValueLiteral } from "./keys.js";
import type { RowRef } from "../model/operation.js";

describe("keyValueLiteral", () => {
  it.each([
    ["plain string is single-quoted", "accountnumber", "ABC123", "'ABC123'"],
    ["embedded quote is doubled", "lastname", "O'Bryan", "'O''Bryan'"],
    ["slash is percent-encoded", "code", "a/b", "'a%2Fb'"],
    ["hash is percent-encoded", "code", "a#b", "'a%23b'"],
    ["percent is percent-encoded", "code", "50%", "'50%25'"],
    ["at sign in e-mail stays (RFC 3986 pchar, as in Microsoft's examples)", "emailaddress1", "a@x.com", "'a@x.com'"],
    ["space", "name", "a b", "'a%20b'"],
    ["ampersand, question mark, plus", "name", "a&b?c+d", "'a%26b%3Fc%2Bd'"],
    ["parentheses cannot close the key segment", "name", "a)b(", "'a%29b%28'"],
    ["unicode is UTF-8 percent-encoded", "name", "Zoë", "'Zo%C3%AB'"],
    ["emoji", "name", "😀", "'%F0%9F%98%80'"],
    ["empty string", "name", "", "''"],
  ])("%s", (_label, column, value, expected) => {
    expect(keyValueLiteral(column, value)).toBe(expected);
  });

  it.each([
    [42, "42"],
    [-7, "-7"],
    [1.5, "1.5"],
    [0, "0"],
    [1e-7, "0.0000001"],
  ])("number %s is bare: %s", (value, expected) => {
    expect(keyValueLiteral("n", value)).toBe(expected);
  });

  it("rejects non-finite numbers", () => {
    expect(() => keyValueLiteral("n", Number.NaN)).toThrow(KeyLiteralError);
    expect(() => keyValueLiteral("n", Number.POSITIVE_INFINITY)).toThrow(KeyLiteralError);
  });

  it("half a surrogate pair is a KeyLiteralError naming the column, never a URIError or the value", () => {
    for (const bad of ["a\ud800b@example.com", "a\udc00", "\udfff"]) {
      expect(() => keyValueLiteral("emailaddress1", bad)).toThrow(new KeyLiteralError("emailaddress1", "text holds half of a UTF-16 surrogate pair"));
      expect(() => filterLiteral("emailaddress1", bad)).toThrow(KeyLiteralError);
    }
    expect(() => bindUrl("accounts", { kind: "key", values: [["accountnumber", "a\udc00"]] })).toThrow(/accountnumber/);
    expect(keyValueLiteral("e", "😀")).toBe("'%F0%9F%98%80'");
  });

  it("a GUID in a lookup key column is bare, elsewhere it is a string", () => {
    const g = "0000000A-0000-0000-0000-000000000001";
    expect(keyValueLiteral("_parentcustomerid_value", g)).toBe("0000000a-0000-0000-0000-000000000001");
    expect(keyValueLiteral("externalid", g)).toBe(`'${g}'`);
  });
});

describe("keySegment and entityPath", () => {
  it("primary id is bare and lower-cased", () => {
    expect(keySegment({ kind: "id", id: "AAAAAAAA-0000-0000-0000-000000000001" })).toBe("(aaaaaaaa-0000-0000-0000-000000000001)");
  });
  it("a non-GUID id is refused", () => {
    expect(() => keySegment({ kind: "id", id: "1' or 1 eq 1" })).toThrow(KeyLiteralError);
  });
  it("composite keys keep the given column order", () => {
    expect(
      entityPath("contacts", {
        kind: "key",
        values: [
          ["firstname", "Joe"],
          ["emailaddress1", "abc@example.com"],
        ],
      }),
    ).toBe("contacts(firstname='Joe',emailaddress1='abc@example.com')");
  });
  it("mixed string and number composite key", () => {
    expect(entityPath("examples", { kind: "key", values: [["k1", 2], ["k2", "x"]] })).toBe("examples(k1=2,k2='x')");
  });
  it("a row without a key has no URL", () => {
    expect(() => keySegment({ kind: "none" })).toThrow(KeyLiteralError);
  });
  it("bind URLs start with a slash", () => {
    expect(bindUrl("accounts", { kind: "key", values: [["accountnumber", "A-1"]] })).toBe("/accounts(accountnumber='A-1')");
    expect(bindUrl("accounts", { kind: "id", id: "00000000-0000-0000-0000-000000000001" })).toBe("/accounts(00000000-0000-0000-0000-000000000001)");
  });
});

describe("isUrlAddressable", () => {
  it.each(["/", "<", ">", "*", "%", "&", ":", "\\", "?", "+"])("a key holding %s must not go in a URL", (ch) => {
    expect(isUrlAddressable({ kind: "key", values: [["k", `a${ch}b`]] })).toBe(false);
  });
  it.each(["'", "#", " ", "é", "@", ","])("a key holding %s can go in a URL (encoded)", (ch) => {
    expect(isUrlAddressable({ kind: "key", values: [["k", `a${ch}b`]] })).toBe(true);
  });
  it("ids and numbers are always addressable", () => {
    expect(isUrlAddressable({ kind: "id", id: "00000000-0000-0000-0000-000000000001" })).toBe(true);
    expect(isUrlAddressable({ kind: "key", values: [["n", 5]] })).toBe(true);
  });
});

describe("filter literals", () => {
  it("doubles quotes and leaves encoding to the caller", () => {
    expect(filterLiteral("name", "O'Bryan/1")).toBe("'O''Bryan/1'");
  });
  it("builds an and-joined key filter", () => {
    expect(keyFilter({ kind: "key", values: [["a", "x&y"], ["b", 3]] })).toBe("a eq 'x&y' and b eq 3");
  });
});

describe("checkRef", () => {
  it("refuses exactly the refs entityPath cannot write, without building the path", () => {
    const refs: RowRef[] = [
      { kind: "key", values: [["emailaddress1", "a@b.com"]] },
      { kind: "key", values: [["name", "O'Brien & Sons"]] },
      { kind: "key", values: [["name", "half \ud800 pair"]] },
      { kind: "key", values: [["code", 1e21]] },
      { kind: "key", values: [["code", Number.NaN]] },
      { kind: "key", values: [["code", 12.5], ["_parentid_value", "00000000-0000-0000-0000-000000000001"]] },
      { kind: "key", values: [] },
      { kind: "id", id: "00000000-0000-0000-0000-000000000001" },
      { kind: "id", id: "not a guid" },
      { kind: "none" },
    ];
    for (const ref of refs) {
      let built: unknown;
      let checked: unknown;
      try {
        entityPath("contacts", ref);
      } catch (err) {
        built = err;
      }
      try {
        checkRef(ref);
      } catch (err) {
        checked = err;
      }
      expect(checked instanceof KeyLiteralError, JSON.stringify(ref)).toBe(built instanceof KeyLiteralError);
      if (built instanceof KeyLiteralError) expect((checked as KeyLiteralError).message).toBe(built.message);
    }
  });
});
