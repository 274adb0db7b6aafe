// The configuration's validators (the spec's schema and the `streams[]` entry schemas whose
// defaults fill in unlisted streams). Compiling the spec's schema is a tenth of a second of the
// connector's start-up, so the build compiles them once into config-validators.cjs beside this
// file (scripts/precompile-validators.ts, ajv's standalone code) and the connector loads that; when
// the file is missing or was made from another schema (a source checkout, an edited spec without a
// rebuild), they are compiled here as before. Both come from the same createAjv options.
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import type { ValidateFunction } from "ajv";
import { isJsonObject } from "../protocol/airbyte.js";
import type { JsonObject } from "../protocol/airbyte.js";
import { createAjv } from "./ajv.js";
import { connectionSpecification } from "./spec.js";

/** The ajv options every configuration validator is compiled with. */
export const VALIDATOR_OPTIONS = { useDefaults: true } as const;

/** The file the build writes, relative to this module. */
export const PRECOMPILED_FILE = "config-validators.cjs";

/** The schema of one `streams` entry, whose defaults apply to streams the configuration does not list. */
export function streamSchema(): JsonObject {
  const props = connectionSpecification()["properties"];
  const streams = isJsonObject(props) ? props["streams"] : undefined;
  const items = isJsonObject(streams) ? streams["items"] : undefined;
  return isJsonObject(items) ? items : {};
}

/** A property's schema inside a `streams` entry ({} when it has none). */
export function streamPropertySchema(property: string): JsonObject {
  const props = streamSchema()["properties"];
  const sub = isJsonObject(props) ? props[property] : undefined;
  return isJsonObject(sub) ? sub : {};
}

/** The schemas the build precompiles, by export name. */
export function precompiledSchemas(): Record<string, JsonObject> {
  return { config: connectionSpecification(), stream: streamSchema(), mirror: streamPropertySchema("mirror") };
}

/** What the precompiled file was made from: a digest of the schemas. */
export function schemasDigest(schemas: Record<string, JsonObject>): string {
  return createHash("sha256").update(JSON.stringify(schemas)).digest("hex");
}

let loaded: Record<string, ValidateFunction> | null | undefined;

function precompiled(): Record<string, ValidateFunction> | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  let mod: unknown;
  try {
    mod = createRequire(import.meta.url)(`./${PRECOMPILED_FILE}`);
  } catch {
    return loaded;
  }
  const m = mod as Record<string, unknown>;
  if (m["digest"] === schemasDigest(precompiledSchemas())) loaded = m as Record<string, ValidateFunction>;
  return loaded;
}

const compiled = new Map<string, ValidateFunction>();

/** The validator of one of precompiledSchemas()'s schemas, or of a `streams` entry property. */
export function validatorFor(name: "config" | "stream" | { readonly streamProperty: string }): ValidateFunction {
  const key = typeof name === "string" ? name : `stream.${name.streamProperty}`;
  const known = compiled.get(key);
  if (known !== undefined) return known;
  const exportName = typeof name === "string" ? name : name.streamProperty === "mirror" ? "mirror" : undefined;
  const fast = exportName === undefined ? undefined : precompiled()?.[exportName];
  const schema = typeof name === "string" ? precompiledSchemas()[name] : streamPropertySchema(name.streamProperty);
  const v = typeof fast === "function" ? fast : createAjv(VALIDATOR_OPTIONS).compile(schema ?? {});
  compiled.set(key, v);
  return v;
}
