// Validates connector output against the official Airbyte protocol schema (airbytehq/airbyte-protocol,
// tag v0.18.0, MIT licence), kept unchanged in integration_tests/fixtures so that a lone clone runs the
// tests; packaging.test.ts checks it against ../shared/airbyte/airbyte_protocol.yaml where that exists.
//
// The validator is built here, apart from the connector's own ajv factory (src/config/ajv.ts), the
// way a client of the protocol would: ajv in strict mode with ajv-formats on, so a `format: uri`
// or a wrong type is an error, and a bug in the connector's ajv set-up cannot hide one in its output.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { parse } from "yaml";
import type { Ajv as AjvClass, Options, ValidateFunction } from "ajv";
import { PROJECT_ROOT } from "../reliability/connector.js";

const require = createRequire(import.meta.url);

/** A fresh ajv, formats on; the only keywords added are the protocol YAML's two annotations. */
function clientAjv(): AjvClass {
  const Ajv = (require("ajv") as { default: new (o: Options) => AjvClass }).default;
  const addFormats = (require("ajv-formats") as { default: (ajv: AjvClass) => AjvClass }).default;
  const ajv = new Ajv({ allErrors: true, strict: true, validateFormats: true });
  addFormats(ajv);
  for (const keyword of ["existingJavaType", "version"]) ajv.addKeyword({ keyword });
  return ajv;
}

export const PROTOCOL_YAML = join(PROJECT_ROOT, "integration_tests", "fixtures", "airbyte_protocol.yaml");

let validator: ValidateFunction | undefined;

function messageValidator(): ValidateFunction {
  if (validator === undefined) {
    const doc = parse(readFileSync(PROTOCOL_YAML, "utf8")) as Record<string, unknown>;
    const ajv = clientAjv();
    // The YAML's $id points at a GitHub URL; register the document and compile AirbyteMessage by reference.
    const id = "airbyte_protocol.yaml";
    ajv.addSchema({ ...doc, $id: id });
    const compiled = ajv.getSchema(`${id}#/definitions/AirbyteMessage`);
    if (compiled === undefined) throw new Error("AirbyteMessage not found in the protocol YAML");
    validator = compiled;
  }
  return validator;
}

/** Problems with one stdout line: not JSON, or not an AirbyteMessage. Empty when valid. */
export function protocolProblems(line: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return ["not JSON"];
  }
  const validate = messageValidator();
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? e.keyword}`);
}

/** Every line that is not a valid Airbyte message, with its problems. */
export function invalidLines(lines: readonly string[]): { line: string; problems: string[] }[] {
  return lines.map((line) => ({ line, problems: protocolProblems(line) })).filter((x) => x.problems.length > 0);
}
