import { describe, expect, it } from "vitest";
import { collationFor } from "./collation.js";

describe("the environment's collation", () => {
  it("follows Learn's table: 1033 English is _CI_AI, 1035 Finnish and 1048 Romanian are _CI_AS", () => {
    expect([1033, 1035, 1048, 1031].map((l) => collationFor(l).name)).toEqual(["_CI_AI", "_CI_AS", "_CI_AS", "_CI_AI"]);
  });
  it("ignores case and trailing spaces, never a tab or a leading space", () => {
    const c = collationFor(1033);
    expect(c.key("ACC/2 ")).toBe(c.key("acc/2"));
    expect(c.key("acc/2\t")).not.toBe(c.key("acc/2"));
    expect(c.key(" acc/2")).not.toBe(c.key("acc/2"));
  });
  it("ignores accents only when accent-insensitive, and width always", () => {
    expect(collationFor(1033).key("café")).toBe(collationFor(1033).key("CAFE"));
    expect(collationFor(1035).key("café")).not.toBe(collationFor(1035).key("cafe"));
    expect(collationFor(1035).key("CAFÉ")).toBe(collationFor(1035).key("café"));
    expect(collationFor(1035).key("ＡＢＣ")).toBe(collationFor(1035).key("abc"));
    expect(collationFor(1033).key("カナ")).toBe(collationFor(1033).key("かな"));
  });
});
