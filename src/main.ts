#!/usr/bin/env node
// The only file that touches process.*: it wires the real streams, environment and clock
// into the commands and maps the outcome to an exit code.
import { createReadStream, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { run } from "./commands/run.js";

function packageVersion(): string {
  for (const rel of ["../package.json", "../../package.json"]) {
    try {
      const pkg: unknown = JSON.parse(readFileSync(fileURLToPath(new URL(rel, import.meta.url)), "utf8"));
      if (typeof pkg === "object" && pkg !== null && typeof (pkg as { version?: unknown }).version === "string") {
        return (pkg as { version: string }).version;
      }
    } catch {
      // try the next layout
    }
  }
  return "0.0.0";
}

// A closed stdout (e.g. `| head`) must end the process quietly, not crash it with EPIPE.
process.stdout.on("error", () => {
  process.exitCode = 1;
});

const code = await run({
  argv: process.argv.slice(2),
  env: process.env,
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  now: () => Date.now(),
  version: packageVersion(),
  readFile: (p) => readFile(p, "utf8"),
  openInput: (p) => createReadStream(p),
  stderrIsTTY: process.stderr.isTTY === true,
  stdoutIsTTY: process.stdout.isTTY === true,
});
process.exitCode = code;
