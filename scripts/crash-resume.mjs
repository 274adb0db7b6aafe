#!/usr/bin/env node
// The large crash-and-resume run (issue 6 item 1): 20 SIGKILLs at seeded random points by default.
// It runs the same harness as the CI suite (integration_tests/reliability/crash-resume.test.ts)
// against the built connector in dist/, at a larger size, so both stay one piece of code.
//
//   npm run build && node scripts/crash-resume.mjs [--kills 20] [--records 20000] [--state-every 200] [--seed N]
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    kills: { type: "string", default: "20" },
    records: { type: "string", default: "20000" },
    "state-every": { type: "string", default: "200" },
    seed: { type: "string" },
    "run-timeout-ms": { type: "string", default: "300000" },
  },
});
if (!existsSync(join(root, "dist", "src", "main.js"))) {
  process.stderr.write("dist/src/main.js is missing: run npm run build first\n");
  process.exit(2);
}
const env = {
  ...process.env,
  CRASH_KILLS: values.kills,
  CRASH_RECORDS: values.records,
  CRASH_STATE_EVERY: values["state-every"],
  CRASH_RUN_TIMEOUT_MS: values["run-timeout-ms"],
  ...(values.seed !== undefined ? { CRASH_SEED: values.seed } : {}),
};
const started = Date.now();
const result = spawnSync(
  process.execPath,
  [join(root, "node_modules", "vitest", "vitest.mjs"), "run", "integration_tests/reliability/crash-resume.test.ts", "--testTimeout", "0"],
  { cwd: root, env, stdio: "inherit" },
);
process.stderr.write(`crash-resume: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
process.exit(result.status ?? 1);
