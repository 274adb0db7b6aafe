// Run by scripts/postbuild.mjs after tsc: writes dist/src/config/config-validators.cjs, the
// configuration's validators as ajv standalone code (src/config/validators.ts loads it), with the
// digest of the schemas it was made from.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as standaloneModule from "ajv/dist/standalone/index.js";
import { createAjv } from "../src/config/ajv.js";
import { PRECOMPILED_FILE, precompiledSchemas, schemasDigest, VALIDATOR_OPTIONS } from "../src/config/validators.js";

type StandaloneCode = typeof standaloneModule.default;
// A CommonJS module: its function is the namespace's default (or that default's default under tsc's view).
function standalone(): StandaloneCode {
  const m = standaloneModule as unknown as { default?: unknown };
  const candidate = typeof m.default === "function" ? m.default : (m.default as { default?: unknown } | undefined)?.default;
  if (typeof candidate !== "function") throw new Error("ajv/dist/standalone did not load");
  return candidate as StandaloneCode;
}

const schemas = precompiledSchemas();
const ajv = createAjv({ ...VALIDATOR_OPTIONS, code: { source: true } });
const refs: Record<string, string> = {};
for (const [name, schema] of Object.entries(schemas)) {
  ajv.addSchema(schema, name);
  refs[name] = name;
}
const code = `${standalone()(ajv, refs)}\nexports.digest = ${JSON.stringify(schemasDigest(schemas))};\n`;
const target = fileURLToPath(new URL(`../src/config/${PRECOMPILED_FILE}`, import.meta.url));
writeFileSync(target, code);
