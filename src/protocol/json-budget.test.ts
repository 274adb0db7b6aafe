import { describe, expect, it } from "vitest";
import { parseJsonLine } from "./airbyte.js";
import { countJsonValues } from "./json-budget.js";

describe("countJsonValues", () => {
  it("counts containers and separators outside strings only", () => {
    expect(countJsonValues(`{"a":[1,2,{}],"b":"x,{[\\",y${" ".repeat(40)}"}`, 20)).toBe(6);
  });

  it("does not scan a text shorter than the limit", () => {
    expect(countJsonValues("[{},{},{}]", 100)).toBe(0);
  });

  it("stops once past the limit", () => {
    expect(countJsonValues(`[${"{},".repeat(1000)}{}]`, 10)).toBe(11);
  });
});

describe("parseJsonLine", () => {
  it("given a 30 MB line of {},{},…, refuses it with its line number before parsing", () => {
    const text = `{"type":"RECORD","record":{"stream":"s","data":{"a":[${"{},".repeat(10_000_000)}{}]}}}`;
    expect(() => parseJsonLine(text, 7)).toThrow(expect.objectContaining({ code: "line_too_complex", context: { line: 7 } }));
  });

  it("parses a 4 MB string value", () => {
    const text = JSON.stringify({ a: "x,{".repeat(1_500_000) });
    expect(parseJsonLine(text, 1)).toEqual({ a: "x,{".repeat(1_500_000) });
  });
});
