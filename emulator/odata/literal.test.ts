import { describe, expect, it } from "vitest";
import { LiteralSyntaxError, parseKeyPredicate, readLiteral } from "./literal.js";

describe("readLiteral", () => {
  it.each([
    ["'abc'", { kind: "string", value: "abc" }],
    ["'O''Bryan'", { kind: "string", value: "O'Bryan" }],
    ["''''", { kind: "string", value: "'" }],
    ["''", { kind: "string", value: "" }],
    ["42", { kind: "number", value: 42, text: "42" }],
    ["-1.5", { kind: "number", value: -1.5, text: "-1.5" }],
    ["true", { kind: "boolean", value: true }],
    ["null", { kind: "null" }],
    ["0B6F4A1E-1111-4222-8333-444455556666", { kind: "guid", value: "0b6f4a1e-1111-4222-8333-444455556666" }],
    ["2024-05-01", { kind: "date", value: "2024-05-01" }],
    ["2024-05-01T10:00:00Z", { kind: "datetime", value: "2024-05-01T10:00:00Z" }],
    ["Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'", { kind: "enum", type: "Microsoft.Dynamics.CRM.OwnershipTypes", value: "UserOwned" }],
  ])("%s", (text, expected) => {
    expect(readLiteral(text, 0).literal).toEqual(expected);
  });

  it("an unterminated string is a syntax error", () => {
    expect(() => readLiteral("'abc", 0)).toThrow(LiteralSyntaxError);
  });

  it("a bare word is not a literal", () => {
    expect(() => readLiteral("abc", 0)).toThrow(LiteralSyntaxError);
  });
});

describe("parseKeyPredicate", () => {
  it("bare GUID", () => {
    expect(parseKeyPredicate("00000000-0000-0000-0000-000000000001")).toEqual([
      { value: { kind: "guid", value: "00000000-0000-0000-0000-000000000001" } },
    ]);
  });

  it("composite key with a comma inside a quoted value", () => {
    expect(parseKeyPredicate("firstname='Joe, Jr.',emailaddress1='abc@example.com'")).toEqual([
      { name: "firstname", value: { kind: "string", value: "Joe, Jr." } },
      { name: "emailaddress1", value: { kind: "string", value: "abc@example.com" } },
    ]);
  });

  it("numbers bare and strings quoted", () => {
    expect(parseKeyPredicate("example_key1=2,example_key2='2'")).toEqual([
      { name: "example_key1", value: { kind: "number", value: 2, text: "2" } },
      { name: "example_key2", value: { kind: "string", value: "2" } },
    ]);
  });

  it("mixing named and unnamed parts is an error", () => {
    expect(() => parseKeyPredicate("00000000-0000-0000-0000-000000000001,a=1")).toThrow(LiteralSyntaxError);
  });
});
