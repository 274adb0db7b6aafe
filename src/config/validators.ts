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
function streamSchema(): JsonObject {
  const props = connectionSpecification()["properties"];
  const streams = isJsonObject(props) ? props["streams"] : undefined;
  const items = isJsonObject(streams) ? streams["items"] : undefined;
  return isJsonObject(items) ? items : {};
}

/** The `mirror` object's schema inside a `streams` entry ({} when it has none). */
function mirrorSchema(): JsonObject {
  const props = streamSchema()["properties"];
  const sub = isJsonObject(props) ? props["mirror"] : undefined;
  return isJsonObject(sub) ? sub : {};
}

/** The schemas the build precompiles, by export name. */
export function precompiledSchemas(): Record<ValidatorName, JsonObject> {
  return { config: connectionSpecification(), stream: streamSchema(), mirror: mirrorSchema() };
}

/** The spec's schema, a `streams` entry's, and that entry's `mirror` object's. */
export type ValidatorName = "config" | "stream" | "mirror";

/** What the precompiled file was made from: a digest of the schemas. */
export function schemasDigest(schemas: Record<string, JsonObject>): string {
  return createHash("sha256").update(JSON.stringify(schemas)).digest("hex");
}

/** The build's validators when its file is there and was made from these schemas, else undefined. */
function loadPrecompiled(): Partial<Record<ValidatorName, ValidateFunction>> | undefined {
  let mod: Record<string, unknown>;
  try {
    mod = createRequire(import.meta.url)(`./${PRECOMPILED_FILE}`) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  return mod["digest"] === schemasDigest(precompiledSchemas()) ? (mod as Partial<Record<ValidatorName, ValidateFunction>>) : undefined;
}

let precompiled: Partial<Record<ValidatorName, ValidateFunction>> | null | undefined;
const compiled = new Map<ValidatorName, ValidateFunction>();

/** One of precompiledSchemas()'s validators: the build's, or compiled here once. */
export function validatorFor(name: ValidatorName): ValidateFunction {
  let v = compiled.get(name);
  if (v === undefined) {
    if (precompiled === undefined) precompiled = loadPrecompiled() ?? null;
    const fast = precompiled?.[name];
    v = typeof fast === "function" ? fast : createAjv(VALIDATOR_OPTIONS).compile(precompiledSchemas()[name]);
    compiled.set(name, v);
  }
  return v;
}
