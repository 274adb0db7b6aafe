import { describe, expect, it } from "vitest";
import { CAPABILITIES, aboutText } from "./about.js";

describe("--about capabilities", () => {
  it("does not claim validate-records: records are checked against table metadata, not the SCHEMA message", () => {
    expect(CAPABILITIES).not.toContain("validate-records");
    const about: unknown = JSON.parse(aboutText("0.0.0", "json"));
    expect(about).toMatchObject({ capabilities: ["about", "hard-delete", "soft-delete"] });
  });
});
