import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  LIMIT_PRESETS,
  ServiceProtection,
  operationMs,
  requestMs,
  resolveLimits,
  theoreticalRecordsPerSecond,
  timeScaled,
  type LimitsConfig,
} from "./limits.js";

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** One request that completes at once. */
function hit(p: ServiceProtection, user = "u"): void {
  const a = p.admit(user);
  if (a.ok) a.ticket.finish();
}

const small: LimitsConfig = { ...LIMIT_PRESETS.microsoft, windowSeconds: 10, maxRequests: 3, maxExecutionMs: 1000, maxConcurrent: 2, penaltyMs: 1000 };

describe("ServiceProtection", () => {
  it("lets the request budget be used in full, then answers 0x80072322 with the time until the oldest request leaves the window", () => {
    const c = clock();
    const p = new ServiceProtection(small, c.now);
    for (let i = 0; i < 3; i++) {
      const a = p.admit("u");
      expect(a.ok).toBe(true);
      if (a.ok) a.ticket.finish();
      c.advance(1000);
    }
    const refused = p.admit("u");
    expect(refused).toMatchObject({ ok: false, kind: "requests", code: "0x80072322", retryAfterSeconds: 7 });
    if (!refused.ok) expect(refused.message).toBe("Number of requests exceeded the limit of 3 over time window of 10 seconds.");
    c.advance(7000);
    expect(p.admit("u").ok).toBe(true);
  });

  it("counts users separately", () => {
    const p = new ServiceProtection(small, clock().now);
    for (let i = 0; i < 3; i++) hit(p, "a");
    expect(p.admit("a").ok).toBe(false);
    expect(p.admit("b").ok).toBe(true);
  });

  it("throttles on execution time only after the budget is exceeded, until enough of it leaves the window", () => {
    const c = clock();
    const p = new ServiceProtection({ ...small, maxRequests: 100 }, c.now);
    const first = p.admit("u");
    if (!first.ok) throw new Error("admit");
    first.ticket.start(1000); // exactly the budget: not exceeded yet
    first.ticket.finish();
    c.advance(2000);
    const second = p.admit("u");
    if (!second.ok) throw new Error("admit");
    second.ticket.start(500);
    second.ticket.finish();
    c.advance(1000);
    const refused = p.admit("u");
    expect(refused).toMatchObject({ ok: false, kind: "execution", code: "0x80072321" });
    // The first booking (at t0) must leave the window (t0 + 10 s); now is t0 + 3 s.
    if (!refused.ok) {
      expect(refused.retryAfterSeconds).toBe(7);
      expect(refused.message).toBe(
        "Combined execution time of incoming requests exceeded limit of 1,000  milliseconds over time window of 10 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.",
      );
    }
  });

  it("refuses concurrent requests beyond the limit at once and frees the slot on finish", () => {
    const p = new ServiceProtection(small, clock().now);
    const a = p.admit("u");
    const b = p.admit("u");
    const c = p.admit("u");
    expect(c).toMatchObject({ ok: false, kind: "concurrency", code: "0x80072326", retryAfterSeconds: 1 });
    if (!c.ok) expect(c.message).toBe("Number of concurrent requests exceeded the limit of 2.");
    if (a.ok) a.ticket.finish();
    expect(p.admit("u").ok).toBe(true);
    if (b.ok) b.ticket.finish();
  });

  it("grows Retry-After for a client that keeps sending while throttled", () => {
    const c = clock();
    const p = new ServiceProtection(small, c.now);
    for (let i = 0; i < 3; i++) hit(p);
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = p.admit("u");
      if (!r.ok) waits.push(r.retryAfterSeconds);
    }
    expect(waits).toEqual([10, 10, 10, 10]); // capped at the window: already at the window's end
    const c2 = clock();
    const q = new ServiceProtection({ ...small, windowSeconds: 100 }, c2.now);
    for (let i = 0; i < 3; i++) hit(q);
    c2.advance(90_000);
    const grown: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = q.admit("u");
      if (!r.ok) grown.push(r.retryAfterSeconds);
    }
    expect(grown).toEqual([10, 11, 13, 17]);
  });

  it("admits everything when disabled and reports the whole budgets as remaining (nothing is held against the user)", () => {
    const p = new ServiceProtection({ ...small, enabled: false }, clock().now);
    for (let i = 0; i < 10; i++) {
      const a = p.admit("u");
      expect(a.ok).toBe(true);
      if (i === 9 && a.ok) {
        a.ticket.start(250);
        a.ticket.finish();
        expect(a.ticket.headers()).toEqual({
          "x-ms-ratelimit-burst-remaining-xrm-requests": "3",
          "x-ms-ratelimit-time-remaining-xrm-requests": "1.00",
        });
      }
    }
  });

  it("formats the time header like the captured '1,200.00'", () => {
    const p = new ServiceProtection(LIMIT_PRESETS.microsoft, clock().now);
    const a = p.admit("u");
    expect(a.ok).toBe(true);
    if (!a.ok) return;
    expect(a.ticket.headers()["x-ms-ratelimit-time-remaining-xrm-requests"]).toBe("1,200.00");
  });
});

describe("ServiceProtection books execution time when a request starts", () => {
  it("counts a running request against the budget before it completes", () => {
    const c = clock();
    const p = new ServiceProtection({ ...small, maxRequests: 100, maxConcurrent: 10 }, c.now);
    const running = p.admit("u");
    if (!running.ok) throw new Error("admit");
    running.ticket.start(1500); // over the 1,000 ms budget, still running
    c.advance(100);
    expect(p.admit("u")).toMatchObject({ ok: false, kind: "execution", retryAfterSeconds: 10 });
    running.ticket.finish();
  });

  it("reports the remaining time and requests of the caller's window, running requests included", () => {
    const c = clock();
    const p = new ServiceProtection({ ...small, maxRequests: 100, maxConcurrent: 10 }, c.now);
    const a = p.admit("u");
    const b = p.admit("u");
    if (!a.ok || !b.ok) throw new Error("admit");
    a.ticket.start(300);
    b.ticket.start(200); // still running when a's answer goes out
    a.ticket.finish();
    expect(a.ticket.headers()).toEqual({
      "x-ms-ratelimit-burst-remaining-xrm-requests": "98",
      "x-ms-ratelimit-time-remaining-xrm-requests": "0.50",
    });
    c.advance(10_001); // both bookings and both requests have left the window
    b.ticket.finish();
    expect(b.ticket.headers()).toEqual({
      "x-ms-ratelimit-burst-remaining-xrm-requests": "100",
      "x-ms-ratelimit-time-remaining-xrm-requests": "1.00",
    });
  });
});

/**
 * A client that keeps `inFlight` requests of `costMs` running (latency = modelled execution time)
 * and, on a 429, pauses every send for Retry-After seconds, on a virtual clock. Returns the
 * execution time the service admitted after the first window, as a share of the steady-state
 * ceiling E / W over the same time.
 */
function simulate(config: LimitsConfig, inFlight: number, costMs: number, windows: number, bookAtStart: boolean): number {
  let now = 0;
  const p = new ServiceProtection(config, () => now);
  const windowMs = config.windowSeconds * 1000;
  const end = windows * windowMs;
  let pauseUntil = 0;
  let admittedAfterFirstWindow = 0;
  // Events: a slot becomes free at `at` (a completion, or the end of a pause).
  type Slot = { at: number; finish?: () => void };
  const slots: Slot[] = Array.from({ length: inFlight }, () => ({ at: 0 }));
  for (;;) {
    slots.sort((x, y) => x.at - y.at);
    const slot = slots[0];
    if (slot === undefined || slot.at >= end) break;
    now = slot.at;
    slot.finish?.();
    delete slot.finish;
    if (now < pauseUntil) {
      slot.at = pauseUntil;
      continue;
    }
    const a = p.admit("u");
    if (!a.ok) {
      pauseUntil = now + a.retryAfterSeconds * 1000;
      slot.at = pauseUntil;
      continue;
    }
    if (bookAtStart) a.ticket.start(costMs);
    if (now >= windowMs) admittedAfterFirstWindow += costMs;
    slot.at = now + costMs;
    slot.finish = bookAtStart
      ? () => a.ticket.finish()
      : () => {
          a.ticket.start(costMs); // booked only as it completes: the behaviour this replaced
          a.ticket.finish();
        };
  }
  const ceiling = (config.maxExecutionMs / windowMs) * (end - windowMs);
  return admittedAfterFirstWindow / ceiling;
}

describe("a client keeping 52 bulk requests in flight", () => {
  const faithful = LIMIT_PRESETS.faithful;
  const bulk = requestMs(faithful.cost, [{ kind: "upsertMultiple", rows: 1000 }]);

  it("gets at most 105 % of the steady-state execution ceiling after the first window under the faithful preset", () => {
    const share = simulate(faithful, 52, bulk, 20, true);
    expect(share).toBeLessThanOrEqual(1.05);
    expect(share).toBeGreaterThan(0.9); // and the budget is still usable in full
  });

  it("got far more when execution time was booked at completion (the behaviour this replaces)", () => {
    expect(simulate(faithful, 52, bulk, 20, false)).toBeGreaterThan(1.3);
  });

  it("holds under Microsoft's own limits too", () => {
    const microsoft = LIMIT_PRESETS.microsoft;
    const cost = requestMs(microsoft.cost, [{ kind: "upsertMultiple", rows: 1000 }]);
    expect(simulate(microsoft, 52, cost, 12, true)).toBeLessThanOrEqual(1.05);
  });
});

describe("cost model and presets", () => {
  it("charges each operation kind its calibrated cost; a bulk record less than the same record through a single request or $batch part", () => {
    const m = LIMIT_PRESETS.microsoft.cost;
    expect(operationMs(m, { kind: "upsertMultiple", rows: 1000 })).toBe(20_000);
    expect(operationMs(m, { kind: "createMultiple", rows: 1000 })).toBe(11_000);
    expect(operationMs(m, { kind: "updateMultiple", rows: 1000 })).toBe(30_000);
    expect(operationMs(m, { kind: "upsert", rows: 1 })).toBe(40);
    expect(operationMs(m, { kind: "read", rows: 50 })).toBe(50);
    expect(operationMs(m, { kind: "metadata", rows: 1 })).toBe(250);
    expect(operationMs(m, { kind: "create", rows: 1, pluginMs: 300 })).toBe(340);
    // A $batch of 1000 upserts: one request, 1000 parts at the single-upsert cost.
    const batch = requestMs(m, Array.from({ length: 1000 }, () => ({ kind: "upsert" as const, rows: 1 })));
    expect(batch).toBe(60 + 40_000);
    expect(requestMs(m, [{ kind: "upsertMultiple", rows: 1000 }])).toBeLessThan(batch);
    expect(requestMs(m, [])).toBe(m.requestMs);
  });

  it("gives one user about 199 bulk-upserted records per second under Microsoft's limits", () => {
    const rate = theoreticalRecordsPerSecond(LIMIT_PRESETS.microsoft, 1000);
    // 1,200,000 ms / 300 s / 20.06 s per 1000-record UpsertMultiple × 1000 records.
    expect(rate).toBeCloseTo(199.4, 1);
    expect(theoreticalRecordsPerSecond(LIMIT_PRESETS.off, 1000)).toBe(Infinity);
  });

  it("the faithful preset is Microsoft's with every duration divided by 10 and every count kept", () => {
    const { microsoft, faithful } = LIMIT_PRESETS;
    expect(faithful).toMatchObject({ enabled: true, windowSeconds: 30, maxRequests: 6000, maxExecutionMs: 120_000, maxConcurrent: 52, penaltyMs: 100, timeScale: 0.1, dopHint: 4 });
    for (const [key, value] of Object.entries(microsoft.cost)) {
      expect(faithful.cost[key as keyof typeof faithful.cost] * 10, key).toBeCloseTo(value, 9);
    }
    // Same shape: every ceiling is Microsoft's times 10, for any request size and kind.
    for (const [n, kind] of [[1, "upsert"], [1000, "upsertMultiple"], [100, "create"], [1000, "updateMultiple"]] as const) {
      expect(theoreticalRecordsPerSecond(faithful, n, kind)).toBeCloseTo(10 * theoreticalRecordsPerSecond(microsoft, n, kind), 6);
    }
    // Retry-After is whole seconds: its rounding is at most 1 s, 3.3 % of a 30 s window.
    expect(1 / faithful.windowSeconds).toBeLessThanOrEqual(0.05);
    expect(timeScaled(microsoft, 1)).toEqual(microsoft);
  });

  it("the scaled preset is the fast test preset: time divided by 100, only 60 requests per 3 s window", () => {
    const { microsoft, scaled } = LIMIT_PRESETS;
    expect(scaled.windowSeconds * 100).toBe(microsoft.windowSeconds);
    expect(scaled.maxRequests).toBe(60);
    expect(scaled.maxExecutionMs * 100).toBe(microsoft.maxExecutionMs);
    expect(scaled.cost.upsertMultipleRecordMs * 100).toBeCloseTo(microsoft.cost.upsertMultipleRecordMs);
  });

  it("reads a limits file whose fields override a preset", () => {
    const dir = mkdtempSync(join(tmpdir(), "limits-"));
    const file = join(dir, "limits.json");
    writeFileSync(file, JSON.stringify({ preset: "scaled", maxRequests: 5, cost: { bulkRecordMs: 2, upsertMultipleRecordMs: 3 } }));
    const config = resolveLimits(file);
    expect(config).toMatchObject({
      enabled: true,
      windowSeconds: 3,
      maxRequests: 5,
      cost: { requestMs: 0.6, createMultipleRecordMs: 2, updateMultipleRecordMs: 2, upsertMultipleRecordMs: 3, upsertMs: 0.4 },
    });
    expect(resolveLimits("faithful")).toBe(LIMIT_PRESETS.faithful);
    expect(resolveLimits(undefined).enabled).toBe(false);
    expect(() => resolveLimits(join(dir, "missing.json"))).toThrow(/not a preset/);
    writeFileSync(file, JSON.stringify({ maxRequests: -1 }));
    expect(() => resolveLimits(file)).toThrow(/maxRequests/);
  });
});
