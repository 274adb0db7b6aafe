// npm run bench [-- --records N --users K --scenarios a,b,… --large --no-doc]
//
// Runs the benchmark scenarios side by side, prints a table and the issue 5 targets, and writes
// docs/benchmarks.md. Progress goes to stderr.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULTS, DEFAULT_SCENARIOS, SCENARIOS, repositoryRoot, runBench } from "./bench.js";
import type { BenchOptions, ScenarioId } from "./bench.js";
import { BenchError } from "./errors.js";

const USAGE = `usage: npm run bench -- [options]
  --records N           records per scenario (default ${DEFAULTS.records})
  --users K             application users in the pool scenario (default ${DEFAULTS.users})
  --scenarios LIST      comma-separated: ${SCENARIOS.join(",")} (default ${DEFAULT_SCENARIOS.join(",")})
  --large               add the large run (--large-records, default ${DEFAULTS.largeRecords})
  --large-records N
  --membership-records N  members of the membership scenario's first segment (default ${DEFAULTS.membershipRecords});
                        run it with --scenarios membership (it takes minutes: the faithful limits bind)
  --limits-records N    records per user in the limits scenarios (default ${DEFAULTS.limitsRecords})
  --limits SPEC         emulator limits for them: a preset (faithful, microsoft, scaled) or a JSON file
                        (default: the faithful preset, see bench/bench.ts)
  --latency-records N   records in the latency scenarios (default ${DEFAULTS.latencyRecords})
  --state-every N       a STATE message every N records (default ${DEFAULTS.stateEvery})
  --batch-size N        connector batch_size and loaders' batch size (default ${DEFAULTS.batchSize})
  --timeout S           per-scenario timeout in seconds (default ${DEFAULTS.timeoutSeconds})
  --repeat R            rounds of the latency-off scenarios; medians are reported (default ${DEFAULTS.repeat})
  --doc PATH            where to write the report (default docs/benchmarks.md)
  --no-doc              do not write the report`;

function positive(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text.replace(/_/g, ""));
  if (!Number.isInteger(n) || n <= 0) throw new BenchError("BENCH_USAGE", `--${name} must be a positive integer`);
  return n;
}

function isScenario(s: string): s is ScenarioId {
  return (SCENARIOS as readonly string[]).includes(s);
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv,
    options: {
      records: { type: "string" },
      users: { type: "string" },
      scenarios: { type: "string" },
      large: { type: "boolean" },
      "large-records": { type: "string" },
      "membership-records": { type: "string" },
      "limits-records": { type: "string" },
      "latency-records": { type: "string" },
      limits: { type: "string" },
      "state-every": { type: "string" },
      "batch-size": { type: "string" },
      timeout: { type: "string" },
      repeat: { type: "string" },
      doc: { type: "string" },
      "no-doc": { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stderr.write(`${USAGE}\n`);
    return 0;
  }
  const listed = (values.scenarios ?? DEFAULT_SCENARIOS.join(",")).split(",").map((s) => s.trim()).filter((s) => s !== "");
  const unknown = listed.filter((s) => !isScenario(s));
  if (unknown.length > 0) throw new BenchError("BENCH_USAGE", `unknown scenario(s): ${unknown.join(", ")}; known: ${SCENARIOS.join(", ")}`);
  const scenarios = listed.filter(isScenario);
  if (values.large === true && !scenarios.includes("large")) scenarios.push("large");

  const options: BenchOptions = {
    records: positive(values.records, "records", DEFAULTS.records),
    users: positive(values.users, "users", DEFAULTS.users),
    scenarios,
    largeRecords: positive(values["large-records"], "large-records", DEFAULTS.largeRecords),
    membershipRecords: positive(values["membership-records"], "membership-records", DEFAULTS.membershipRecords),
    stateEvery: positive(values["state-every"], "state-every", DEFAULTS.stateEvery),
    limitsRecords: positive(values["limits-records"], "limits-records", DEFAULTS.limitsRecords),
    latencyRecords: positive(values["latency-records"], "latency-records", DEFAULTS.latencyRecords),
    limits: values.limits ?? DEFAULTS.limits,
    batchSize: positive(values["batch-size"], "batch-size", DEFAULTS.batchSize),
    dwaConcurrency: DEFAULTS.dwaConcurrency,
    rawConcurrency: DEFAULTS.rawConcurrency,
    timeoutSeconds: positive(values.timeout, "timeout", DEFAULTS.timeoutSeconds),
    repeat: positive(values.repeat, "repeat", DEFAULTS.repeat),
    command: ["npm run bench", ...(argv.length > 0 ? ["--", ...argv] : [])].join(" "),
    log: (line) => void process.stderr.write(`${line}\n`),
  };
  const doc = values.doc ?? join(repositoryRoot(), "docs", "benchmarks.md");
  const writeDoc = values["no-doc"] !== true;
  // The report this run replaces: its targets are shown beside this run's.
  const previousReport = writeDoc && existsSync(doc) ? readFileSync(doc, "utf8") : undefined;
  const outcome = await runBench({ ...options, ...(previousReport === undefined ? {} : { previousReport }) });
  process.stdout.write(`${outcome.text}\n`);
  if (writeDoc) {
    writeFileSync(doc, outcome.markdown);
    process.stderr.write(`bench: wrote ${doc}\n`);
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    process.exitCode = 2;
  },
);
