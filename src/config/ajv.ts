// One place that knows how ajv and ajv-formats are loaded under NodeNext (both are CommonJS
// packages whose default export TypeScript sees differently from Node). They are required when a
// schema is compiled, not when this module loads: a built connector validates its configuration
// with precompiled code (validators.ts) and never needs ajv's compiler.
import { createRequire } from "node:module";
import type { Ajv, ErrorObject, Options } from "ajv";
import type { FormatsPlugin } from "ajv-formats";

const require = createRequire(import.meta.url);

function formatsPlugin(): FormatsPlugin {
  const m = require("ajv-formats") as unknown;
  if (typeof m === "function") return m as FormatsPlugin;
  const candidate = (m as { default?: unknown }).default;
  if (typeof candidate === "function") return candidate as FormatsPlugin;
  throw new Error("ajv-formats did not load");
}

/** Keywords of the Airbyte UI that carry no validation meaning. */
const UI_KEYWORDS = ["airbyte_secret", "order", "group", "groups", "always_show", "airbyte_hidden", "existingJavaType", "airbyte_type", "multiline"];

export function createAjv(options: Options = {}): Ajv {
  const { Ajv: AjvClass } = require("ajv") as typeof import("ajv");
  const ajv = new AjvClass({ allErrors: true, strict: false, ...options });
  formatsPlugin()(ajv);
  for (const keyword of UI_KEYWORDS) ajv.addKeyword({ keyword });
  return ajv;
}

export interface Violation {
  /** JSON pointer into the validated document, "" for the root. */
  readonly path: string;
  readonly message: string;
}

/**
 * Turns ajv errors into path + rule sentences. Never includes the offending value (a secret or
 * a record value could be in it); ajv's own messages name only the rule.
 */
export function violations(errors: readonly ErrorObject[] | null | undefined): Violation[] {
  const out: Violation[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    let path = e.instancePath;
    let message = e.message ?? e.keyword;
    if (e.keyword === "required" && typeof e.params["missingProperty"] === "string") {
      path = `${path}/${e.params["missingProperty"]}`;
      message = "is required";
    } else if (e.keyword === "additionalProperties" && typeof e.params["additionalProperty"] === "string") {
      path = `${path}/${e.params["additionalProperty"]}`;
      message = "is not a known setting";
    } else if (e.keyword === "enum" && Array.isArray(e.params["allowedValues"])) {
      message = `must be one of ${(e.params["allowedValues"] as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    }
    const key = `${path}|${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ path, message });
    }
  }
  return out;
}
