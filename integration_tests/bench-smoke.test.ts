// Smoke test of the benchmark harness (not a benchmark: nothing here is timed). It runs every
// default scenario on a couple of thousand records against real emulators and checks that the
// report is complete and well formed; plus the arithmetic of the theoretical maximum.
// Needs the build (dist/src/main.js, dist/bench/*.js): `npm test` builds first.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LIMIT_PRESETS } from "../emulator/index.js";
import { BENCH_LIMITS, DEFAULT_SCENARIOS, medianRun, repositoryRoot, runBench } from "../bench/bench.js";
import { retriesFromLogs } from "../bench/scenarios.js";
import { comparisonWithPrevious, type ScenarioResult } from "../bench/report.js";
import type { BenchOutcome } from "../bench/bench.js";
import { airbyteMessages, expectedStates } from "../bench/generate.js";
import { sentCeiling, steadyStateCeiling, windowsWaited } from "../bench/theory.js";
import type { LimitParams } from "../bench/theory.js";

function params(config: typeof LIMIT_PRESETS.microsoft, latency = true): LimitParams {
  return {
    windowSeconds: config.windowSeconds,
    maxRequests: config.maxRequests,
    maxExecutionMs: config.maxExecutionMs,
    maxConcurrent: config.maxConcurrent,
    requestMs: config.cost.requestMs,
    bulkRecordMs: config.cost.upsertMultipleRecordMs,
    latency,
  };
}

describe("bench theory", () => {
  it("given Microsoft's limits and 20 ms per UpsertMultiple record, one user's steady ceiling is execution-bound near 4 s / 20 ms", () => {
    const steady = steadyStateCeiling(params(LIMIT_PRESETS.microsoft), 1, 1000);
    expect(steady.binding).toBe("execution");
    // 1,200,000 ms / 300 s / 20,060 ms per 1000-record request × 1000 records.
    expect(steady.recordsPerSecond).toBeCloseTo(199.4, 1);
    expect(steadyStateCeiling(params(LIMIT_PRESETS.microsoft), 3, 1000).recordsPerSecond).toBeCloseTo(3 * 199.4, 0);
  });

  it("given the bench limits (faithful), UpsertMultiple's steady state is execution-bound at ten times Microsoft's ceiling", () => {
    const p = params(BENCH_LIMITS);
    const steady = steadyStateCeiling(p, 1, 1000);
    expect(steady.binding).toBe("execution");
    // 120,000 ms per 30 s / 2,006 ms per request × 1000 records.
    expect(steady.recordsPerSecond).toBeCloseTo(1994.02, 1);
    expect(steady.recordsPerSecond).toBeCloseTo(10 * steadyStateCeiling(params(LIMIT_PRESETS.microsoft), 1, 1000).recordsPerSecond, 6);
  });

  it("given the execution time a run was charged, waits a whole window for each further window's budget after the first", () => {
    expect(windowsWaited(0, 120_000, 1)).toBe(0);
    expect(windowsWaited(120_000, 120_000, 1)).toBe(0);
    expect(windowsWaited(120_001, 120_000, 1)).toBe(1);
    expect(windowsWaited(240_000, 120_000, 1)).toBe(1);
    expect(windowsWaited(240_001, 120_000, 1)).toBe(2);
    // A pool of three has three budgets.
    expect(windowsWaited(360_000, 120_000, 3)).toBe(0);
    expect(windowsWaited(200_000, 0, 1)).toBe(Infinity);
  });

  it("given a run charged more than its first window's budget, its ideal is the windows waited plus the rest at C in flight", () => {
    const p = params(BENCH_LIMITS);
    // 180,000 new rows: 180 CreateMultiple of 1000 (6 + 1000 × 1.1 ms) and 180 reads (6 ms), 200,160 ms.
    const run = sentCeiling(p, { executionMs: 200_160, requests: 380 }, 180_000, 1);
    expect(run.binding).toBe("execution");
    expect(run.executionWindows).toBe(1);
    expect(run.requestWindows).toBe(0);
    // One 30 s window waited, then the 80,160 ms left at 52 requests in flight.
    expect(run.idealSeconds).toBeCloseTo(30 + 80.16 / 52, 9);
    expect(run.recordsPerSecond).toBeCloseTo(180_000 / (30 + 80.16 / 52), 6);
    // The same operations at the pace the budget refills: 200,160 ms at 4,000 ms per second.
    expect(run.steadyBinding).toBe("execution");
    expect(run.steadyRecordsPerSecond).toBeCloseTo(180_000 / (200.16 / 4), 6);
    // Cheaper operations raise the ceiling: UpsertMultiple of the same records would cost 361,080 ms.
    const upserts = sentCeiling(p, { executionMs: 361_080, requests: 180 }, 180_000, 1);
    expect(upserts.executionWindows).toBe(3);
    expect(upserts.recordsPerSecond).toBeLessThan(run.recordsPerSecond);
    expect(upserts.steadyRecordsPerSecond).toBeCloseTo(steadyStateCeiling(p, 1, 1000).recordsPerSecond, 6);
  });

  it("given a run that fits its first window's budget, the ceiling is the concurrency limit's; with latency off there is none", () => {
    const p = params(BENCH_LIMITS);
    const short = sentCeiling(p, { executionMs: 22_000, requests: 40 }, 20_000, 1);
    expect(short.binding).toBe("concurrency");
    expect(short.executionWindows).toBe(0);
    expect(short.idealSeconds).toBeCloseTo(22 / 52, 9);
    const noLatency = sentCeiling({ ...p, latency: false }, { executionMs: 22_000, requests: 40 }, 20_000, 1);
    expect(noLatency.idealSeconds).toBe(0);
    expect(noLatency.recordsPerSecond).toBe(Infinity);
  });

  it("given a pool whose users carry equal shares, the ceiling scales exactly with the pool", () => {
    const p = params(BENCH_LIMITS);
    const one = sentCeiling(p, { executionMs: 200_160, requests: 380 }, 180_000, 1);
    const three = sentCeiling(p, { executionMs: 3 * 200_160, requests: 3 * 380 }, 540_000, 3);
    expect(three.idealSeconds).toBeCloseTo(one.idealSeconds, 9);
    expect(three.recordsPerSecond / one.recordsPerSecond).toBeCloseTo(3, 9);
  });

  it("given the request cap binds (R lowered to 60 per window), the run waits for the request budget", () => {
    const p: LimitParams = { ...params(BENCH_LIMITS), maxRequests: 60 };
    const run = sentCeiling(p, { executionMs: 22_000, requests: 130 }, 20_000, 1);
    expect(run.requestWindows).toBe(2);
    expect(run.binding).toBe("requests");
    expect(run.idealSeconds).toBe(60);
    expect(run.steadyBinding).toBe("requests");
    expect(run.steadyRecordsPerSecond).toBeCloseTo(20_000 / ((30 * 130) / 60), 9);
  });

  it("given the request cap binds (R lowered to 30 per window), the steady state is R / W requests of n records", () => {
    const p: LimitParams = { ...params(BENCH_LIMITS), maxRequests: 30, latency: false };
    const steady = steadyStateCeiling(p, 1, 1000);
    expect(steady.binding).toBe("requests");
    expect(steady.recordsPerSecond).toBe(1000);
    expect(steady.perUser.concurrency).toBe(Infinity);
  });
});

describe("bench input", () => {
  it("given 12,001 records and a state every 5,000, emits every record once and 3 states, the last after the last record", () => {
    const lines = [...airbyteMessages({ records: 12_001, stateEvery: 5000, linesPerChunk: 777 })].join("").split("\n").filter((l) => l !== "");
    const messages = lines.map((l) => JSON.parse(l) as { type: string; record?: { data: { emailaddress1: string } } });
    const records = messages.filter((m) => m.type === "RECORD");
    expect(records).toHaveLength(12_001);
    expect(new Set(records.map((m) => m.record?.data.emailaddress1)).size).toBe(12_001);
    expect(messages.filter((m) => m.type === "STATE")).toHaveLength(expectedStates({ records: 12_001, stateEvery: 5000 }));
    expect(messages[messages.length - 1]?.type).toBe("STATE");
  });
});

describe("bench bookkeeping", () => {
  it("given the report it replaces, shows each target beside its previous figure, matching reworded details", () => {
    const previous = [
      "# Benchmarks",
      "- Command: `npm run bench -- --large`",
      "- Date: 2026-11-26T10:29:37.591Z",
      "## Targets",
      "| target (issue 5 / issue 2) | measured | verdict |",
      "|---|---|---|",
      "| same, with the execution-time model as real latency (scaled preset's costs, limits off) | 8.98× (34,336 vs 3,823 records/s) | **met** |",
      "## Scenarios",
    ].join("\n");
    const section = comparisonWithPrevious(previous, [
      { target: "same, with the execution-time model as real latency (faithful preset's costs, limits off)", measured: "2.18×", verdict: "not met" },
      { target: "a new target", measured: "1", verdict: "met" },
    ]);
    expect(section?.body).toContain("`npm run bench -- --large`, 2026-11-26T10:29:37.591Z");
    expect(section?.body).toContain("| 8.98× (34,336 vs 3,823 records/s) (met) | 2.18× (not met) |");
    expect(section?.body).toContain("| a new target | (not in the previous report) | 1 (met) |");
    expect(comparisonWithPrevious("no targets here", [])).toBeUndefined();
  });

  it("given the connector's per-stream summary lines, sums their retried counts; none reported → undefined", () => {
    const logs = [
      'summary: stream "a" → contact: read 10, upserted 10, rejected 0, retried 3, 1.0 s',
      "unrelated line",
      'summary: stream "b" → account: read 5, upserted 5, rejected 0, retried 2, 0.4 s',
    ];
    expect(retriesFromLogs(logs)).toBe(5);
    expect(retriesFromLogs(["summary: read 10"])).toBeUndefined();
  });

  it("given three rounds, the row is the median round; a failed round is reported, not averaged away", () => {
    const run = (rps: number, status: ScenarioResult["status"] = "ok"): ScenarioResult => ({
      id: "connector",
      title: "t",
      status,
      records: 10,
      recordsPerSecond: rps,
    });
    expect(medianRun([run(30), run(10), run(20)])?.recordsPerSecond).toBe(20);
    expect(medianRun([run(30), run(10, "failed"), run(20)])?.status).toBe("failed");
  });
});

describe("bench harness", () => {
  const root = repositoryRoot();
  const built = ["dist/src/main.js", "dist/bench/dwa-loader.js", "dist/bench/raw-loader.js", "dist/bench/usage-preload.js"].every((f) =>
    existsSync(join(root, f)),
  );

  it("is built (npm run build) before this suite runs", () => {
    expect(built).toBe(true);
  });

  it.runIf(built)(
    "given 2,000 records, every default scenario reports, and the report is complete and well formed",
    async () => {
      const outcome: BenchOutcome = await runBench({
        records: 2000,
        users: 2,
        scenarios: DEFAULT_SCENARIOS,
        largeRecords: 4000,
        membershipRecords: 2000,
        stateEvery: 500,
        limitsRecords: 2000,
        latencyRecords: 2000,
        limits: BENCH_LIMITS,
        batchSize: 1000,
        dwaConcurrency: 4,
        rawConcurrency: 8,
        timeoutSeconds: 60,
        repeat: 2,
        command: "bench-smoke",
        log: () => undefined,
      });
      const { report, text, markdown } = outcome;

      const ids = report.scenarios.map((s) => s.id);
      expect(ids).toEqual(["emulator", "connector", "dwa", "connector-latency", "dwa-latency", "careful-1", "limits-1", "limits-2", "resync-2-careful", "resync-2", "resync-20-careful", "resync-20", "bypass-off", "bypass-on"]);
      for (const s of report.scenarios) {
        expect(["ok", "failed", "not run"]).toContain(s.status);
        if (s.status === "ok") {
          expect(s.rowsInTable).toBe(s.records);
          expect(s.failedRecords).toBe(0);
          expect(s.recordsPerSecond).toBeGreaterThan(0);
          expect(s.writeRequests).toBeGreaterThan(0);
          expect(s.cpuSeconds).toBeGreaterThan(0);
          expect(s.peakRssBytes).toBeGreaterThan(10 * 2 ** 20);
        } else {
          // A scenario that did not succeed must say why.
          expect(s.reason ?? "").not.toBe("");
        }
      }
      // Every scenario must run to the end here: the bench's own loaders, and the connector's
      // scenarios too (2,000 records fit easily in their 60 s). A connector scenario that failed for
      // any reason (a crash, a rejected row, a timeout) fails the smoke test, with its reason.
      for (const s of report.scenarios) expect(s.status, `${s.id}: ${s.reason ?? ""}`).toBe("ok");
      expect(report.scenarios.find((s) => s.id === "emulator")?.writeRequests).toBe(2);
      // The connector's reads (a GET, or a $batch of GETs when the URL is long) are not write
      // requests: a clean load writes 1,000 records per request, a resync only the changed rows.
      expect(report.scenarios.find((s) => s.id === "connector")?.recordsPerWriteRequest).toBe(1000);
      expect(report.scenarios.find((s) => s.id === "resync-2")?.recordsPerWriteRequest).toBe(20);

      expect(report.targets.length).toBeGreaterThanOrEqual(9);
      for (const t of report.targets) {
        expect(["met", "not met", "not measured", "info"]).toContain(t.verdict);
        if (t.verdict !== "not measured") expect(t.measured).not.toBe("");
      }
      expect(report.targets.find((t) => t.target.startsWith("peak RSS flat"))?.verdict).toBe("not measured");

      for (const out of [text, markdown]) {
        expect(out).not.toMatch(/NaN|undefined|Infinity/);
      }
      expect(markdown).toContain("- Command: `bench-smoke`");
      expect(markdown).toContain("## Targets");
      expect(markdown).toContain("2 rounds, records/s:");
      expect(markdown).toContain("rate(n) = u × n × min( R / W,  E / (W × c(n)),  C / c(n) )");
      expect(markdown).toContain("T = max( k × W + (X − k × u × E) / (1000 × u × C),   X / (1000 × u × C),   q × W )");
      // The limits targets are judged on the ceiling for the operations each run sent.
      const limitsTargets = report.targets.filter((t) => t.target.startsWith("limits on,"));
      expect(limitsTargets).toHaveLength(2);
      for (const t of limitsTargets) {
        expect(t.target).toContain("≥ 95 % of the steady-state ceiling for the operations actually sent (computed from the execution time the emulator charged)");
        expect(t.measured).toMatch(/^[\d,.]+ % of the steady-state ceiling; \d+ 429s after the first window; 0 failed$/);
      }
      for (const s of report.scenarios) expect(markdown).toContain(s.title);
      // Never a secret in the report.
      expect(markdown).not.toContain("emulator-main-secret");
      expect(markdown).not.toContain("bench-pool-secret");
    },
    120_000,
  );
});
