// The shape of src/: a path from stdin to the HTTP request only goes down. No file imports itself
// back through others, and no two folders of src/ import each other (src/'s own files, main.ts,
// count as one folder). Type-only imports count: they tie the files together all the same.
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

/** Every non-test .ts file under src/ → the src/ files it imports by relative path. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")) {
        const deps: string[] = [];
        for (const m of readFileSync(p, "utf8").matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
          deps.push(path.relative(SRC, path.resolve(path.dirname(p), (m[1] ?? "").replace(/\.js$/, ".ts"))));
        }
        graph.set(path.relative(SRC, p), deps);
      }
    }
  };
  walk(SRC);
  return graph;
}

function folderOf(file: string): string {
  const slash = file.indexOf("/");
  return slash < 0 ? "(src/)" : file.slice(0, slash);
}

/** The files on some cycle, each cycle as the path that closes it. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, "open");
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (!graph.has(d)) continue;
      if (state.get(d) === "open") found.push([...stack.slice(stack.indexOf(d)), d]);
      else if (state.get(d) === undefined) visit(d);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of [...graph.keys()].sort()) if (state.get(f) === undefined) visit(f);
  return found;
}

describe("src/ layering", () => {
  const graph = importGraph();

  it("reads a real graph", () => {
    expect(graph.size).toBeGreaterThan(50);
  });

  it("no file imports itself back through others", () => {
    expect(cycles(graph).map((c) => c.join(" → "))).toEqual([]);
  });

  it("no two folders of src/ import each other", () => {
    const edges = new Set<string>();
    for (const [file, deps] of graph) for (const d of deps) if (folderOf(file) !== folderOf(d)) edges.add(`${folderOf(file)} → ${folderOf(d)}`);
    const both = [...edges].filter((e) => {
      const [a, b] = e.split(" → ");
      return a !== undefined && b !== undefined && a < b && edges.has(`${b} → ${a}`);
    });
    expect(both).toEqual([]);
  });
});
