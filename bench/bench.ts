// The benchmark as a library: runs the chosen scenarios side by side, judges issue 5's targets
// on ratios from the same run, and renders the report. bench/run.ts is the command line around it;
// integration_tests/bench-smoke.test.ts runs it on a few thousand records.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BENCH_TABLE, expectedStates, writeAirbyteFile } from "./generate.js";
import {
  fmtInt,
  fmtMb,
  fmtNum,
  fmtPercent,
  fmtRatio,
  markdown,
  comparisonWithPrevious,
  textTable,
  textTargets,
} from "./report.js";
import type { BenchReport, ScenarioResult, TargetCheck } from "./report.js";
import { LIMIT_PRESETS } from "../emulator/index.js";
import type { LimitsConfig, StartEmulatorOptions } from "../emulator/index.js";
import { carefulScenario, connectorScenario, distPath, dwaScenario, emulatorScenario, limitsScenario } from "./scenarios.js";
import type { BenchPaths, LimitsRunResult } from "./scenarios.js";
import { requestCostMs } from "./theory.js";
import type { SentCeiling } from "./theory.js";
import { BenchError } from "./errors.js";
import { membershipResults, membershipSection, runMembership, type MembershipRun } from "./membership.js";

export const SCENARIOS = ["emulator", "connector", "dwa", "latency", "limits", "resync", "bypass", "large", "membership"] as const;
export const DEFAULT_SCENARIOS: readonly ScenarioId[] = ["emulator", "connector", "dwa", "latency", "limits", "resync", "bypass"];

/**
 * The bypass scenarios' synchronous plug-in: a step on contact Create of this many ms per record in
 * the faithful preset's time (50 ms in Microsoft's: a plug-in that reads a row or two).
 */
export const BYPASS_PLUGIN_MS = 5;

/** The resyncs of issue 13: this share of the records changed since the initial load. */
export const RESYNC_SHARES = [0.02, 0.2] as const;

/** A pool of K users carries at least this share of K × one user's rate (2.8× for three). */
export const POOL_SHARE = 2.8 / 3;

/** The limits targets: this share of the ceiling for the operations a run actually sent. */
export const SENT_CEILING_SHARE = 0.95;

/**
 * The limits scenarios' default: the emulator's `faithful` preset, Microsoft's limits and calibrated
 * costs with time running ten times faster (30 s window, 6000 requests, 120,000 ms of execution,
 * 52 concurrent, every cost ÷ 10), so every ceiling is Microsoft's × 10 (≈ 1,994 records/s per user
 * through UpsertMultiple of 1000) and Retry-After's whole seconds are at most 3.3 % of a window.
 */
export const BENCH_LIMITS: LimitsConfig = LIMIT_PRESETS.faithful;

/** The latency scenarios: the faithful execution-time model as real delays, no limits. */
export const LATENCY_ONLY: StartEmulatorOptions = { limits: { ...LIMIT_PRESETS.faithful, enabled: false }, latency: true };
export type ScenarioId = (typeof SCENARIOS)[number];

export interface BenchOptions {
  readonly records: number;
  readonly users: number;
  readonly scenarios: readonly ScenarioId[];
  readonly largeRecords: number;
  /** Members of the membership scenario's first segment (issue 17). */
  readonly membershipRecords: number;
  readonly stateEvery: number;
  /** Records per application user in the limits scenarios (the pool writes users × this). */
  readonly limitsRecords: number;
  /** Records in the latency scenarios (each answer held for its modelled execution time). */
  readonly latencyRecords: number;
  /** Emulator limits for the limits scenarios: a preset name, a JSON file, or a config object. */
  readonly limits: string | LimitsConfig;
  readonly batchSize: number;
  readonly dwaConcurrency: number;
  readonly rawConcurrency: number;
  readonly timeoutSeconds: number;
  /** Rounds of the latency-off scenarios (emulator, connector, loader). */
  readonly repeat: number;
  /** The command line to print in the report. */
  readonly command: string;
  /** The report this run replaces, to say how the figures moved. */
  readonly previousReport?: string;
  /** Progress lines (stderr in the CLI). */
  readonly log: (line: string) => void;
}

export const DEFAULTS = {
  records: 100_000,
  users: 3,
  largeRecords: 2_000_000,
  membershipRecords: 100_000,
  stateEvery: 5_000,
  // Three windows' worth through UpsertMultiple of 1000 (60,000 records per user in a window's
  // allowance). The connector's CreateMultiple of new rows costs about half as much, so its run
  // spends its first window's allowance and then waits one more window.
  limitsRecords: 180_000,
  // A $batch of 1000 upserts is held 4 s under the faithful model: 20 of them, 4 in flight, take ~20 s.
  latencyRecords: 20_000,
  limits: BENCH_LIMITS,
  batchSize: 1000,
  dwaConcurrency: 4,
  rawConcurrency: 8,
  timeoutSeconds: 600,
  repeat: 3,
} as const;

/** The folder holding package.json, from either bench/*.ts (tests) or dist/bench/*.js. */
export function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new BenchError("BENCH_SETUP", "bench: no package.json above the bench module");
    dir = parent;
  }
}

export function machine(): string {
  const cores = cpus();
  const model = cores[0]?.model.trim() ?? "unknown CPU";
  return `${cores.length} cores (${model}), ${fmtNum(totalmem() / 2 ** 30, 0)} GB RAM, Linux ${release()}, Node ${process.version}`;
}

export interface BenchOutcome {
  readonly report: BenchReport;
  readonly text: string;
  readonly markdown: string;
}

function notRun(id: string, title: string, records: number, reason: string): ScenarioResult {
  return { id, title, status: "not run", reason, records };
}

async function guarded(
  id: string,
  title: string,
  records: number,
  log: (line: string) => void,
  run: () => Promise<ScenarioResult>,
): Promise<ScenarioResult> {
  log(`bench: ${title} (${fmtInt(records)} records)…`);
  try {
    const result = await run();
    log(`bench:   ${result.status}${result.recordsPerSecond === undefined ? "" : `, ${fmtInt(result.recordsPerSecond)} records/s`}${result.reason === undefined ? "" : ` (${result.reason})`}`);
    return result;
  } catch (error: unknown) {
    const reason = `the scenario could not run: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`.slice(0, 400);
    log(`bench:   failed: ${reason}`);
    return { id, title, status: "failed", reason, records };
  }
}

export async function runBench(options: BenchOptions): Promise<BenchOutcome> {
  const root = repositoryRoot();
  const work = mkdtempSync(join(tmpdir(), "d365-bench-"));
  const paths: BenchPaths = { root, work };
  const date = new Date().toISOString();
  const want = new Set(options.scenarios);
  const results: ScenarioResult[] = [];
  let limitRuns: LimitsRunResult[] = [];
  let membershipRuns: MembershipRun[] = [];
  const carefulRuns: LimitsRunResult[] = [];
  const rounds: Rounds = { emulator: [], connector: [], dwa: [], startup: [] };
  const loadBefore = loadavg();
  const log = options.log;

  try {
    const missing = [
      distPath(paths, "src", "main.js"),
      distPath(paths, "bench", "dwa-loader.js"),
      distPath(paths, "bench", "raw-loader.js"),
      distPath(paths, "bench", "usage-preload.js"),
    ].filter((f) => !existsSync(f));
    if (missing.length > 0) {
      const reason = `not built: ${missing.join(", ")} missing (run npm run build)`;
      log(`bench: ${reason}`);
      for (const id of options.scenarios) results.push(notRun(id, id, options.records, reason));
      want.clear();
    }

    const input = join(work, "input.jsonl");
    const inputOptions = { records: options.records, stateEvery: options.stateEvery };
    if (want.has("connector") || want.has("large")) {
      log(`bench: generating ${fmtInt(options.records)} records…`);
      await writeAirbyteFile(input, inputOptions);
    }
    const loaderOptions = { records: options.records, batchSize: options.batchSize, timeoutSeconds: options.timeoutSeconds };

    // The three latency-off scenarios are CPU-bound, so the shared machine's noise hits them
    // hardest: they run in rounds (emulator, connector, loader, then again), each row reports the
    // median run, and ratios are medians of the per-round ratios.
    const fastTitles: Record<"emulator" | "connector" | "dwa", string> = {
      emulator: `emulator alone (undici UpsertMultiple of ${options.batchSize}, ${options.rawConcurrency} in flight)`,
      connector: "connector, limits off, latency off",
      dwa: `dynamics-web-api loader ($batch changesets of ${options.batchSize}, ${options.dwaConcurrency} in flight)`,
    };
    const fastIds = (["emulator", "connector", "dwa"] as const).filter((id) => want.has(id));
    const measureStartup = want.has("connector") && options.records >= 10 * STARTUP_RECORDS;
    const startupInput = join(work, "startup.jsonl");
    const startupOptions = { records: STARTUP_RECORDS, stateEvery: options.stateEvery };
    if (measureStartup) await writeAirbyteFile(startupInput, startupOptions);
    for (let round = 1; round <= options.repeat; round++) {
      for (const id of fastIds) {
        const title = fastTitles[id];
        const tag = options.repeat > 1 ? ` [round ${round}/${options.repeat}]` : "";
        const result = await guarded(id, title + tag, options.records, log, async () => {
          switch (id) {
            case "emulator":
              return emulatorScenario(paths, { ...loaderOptions, concurrency: options.rawConcurrency });
            case "dwa":
              return dwaScenario(paths, { ...loaderOptions, concurrency: options.dwaConcurrency });
            case "connector": {
              const { result: r } = await connectorScenario(paths, {
                inputFile: input,
                records: options.records,
                states: expectedStates(inputOptions),
                batchSize: options.batchSize,
                timeoutSeconds: options.timeoutSeconds,
              });
              return r;
            }
          }
        });
        rounds[id].push({ ...result, title });
        if (id === "connector" && measureStartup) {
          // The same connector on a tiny input: its fixed cost (process start, token, metadata,
          // probes), so the report can separate start-up from the per-record rate.
          const startupTitle = `connector start-up (${fmtInt(STARTUP_RECORDS)} records), limits off`;
          const startup = await guarded("connector-startup", startupTitle + tag, STARTUP_RECORDS, log, async () => {
            const { result: r } = await connectorScenario(
              paths,
              {
                inputFile: startupInput,
                records: STARTUP_RECORDS,
                states: expectedStates(startupOptions),
                batchSize: options.batchSize,
                timeoutSeconds: options.timeoutSeconds,
              },
              "connector-startup",
              startupTitle,
            );
            return r;
          });
          rounds.startup.push({ ...startup, title: startupTitle });
        }
      }
    }
    for (const id of fastIds) {
      const median = medianRun(rounds[id]);
      if (median !== undefined) results.push(median);
      const startup = id === "connector" ? medianRun(rounds.startup) : undefined;
      if (startup !== undefined) results.push(startup);
    }
    if (want.has("latency")) {
      const latencyInput = join(work, "latency.jsonl");
      const latencyInputOptions = { records: options.latencyRecords, stateEvery: options.stateEvery };
      await writeAirbyteFile(latencyInput, latencyInputOptions);
      const latencyLoader = { ...loaderOptions, records: options.latencyRecords };
      const connectorTitle = "connector, latency on (faithful execution-time model), limits off";
      results.push(
        await guarded("connector-latency", connectorTitle, options.latencyRecords, log, async () => {
          const { result } = await connectorScenario(
            paths,
            {
              inputFile: latencyInput,
              records: options.latencyRecords,
              states: expectedStates(latencyInputOptions),
              batchSize: options.batchSize,
              timeoutSeconds: options.timeoutSeconds,
            },
            "connector-latency",
            connectorTitle,
            LATENCY_ONLY,
          );
          return result;
        }),
      );
      const dwaTitle = `dynamics-web-api loader, latency on (faithful execution-time model), limits off`;
      results.push(
        await guarded("dwa-latency", dwaTitle, options.latencyRecords, log, () =>
          dwaScenario(paths, { ...latencyLoader, concurrency: options.dwaConcurrency }, "dwa-latency", dwaTitle, LATENCY_ONLY),
        ),
      );
      rmSync(latencyInput, { force: true });
    }
    if (want.has("limits")) {
      limitRuns = [];
      for (const users of options.users > 1 ? [1, options.users] : [1]) {
        const records = options.limitsRecords * users;
        const limitsInput = join(work, `limits-${users}.jsonl`);
        const limitsInputOptions = { records, stateEvery: options.stateEvery };
        await writeAirbyteFile(limitsInput, limitsInputOptions);
        if (users === 1) {
          // The careful loader of issue 13 on the same limits and the same records, in the same run.
          const carefulTitle = `careful loader, limits on, 1 application user (dynamics-web-api UpsertMultiple of ${options.batchSize} via callAction, ${options.dwaConcurrency} in flight, Retry-After honoured)`;
          results.push(
            await guarded("careful-1", carefulTitle, records, log, async () => {
              const run = await carefulScenario(
                paths,
                { records, batchSize: options.batchSize, concurrency: options.dwaConcurrency, timeoutSeconds: options.timeoutSeconds, limits: options.limits },
                "careful-1",
                carefulTitle,
              );
              carefulRuns.push(run);
              return run.result;
            }),
          );
        }
        const id = users === 1 ? "limits-1" : `limits-${users}`;
        const title = `connector, limits on, ${users === 1 ? "1 application user" : `pool of ${users} users`}`;
        results.push(
          await guarded(id, title, records, log, async () => {
            const run = await limitsScenario(paths, {
              inputFile: limitsInput,
              records,
              states: expectedStates(limitsInputOptions),
              batchSize: options.batchSize,
              timeoutSeconds: options.timeoutSeconds,
              users,
              limits: options.limits,
            });
            limitRuns.push(run);
            return run.result;
          }),
        );
        rmSync(limitsInput, { force: true });
      }
    }
    if (want.has("resync")) {
      // Issue 13: the same records again, already in the table, a share of them changed; the careful
      // loader resends everything, the connector reads first and writes what changed.
      for (const share of RESYNC_SHARES) {
        const changedEvery = Math.round(1 / share);
        const pct = Math.round(share * 100);
        const records = options.records;
        const input = join(work, `resync-${pct}.jsonl`);
        const inputOptions = { records, stateEvery: options.stateEvery, changedEvery };
        await writeAirbyteFile(input, inputOptions);
        const carefulId = `resync-${pct}-careful`;
        const carefulTitle = `careful loader, resync with ${pct} % changed, limits on, 1 application user`;
        results.push(
          await guarded(carefulId, carefulTitle, records, log, async () => {
            const run = await carefulScenario(
              paths,
              { records, batchSize: options.batchSize, concurrency: options.dwaConcurrency, timeoutSeconds: options.timeoutSeconds, limits: options.limits, seed: records, changedEvery },
              carefulId,
              carefulTitle,
            );
            carefulRuns.push(run);
            return run.result;
          }),
        );
        const id = `resync-${pct}`;
        const title = `connector, resync with ${pct} % changed, limits on, 1 application user`;
        results.push(
          await guarded(id, title, records, log, async () => {
            const run = await limitsScenario(paths, {
              inputFile: input,
              records,
              states: expectedStates(inputOptions),
              batchSize: options.batchSize,
              timeoutSeconds: options.timeoutSeconds,
              users: 1,
              limits: options.limits,
              seed: records,
              id,
              title,
            });
            carefulRuns.push(run);
            return run.result;
          }),
        );
        rmSync(input, { force: true });
      }
    }
    if (want.has("bypass")) {
      // Issue 13: what MSCRM.BypassBusinessLogicExecution saves on a table with a synchronous
      // plug-in; the same initial load with the option off (the default) and on.
      const records = options.latencyRecords;
      const input = join(work, "bypass.jsonl");
      const inputOptions = { records, stateEvery: options.stateEvery };
      await writeAirbyteFile(input, inputOptions);
      for (const bypass of [false, true]) {
        const id = bypass ? "bypass-on" : "bypass-off";
        const title = `connector, contact Create plug-in of ${BYPASS_PLUGIN_MS} ms per record, bypass_business_logic ${bypass ? "CustomSync" : "off"}, limits on, 1 user`;
        results.push(
          await guarded(id, title, records, log, async () => {
            const run = await limitsScenario(paths, {
              inputFile: input,
              records,
              states: expectedStates(inputOptions),
              batchSize: options.batchSize,
              timeoutSeconds: options.timeoutSeconds,
              users: 1,
              limits: options.limits,
              plugins: [{ table: BENCH_TABLE, message: "Create", milliseconds: BYPASS_PLUGIN_MS }],
              ...(bypass ? { extraConfig: { bypass_business_logic: "CustomSync" } } : {}),
              id,
              title,
            });
            return run.result;
          }),
        );
      }
      rmSync(input, { force: true });
    }
    if (want.has("large")) {
      const largeInput = join(work, "large.jsonl");
      const largeOptions = { records: options.largeRecords, stateEvery: options.stateEvery };
      log(`bench: generating ${fmtInt(options.largeRecords)} records…`);
      await writeAirbyteFile(largeInput, largeOptions);
      const title = `connector, limits off, ${fmtInt(options.largeRecords)} records`;
      results.push(
        await guarded("large", title, options.largeRecords, log, async () => {
          const { result } = await connectorScenario(
            paths,
            {
              inputFile: largeInput,
              records: options.largeRecords,
              states: expectedStates(largeOptions),
              batchSize: options.batchSize,
              timeoutSeconds: options.timeoutSeconds * 4,
            },
            "large",
            title,
          );
          return result;
        }),
      );
      rmSync(largeInput, { force: true });
    }
    if (want.has("membership")) {
      try {
        membershipRuns = await runMembership(paths, options.membershipRecords, options.timeoutSeconds, log);
        results.push(...membershipResults(membershipRuns));
      } catch (err) {
        results.push(notRun("membership", "membership", options.membershipRecords, err instanceof Error ? err.message : String(err)));
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  const targets = judge(results, limitRuns, options, rounds, carefulRuns);
  const compared = options.previousReport === undefined ? undefined : comparisonWithPrevious(options.previousReport, targets);
  const report: BenchReport = {
    command: options.command,
    date,
    machine: machine(),
    records: options.records,
    scenarios: results,
    load: `load average ${loadBefore.map((l) => l.toFixed(1)).join(" / ")} (1/5/15 min) at the start, ${loadavg().map((l) => l.toFixed(1)).join(" / ")} at the end`,
    targets,
    sections: [
      ...(compared === undefined ? [] : [compared]),
      ...reading(results, rounds),
      ...sections(limitsOnRuns(results, limitRuns, carefulRuns), options),
      ...(membershipRuns.length > 0 ? [membershipSection(membershipRuns)] : []),
    ],
  };
  const text = [
    textTable(results),
    "",
    "targets:",
    textTargets(report.targets),
  ].join("\n");
  return { report, text, markdown: markdown(report) };
}

/** Every run under the limits (careful loader, connector, pool, resyncs), in the order they ran. */
function limitsOnRuns(results: readonly ScenarioResult[], limitRuns: readonly LimitsRunResult[], carefulRuns: readonly LimitsRunResult[]): LimitsRunResult[] {
  const order = (run: LimitsRunResult): number => results.findIndex((r) => r.id === run.result.id);
  return [...limitRuns, ...carefulRuns].sort((a, b) => order(a) - order(b));
}

function modelTimeNote(scale: number | undefined): string {
  return scale === undefined || scale === 1 ? "" : `, which runs ${fmtNum(1 / scale, 0)}× faster than Microsoft's`;
}

/** The emulator's time scale in these runs (0.1: its seconds are a tenth of Microsoft's). */
function limitRunsScale(runs: readonly LimitsRunResult[]): number | undefined {
  return runs.find((r) => r.timeScale !== undefined)?.timeScale;
}

export interface Rounds {
  readonly emulator: ScenarioResult[];
  readonly connector: ScenarioResult[];
  readonly dwa: ScenarioResult[];
  /** The connector on STARTUP_RECORDS records, right after each connector round. */
  readonly startup: ScenarioResult[];
}

/** Input size of the start-up measurement: one bulk request's worth. */
export const STARTUP_RECORDS = 1000;

/**
 * Median over rounds of the connector's marginal rate: the records beyond the start-up run's,
 * over the seconds beyond its time. Start-up (process, token, metadata, probes) is then excluded.
 */
function marginalRate(rounds: Rounds, records: number): number | undefined {
  const rates: number[] = [];
  for (let i = 0; i < Math.min(rounds.connector.length, rounds.startup.length); i++) {
    const full = rounds.connector[i];
    const small = rounds.startup[i];
    if (full?.status !== "ok" || small?.status !== "ok" || full.seconds === undefined || small.seconds === undefined) continue;
    const extra = full.seconds - small.seconds;
    if (extra > 0) rates.push((records - small.records) / extra);
  }
  return median(rates);
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** The run with the median rate (a failed run, if any failed: failures are not averaged away). */
export function medianRun(runs: readonly ScenarioResult[]): ScenarioResult | undefined {
  if (runs.length <= 1) return runs[0];
  const failed = runs.find((r) => r.status !== "ok");
  const rates = runs.map((r) => fmtInt(r.recordsPerSecond) || r.status).join(", ");
  const note = `${runs.length} rounds, records/s: ${rates}; the row shows the median round`;
  if (failed !== undefined) return { ...failed, notes: [...(failed.notes ?? []), note] };
  const sorted = [...runs].sort((a, b) => (a.recordsPerSecond ?? 0) - (b.recordsPerSecond ?? 0));
  const chosen = sorted[Math.floor((sorted.length - 1) / 2)] ?? runs[0];
  return chosen === undefined ? undefined : { ...chosen, notes: [...(chosen.notes ?? []), note] };
}

/** Median over rounds of a[i] / b[i], using only rounds where both succeeded. */
function pairedRatio(a: readonly ScenarioResult[], b: readonly ScenarioResult[]): number | undefined {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = rate(a[i]);
    const y = rate(b[i]);
    if (x !== undefined && y !== undefined && y > 0) ratios.push(x / y);
  }
  return median(ratios);
}

function find(results: readonly ScenarioResult[], id: string): ScenarioResult | undefined {
  return results.find((r) => r.id === id);
}

function rate(r: ScenarioResult | undefined): number | undefined {
  return r?.status === "ok" ? r.recordsPerSecond : undefined;
}

function check(target: string, measured: string | undefined, pass: boolean | undefined, detail?: string): TargetCheck {
  if (measured === undefined || pass === undefined) {
    return { target, measured: "", verdict: "not measured", ...(detail === undefined ? {} : { detail }) };
  }
  return { target, measured, verdict: pass ? "met" : "not met", ...(detail === undefined ? {} : { detail }) };
}

/**
 * The two runs' ceilings for the operations each sent, and how much of its own each reached: the
 * pool ratio is the product of the ceilings' ratio and the shares', said next to it.
 */
function poolCeilingNote(one: LimitsRunResult | undefined, pool: LimitsRunResult | undefined): string {
  const r1 = rate(one?.result);
  const rp = rate(pool?.result);
  const c1 = finite(one?.sent?.recordsPerSecond);
  const cp = finite(pool?.sent?.recordsPerSecond);
  if (r1 === undefined || rp === undefined || c1 === undefined || cp === undefined) return "";
  return (
    `; the ceilings for the operations each run sent: ${fmtInt(cp)} vs ${fmtInt(c1)} records/s (${fmtRatio(cp / c1)}), ` +
    `reached at ${fmtPercent(rp / cp)} by the pool and ${fmtPercent(r1 / c1)} by one user`
  );
}

/** How a run's ceiling for the operations it sent was reached: its cost, the windows it waits, the binding limit. */
function sentCeilingText(sent: SentCeiling, measured: number | undefined): string {
  const users = sent.users === 1 ? "" : ` over ${sent.users} users`;
  const waited = sent.windowsWaited;
  const steady = finite(sent.steadyRecordsPerSecond);
  return (
    `${fmtInt(sent.cost.executionMs)} ms of execution charged and ${fmtInt(sent.cost.requests)} requests admitted${users}, ` +
    `ideal ${fmtNum(sent.idealSeconds, 2)} s (${sent.binding}-bound${waited > 0 ? `, ${fmtInt(waited)} window${waited === 1 ? "" : "s"} waited` : ""})` +
    (steady === undefined || measured === undefined ? "" : `; ${fmtPercent(measured / steady)} of these operations' steady pace (${fmtInt(steady)} records/s)`)
  );
}

function finite(n: number | undefined): number | undefined {
  return n !== undefined && Number.isFinite(n) && n > 0 ? n : undefined;
}

export function judge(
  results: readonly ScenarioResult[],
  limitRuns: readonly LimitsRunResult[],
  options: BenchOptions,
  rounds: Rounds,
  carefulRuns: readonly LimitsRunResult[] = [],
): TargetCheck[] {
  const connector = find(results, "connector");
  const dwa = find(results, "dwa");
  const emulator = find(results, "emulator");
  const large = find(results, "large");
  const one = limitRuns.find((r) => r.users === 1);
  const pool = limitRuns.find((r) => r.users > 1);
  const checks: TargetCheck[] = [];

  const c = rate(connector);
  checks.push(check("connector, latency off: ≥ 50,000 records/s end to end", c === undefined ? undefined : `${fmtInt(c)} records/s`, c === undefined ? undefined : c >= 50_000, c === undefined ? undefined : "absolute figure: machine-dependent"));

  const d = rate(dwa);
  const failedRound = [...rounds.connector, ...rounds.dwa].some((r) => r.status !== "ok");
  const vsDwa = failedRound ? undefined : pairedRatio(rounds.connector, rounds.dwa);
  checks.push(
    check(
      "connector ≥ 3× the dynamics-web-api loader, same run",
      vsDwa === undefined ? undefined : fmtRatio(vsDwa),
      vsDwa === undefined ? undefined : vsDwa >= 3,
      vsDwa === undefined
        ? undefined
        : `median of ${rounds.connector.length} paired rounds; median rows ${fmtInt(c)} vs ${fmtInt(d)} records/s, both end to end`,
    ),
  );
  const startup = medianRun(rounds.startup);
  const marginal = marginalRate(rounds, options.records);
  if (startup?.status === "ok" && marginal !== undefined) {
    checks.push({
      target: "context: connector start-up and per-record rate (start-up excluded), same rounds",
      measured: `${fmtNum(startup.seconds, 2)} s to write ${fmtInt(startup.records)} records; ${fmtInt(marginal)} records/s beyond that`,
      verdict: "info",
      detail: "no target; the 50,000 records/s figure above counts start-up against a 100,000-record run",
    });
  }
  const vsEmulator = failedRound ? undefined : pairedRatio(rounds.connector, rounds.emulator);
  if (vsEmulator !== undefined) {
    checks.push({
      target: "context: connector end to end ÷ emulator alone (the emulator's ceiling), same rounds",
      measured: fmtRatio(vsEmulator),
      verdict: "info",
      detail: "no target; how close the connector runs to what the emulator can absorb",
    });
  }

  const cl = rate(find(results, "connector-latency"));
  const dl = rate(find(results, "dwa-latency"));
  const vsDwaLatency = cl !== undefined && dl !== undefined ? cl / dl : undefined;
  checks.push(
    check(
      "same, with the execution-time model as real latency (faithful preset's costs, limits off)",
      vsDwaLatency === undefined ? undefined : fmtRatio(vsDwaLatency),
      vsDwaLatency === undefined ? undefined : vsDwaLatency >= 3,
      vsDwaLatency === undefined ? undefined : `${fmtInt(cl)} vs ${fmtInt(dl)} records/s; supplementary, see notes`,
    ),
  );

  for (const run of [one, pool]) {
    if (run === undefined) continue;
    const r = rate(run.result);
    const sent = run.sent;
    // The verdict: the steady-state ceiling of the operations the run sent (the pace the budgets
    // refill at, for that mix); the run's ideal time N / T, which also spends the first window's
    // allowance at once, is the stricter figure beside it.
    const ceiling = finite(sent?.steadyRecordsPerSecond);
    const ideal = finite(sent?.recordsPerSecond);
    const share = r !== undefined && ceiling !== undefined ? r / ceiling : undefined;
    const late = run.throttledAfterFirstWindow;
    const measured = share !== undefined && late !== undefined;
    checks.push(
      check(
        `limits on, ${run.users === 1 ? "1 user" : `pool of ${run.users}`}: ≥ ${fmtNum(SENT_CEILING_SHARE * 100, 0)} % of the steady-state ceiling for the operations actually sent (computed from the execution time the emulator charged), no 429 after the first window, zero failed records`,
        measured ? `${fmtPercent(share)} of the steady-state ceiling; ${fmtInt(late)} 429s after the first window; ${fmtInt(run.result.failedRecords)} failed` : undefined,
        measured ? share >= SENT_CEILING_SHARE && late === 0 && run.result.failedRecords === 0 : undefined,
        sent === undefined || r === undefined
          ? undefined
          : ceiling === undefined
            ? "the run fit its first window's allowance with latency off: the limits set no ceiling"
            : `${fmtInt(r)} records/s vs ${fmtInt(ceiling)} steady for ${fmtInt(run.result.records)} records` +
              (ideal === undefined ? "" : `, ${fmtPercent(r / ideal)} of this run's ideal N / T (${fmtInt(ideal)} records/s)`) +
              `: ${sentCeilingText(sent, r)}`,
      ),
    );
  }

  for (const share of RESYNC_SHARES) {
    const pct = Math.round(share * 100);
    const want = share <= 0.02 ? 15 : 3;
    const ours = rate(carefulRuns.find((r) => r.result.id === `resync-${pct}`)?.result);
    const theirs = rate(carefulRuns.find((r) => r.result.id === `resync-${pct}-careful`)?.result);
    const ratio = ours !== undefined && theirs !== undefined ? ours / theirs : undefined;
    checks.push(
      check(
        `resync, ${pct} % changed, limits on, 1 user: connector ≥ ${want}× the careful loader, same run`,
        ratio === undefined ? undefined : fmtRatio(ratio),
        ratio === undefined ? undefined : ratio >= want,
        ratio === undefined ? undefined : `${fmtInt(ours)} vs ${fmtInt(theirs)} records/s over ${fmtInt(options.records)} records already in the table, both end to end; the loader resends every record`,
      ),
    );
  }
  const bypassOff = rate(find(results, "bypass-off"));
  const bypassOn = rate(find(results, "bypass-on"));
  if (bypassOff !== undefined && bypassOn !== undefined) {
    checks.push({
      target: `context: bypass_business_logic on a table with a synchronous plug-in (${BYPASS_PLUGIN_MS} ms per created record), same run`,
      measured: fmtRatio(bypassOn / bypassOff),
      verdict: "info",
      detail: `${fmtInt(bypassOn)} records/s with CustomSync vs ${fmtInt(bypassOff)} without; no target: bypass stays opt-in, since skipping plug-ins changes what the customer's environment does`,
    });
  }
  const careful = carefulRuns.find((r) => r.result.id === "careful-1");
  const rc = rate(careful?.result);
  const rOne = rate(one?.result);
  const vsCareful = rc !== undefined && rOne !== undefined ? rOne / rc : undefined;
  checks.push(
    check(
      "initial load, limits on, 1 user: connector ≥ 1.3× the careful loader (dynamics-web-api UpsertMultiple), same run",
      vsCareful === undefined ? undefined : fmtRatio(vsCareful),
      vsCareful === undefined ? undefined : vsCareful >= 1.3,
      vsCareful === undefined ? undefined : `${fmtInt(rOne)} vs ${fmtInt(rc)} records/s, ${fmtInt(one?.result.records)} new contacts each, both end to end`,
    ),
  );
  for (const run of [careful, one, pool, ...carefulRuns.filter((r) => r.result.id.startsWith("resync-"))]) {
    const r = rate(run?.result);
    if (run === undefined || r === undefined) continue;
    const scale = run.timeScale ?? 1;
    // Undo the preset's time scale: its seconds are `scale` of Microsoft's, so real time is slower.
    const perHour = (perSecond: number | undefined): number | undefined => (perSecond === undefined ? undefined : (perSecond * scale * 3600) / run.users);
    const upsertCeiling = perHour(run.upsertMultiple?.recordsPerSecond);
    const sentPace = perHour(finite(run.sent?.steadyRecordsPerSecond));
    const ceiling = finite(run.sent?.recordsPerSecond);
    checks.push({
      target: `context: ${run.result.title}: records per hour per application user in real time`,
      measured: `${fmtInt(perHour(r))} records/h per user`,
      verdict: "info",
      detail:
        `the emulator ran ${fmtNum(1 / scale, 0)}× faster than real time; Microsoft's limits (1,200 s of execution per user per 5 minutes) allow ` +
        (upsertCeiling === undefined ? "?" : `${fmtInt(upsertCeiling)} records/h per user through UpsertMultiple of ${fmtInt(options.batchSize)}`) +
        (sentPace === undefined ? "" : `, and ${fmtInt(sentPace)} at the steady pace of the operations this run sent (the execution time it was charged per record)`) +
        (ceiling === undefined ? "" : `; this run reached ${fmtPercent(r / ceiling)} of the ceiling for its operations, first window included`),
    });
  }

  const r1 = rate(one?.result);
  const rp = rate(pool?.result);
  const poolRatio = r1 !== undefined && rp !== undefined ? rp / r1 : undefined;
  checks.push(
    check(
      `pool of ${options.users} users ≥ ${fmtNum(POOL_SHARE * options.users, 1)}× one user`,
      poolRatio === undefined ? undefined : fmtRatio(poolRatio),
      poolRatio === undefined ? undefined : poolRatio >= POOL_SHARE * options.users - 1e-9,
      poolRatio === undefined
        ? undefined
        : `${fmtInt(rp)} vs ${fmtInt(r1)} records/s, each user carrying ${fmtInt(options.limitsRecords)} records` + poolCeilingNote(one, pool),
    ),
  );

  const perRequest = connector?.status === "ok" ? connector.recordsPerWriteRequest : undefined;
  checks.push(
    check(
      "≥ 900 records per write request on clean bulk upserts",
      perRequest === undefined ? undefined : fmtNum(perRequest, 0),
      perRequest === undefined ? undefined : perRequest >= 900,
      perRequest === undefined || connector === undefined ? undefined : `${fmtInt(connector.recordsWritten)} records written / ${fmtInt(connector.writeRequests)} successful write requests`,
    ),
  );

  const connectorPeaks = results
    .filter((r) => (r.id === "connector" || r.id.startsWith("limits") || r.id === "large") && r.peakRssBytes !== undefined)
    .map((r) => r.peakRssBytes ?? 0);
  const peak = connectorPeaks.length > 0 ? Math.max(...connectorPeaks) : undefined;
  checks.push(check("connector peak RSS ≤ 200 MB", peak === undefined ? undefined : fmtMb(peak), peak === undefined ? undefined : peak <= 200 * 2 ** 20, peak === undefined ? undefined : "highest over the connector runs"));

  const small = connector?.peakRssBytes;
  const big = large?.status === "ok" ? large.peakRssBytes : undefined;
  const growth = small !== undefined && big !== undefined ? big / small : undefined;
  checks.push(
    check(
      `peak RSS flat within 15 % from ${fmtInt(options.records)} to ${fmtInt(options.largeRecords)} records`,
      growth === undefined ? undefined : `${fmtMb(small)} → ${fmtMb(big)} (${growth >= 1 ? "+" : ""}${fmtNum((growth - 1) * 100, 1)} %)`,
      growth === undefined ? undefined : growth <= 1.15,
      large === undefined ? "run with --large" : undefined,
    ),
  );

  const e = rate(emulator);
  checks.push(check("issue 2: emulator alone ≥ 50,000 upserted records/s through UpsertMultiple", e === undefined ? undefined : `${fmtInt(e)} records/s`, e === undefined ? undefined : e >= 50_000));
  return checks;
}

/** Facts that bound the latency-off comparison, computed from this run's figures. */
function reading(results: readonly ScenarioResult[], rounds: Rounds): { title: string; body: string }[] {
  const e = rate(find(results, "emulator"));
  const c = rate(find(results, "connector"));
  const d = rate(find(results, "dwa"));
  if (e === undefined || d === undefined) return [];
  const dwaShare = pairedRatio(rounds.dwa, rounds.emulator) ?? d / e;
  const lines = [
    `With latency off the emulator charges no execution time, so every client is bounded by the`,
    `emulator's own CPU: the **emulator alone** row (${fmtInt(e)} records/s, median round) is the ceiling`,
    `for any client on this machine, and the connector, which adds a process reading, validating and`,
    `mapping every record, cannot pass it. In the same rounds the dynamics-web-api loader, whose`,
    `\`$batch\` of 1000 single upserts costs the emulator no modelled time either, reached ${fmtPercent(dwaShare)}`,
    `of that ceiling. A 3× lead over the loader would therefore need the connector at ${fmtRatio(3 * dwaShare)}`,
    `the emulator's own ceiling${3 * dwaShare > 1 ? ", which no client can reach in this setting" : ""}.`,
    `The latency-on rows apply the faithful execution-time model (a \`$batch\` upsert part costs ${LIMIT_PRESETS.faithful.cost.upsertMs} ms, an`,
    `UpsertMultiple record ${LIMIT_PRESETS.faithful.cost.upsertMultipleRecordMs} ms, Microsoft's published timings ÷ 10, see docs/emulator.md) and show the difference bulk actions make.`,
  ];
  if (c !== undefined) lines.push("", `Connector, median round: ${fmtInt(c)} records/s end to end.`);
  // Where the CPU goes, per record written, in the median rounds: the client process (kernel
  // figures) and the bench process hosting the emulator, measured over the same interval.
  const perRecord = (r: ScenarioResult | undefined, cpu: number | undefined): string =>
    r?.status === "ok" && cpu !== undefined && r.records > 0 ? `${fmtNum((cpu / r.records) * 1e6, 1)} µs` : "n/a";
  const cpuRows = (["emulator", "connector", "dwa"] as const).map((id) => {
    const r = find(results, id);
    return `| ${r?.title ?? id} | ${perRecord(r, r?.cpuSeconds)} | ${perRecord(r, r?.emulatorCpuSeconds)} |`;
  });
  lines.push(
    "",
    "CPU per record written, median rounds (the client's process; the bench process, which hosts the",
    "emulator, over the same interval). On 2 cores each side has one; a client can go no faster than",
    "the slower of its two columns allows.",
    "",
    "| scenario | client CPU per record | emulator CPU per record |",
    "|---|---|---|",
    ...cpuRows,
  );
  const conn = find(results, "connector");
  const dwaRun = find(results, "dwa");
  if (conn?.status === "ok" && dwaRun?.status === "ok" && conn.emulatorCpuSeconds !== undefined && dwaRun.emulatorCpuSeconds !== undefined) {
    const bulkUs = (conn.emulatorCpuSeconds / conn.records) * 1e6;
    const batchUs = (dwaRun.emulatorCpuSeconds / dwaRun.records) * 1e6;
    lines.push(
      "",
      `The emulator spends ${fmtNum(bulkUs, 1)} µs of CPU per record of an \`UpsertMultiple\` and ${fmtNum(batchUs, 1)} µs per`,
      `\`$batch\` part. With one core for the emulator, a client of bulk actions can therefore outrun the loader`,
      `by at most ${fmtRatio(batchUs / bulkUs)} here, however little CPU the client itself uses: the 3× target is out of`,
      `reach on this machine by the emulator's cost alone, before the connector's own work is counted.`,
    );
  }
  const startup = medianRun(rounds.startup);
  if (startup?.status === "ok" && startup.seconds !== undefined && dwaRun?.status === "ok" && dwaRun.seconds !== undefined) {
    const allowed = dwaRun.seconds / 3;
    const left = allowed - startup.seconds;
    const rest = dwaRun.records - startup.records;
    lines.push(
      "",
      `Start-up is a second bound: 3× the loader's end-to-end rate means finishing ${fmtInt(dwaRun.records)} records in`,
      `${fmtNum(allowed, 2)} s, and the connector needs ${fmtNum(startup.seconds, 2)} s (median) to start, sign in, read the table's`,
      left > 0
        ? `metadata and write its first ${fmtInt(startup.records)} records, leaving ${fmtNum(left, 2)} s for the other ${fmtInt(rest)}: ${fmtInt(rest / left)} records/s` +
            (e !== undefined ? `, ${fmtRatio(rest / left / e)} the emulator-alone ceiling.` : ".")
        : `metadata and write its first ${fmtInt(startup.records)} records: more than the whole allowance.`,
    );
  }
  return [{ title: "Reading the latency-off figures", body: lines.join("\n") }];
}

export function limitsLabel(limits: string | LimitsConfig): string {
  if (typeof limits === "string") return `--limits ${limits}`;
  if (JSON.stringify(limits) === JSON.stringify(BENCH_LIMITS)) {
    return "the `faithful` preset (Microsoft's limits and calibrated costs, time ten times faster; `BENCH_LIMITS` in bench/bench.ts)";
  }
  return JSON.stringify(limits);
}

function sections(limitRuns: readonly LimitsRunResult[], options: BenchOptions): { title: string; body: string }[] {
  const out: { title: string; body: string }[] = [];
  const params = limitRuns.find((r) => r.params !== undefined)?.params;
  if (params !== undefined) {
    const n = options.batchSize;
    const cost = requestCostMs(params, n);
    const perUserReq = (params.maxRequests / params.windowSeconds) * n;
    const perUserExec = (params.maxExecutionMs / (params.windowSeconds * cost)) * n;
    const perUserConc = params.latency ? (params.maxConcurrent / (cost / 1000)) * n : Infinity;
    const rows = limitRuns.map((r) => {
      const sent = r.sent;
      const measured = rate(r.result);
      const ceiling = finite(sent?.recordsPerSecond);
      const waited = sent?.windowsWaited;
      return (
        `| ${r.result.title} | ${r.users} | ${fmtInt(r.result.records)} | ${fmtInt(sent?.cost.executionMs)} | ${fmtInt(sent?.cost.requests)} | ` +
        `${fmtInt(waited)} | ${fmtNum(sent?.idealSeconds, 2)} s (${sent?.binding ?? ""}) → ${fmtInt(ceiling)} | ` +
        `${fmtNum(r.result.status === "ok" ? r.result.seconds : undefined, 2)} s → ${fmtInt(measured)} | ` +
        `${measured === undefined || ceiling === undefined ? "" : fmtPercent(measured / ceiling)} | ${fmtInt(finite(sent?.steadyRecordsPerSecond))} | ${fmtInt(r.throttledAfterFirstWindow)} |`
      );
    });
    out.push({
      title: "Theoretical maximum under the emulated limits",
      body: [
        `Emulator limits: ${limitsLabel(options.limits)}, latency on. Parameters as read back from \`emulator.stats().model\`:`,
        `window W = ${params.windowSeconds} s; per user and window R = ${fmtInt(params.maxRequests)} requests and E = ${fmtInt(params.maxExecutionMs)} ms of execution;`,
        `C = ${params.maxConcurrent} concurrent requests. Every figure is in the emulator's model time${modelTimeNote(limitRunsScale(limitRuns))}.`,
        "",
        "**The ceiling for the operations a run actually sent.** The connector reads each batch's current",
        "rows before writing, creates new rows with CreateMultiple (cheaper than UpsertMultiple), updates",
        "only changed rows and skips unchanged ones, so what a run costs depends on its data. Its ceiling",
        "is therefore computed from what the run cost on the emulator: X ms of execution time charged",
        "(`emulator.stats().executionMs`, every request the emulator ran, reads and metadata included) and",
        "Q Web API requests admitted. A user's window starts empty and a limit bites only once exceeded, so",
        "the first window's allowance can be spent at once; on the sliding window a budget spent at once",
        "comes back at once a window later, so each further window's worth waits a whole window. For u",
        "users sharing the work:",
        "",
        "    k = ⌈X / (u × E)⌉ − 1        q = ⌈Q / (u × R)⌉ − 1        (0 when the first window's allowance suffices)",
        "    T = max( k × W + (X − k × u × E) / (1000 × u × C),   X / (1000 × u × C),   q × W )",
        "",
        "in seconds, with X and E in ms and W in seconds; X / (1000 × u × C) is the time the execution takes",
        "with C requests in flight per user, each held for the time it was charged (latency on), and the first",
        "term's last part the same for the share left after k windows. N / T is the ceiling for the run's N",
        "records, the strictest figure (it assumes the first window's allowance spent at the first instant).",
        "The **steady-state ceiling** (\"steady pace\") is the same operations at the rate the budgets refill,",
        "N × min( u × E / (W × X),  u × R / (W × Q),  1000 × u × C / X ). A target is met only if the measured rate",
        "(spawn to exit, so start-up, token and metadata time count against the client) reaches",
        `${fmtNum(SENT_CEILING_SHARE * 100, 0)} % of the steady-state ceiling, no 429 is answered more than a window after the run's first`,
        "request, and no record failed. A run beats the steady pace by as much as its first window's allowance",
        "was worth; the share of N / T is shown beside it. The emulator books a request's execution time when",
        "it starts, so requests in flight count against the budget; the request that first exceeds a budget",
        "is still admitted, so a run can land a request's worth more than T allows.",
        "",
        "| run | users | records | X, ms charged | Q, requests | windows waited | ideal T → records/s | measured | % of the ceiling | steady pace, records/s | 429s after the first window |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        ...rows,
        "",
        "**Reference: UpsertMultiple.** The steady-state ceiling in records/s of `u` users writing every",
        `record by UpsertMultiple of \`n\`, with c(n) = ${params.requestMs} ms + n × ${params.bulkRecordMs} ms the execution time the model charges one`,
        `(c(${n}) = ${fmtNum(cost, 2)} ms, which with latency on is also its answer's delay):`,
        "",
        "    rate(n) = u × n × min( R / W,  E / (W × c(n)),  C / c(n) )",
        "",
        `Per user at n = ${n}: request cap ${fmtInt(perUserReq)}, execution budget ${fmtInt(perUserExec)}, concurrency ${fmtInt(perUserConc)} records/s.`,
        "It is what the careful loader can sustain, and the context for records per hour per application user;",
        "a client that writes less per record (creates, only changed rows) is judged on its own ceiling above.",
      ].join("\n"),
    });
  }
  out.push({
    title: "What each scenario measures",
    body: [
      "- **emulator alone**: `bench/raw-loader.ts` posts `UpsertMultiple` requests of 1000 contacts (alternate key in `@odata.id`) with undici, limits and latency off; records/s over the write phase (token excluded). Issue 2's check that the emulator is never the bottleneck.",
      "- **connector**: the built CLI (`node dist/src/main.js write --config … --catalog …`) reads the generated Airbyte stream (contacts, a STATE every " +
        fmtInt(options.stateEvery) +
        " records) from a file on stdin; records/s from spawn to exit. CPU seconds and peak RSS are the kernel's figures for the connector process alone (`process.resourceUsage()` written at exit by a `--import` preload; RSS is also sampled from /proc as a cross-check). \"emulator CPU s\" is the bench process's own CPU (`process.cpuUsage()`) over the same interval: the in-process emulator's work plus the bench's light bookkeeping.",
      "- **dynamics-web-api loader**: `bench/dwa-loader.ts`, the library's documented batch pattern (`startBatch`, 1000 `upsert` calls by alternate key in one changeset, `executeBatch`), " +
        options.dwaConcurrency +
        " batches in flight, tokens from msal-node through `onTokenRefresh`, emulator CA via `NODE_EXTRA_CA_CERTS`; records/s from spawn to exit, like the connector. The library has no retry (its maintainer leaves that to the caller), so the loader re-sends a batch whose connection was reset, at most twice, and counts it under retries.",
      `- **latency on, limits off**: the connector and the loader again on ${fmtInt(options.latencyRecords)} records, with the emulator delaying each answer by the faithful execution-time model (${fmtNum(LIMIT_PRESETS.faithful.cost.requestMs, 1)} ms per request, ${fmtNum(LIMIT_PRESETS.faithful.cost.upsertMultipleRecordMs, 1)} ms per UpsertMultiple record, ${fmtNum(LIMIT_PRESETS.faithful.cost.upsertMs, 1)} ms per \`$batch\` upsert part: Microsoft's published timings ÷ 10, docs/emulator.md). With latency off the emulator charges no time at all, so a \`$batch\` of 1000 single upserts costs it little more CPU than one \`UpsertMultiple\`; the execution-time model is where Microsoft's measurements (bulk actions are cheaper per record than \`$batch\`) show. Supplementary to the latency-off target, not a replacement.`,
      "- **careful loader** (issue 13): `bench/dwa-bulk-loader.ts`, dynamics-web-api again, the way a careful user writes a bulk load: `UpsertMultiple` of " +
        fmtInt(options.batchSize) +
        " rows by alternate key through `callAction` on the entity set, " +
        options.dwaConcurrency +
        " requests in flight, a 429's Retry-After honoured in full by every sender before the request is sent again; run on a fresh emulator with the same limits and the same records as the one-user connector run, just before it.",
      "- **resync** (issue 13): the same " +
        fmtInt(options.records) +
        " contacts already in the table (seeded into a fresh emulator), sent again with every 50th (2 %) or every 5th (20 %) record's job title changed, on the same limits: the careful loader upserts every record; the connector reads each batch's current values first (one read per batch) and writes only the changed rows' changed columns (`write_only_changes`, on by default).",
      "- **bypass** (issue 13): the connector's initial load of " +
        fmtInt(options.latencyRecords) +
        ` new contacts on the same limits, with a synchronous plug-in step on contact Create of ${BYPASS_PLUGIN_MS} ms per record (the emulator's environment \`plugins\`), once as configured by default and once with \`bypass_business_logic: CustomSync\` (the application user holds prvBypassCustomBusinessLogic; \`check\` says whether it does). Bypass stays opt-in: it skips the customer's plug-ins.`,
      "- **limits on**: the connector against the emulator with service protection limits and real latency, first with one application user, then with a pool (each user carrying the same number of records, so a perfect pool scales exactly by its size).",
      "- HTTP requests, successful write requests and 429s are counted on the emulator's side of the wire (Node's `http.server` diagnostics channels); a `$batch` whose operations are all GET (the connector's read of a batch's current rows when the URL is too long) counts as a read, not a write request; \"rec/write req\" is the records the emulator wrote (created, updated or upserted) per successful write request, so a resync that writes only the changed rows shows how many each request carried; rows are counted in the emulator's store after each run; each scenario gets a fresh emulator in the bench process, each client its own process, so on 2 cores the emulator and the client under test each have one.",
    ].join("\n"),
  });
  return out;
}
