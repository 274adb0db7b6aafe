import { describe, expect, it } from "vitest";
import { parseJsonWithInt64, stringifyWithInt64 } from "./int64.js";

describe("Edm.Int64 beyond 2^53", () => {
  it("reads integer literals beyond ±2^53 as bigints, everything else as JSON.parse does", () => {
    expect(parseJsonWithInt64('{"a":9007199254740993,"b":-9223372036854775808,"c":1.5,"d":"12345678901234567890","e":12}')).toEqual({
      a: 9007199254740993n,
      b: -9223372036854775808n,
      c: 1.5,
      d: "12345678901234567890",
      e: 12,
    });
    expect(parseJsonWithInt64('{"a":1.2345678901234567e25,"b":9007199254740991}')).toEqual({ a: 1.2345678901234567e25, b: 9007199254740991 });
  });
  it("writes bigints back as their digits", () => {
    expect(stringifyWithInt64({ a: 9223372036854775807n, b: [1, -9007199254740993n], c: "x" })).toBe('{"a":9223372036854775807,"b":[1,-9007199254740993],"c":"x"}');
    expect(stringifyWithInt64({ a: 1 })).toBe('{"a":1}');
  });
});
