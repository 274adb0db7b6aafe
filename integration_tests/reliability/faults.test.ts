// Faults survived (issue 6 item 2): the emulator injects them over real sockets; the connector must
// lose nothing, never emit a state ahead of its data, and report `transient_error` only once the
// retry budget is spent. Every case plays the same source through crash-resume.ts's harness, which
// checks each state the moment it comes out and compares the table with the source at the end.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { FaultRule } from "../../emulator/faults.js";
import { LIMIT_PRESETS } from "../../emulator/index.js";
import { crashAndResume, type CrashResumeOptions, type Scenario } from "./crash-resume.js";
import { environmentWithReader, READER_APP, startTestEmulator, type TestEmulator } from "./emulator.js";
import { createRng, fixedSeed, intFromEnv, seedFromEnv } from "./prng.js";
import { contactUpsert, contactVersions, opportunityCreateDeterministic, opportunityCreateNoKey } from "./scenarios.js";

const RECORDS = intFromEnv("FAULTS_RECORDS", 300);
// Small batches so a few hundred records make enough requests for the fault rules to bite.
const SETTINGS = { batch_size: 20, max_concurrency: 4, retry_budget_seconds: 30, flush_interval_seconds: 1 };
// Writes only: the harness reads the table back with GETs through the same app and must not be hit.
const WRITES = { method: "POST", path: "/api/data/" } as const;

describe("faults survived", () => {
  let emu: TestEmulator;
  beforeAll(async () => {
    emu = await startTestEmulator();
  });
  afterAll(async () => {
    await emu?.close();
  });
  afterEach(() => {
    emu.emulator.faults.clear();
  });

  function options(label: string, extra: Partial<CrashResumeOptions> = {}): CrashResumeOptions {
    return {
      records: RECORDS,
      stateEvery: 25,
      rng: createRng(fixedSeed("FAULTS_SEED", `faults ${label}`)),
      connection: emu.connection,
      settings: SETTINGS,
      runTimeoutMs: 60_000,
      ...extra,
    };
  }

  function withFaults(...rules: FaultRule[]): { before(): void; after(): void } {
    return {
      before: () => {
        emu.emulator.faults.add(...rules);
      },
      after: () => undefined,
    };
  }

  function firedTotal(): number {
    return emu.emulator.faults.fired().reduce((n, r) => n + r.fired, 0);
  }

  it("a 429 storm with growing Retry-After: waits as told, loses nothing", async () => {
    const rules: FaultRule[] = [1, 1, 2, 2].map((s) => ({ fault: "throttle", retryAfterSeconds: s, count: 1, ...WRITES }));
    const report = await crashAndResume(contactUpsert("f429"), options("429", { runs: [{ ...withFaults(...rules) }] }));
    expect(firedTotal()).toBe(4);
    // With all sends paused while a Retry-After runs, the run cannot be shorter than the longest wait.
    expect(report.runs[0]?.elapsedMs).toBeGreaterThanOrEqual(2_000);
    expect(report.rejected).toBe(0);
  });

  it("bursts of 502, 503 and 504 are retried, nothing lost", async () => {
    const rules: FaultRule[] = [502, 503, 504].map((status) => ({ fault: "status", status, after: 2, count: 3, ...WRITES }));
    const report = await crashAndResume(contactUpsert("f5xx"), options("5xx", { runs: [{ ...withFaults(...rules) }] }));
    expect(firedTotal()).toBe(9);
    expect(report.rejected).toBe(0);
  });

  // Every other case here has a fixed seed; this one takes a fresh seed each run (FAULTS_SEED replays it).
  it("bursts of 503 with a fresh seed: retried, nothing lost", async () => {
    const seed = seedFromEnv("FAULTS_SEED", "faults fresh seed");
    const report = await crashAndResume(
      contactUpsert("ffresh"),
      options("fresh", { rng: createRng(seed), runs: [{ ...withFaults({ fault: "status", status: 503, after: 1, every: 2, count: 3, ...WRITES }) }] }),
    );
    expect(firedTotal(), `replay with FAULTS_SEED=${seed}`).toBe(3);
    expect(report.rejected, `replay with FAULTS_SEED=${seed}`).toBe(0);
  });

  it("a burst of bare 500s on whole write requests does not turn valid records into rejections", async () => {
    const report = await crashAndResume(
      contactUpsert("f500"),
      options("500", { runs: [{ ...withFaults({ fault: "status", status: 500, after: 1, count: 3, ...WRITES }) }, {}] }),
    );
    expect(firedTotal()).toBe(3);
    expect(report.rejected, "records rejected because a whole request failed with 500").toBe(0);
  });

  for (const make of [contactUpsert, opportunityCreateDeterministic]) {
    const scenario: Scenario = make("freset");
    it(`${scenario.label}: connections reset mid-response after the server committed; retries neither lose nor duplicate`, async () => {
      const report = await crashAndResume(
        scenario,
        options("reset", { runs: [{ ...withFaults({ fault: "reset", every: 3, count: 6, ...WRITES }) }] }),
      );
      expect(firedTotal()).toBe(6);
      expect(report.rejected, "a retried write of a committed row reported as rejected").toBe(0);
      expect(report.duplicated).toBe(0);
    });
  }

  // The documented at-least-once case (docs/reliability.md): a plain create whose answer was lost to a
  // reset is sent again and may land twice. Nothing may be lost; the duplicates are counted.
  it("plain create without a key under resets: nothing lost, duplicates only from resent requests", async () => {
    const resets = 3;
    const report = await crashAndResume(
      opportunityCreateNoKey("freset"),
      options("reset plain create", { runs: [{ ...withFaults({ fault: "reset", every: 3, count: resets, ...WRITES }) }] }),
    );
    expect(firedTotal()).toBe(resets);
    expect(report.rejected).toBe(0);
    // At most the rows of the requests that were reset (batch_size each) can be doubled.
    expect(report.duplicated).toBeLessThanOrEqual(resets * SETTINGS.batch_size);
    process.stderr.write(`[faults] plain create under ${resets} resets: ${report.duplicated} duplicated rows\n`);
  });

  // A retried request must not overwrite a newer version of the same row that went out after it.
  // (The lost update this pinned: src/pipeline/sync.ts sent two batches holding the same row at
  // once; src/pipeline/row-order.test.ts reproduces the race deterministically.)
  it("the same key in consecutive batches: an earlier batch retried after a 503 does not overwrite a later one", async () => {
    const keys = 20;
    const report = await crashAndResume(
      contactVersions("fver", keys, 10),
      options("versions", {
        records: keys * 10,
        settings: { ...SETTINGS, batch_size: keys },
        runs: [{ ...withFaults({ fault: "status", status: 503, after: 1, every: 3, count: 4, ...WRITES }) }],
      }),
    );
    expect(firedTotal()).toBe(4);
    expect(report.rejected).toBe(0);
  });

  // About 10 s. It once found the throttle's lost wake-up (known-bugs.test.ts pins it).
  // Whether a rate limit (20 requests per 3 s) is reached depends on how fast this machine is, so the
  // limit the case relies on is the concurrency one, which is reached whatever the speed: the
  // emulator holds each request for its modelled execution time (latency on, 50 ms a request), the
  // connector starts at the x-ms-dop-hint of 4 writes in flight, and 3 are allowed per user.
  it("real service protection limits (scaled preset, 3 concurrent requests, 20 per 3 s): throttled, not failed, nothing lost", async () => {
    const limited = await startTestEmulator({
      limits: { ...LIMIT_PRESETS.scaled, maxRequests: 20, maxConcurrent: 3, cost: { ...LIMIT_PRESETS.scaled.cost, requestMs: 50 } },
      latency: true,
      environment: environmentWithReader(),
    });
    try {
      const report = await crashAndResume(contactUpsert("flimits"), {
        ...options("limits"),
        records: 400,
        connection: limited.connection,
        readerCredentials: { client_id: READER_APP.clientId, client_secret: READER_APP.secret },
        settings: { ...SETTINGS, batch_size: 10 },
        runs: [{}],
      });
      const stats = limited.emulator.stats();
      expect(stats.throttled.byKind.concurrency, "the concurrency limit was never hit: the case tests nothing").toBeGreaterThan(0);
      expect(stats.throttled.injected).toBe(0);
      process.stderr.write(`[faults] limits: ${JSON.stringify(stats.throttled.byKind)}\n`);
      expect(report.rejected).toBe(0);
    } finally {
      await limited.close();
    }
  });

  it("slow answers are waited for", async () => {
    const report = await crashAndResume(
      contactUpsert("fslow"),
      options("slow", { runs: [{ ...withFaults({ fault: "delay", delayMs: 1_500, every: 4, count: 4, ...WRITES }) }] }),
    );
    expect(firedTotal()).toBe(4);
    expect(report.rejected).toBe(0);
  });

  // The connector's request timeout is not configurable (4 minutes by default in src/http/transport.ts),
  // so a hung request costs that long: run it only when asked.
  it.skipIf(process.env["RELIABILITY_SLOW"] !== "1")("a request that never gets an answer times out and is retried", async () => {
    const report = await crashAndResume(
      contactUpsert("fhang"),
      options("hang", { runs: [{ ...withFaults({ fault: "hang", after: 3, count: 1, ...WRITES }) }], runTimeoutMs: 600_000 }),
    );
    expect(report.rejected).toBe(0);
  }, 700_000);

  it("413: a request too large is split and resent", async () => {
    const report = await crashAndResume(
      contactUpsert("f413"),
      options("413", { runs: [{ ...withFaults({ fault: "too-large", after: 1, count: 2, ...WRITES }) }] }),
    );
    expect(firedTotal()).toBe(2);
    expect(report.rejected).toBe(0);
  });

  it("a token revoked mid-sync: one new token, and the sync goes on", async () => {
    const report = await crashAndResume(
      contactUpsert("frevoke1"),
      options("revoke once", { runs: [{ ...withFaults({ fault: "revoke-tokens", after: 4, count: 1, ...WRITES }) }] }),
    );
    expect(firedTotal()).toBe(1);
    expect(report.rejected).toBe(0);
  });

  it("a token that keeps failing: a config_error TRACE, no state ahead, and a clean resume", async () => {
    const scenario = contactUpsert("frevoke");
    const report = await crashAndResume(
      scenario,
      options("revoke always", {
        runs: [
          {
            ...withFaults({ fault: "revoke-tokens", after: 3, ...WRITES }),
            expectFailure: "config_error",
            check: (result) => {
              // A refresh once, not a loop: a handful of 401s, not hundreds.
              const fired = firedTotal();
              expect(fired).toBeGreaterThanOrEqual(2);
              expect(fired).toBeLessThanOrEqual(2 * SETTINGS.max_concurrency + 2);
              expect(result.elapsedMs).toBeLessThan(30_000);
            },
            after: () => emu.emulator.faults.clear(),
          },
          {},
        ],
      }),
    );
    expect(report.rejected).toBe(0);
  });

  it("throttled past the retry budget: transient_error, no state ahead, and a clean resume", async () => {
    const report = await crashAndResume(
      contactUpsert("fbudget"),
      options("budget", {
        settings: { ...SETTINGS, retry_budget_seconds: 2 },
        runs: [
          {
            ...withFaults({ fault: "throttle", retryAfterSeconds: 3, after: 2, ...WRITES }),
            expectFailure: "transient_error",
            check: (result) => {
              process.stderr.write(`[faults] budget spent after ${result.elapsedMs} ms\n`);
              expect(result.elapsedMs).toBeLessThan(30_000);
            },
            after: () => emu.emulator.faults.clear(),
          },
          {},
        ],
      }),
    );
    expect(report.rejected).toBe(0);
  });

  it("a $batch in which some parts fail for their content, under a 503 burst: only those records are rejected", async () => {
    const bad = (i: number): boolean => i % 10 === 7;
    const base = contactUpsert("fparts");
    const scenario: Scenario = {
      ...base,
      streamConfig: {
        ...base.streamConfig,
        fields: { account_number: { column: "parentcustomerid", lookup: { table: "account", by: "alternate_key", key_columns: ["accountnumber"] } } },
      },
      // The bad ones point at an account that does not exist: Dataverse refuses the part (404).
      record: (i) => ({ ...base.record(i), ...(bad(i) ? { account_number: `NOPE-${i}` } : {}) }),
      expectRejected: bad,
    };
    const report = await crashAndResume(
      scenario,
      options("parts", {
        settings: { ...SETTINGS, use_bulk_actions: false, max_rejected_share: 0.5 },
        runs: [{ ...withFaults({ fault: "status", status: 503, after: 1, count: 4, ...WRITES }) }],
      }),
    );
    expect(report.rejected).toBe(Array.from({ length: RECORDS }, (_, i) => i).filter(bad).length);
  });
});
