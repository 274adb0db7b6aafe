// Run by scripts/postbuild.mjs after tsc: writes dist/src/config/config-validators.cjs, the
// configuration's validators as ajv standalone code (src/config/validators.ts loads it), with the
// digest of the schemas it was made from.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { createAjv } from "../src/config/ajv.js";
import { PRECOMPILED_FILE, precompiledSchemas, schemasDigest, VALIDATOR_OPTIONS } from "../src/config/validators.js";

// A CommonJS module, required as config/ajv.ts requires ajv itself.
const standaloneCode = (createRequire(import.meta.url)("ajv/dist/standalone") as typeof import("ajv/dist/standalone/index.js")).default;

const schemas = precompiledSchemas();
const ajv = createAjv({ ...VALIDATOR_OPTIONS, code: { source: true } });
const refs: Record<string, string> = {};
for (const [name, schema] of Object.entries(schemas)) {
  ajv.addSchema(schema, name);
  refs[name] = name;
}
const code = `${standaloneCode(ajv, refs)}\nexports.digest = ${JSON.stringify(schemasDigest(schemas))};\n`;
const target = fileURLToPath(new URL(`../src/config/${PRECOMPILED_FILE}`, import.meta.url));
writeFileSync(target, code);
