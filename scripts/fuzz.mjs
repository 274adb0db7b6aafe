#!/usr/bin/env node
// The large hostile-input run (issue 6 item 4): >= 10,000 generated record cases (20 runs of 500)
// and every line case, against the built connector in dist/. Same harness as the CI suite
// (integration_tests/fuzz/fuzz.test.ts), larger, so both stay one piece of code.
//
//   npm run build && node scripts/fuzz.mjs [--runs 20] [--records-per-run 500] [--seed N]
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "20" },
    "records-per-run": { type: "string", default: "500" },
    seed: { type: "string" },
    "run-timeout-ms": { type: "string", default: "300000" },
  },
});
if (!existsSync(join(root, "dist", "src", "main.js"))) {
  process.stderr.write("dist/src/main.js is missing: run npm run build first\n");
  process.exit(2);
}
const cases = Number(values.runs) * Number(values["records-per-run"]);
process.stderr.write(`fuzz: ${cases} record cases + every line case\n`);
const env = {
  ...process.env,
  FUZZ_RUNS: values.runs,
  FUZZ_RECORDS_PER_RUN: values["records-per-run"],
  FUZZ_LINE_CASES: "1000000",
  FUZZ_RUN_TIMEOUT_MS: values["run-timeout-ms"],
  ...(values.seed !== undefined ? { FUZZ_SEED: values.seed } : {}),
};
const started = Date.now();
const result = spawnSync(
  process.execPath,
  [join(root, "node_modules", "vitest", "vitest.mjs"), "run", "integration_tests/fuzz/fuzz.test.ts", "--testTimeout", "0"],
  { cwd: root, env, stdio: "inherit" },
);
process.stderr.write(`fuzz: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
process.exit(result.status ?? 1);
