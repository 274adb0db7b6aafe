// Writes docs/configuration.md from spec/spec.json (src/config/reference.ts does the rendering).
//
//   npm run docs:config                                  rewrite docs/configuration.md
//   node dist/scripts/config-reference.js --check        exit 1 when docs/configuration.md is stale
//   node dist/scripts/config-reference.js --stdout [--spec FILE]
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { REFERENCE_COMMAND, renderConfigReference } from "../src/config/reference.js";
import { specPath } from "../src/config/spec.js";

const repoRoot = path.resolve(path.dirname(specPath()), "..");
const { values } = parseArgs({
  options: { spec: { type: "string" }, out: { type: "string" }, check: { type: "boolean", default: false }, stdout: { type: "boolean", default: false } },
});
const outPath = values.out ?? path.join(repoRoot, "docs", "configuration.md");
const rendered = renderConfigReference(JSON.parse(readFileSync(values.spec ?? specPath(), "utf8")) as unknown);
if (values.stdout) process.stdout.write(rendered);
else if (values.check) {
  let current = "";
  try {
    current = readFileSync(outPath, "utf8");
  } catch {
    current = "";
  }
  if (current !== rendered) {
    process.stderr.write(`${path.relative(repoRoot, outPath)} is out of date: run ${REFERENCE_COMMAND}\n`);
    process.exitCode = 1;
  }
} else {
  writeFileSync(outPath, rendered);
  process.stderr.write(`wrote ${path.relative(repoRoot, outPath)}\n`);
}
