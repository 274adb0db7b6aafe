import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LIMIT_PRESETS, ServiceProtection, costOf, resolveLimits, theoreticalRecordsPerSecond, type LimitsConfig } from "./limits.js";

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** One request that completes at once. */
function hit(p: ServiceProtection, user = "u"): void {
  const a = p.admit(user);
  if (a.ok) a.ticket.finish(0);
}

const small: LimitsConfig = { ...LIMIT_PRESETS.microsoft, windowSeconds: 10, maxRequests: 3, maxExecutionMs: 1000, maxConcurrent: 2, penaltyMs: 1000 };

describe("ServiceProtection", () => {
  it("lets the request budget be used in full, then answers 0x80072322 with the time until the oldest request leaves the window", () => {
    const c = clock();
    const p = new ServiceProtection(small, c.now);
    for (let i = 0; i < 3; i++) {
      const a = p.admit("u");
      expect(a.ok).toBe(true);
      if (a.ok) a.ticket.finish(0);
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
    first.ticket.finish(1000); // exactly the budget: not exceeded yet
    c.advance(2000);
    const second = p.admit("u");
    if (!second.ok) throw new Error("admit");
    second.ticket.finish(500);
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
    if (a.ok) a.ticket.finish(0);
    expect(p.admit("u").ok).toBe(true);
    if (b.ok) b.ticket.finish(0);
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

  it("admits everything when disabled but still reports the remaining budgets", () => {
    const p = new ServiceProtection({ ...small, enabled: false }, clock().now);
    for (let i = 0; i < 10; i++) {
      const a = p.admit("u");
      expect(a.ok).toBe(true);
      if (i === 9 && a.ok) {
        a.ticket.finish(250);
        expect(a.ticket.headers()).toEqual({
          "x-ms-ratelimit-burst-remaining-xrm-requests": "0",
          "x-ms-ratelimit-time-remaining-xrm-requests": "0.75",
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

describe("cost model and presets", () => {
  it("charges bulk records less than single-request or $batch records", () => {
    const m = LIMIT_PRESETS.microsoft.cost;
    expect(costOf(m, { records: 1000, bulk: true })).toBeLessThan(costOf(m, { records: 1000, bulk: false }));
    expect(costOf(m, undefined)).toBe(m.requestMs);
  });

  it("gives one user about 266 bulk-upserted records per second under Microsoft's limits", () => {
    const rate = theoreticalRecordsPerSecond(LIMIT_PRESETS.microsoft, 1000, true);
    expect(rate).toBeGreaterThan(250);
    expect(rate).toBeLessThan(280);
    expect(theoreticalRecordsPerSecond(LIMIT_PRESETS.off, 1000, true)).toBe(Infinity);
  });

  it("the scaled preset is Microsoft's divided by 100 in time and request budget", () => {
    const { microsoft, scaled } = LIMIT_PRESETS;
    expect(scaled.windowSeconds * 100).toBe(microsoft.windowSeconds);
    expect(scaled.maxRequests * 100).toBe(microsoft.maxRequests);
    expect(scaled.maxExecutionMs * 100).toBe(microsoft.maxExecutionMs);
    expect(scaled.cost.bulkRecordMs * 100).toBeCloseTo(microsoft.cost.bulkRecordMs);
  });

  it("reads a limits file whose fields override a preset", () => {
    const dir = mkdtempSync(join(tmpdir(), "limits-"));
    const file = join(dir, "limits.json");
    writeFileSync(file, JSON.stringify({ preset: "scaled", maxRequests: 5, cost: { bulkRecordMs: 2 } }));
    const config = resolveLimits(file);
    expect(config).toMatchObject({ enabled: true, windowSeconds: 3, maxRequests: 5, cost: { requestMs: 0.2, bulkRecordMs: 2 } });
    expect(resolveLimits(undefined).enabled).toBe(false);
    expect(() => resolveLimits(join(dir, "missing.json"))).toThrow(/not a preset/);
    writeFileSync(file, JSON.stringify({ maxRequests: -1 }));
    expect(() => resolveLimits(file)).toThrow(/maxRequests/);
  });
});
