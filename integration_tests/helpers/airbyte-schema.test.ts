// The stdout validator is a protocol client's own reading of the schema (issue 18 item 4): it must
// check formats and types, and must not be built with the connector's ajv factory.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { protocolProblems } from "./airbyte-schema.js";

describe("the stdout validator", () => {
  it("given valid LOG, STATE and TRACE lines, finds no problem", () => {
    expect(protocolProblems('{"type":"LOG","log":{"level":"INFO","message":"x"}}')).toEqual([]);
    expect(protocolProblems('{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"s"},"stream_state":{"c":1}}}}')).toEqual([]);
    expect(protocolProblems('{"type":"TRACE","trace":{"type":"ERROR","emitted_at":1.0,"error":{"message":"m","failure_type":"system_error"}}}')).toEqual([]);
  });

  it("given a SPEC whose documentationUrl is not a URI, reports the format (formats are on)", () => {
    expect(protocolProblems('{"type":"SPEC","spec":{"connectionSpecification":{},"documentationUrl":"not a uri"}}')).toEqual([
      '/spec/documentationUrl must match format "uri"',
    ]);
  });

  it("given a wrong type, an unknown enum value or a line that is not JSON, reports it", () => {
    expect(protocolProblems('{"type":"LOG","log":{"level":"LOUD","message":"x"}}').length).toBeGreaterThan(0);
    expect(protocolProblems('{"type":"TRACE","trace":{"type":"ERROR","emitted_at":"now","error":{"message":"m"}}}').length).toBeGreaterThan(0);
    expect(protocolProblems("{")).toEqual(["not JSON"]);
  });

  it("is built apart from the connector's ajv factory", () => {
    const source = readFileSync(fileURLToPath(new URL("./airbyte-schema.ts", import.meta.url)), "utf8");
    expect(source).not.toMatch(/from\s+"[^"]*src\//);
  });
});
