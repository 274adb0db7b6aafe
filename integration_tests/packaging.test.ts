// Packaging invariants that would otherwise only show up on a machine with a Docker engine or in
// the Airbyte registry: the Dockerfile, metadata.yaml, the generated configuration reference and
// the links between the docs. `npm test` builds dist/ first; these tests read it.
import { execFileSync, spawnSync } from "node:child_process";
import { builtinModules } from "node:module";
import { cpSync, existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import { parse as parseYaml } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { PROTOCOL_YAML } from "./helpers/airbyte-schema.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const read = (rel: string): string => readFileSync(path.join(repo, rel), "utf8");

// ajv-formats is CommonJS with a default export; under NodeNext the callable sits on .default.
const addFormats = addFormatsModule as unknown as { default: (ajv: Ajv) => Ajv };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function field(v: unknown, ...keys: string[]): unknown {
  let cur = v;
  for (const k of keys) cur = isRecord(cur) ? cur[k] : undefined;
  return cur;
}

// ---------------------------------------------------------------------------------------------
// A small Dockerfile reader: enough of the syntax for the instructions this Dockerfile uses.

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

interface Stage {
  readonly image: string;
  readonly name?: string;
  readonly instructions: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split("\n");
  let pending = "";
  let startLine = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? "";
    const trimmed = raw.trim();
    if (pending === "" && (trimmed === "" || trimmed.startsWith("#"))) continue;
    if (pending !== "" && trimmed.startsWith("#")) continue;
    if (pending === "") startLine = i + 1;
    if (trimmed.endsWith("\\")) {
      pending += `${trimmed.slice(0, -1)} `;
      continue;
    }
    const full = (pending + trimmed).trim();
    pending = "";
    const match = /^(\S+)\s+([\s\S]*)$/.exec(full);
    if (!match) throw new Error(`Dockerfile line ${startLine}: cannot parse`);
    const keyword = (match[1] ?? "").toUpperCase();
    const args = (match[2] ?? "").trim();
    if (keyword === "FROM") {
      const parts = args.split(/\s+/).filter((p) => !p.startsWith("--"));
      const image = parts[0] ?? "";
      const asIndex = parts.findIndex((p) => p.toUpperCase() === "AS");
      const name = asIndex >= 0 ? parts[asIndex + 1] : undefined;
      stages.push(name === undefined ? { image, instructions: [] } : { image, name, instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`Dockerfile line ${startLine}: ${keyword} before FROM`);
    stage.instructions.push({ keyword, args, line: startLine });
  }
  return stages;
}

/** KEY=VALUE pairs (values optionally double-quoted), as ENV and LABEL take them. */
function parsePairs(args: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /([A-Za-z0-9_.-]+)=("((?:[^"\\]|\\.)*)"|(\S+))/g;
  for (const m of args.matchAll(re)) {
    out.set(m[1] ?? "", m[3] !== undefined ? m[3].replace(/\\(.)/g, "$1") : (m[4] ?? ""));
  }
  return out;
}

interface Copy {
  readonly from?: string;
  readonly sources: string[];
  readonly dest: string;
  readonly workdir: string;
}

function copiesOf(stage: Stage): Copy[] {
  const out: Copy[] = [];
  let workdir = "/";
  for (const ins of stage.instructions) {
    if (ins.keyword === "WORKDIR") workdir = path.posix.resolve(workdir, ins.args);
    if (ins.keyword !== "COPY" && ins.keyword !== "ADD") continue;
    const words = ins.args.split(/\s+/);
    const flags = words.filter((w) => w.startsWith("--"));
    const paths = words.filter((w) => !w.startsWith("--"));
    const from = flags.find((f) => f.startsWith("--from="))?.slice("--from=".length);
    const dest = paths.pop() ?? "";
    out.push(from === undefined ? { sources: paths, dest, workdir } : { from, sources: paths, dest, workdir });
  }
  return out;
}

function finalWorkdir(stage: Stage): string {
  let workdir = "/";
  for (const ins of stage.instructions) if (ins.keyword === "WORKDIR") workdir = path.posix.resolve(workdir, ins.args);
  return workdir;
}

function all(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((i) => i.keyword === keyword);
}

const dockerfile = read("Dockerfile");
const stages = parseDockerfile(dockerfile);
const buildStage = stages.find((s) => s.name === "build");
const runtime = stages.at(-1);
const pkg: unknown = JSON.parse(read("package.json"));
const pkgVersion = field(pkg, "version");
const metadata: unknown = parseYaml(read("metadata.yaml"));

function entrypointOf(stage: Stage): string[] {
  const ins = all(stage, "ENTRYPOINT").at(-1);
  if (!ins) throw new Error("no ENTRYPOINT in the final stage");
  const parsed: unknown = JSON.parse(ins.args);
  if (!Array.isArray(parsed) || !parsed.every((p): p is string => typeof p === "string")) {
    throw new Error("ENTRYPOINT is not in exec (JSON array) form");
  }
  return parsed;
}

function labelsOf(stage: Stage): Map<string, string> {
  const labels = new Map<string, string>();
  for (const ins of all(stage, "LABEL")) for (const [k, v] of parsePairs(ins.args)) labels.set(k, v);
  return labels;
}

function envOf(stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const ins of all(stage, "ENV")) for (const [k, v] of parsePairs(ins.args)) env.set(k, v);
  return env;
}

/** Maps a path inside the build stage to the repository (the build stage's WORKDIR mirrors the repo root). */
function buildPathToRepo(p: string): string {
  if (!buildStage) throw new Error("no stage named build");
  const root = finalWorkdir(buildStage);
  const rel = path.posix.relative(root, path.posix.resolve(root, p));
  if (rel.startsWith("..")) throw new Error(`${p} is outside the build stage's WORKDIR ${root}`);
  return path.join(repo, rel);
}

// .dockerignore patterns this project uses: plain names and simple globs, matched against the
// first path segment or the whole relative path.
function dockerIgnored(rel: string): boolean {
  const patterns = read(".dockerignore")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const toRe = (p: string): RegExp =>
    new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}(/.*)?$`);
  return patterns.some((p) => !p.startsWith("!") && toRe(p.replace(/^\/+/, "")).test(rel));
}

describe("Dockerfile", () => {
  it("has a build stage and a runtime stage, both on the current Node.js LTS line's slim image (node:26-trixie-slim)", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(buildStage).toBeDefined();
    // Node.js 20 reached end of life in April 2026; 26 is the LTS line since 2026-10-28.
    for (const s of stages) expect(s.image).toBe("node:26-trixie-slim");
  });

  it("the code keeps running on Node.js 20: engines allows it, the compile target and the Node types do not go past it", () => {
    const engines = String(field(pkg, "engines", "node"));
    const floor = /^>=\s*(\d+)\.(\d+)/.exec(engines);
    expect(floor, `engines.node ${engines}`).not.toBeNull();
    expect(Number(floor?.[1])).toBeLessThanOrEqual(20);
    // The image's major satisfies engines too.
    expect(Number(/^node:(\d+)-/.exec(runtime?.image ?? "")?.[1])).toBeGreaterThanOrEqual(Number(floor?.[1]));
    // ES2022 output and the ES2023 library are what Node.js 20 (V8 11.3) runs in full.
    const tsconfig: unknown = JSON.parse(read("tsconfig.json"));
    expect(["ES2020", "ES2021", "ES2022", "ES2023"]).toContain(String(field(tsconfig, "compilerOptions", "target")));
    for (const lib of (field(tsconfig, "compilerOptions", "lib") as string[] | undefined) ?? []) expect(["ES2020", "ES2021", "ES2022", "ES2023"]).toContain(lib);
    // Node's own API as typed for 20, so a call that needs a newer Node fails to compile.
    expect(String(field(pkg, "devDependencies", "@types/node"))).toMatch(/^\^?20\./);
    // And every compiled file of the connector parses on the Node.js running this test.
    const files = readdirSync(path.join(repo, "dist/src"), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".js"));
    expect(files.length).toBeGreaterThan(20);
    const check = spawnSync(process.execPath, ["--input-type=module", "-e", files.map((f) => `import ${JSON.stringify(path.join(repo, "dist/src", f))};`).filter((l) => !l.includes("main.js")).join("\n")], { encoding: "utf8" });
    expect(check.status, `${process.version}: ${check.stderr}`).toBe(0);
  });

  it("builds with npm ci + npm run build, and installs only production dependencies at runtime", () => {
    if (!buildStage || !runtime) throw new Error("stages missing");
    const buildRuns = all(buildStage, "RUN").map((r) => r.args).join("\n");
    expect(buildRuns).toMatch(/\bnpm ci\b/);
    expect(buildRuns).toMatch(/\bnpm run build\b/);
    const runtimeRuns = all(runtime, "RUN").map((r) => r.args).join("\n");
    expect(runtimeRuns).toMatch(/\bnpm ci\b[^\n&;]*--omit=dev/);
    expect(runtimeRuns).not.toMatch(/npm (install|i)\b(?![^\n&;]*--omit=dev)/);
    // Nothing of the toolchain's output but the connector itself is copied into the runtime.
    const fromBuild = copiesOf(runtime).filter((c) => c.from !== undefined).flatMap((c) => c.sources);
    expect(fromBuild.length).toBeGreaterThan(0);
    for (const src of fromBuild) expect(path.posix.normalize(src)).toMatch(/\/dist\/src\/?$/);
  });

  it("runs as the non-root user airbyte, with a writable /airbyte as working directory", () => {
    if (!runtime) throw new Error("no runtime stage");
    const user = all(runtime, "USER").at(-1)?.args.split(":")[0];
    expect(user).toBe("airbyte");
    expect(["root", "0"]).not.toContain(user);
    expect(finalWorkdir(runtime)).toBe("/airbyte");
    const runs = all(runtime, "RUN").map((r) => r.args).join("\n");
    // uid/gid 1000 (the platform's rootless launcher runs connectors as 1000:1000): node images' "node"
    // user has that id and is renamed, or a new user is made with it.
    expect(runs).toMatch(/usermod\b[^\n]*--login airbyte\b[^\n]*\bnode\b|useradd\b[^\n]*--uid 1000\b[^\n]*\bairbyte\b/);
    expect(runs).toMatch(/chown\s+(-R\s+)?airbyte(:airbyte)?\s+\/airbyte\b/);
    // Steps after USER run unprivileged; the chown must come before it.
    const userIndex = runtime.instructions.findIndex((i) => i.keyword === "USER");
    const chownIndex = runtime.instructions.findIndex((i) => i.keyword === "RUN" && /chown/.test(i.args));
    expect(chownIndex).toBeLessThan(userIndex);
  });

  it("ENTRYPOINT uses absolute paths and AIRBYTE_ENTRYPOINT is the same command", () => {
    if (!runtime) throw new Error("no runtime stage");
    const entrypoint = entrypointOf(runtime);
    expect(entrypoint[0]).toBe("node");
    for (const arg of entrypoint.slice(1)) expect(path.posix.isAbsolute(arg)).toBe(true);
    const env = envOf(runtime).get("AIRBYTE_ENTRYPOINT");
    expect(env).toBeDefined();
    expect(env?.trim().split(/\s+/)).toEqual(entrypoint);
  });

  it("NODE_OPTIONS carries the same V8 memory flags as the bin's #! line and the bench's connector runs", () => {
    if (!runtime) throw new Error("no runtime stage");
    const shebang = read("src/main.ts").split("\n")[0] ?? "";
    const shebangFlags = shebang.replace(/^#!\/usr\/bin\/env -S (?:\S+=\S+ )*node\s*/, "").trim().split(/\s+/);
    expect(shebangFlags.length).toBeGreaterThan(0);
    for (const flag of shebangFlags) expect(flag).toMatch(/^--max-(old|semi)-space-size=\d+$/);
    expect(envOf(runtime).get("NODE_OPTIONS")?.trim().split(/\s+/)).toEqual(shebangFlags);
    const bench = /CONNECTOR_HEAP_FLAGS = \[([^\]]*)\]/.exec(read("bench/scenarios.ts"))?.[1] ?? "";
    expect([...bench.matchAll(/"([^"]+)"/g)].map((m) => m[1])).toEqual(shebangFlags);
    // The built bin keeps the line (tsc preserves it) and so do the README's instructions.
    expect(read("README.md")).toContain(`node ${shebangFlags.join(" ")} dist/src/main.js`);
  });

  it("GLIBC_TUNABLES is the same in the bin's #! line, the image and the bench's connector runs", () => {
    if (!runtime) throw new Error("no runtime stage");
    const shebang = read("src/main.ts").split("\n")[0] ?? "";
    const fromShebang = /^#!\/usr\/bin\/env -S GLIBC_TUNABLES=(\S+) node /.exec(shebang)?.[1];
    expect(fromShebang).toBe("glibc.malloc.mmap_threshold=131072");
    expect(envOf(runtime).get("GLIBC_TUNABLES")).toBe(fromShebang);
    const bench = /CONNECTOR_ENV[^=]*= \{ GLIBC_TUNABLES: "([^"]+)" \}/.exec(read("bench/scenarios.ts"))?.[1];
    expect(bench).toBe(fromShebang);
  });

  it("labels io.airbyte.name and io.airbyte.version agree with metadata.yaml and package.json", () => {
    if (!runtime) throw new Error("no runtime stage");
    const labels = labelsOf(runtime);
    expect(labels.get("io.airbyte.version")).toBe(pkgVersion);
    expect(labels.get("io.airbyte.version")).toBe(field(metadata, "data", "dockerImageTag"));
    expect(labels.get("io.airbyte.name")).toBe(field(metadata, "data", "dockerRepository"));
  });

  it("every path copied from the build context exists and is not excluded by .dockerignore", () => {
    const contextSources = stages.flatMap((s) => copiesOf(s).filter((c) => c.from === undefined).flatMap((c) => c.sources));
    expect(contextSources.length).toBeGreaterThan(0);
    for (const src of contextSources) {
      expect(existsSync(path.join(repo, src)), `COPY source ${src}`).toBe(true);
      expect(dockerIgnored(path.posix.normalize(src)), `COPY source ${src} is in .dockerignore`).toBe(false);
    }
    // Files the image build itself produces must not be sent in the context.
    for (const generated of ["node_modules", "dist", ".git"]) expect(dockerIgnored(generated), generated).toBe(true);
  });

  it("the TypeScript the build stage compiles imports nothing outside what it copies", () => {
    if (!buildStage) throw new Error("no build stage");
    const copied = copiesOf(buildStage)
      .filter((c) => c.from === undefined)
      .flatMap((c) => c.sources)
      .map((s) => path.join(repo, s));
    const dirs = copied.filter((p) => existsSync(p) && statSync(p).isDirectory());
    const inside = (p: string): boolean => copied.some((c) => p === c || p.startsWith(c + path.sep));
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")) files.push(p);
      }
    };
    for (const d of dirs) walk(d);
    expect(files.length).toBeGreaterThan(0);
    const problems: string[] = [];
    const re = /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*["'](\.[^"']*)["']|\bimport\(\s*["'](\.[^"']*)["']\s*\)/gm;
    for (const file of files) {
      for (const m of readFileSync(file, "utf8").matchAll(re)) {
        const spec = m[1] ?? m[2] ?? "";
        const target = path.resolve(path.dirname(file), spec.replace(/\.js$/, ".ts"));
        if (!inside(target)) problems.push(`${path.relative(repo, file)} imports ${spec}, which the image build does not copy`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("every path copied from the build stage exists after npm run build", () => {
    if (!runtime) throw new Error("no runtime stage");
    for (const c of copiesOf(runtime).filter((x) => x.from === "build")) {
      for (const src of c.sources) expect(existsSync(buildPathToRepo(src)), `COPY --from=build ${src}`).toBe(true);
    }
    expect(existsSync(path.join(repo, "dist/src/main.js")), "dist/src/main.js (run npm run build)").toBe(true);
  });

  it("the compiled connector imports only Node built-ins, production dependencies and files inside dist/src", () => {
    const distSrc = path.join(repo, "dist/src");
    const deps = new Set(Object.keys(isRecord(field(pkg, "dependencies")) ? (field(pkg, "dependencies") as object) : {}));
    const builtins = new Set(builtinModules);
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith(".js")) files.push(p);
      }
    };
    walk(distSrc);
    expect(files.length).toBeGreaterThan(0);
    const problems: string[] = [];
    // Static import/export declarations, bare side-effect imports and dynamic import() of a literal.
    const patterns = [
      /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*["']([^"']+)["']/gm,
      /^\s*import\s*["']([^"']+)["']/gm,
      /\bimport\(\s*["']([^"']+)["']\s*\)/g,
    ];
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      for (const m of patterns.flatMap((re) => [...text.matchAll(re)])) {
        const s = m[1] ?? "";
        const where = path.relative(repo, file);
        if (s.startsWith("node:") || builtins.has(s)) continue;
        if (s.startsWith(".")) {
          const target = path.resolve(path.dirname(file), s);
          if (!target.startsWith(distSrc + path.sep)) problems.push(`${where} imports ${s}, outside dist/src (not in the image)`);
          continue;
        }
        const name = s.startsWith("@") ? s.split("/").slice(0, 2).join("/") : (s.split("/")[0] ?? s);
        if (!deps.has(name)) problems.push(`${where} imports ${name}, which is not a production dependency`);
      }
    }
    expect(problems).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Run the entrypoint the way the image runs it: lay out the runtime stage's COPY instructions in
// a temporary root, with the repository's node_modules standing in for `npm ci --omit=dev` (the
// import check above keeps dev dependencies out), then start ENTRYPOINT with the image paths
// mapped into that root and the working directory set to the image's WORKDIR.

const tempRoots: string[] = [];
afterAll(() => {
  for (const t of tempRoots) rmSync(t, { recursive: true, force: true });
});

function stageImage(): { root: string; entrypoint: string[]; cwd: string } {
  if (!runtime) throw new Error("no runtime stage");
  const root = mkdtempSync(path.join(tmpdir(), "d365-image-"));
  tempRoots.push(root);
  const inImage = (p: string): string => path.join(root, p);
  for (const c of copiesOf(runtime)) {
    const destAbs = path.posix.resolve(c.workdir, c.dest);
    const destIsDir = c.dest.endsWith("/") || c.sources.length > 1;
    for (const src of c.sources) {
      const from = c.from === undefined ? path.join(repo, src) : buildPathToRepo(src);
      const to = destIsDir && !statSync(from).isDirectory() ? path.join(inImage(destAbs), path.basename(from)) : inImage(destAbs);
      mkdirSync(path.dirname(to), { recursive: true });
      cpSync(from, to, { recursive: true });
    }
  }
  const code = inImage(entrypointOf(runtime)[1] ?? "");
  // node_modules sits next to package.json in the image (the runtime `npm ci` runs in that WORKDIR).
  const pkgDir = copiesOf(runtime).find((c) => c.sources.includes("package.json"))?.workdir;
  if (!pkgDir) throw new Error("package.json is not copied into the runtime stage");
  symlinkSync(path.join(repo, "node_modules"), path.join(inImage(pkgDir), "node_modules"), "dir");
  mkdirSync(inImage(finalWorkdir(runtime)), { recursive: true });
  const entrypoint = entrypointOf(runtime).map((a, i) => (i === 0 ? process.execPath : path.posix.isAbsolute(a) ? inImage(a) : a));
  expect(existsSync(code), `${code} in the staged image`).toBe(true);
  return { root, entrypoint, cwd: inImage(finalWorkdir(runtime)) };
}

async function protocolValidator(): Promise<(msg: unknown) => string[]> {
  const yamlPath = PROTOCOL_YAML;
  const doc: unknown = parseYaml(readFileSync(yamlPath, "utf8"));
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  if (!isRecord(doc)) throw new Error("protocol yaml is not an object");
  ajv.addSchema({ ...doc, $id: "airbyte_protocol" });
  const validate = ajv.getSchema("airbyte_protocol#/definitions/AirbyteMessage");
  if (!validate) throw new Error("AirbyteMessage not found in the protocol yaml");
  return (msg: unknown) => {
    const ok = validate(msg);
    return ok ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ""}`);
  };
}

describe("the image entrypoint", () => {
  it("answers `spec` with exactly one valid SPEC message when started as the image starts it", async () => {
    const { entrypoint, cwd } = stageImage();
    const [cmd, ...args] = entrypoint;
    const run = spawnSync(cmd ?? process.execPath, [...args, "spec"], {
      cwd,
      encoding: "utf8",
      timeout: 30_000,
      // A container has no developer environment: no extra CA, no config in env.
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: cwd, NODE_ENV: "production" },
    });
    expect(run.error).toBeUndefined();
    expect(run.status, run.stderr).toBe(0);
    const lines = run.stdout.split("\n").filter((l) => l.trim() !== "");
    expect(lines).toHaveLength(1);
    const msg: unknown = JSON.parse(lines[0] ?? "");
    expect(field(msg, "type")).toBe("SPEC");
    const validate = await protocolValidator();
    expect(validate(msg)).toEqual([]);
    // The form Airbyte shows is the schema the docs are generated from.
    const specFile: unknown = JSON.parse(read("spec/spec.json"));
    const connectionSpec = field(specFile, "connectionSpecification") ?? specFile;
    expect(field(msg, "spec", "connectionSpecification")).toEqual(connectionSpec);
    const protocolVersion = field(msg, "spec", "protocol_version");
    if (protocolVersion !== undefined) expect(protocolVersion).toBe(field(metadata, "data", "protocolVersion"));
  });
});

// ---------------------------------------------------------------------------------------------

describe("the vendored Airbyte protocol schema", () => {
  const shared = path.resolve(repo, "../shared/airbyte/airbyte_protocol.yaml");
  // Development machines and CI keep the official copy beside the repository; a lone clone has only ours.
  it.skipIf(!existsSync(shared))("is byte for byte the copy kept beside the repository (../shared)", () => {
    expect(readFileSync(PROTOCOL_YAML, "utf8")).toBe(readFileSync(shared, "utf8"));
  });
});

describe("metadata.yaml", () => {
  // Written for this project from the rules of Airbyte's ConnectorMetadataDefinitionV0. Airbyte's own
  // schema is not kept here (as the protocol's MIT schema is): the monorepo's LICENSE gives a file
  // with no licence in it, beside it or above it the default licence, ELv2, which is not MIT.
  const schema: unknown = JSON.parse(read("integration_tests/fixtures/connector-metadata.schema.json"));

  function validator(): (doc: unknown) => string[] {
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats.default(ajv);
    if (!isRecord(schema)) throw new Error("schema is not an object");
    const validate = ajv.compile(schema);
    return (doc) => (validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ""}`));
  }

  it("is valid against the connector metadata schema", () => {
    expect(validator()(metadata)).toEqual([]);
  });

  it("the schema rejects what Airbyte's rejects: an unknown data key, a missing required field, a bad uuid", () => {
    const validate = validator();
    if (!isRecord(metadata) || !isRecord(metadata["data"])) throw new Error("metadata has no data");
    const data = metadata["data"];
    expect(validate({ ...metadata, data: { ...data, notAKey: true } })).not.toEqual([]);
    const { githubIssueLabel: _dropped, ...withoutLabel } = data;
    expect(validate({ ...metadata, data: withoutLabel })).not.toEqual([]);
    expect(validate({ ...metadata, data: { ...data, definitionId: "not-a-uuid" } })).not.toEqual([]);
    expect(validate({ ...metadata, extra: 1 })).not.toEqual([]);
    expect(validate({ ...metadata, data: { ...data, connectorSubtype: "rest" } })).not.toEqual([]);
  });

  it("declares a data-activation API destination whose version matches the package", () => {
    expect(field(metadata, "data", "connectorType")).toBe("destination");
    expect(field(metadata, "data", "connectorSubtype")).toBe("api");
    expect(field(metadata, "data", "supportsDataActivation")).toBe(true);
    expect(field(metadata, "data", "dockerImageTag")).toBe(pkgVersion);
    expect(field(metadata, "data", "license")).toBe(field(pkg, "license"));
    expect(field(metadata, "data", "protocolVersion")).toMatch(/^0\.\d+\.\d+$/);
    const specDoc: unknown = JSON.parse(read("spec/spec.json"));
    const specUrl = field(specDoc, "documentationUrl");
    if (specUrl !== undefined) expect(field(metadata, "data", "documentationUrl")).toBe(specUrl);
  });

  it("allowedHosts covers every Dataverse and Entra ID host family, and nothing else", () => {
    const hosts = field(metadata, "data", "allowedHosts", "hosts");
    if (!Array.isArray(hosts)) throw new Error("allowedHosts.hosts missing");
    // The stricter reading of a wildcard: one DNS label, so the list works whichever way the platform matches.
    const matchers = hosts.map(
      (h) => new RegExp(`^${String(h).replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[a-z0-9-]*")}$`),
    );
    const allowed = (host: string): boolean => matchers.some((m) => m.test(host));
    for (const host of [
      "contoso.crm.dynamics.com",
      "contoso.crm4.dynamics.com",
      "contoso.crm11.dynamics.com",
      "contoso.crm9.dynamics.com",
      "contoso.api.crm.dynamics.com",
      "contoso.crm.microsoftdynamics.us",
      "contoso.crm.appsplatform.us",
      "contoso.crm.dynamics.cn",
      "login.microsoftonline.com",
      "login.microsoftonline.us",
      "login.partner.microsoftonline.cn",
    ]) {
      expect(allowed(host), host).toBe(true);
    }
    for (const host of ["example.com", "dynamics.com.example.net", "login.microsoftonline.com.example.net"]) {
      expect(allowed(host), host).toBe(false);
    }
    // Whatever the spec offers as default or example hosts must be reachable from Airbyte.
    const props = field(JSON.parse(read("spec/spec.json")) as unknown, "connectionSpecification", "properties");
    for (const key of ["web_api_endpoint", "authority_host"]) {
      const p = field(props, key);
      const urls = [field(p, "default"), ...(Array.isArray(field(p, "examples")) ? (field(p, "examples") as unknown[]) : [])];
      for (const u of urls) if (typeof u === "string") expect(allowed(new URL(u).hostname), `${key}: ${u}`).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe("docs/configuration.md", () => {
  const generator = path.join(repo, "dist/scripts/config-reference.js");

  it("is exactly what src/config/reference.ts generates from spec/spec.json (npm run docs:config)", () => {
    const generated = execFileSync(process.execPath, [generator, "--stdout"], { encoding: "utf8" });
    expect(read("docs/configuration.md")).toBe(generated);
    expect(field(pkg, "scripts", "docs:config")).toMatch(/dist\/scripts\/config-reference\.js/);
  });

  it("the generator lays the form out as the Airbyte UI does: groups, required fields first, optional ones folded, secrets marked", () => {
    const out = execFileSync(
      process.execPath,
      [generator, "--stdout", "--spec", path.join(repo, "integration_tests/fixtures/config-reference-sample.spec.json")],
      { encoding: "utf8" },
    );
    const rows = out.split("\n").filter((l) => l.startsWith("| `"));
    const paths = rows.map((r) => /^\| `([^`]+)`/.exec(r)?.[1] ?? "");
    expect([...paths].sort()).toEqual(
      ["endpoint", "secret", "proxy", "level", "tuning", "tuning.batch", "streams", "streams[].name", "streams[].key", "streams[].key.columns", "streams[].key.id_field", "streams[].fields", "streams[].fields[].column", "streams[].fields[].nulls"].sort(),
    );
    const byPath = new Map(rows.map((r) => [/^\| `([^`]+)`/.exec(r)?.[1] ?? "", r]));
    expect(byPath.get("secret")).toContain("**(secret)**");
    expect(byPath.get("secret")).toContain("Keep \\| private.");
    expect(byPath.get("endpoint")).toMatch(/\| string \(uri\) \| yes \|/);
    expect(byPath.get("level")).toMatch(/\| no \| `"low"` \|/);
    expect(byPath.get("tuning.batch")).toMatch(/\| integer \| no \| `1000` \|/);
    expect(byPath.get("streams[].name")).toMatch(/\| yes \|/);
    expect(byPath.get("streams[].key")).toContain("one of: By columns, By id");
    // The spec's groups first, in their order; ungrouped settings after them.
    const headings = out.split("\n").filter((l) => l.startsWith("## "));
    expect(headings.slice(0, 2)).toEqual(["## Connection", "## Other settings"]);
    // Required fields first in `order`, then the optional ones, folded.
    expect(paths.indexOf("endpoint")).toBeLessThan(paths.indexOf("secret"));
    expect(paths.indexOf("secret")).toBeLessThan(paths.indexOf("proxy"));
    const connection = out.slice(out.indexOf("## Connection"), out.indexOf("## Other settings"));
    expect(connection.indexOf("*Optional fields*")).toBeGreaterThan(connection.indexOf("`secret`"));
    expect(connection.indexOf("*Optional fields*")).toBeLessThan(connection.indexOf("`proxy`"));
    // A oneOf is a list of options picked by its const property.
    expect(out).toContain("- **By columns** (`kind`: `\"columns\"`).");
  });
});

describe("README and docs", () => {
  // The user-facing documents this test owns (others' docs under docs/ have their own checks).
  const docs = ["README.md", "docs/setup-guide.md", "docs/configuration.md", "docs/examples.md", "docs/troubleshooting.md", "docs/architecture.md"];

  // GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
  const anchorsOf = (markdown: string): Set<string> =>
    new Set(
      markdown
        .split("\n")
        .filter((l) => /^#{1,6} /.test(l))
        .map((l) =>
          l
            .replace(/^#+ /, "")
            .trim()
            .toLowerCase()
            .replace(/[^\p{L}\p{N} _-]/gu, "")
            .replace(/ /g, "-"),
        ),
    );

  it("relative links point at files and headings that exist", () => {
    const broken: string[] = [];
    let checked = 0;
    for (const doc of docs) {
      const text = read(doc);
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const [file = "", anchor] = (m[1] ?? "").split("#");
        if (/^[a-z]+:/i.test(file)) continue;
        const target = file === "" ? path.join(repo, doc) : path.resolve(path.dirname(path.join(repo, doc)), file);
        checked++;
        if (!existsSync(target)) {
          broken.push(`${doc} → ${file}`);
          continue;
        }
        if (anchor !== undefined && target.endsWith(".md") && !anchorsOf(readFileSync(target, "utf8")).has(anchor)) {
          broken.push(`${doc} → ${file}#${anchor}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(10);
    expect(broken).toEqual([]);
  });

  it("troubleshooting.md quotes messages the connector's source really contains", () => {
    const sources: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")) sources.push(readFileSync(p, "utf8"));
      }
    };
    walk(path.join(repo, "src"));
    const all = sources.join("\n");
    const doc = read("docs/troubleshooting.md");
    const quotes = [...doc.matchAll(/^\s*> (.+)$/gm)].map((m) => m[1] ?? "");
    const reasons = [...doc.matchAll(/^\| AADSTS[^|]*\| ([^|]+) \|/gm)].map((m) => (m[1] ?? "").trim());
    expect(quotes.length).toBeGreaterThan(15);
    expect(reasons.length).toBeGreaterThan(5);
    // A quote is literal text around variable parts: `<placeholders>`, HTTP statuses with their
    // Dataverse code, and "…". Each literal run must be in src/, or be two pieces that are (the
    // connector builds some messages from a prefix and a cause's message).
    const trimPunct = (f: string): string => f.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, "");
    const found = (f: string): boolean => {
      if (all.includes(f)) return true;
      const words = f.split(" ");
      for (let i = 1; i < words.length; i++) {
        const a = trimPunct(words.slice(0, i).join(" "));
        const b = trimPunct(words.slice(i).join(" "));
        if (a.length >= 5 && b.length >= 5 && all.includes(a) && all.includes(b)) return true;
      }
      return false;
    };
    const missing: string[] = [];
    for (const q of [...quotes, ...reasons]) {
      const text = q.replace(/\s*\*\((check|write)\)\*\s*$/, "");
      const runs = text
        .split(/`[^`]*`|\(?\b(?:HTTP )?\d{3}(?: 0x[0-9a-f]{8})?\)?|…/)
        .map(trimPunct)
        .filter((f) => f.length >= 12);
      for (const run of runs) if (!found(run)) missing.push(run);
    }
    expect(missing).toEqual([]);
  });

  function configValidator(): (config: unknown) => string[] {
    const connectionSpec = field(JSON.parse(read("spec/spec.json")) as unknown, "connectionSpecification");
    if (!isRecord(connectionSpec)) throw new Error("spec/spec.json has no connectionSpecification");
    // strict: false because the spec carries Airbyte UI keywords (order, group, airbyte_secret).
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats.default(ajv);
    const validate = ajv.compile(connectionSpec);
    return (config) => (validate(config) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ""}`));
  }

  const connection = {
    web_api_endpoint: "https://contoso.crm.dynamics.com/api/data/v9.2/",
    tenant_id: "00000000-0000-0000-0000-000000000000",
    client_id: "11111111-1111-1111-1111-111111111111",
    client_secret: "not-a-secret",
  };

  it("every configuration example in README and docs/examples.md is valid against spec/spec.json", () => {
    const validate = configValidator();
    let checked = 0;
    for (const doc of ["README.md", "docs/examples.md"]) {
      for (const m of read(doc).matchAll(/```json\n([\s\S]*?)```/g)) {
        const parsed: unknown = JSON.parse(m[1] ?? "");
        // Catalog fragments and the bare connection block are not configurations.
        if (!isRecord(parsed) || !("streams" in parsed || "web_api_endpoint" in parsed)) continue;
        if (!("streams" in parsed)) {
          expect(validate(parsed), `${doc}: connection block`).toEqual([]);
        } else {
          expect(validate({ ...connection, ...parsed }), `${doc}: ${JSON.stringify(parsed).slice(0, 60)}`).toEqual([]);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(4);
  });

  it("the Airbyte UI can build a form from the spec: every oneOf it walks is of objects sharing a const property", () => {
    // The platform's form builder (airbyte-webapp schemaToFormBlock) walks properties and arrays of
    // objects; at a oneOf it builds each variant with the parent's type, requires each to be an
    // object, and picks the variant by a property with a const that every variant has. Anything else
    // fails the whole form ("oneOfWithNonObjects", "oneOfWithoutConst").
    const problems: string[] = [];
    const walk = (schema: unknown, path: string): void => {
      if (!isRecord(schema)) return;
      const variants = schema["oneOf"];
      if (Array.isArray(variants)) {
        if (schema["type"] !== "object") problems.push(`${path}: a oneOf whose parent is not "type": "object"`);
        let shared: string[] | undefined;
        for (const v of variants) {
          const props = isRecord(v) && isRecord(v["properties"]) ? v["properties"] : {};
          const consts = Object.entries(props).filter(([, p]) => isRecord(p) && p["const"] !== undefined).map(([k]) => k);
          shared = shared === undefined ? consts : shared.filter((k) => consts.includes(k));
        }
        if ((shared ?? []).length === 0) problems.push(`${path}: no const property shared by every variant`);
        for (const [i, v] of variants.entries()) walk({ ...(isRecord(v) ? v : {}), type: schema["type"] }, `${path}/oneOf/${i}`);
        return;
      }
      if (schema["type"] === "array") walk(schema["items"], `${path}[]`);
      if (isRecord(schema["properties"])) for (const [k, v] of Object.entries(schema["properties"])) walk(v, `${path}.${k}`);
    };
    walk(field(JSON.parse(read("spec/spec.json")) as unknown, "connectionSpecification"), "$");
    expect(problems).toEqual([]);
    // What the form sends (with the discriminator) and what a hand-written file holds (without) both validate.
    const validate = configValidator();
    const withKey = (key: unknown) => ({ ...connection, streams: [{ name: "s", table: "contact", key }] });
    expect(validate(withKey({ key_type: "columns", columns: ["emailaddress1"] }))).toEqual([]);
    expect(validate(withKey({ columns: ["emailaddress1"] }))).toEqual([]);
    expect(validate(withKey({ key_type: "alternate_key", columns: ["emailaddress1"] }))).not.toEqual([]);
  });

  it("docs/meltano.yml declares only settings the spec has, and its config is valid", () => {
    const meltano: unknown = parseYaml(read("docs/meltano.yml"));
    const loaders = field(meltano, "plugins", "loaders");
    if (!Array.isArray(loaders)) throw new Error("docs/meltano.yml has no loaders");
    const loader: unknown = loaders.find((l) => field(l, "name") === "target-dynamics365");
    const props = field(JSON.parse(read("spec/spec.json")) as unknown, "connectionSpecification", "properties");
    const settings = field(loader, "settings");
    if (!Array.isArray(settings) || !isRecord(props)) throw new Error("settings or spec properties missing");
    for (const s of settings) expect(Object.keys(props), `setting ${String(field(s, "name"))}`).toContain(field(s, "name"));
    for (const s of settings) {
      const secret = field(props, String(field(s, "name")), "airbyte_secret") === true;
      expect(field(s, "sensitive") === true, `sensitive flag of ${String(field(s, "name"))}`).toBe(secret);
    }
    const config = field(loader, "config");
    if (!isRecord(config)) throw new Error("loader has no config");
    // The secret is set outside the file, as the comment in meltano.yml says.
    expect(config).not.toHaveProperty("client_secret");
    expect(configValidator()({ ...config, client_secret: "from-env" })).toEqual([]);
    expect(field(loader, "executable")).toMatch(/dist\/src\/main\.js$/);

    // What the example declares is what the built target says about itself.
    const about: unknown = JSON.parse(
      execFileSync(process.execPath, [path.join(repo, "dist/src/main.js"), "--about", "--format", "json"], { encoding: "utf8" }),
    );
    expect(field(loader, "capabilities")).toEqual(field(about, "capabilities"));
    // --about's settings are the config's JSON Schema, as the Meltano SDK prints them.
    const aboutSettings = field(about, "settings", "properties");
    if (!isRecord(aboutSettings)) throw new Error("--about has no settings.properties");
    for (const s of settings) {
      const a: unknown = aboutSettings[String(field(s, "name"))];
      expect(a, `--about lists ${String(field(s, "name"))}`).toBeDefined();
      expect(field(s, "label"), `label of ${String(field(s, "name"))}`).toBe(field(a, "title"));
    }
  });

  it("README builds and runs the image under the name and tag metadata.yaml declares", () => {
    const image = `${String(field(metadata, "data", "dockerRepository"))}:${String(field(metadata, "data", "dockerImageTag"))}`;
    const readme = read("README.md");
    expect(readme).toContain(`docker build -t ${image} .`);
    expect(readme).toContain("npm ci && npm run demo");
    expect(readme).toContain("npm ci && npm test");
  });

  it("the environment-variable prefix the docs give is the one the config loader reads", () => {
    const prefix = /ENV_PREFIX\s*=\s*"([A-Z0-9_]+)"/.exec(read("src/config/load.ts"))?.[1];
    expect(prefix).toBe("TARGET_DYNAMICS365_");
    for (const doc of ["README.md", "docs/configuration.md", "docs/examples.md"]) expect(read(doc), doc).toContain(prefix);
  });

  it("README links every document under docs/ and names the large runs, each an npm script", () => {
    const readme = read("README.md");
    const linked = new Set([...readme.matchAll(/\]\((docs\/[^)#\s]+)/g)].map((m) => m[1]));
    const documents = readdirSync(path.join(repo, "docs")).filter((f) => f.endsWith(".md") || f.endsWith(".yml"));
    expect(documents.length).toBeGreaterThanOrEqual(10);
    for (const d of documents) expect(linked, `README links docs/${d}`).toContain(`docs/${d}`);
    const scripts = field(pkg, "scripts");
    for (const name of ["bench", "crash-resume", "fuzz"]) {
      expect(readme).toContain(`npm run ${name}`);
      expect(field(scripts, name), `package.json script ${name}`).toEqual(expect.any(String));
    }
  });

  it("README's commands by hand run as written against the emulator: check, discover, Airbyte write, Singer pipe", () => {
    const readme = read("README.md");
    const start = readme.indexOf("### Each command by hand");
    const end = readme.indexOf("\n## ", start);
    expect(start).toBeGreaterThan(0);
    const blocks = [...readme.slice(start, end).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    // A scratch directory standing in for the checkout, so the files the commands write
    // (emulator.json, config.json, catalog.json) do not land in the repository.
    const dir = mkdtempSync(path.join(tmpdir(), "d365-readme-"));
    tempRoots.push(dir);
    for (const entry of ["dist", "node_modules", "spec", "emulator", "package.json"]) symlinkSync(path.join(repo, entry), path.join(dir, entry));
    // The trap stops the background emulator even when a command fails before `kill %1`.
    const script = `set -e\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n${blocks.join("\n")}`;
    const run = spawnSync("bash", ["-c", script], { cwd: dir, encoding: "utf8", timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const lines = run.stdout.split("\n").filter((l) => l.trim() !== "");
    const messages = lines.map((l): unknown => JSON.parse(l));
    const types = messages.map((m) => field(m, "type"));
    expect(field(messages.find((m) => field(m, "type") === "CONNECTION_STATUS"), "connectionStatus", "status")).toBe("SUCCEEDED");
    expect(types).toContain("DESTINATION_CATALOG");
    const states = messages.filter((m) => field(m, "type") === "STATE");
    expect(states.map((m) => field(m, "state", "destinationStats", "recordCount"))).toEqual([1]);
    // The Singer pipe prints its state value bare, as the last stdout line.
    expect(messages.at(-1)).toEqual({ bookmarks: { contacts: { cursor: 2 } } });
  });

  it("architecture.md: every path it names exists, and the emulator shares no code with src/", () => {
    const doc = read("docs/architecture.md");
    const named = [...doc.matchAll(/`((?:src|emulator|bench|scripts|integration_tests|spec)\/[\w./-]*)`/g)].map((m) => m[1] ?? "");
    expect(named.length).toBeGreaterThan(10);
    for (const p of named) expect(existsSync(path.join(repo, p)), p).toBe(true);
    // Bare file names in a folder's row: `src/pipeline/` | … `ledger.ts` … must be in that folder.
    for (const row of doc.split("\n").filter((l) => /^\| `(src|emulator)\/[\w/]*\/` \|/.test(l))) {
      const folder = /^\| `([^`]+)`/.exec(row)?.[1] ?? "";
      for (const m of row.matchAll(/`([\w-]+\.ts)`/g)) expect(existsSync(path.join(repo, folder, m[1] ?? "")), `${folder}${m[1] ?? ""}`).toBe(true);
    }

    // Every file of each side, test files included, and everything they import through relative
    // paths, transitively (a src/ test may use a helper under integration_tests/): none of it may be
    // a file of the other side.
    const crossings: string[] = [];
    let imports = 0;
    const importsOf = (file: string): string[] =>
      [...readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)].map((m) => {
        imports++;
        return path.resolve(path.dirname(file), (m[1] ?? "").replace(/\.js$/, ".ts"));
      });
    const filesUnder = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        return e.isDirectory() ? filesUnder(p) : e.name.endsWith(".ts") ? [p] : [];
      });
    const check = (own: string, other: string): void => {
      const seen = new Set<string>();
      const visit = (file: string, from: string): void => {
        if (seen.has(file)) return;
        seen.add(file);
        if (file.startsWith(other + path.sep)) {
          crossings.push(`${path.relative(repo, from)} → ${path.relative(repo, file)}`);
          return;
        }
        if (!existsSync(file)) return;
        for (const target of importsOf(file)) visit(target, file);
      };
      for (const file of filesUnder(own)) visit(file, file);
    };
    check(path.join(repo, "emulator"), path.join(repo, "src"));
    check(path.join(repo, "src"), path.join(repo, "emulator"));
    expect(imports).toBeGreaterThan(100);
    expect(crossings).toEqual([]);
  });
});
