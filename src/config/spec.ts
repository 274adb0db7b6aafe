// The connector specification lives in spec/spec.json at the package root (shipped with the
// package); this finds it from both the compiled (dist/src/config) and source (src/config) layouts.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isJsonObject } from "../protocol/airbyte.js";
import type { JsonObject } from "../protocol/airbyte.js";

const CANDIDATES = ["../../spec/spec.json", "../../../spec/spec.json"];

let cached: JsonObject | undefined;

export function specPath(): string {
  for (const rel of CANDIDATES) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error("spec/spec.json is missing from the package");
}

/** The ConnectorSpecification printed by `spec`. */
export function loadSpec(): JsonObject {
  if (cached === undefined) {
    const parsed: unknown = JSON.parse(readFileSync(specPath(), "utf8"));
    if (!isJsonObject(parsed) || !isJsonObject(parsed["connectionSpecification"])) throw new Error("spec/spec.json has no connectionSpecification");
    cached = parsed;
  }
  return cached;
}

export function connectionSpecification(): JsonObject {
  const spec = loadSpec()["connectionSpecification"];
  if (!isJsonObject(spec)) throw new Error("spec/spec.json has no connectionSpecification");
  return spec;
}
