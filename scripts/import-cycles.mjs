#!/usr/bin/env node
// Finds import cycles among the TypeScript files under the folders given (default: emulator src).
// Every relative `import`/`export … from` counts, `import type` included: a cycle of types is still
// two files that cannot be read apart. Prints each cycle and exits 1 if there is one, else exits 0.
//
//   node scripts/import-cycles.mjs emulator
import { readdirSync, readFileSync, existsSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["emulator", "src"];
const SPECIFIER = /(?:^|[\s;])(?:import|export)\s[^;]*?\sfrom\s*["']([^"']+)["']|(?:^|[\s;])import\s*\(?\s*["']([^"']+)["']/g;

function tsFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    if (entry === "node_modules" || entry === "dist") continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (path.endsWith(".ts") && !path.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

function resolveImport(from, specifier) {
  if (!specifier.startsWith(".")) return undefined;
  const base = resolve(dirname(from), specifier);
  for (const candidate of [base.replace(/\.js$/, ".ts"), `${base}.ts`, join(base, "index.ts")]) {
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

const graph = new Map();
for (const root of roots) {
  for (const file of tsFiles(resolve(root))) {
    // Comments may quote import lines; drop them before matching.
    const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
    const targets = new Set();
    for (const m of text.matchAll(SPECIFIER)) {
      const target = resolveImport(file, m[1] ?? m[2] ?? "");
      if (target !== undefined) targets.add(target);
    }
    graph.set(file, targets);
  }
}

// Tarjan's strongly connected components: every component of more than one file (or a file that
// imports itself) is a cycle.
let index = 0;
const indexOf = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const cycles = [];
function visit(file) {
  indexOf.set(file, index);
  low.set(file, index);
  index++;
  stack.push(file);
  onStack.add(file);
  for (const next of graph.get(file) ?? []) {
    if (!graph.has(next)) continue;
    if (!indexOf.has(next)) {
      visit(next);
      low.set(file, Math.min(low.get(file), low.get(next)));
    } else if (onStack.has(next)) {
      low.set(file, Math.min(low.get(file), indexOf.get(next)));
    }
  }
  if (low.get(file) === indexOf.get(file)) {
    const component = [];
    let top;
    do {
      top = stack.pop();
      onStack.delete(top);
      component.push(top);
    } while (top !== file);
    if (component.length > 1 || graph.get(file)?.has(file)) cycles.push(component);
  }
}
for (const file of graph.keys()) if (!indexOf.has(file)) visit(file);

for (const component of cycles) {
  console.log(`import cycle: ${component.map((f) => relative(process.cwd(), f)).sort().join(", ")}`);
}
console.log(`${graph.size} files, ${cycles.length} import cycle${cycles.length === 1 ? "" : "s"}`);
process.exitCode = cycles.length > 0 ? 1 : 0;
