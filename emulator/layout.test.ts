import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return entry === "certs" ? [] : sources(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

describe("the emulator's layout", () => {
  it("has no import cycle (scripts/import-cycles.mjs, import type included)", () => {
    const run = spawnSync(process.execPath, [join(root, "scripts", "import-cycles.mjs"), "emulator"], { cwd: root, encoding: "utf8" });
    expect(run.stdout).toMatch(/, 0 import cycles\n$/);
    expect(run.status).toBe(0);
  });

  it("keeps every file under 600 lines, so one job fits in one reading", () => {
    const long = sources(here)
      .map((file) => ({ file: relative(root, file), lines: readFileSync(file, "utf8").split("\n").length }))
      .filter((f) => f.lines > 600);
    expect(long).toEqual([]);
  });
});
