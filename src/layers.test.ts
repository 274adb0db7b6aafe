// The rooms of src/ import downwards only: no file imports itself back through others, http/ knows
// no other room, model/ (the shared vocabulary) knows none, and dataverse/ never reaches up into
// mapping/, pipeline/ or commands/.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = dirname(fileURLToPath(import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [path] : [];
  });
}

const files = sourceFiles(SRC);
const imports = new Map<string, string[]>(
  files.map((f) => {
    const text = readFileSync(f, "utf8");
    const targets = [...text.matchAll(/(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/g)].map((m) => resolve(dirname(f), (m[1] ?? "").replace(/\.js$/, ".ts")));
    return [f, targets.filter((t) => t.startsWith(SRC))];
  }),
);
const room = (file: string): string => relative(SRC, dirname(file)).split(/[\\/]/)[0] || ".";
const roomsImportedBy = (name: string): Set<string> =>
  new Set(
    [...imports]
      .filter(([f]) => room(f) === name)
      .flatMap(([, targets]) => targets.map(room))
      .filter((r) => r !== name),
  );

describe("the layers of src/", () => {
  it("no file imports itself back through others", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "open") {
        cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f)).join(" → "));
        return;
      }
      state.set(file, "open");
      for (const t of imports.get(file) ?? []) visit(t, [...path, file]);
      state.set(file, "done");
    };
    for (const f of files) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it("http/ and model/ import no other room; dataverse/ only http/, model/ and config/", () => {
    expect([...roomsImportedBy("http")]).toEqual([]);
    expect([...roomsImportedBy("model")]).toEqual([]);
    expect([...roomsImportedBy("dataverse")].sort()).toEqual(["config", "http", "model"]);
  });
});
