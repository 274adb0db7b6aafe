import { describe, expect, it } from "vitest";
import { CAPABILITIES, NOT_SUPPORTED, aboutText } from "./about.js";

// The capability names the Meltano SDK knows (singer_sdk/helpers/capabilities.py): plugin and target.
const SDK_CAPABILITIES = ["about", "stream-maps", "schema-flattening", "activate-version", "batch", "structured-logging", "soft-delete", "hard-delete", "datatype-failsafe", "target-schema", "validate-records"];

describe("--about capabilities", () => {
  it("does not claim validate-records: records are checked against table metadata, not the SCHEMA message", () => {
    expect(CAPABILITIES).not.toContain("validate-records");
    const about: unknown = JSON.parse(aboutText("0.0.0", "json"));
    expect(about).toMatchObject({ capabilities: ["about", "hard-delete", "soft-delete"] });
  });

  it("has the SDK's shape: capability names from its list, settings a JSON Schema object, hard-delete with its hard_delete setting", () => {
    const about = JSON.parse(aboutText("0.0.0", "json")) as { capabilities: string[]; settings: { type: string; properties: Record<string, Record<string, unknown>>; required: string[] } };
    for (const c of about.capabilities) expect(SDK_CAPABILITIES).toContain(c);
    expect(about.settings.type).toBe("object");
    expect(about.settings.required).toEqual(expect.arrayContaining(["web_api_endpoint", "tenant_id", "client_id"]));
    expect(about.settings.properties["hard_delete"]).toMatchObject({ type: "boolean", default: false });
    expect(about.settings.properties["client_secret"]).toMatchObject({ type: "string", secret: true, writeOnly: true });
    expect(about.settings.properties["batch_size"]).toMatchObject({ type: "integer", default: 1000 });
  });

  it("says ACTIVATE_VERSION is not supported, and does not claim activate-version", () => {
    expect(CAPABILITIES).not.toContain("activate-version");
    for (const format of ["json", "markdown", "text"] as const) expect(aboutText("0.0.0", format)).toContain("ACTIVATE_VERSION messages are not supported");
    expect(NOT_SUPPORTED).toMatch(/ignored/);
  });
});
