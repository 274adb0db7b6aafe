import { describe, expect, it } from "vitest";
import { ManualClock } from "./clock.js";
import { classifyStatus, defaultBackoff, nextDelay, parseRetryAfter, RetryBudget, RetryBudgetExhaustedError, withRetry } from "./retry.js";

describe("parseRetryAfter", () => {
  it.each([
    ["2", 2000],
    ["0", 0],
    ["1.5", 1500],
  ])("%s → %d ms", (v, ms) => expect(parseRetryAfter(v)).toBe(ms));
  it("reads an HTTP date relative to now", () => {
    const now = Date.parse("Wed, 21 Oct 2026 07:28:00 GMT");
    expect(parseRetryAfter("Wed, 21 Oct 2026 07:28:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Wed, 21 Oct 2026 07:27:00 GMT", now)).toBe(0);
  });
  it("ignores absent or garbage values", () => {
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter("")).toBeUndefined();
  });
});

describe("classifyStatus", () => {
  it.each([429, 502, 503, 504])("%d is retryable", (s) => expect(classifyStatus(s, {}).retryable).toBe(true));
  it.each([200, 204, 400, 401, 403, 404, 412, 413])("%d is final", (s) => expect(classifyStatus(s, {}).retryable).toBe(false));
  it("header names match case-insensitively", () => {
    expect(classifyStatus(429, { "Retry-After": "7" })).toEqual({ retryable: true, retryAfterMs: 7000 });
  });
});

describe("nextDelay", () => {
  it("honours Retry-After in full, with a jitter of up to a tenth on top (no longer exactly: the jitter)", () => {
    const b = { baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.99 };
    expect(nextDelay(5, { retryable: true, retryAfterMs: 2000 }, b)).toBe(2198);
    expect(nextDelay(5, { retryable: true, retryAfterMs: 2000 }, { ...b, random: () => 0 })).toBe(2000);
  });
  it("given Retry-After: 0 again and again, waits at least the floor plus jitter each time, so 100 retries take more than 25 s", () => {
    const waits = Array.from({ length: 100 }, (_, i) => nextDelay(i + 1, { retryable: true, retryAfterMs: 0 }, { ...defaultBackoff, random: () => 0.5 }));
    for (const w of waits) expect(w).toBe(375);
    expect(waits.reduce((a, b) => a + b, 0)).toBeGreaterThan(25_000);
    expect(nextDelay(1, { retryable: true, retryAfterMs: 0 }, { ...defaultBackoff, random: () => 0 })).toBe(250);
  });
  it("never waits under the floor without server timing either", () => {
    expect(nextDelay(1, { retryable: true }, { baseDelayMs: 10, maxDelayMs: 20, minDelayMs: 250, random: () => 0 })).toBe(250);
  });
  it("grows exponentially with equal jitter when the server gave no timing", () => {
    const b = { baseDelayMs: 100, maxDelayMs: 1000, random: () => 0 };
    expect([1, 2, 3, 4, 5].map((n) => nextDelay(n, { retryable: true }, b))).toEqual([50, 100, 200, 400, 500]);
    const top = { ...b, random: () => 1 };
    expect([1, 2, 3].map((n) => nextDelay(n, { retryable: true }, top))).toEqual([100, 200, 400]);
  });
});

describe("withRetry", () => {
  it("given a 429 with Retry-After 2, waits 2 s and resends once", async () => {
    const clock = new ManualClock();
    const answers = [{ status: 429, headers: { "retry-after": "2" } }, { status: 204, headers: {} }];
    const sentAt: number[] = [];
    const p = withRetry(
      async () => {
        sentAt.push(clock.now());
        return answers.shift() ?? { status: 500, headers: {} };
      },
      (o) => (o.ok ? classifyStatus(o.value.status, o.value.headers) : { retryable: false }),
      { clock, budget: new RetryBudget(60_000), backoff: { ...defaultBackoff, random: () => 0 } },
    );
    await clock.advance(1999);
    expect(sentAt).toEqual([0]);
    await clock.advance(1);
    await expect(p).resolves.toEqual({ status: 204, headers: {} });
    expect(sentAt).toEqual([0, 2000]);
  });

  it("gives up without waiting when the Retry-After does not fit in the budget", async () => {
    const clock = new ManualClock();
    let calls = 0;
    const p = withRetry(
      async () => {
        calls++;
        return { status: 429, headers: { "retry-after": "30" } };
      },
      (o) => (o.ok ? classifyStatus(o.value.status, o.value.headers) : { retryable: false }),
      { clock, budget: new RetryBudget(45_000), backoff: { ...defaultBackoff, random: () => 0 } },
    );
    const settled = p.catch((e: unknown) => e);
    await clock.advance(30_000);
    const err = await settled;
    expect(err).toBeInstanceOf(RetryBudgetExhaustedError);
    expect(calls).toBe(2);
    expect((err as RetryBudgetExhaustedError).spentMs).toBe(30_000);
    expect(clock.now()).toBe(30_000);
  });

  it("the budget is the total of all waits, not a cap per wait", async () => {
    const clock = new ManualClock();
    let calls = 0;
    const p = withRetry(
      async () => {
        calls++;
        return 503;
      },
      () => ({ retryable: true, retryAfterMs: 4000 }),
      { clock, budget: new RetryBudget(10_000) },
    ).catch((e: unknown) => e);
    await clock.advance(60_000);
    expect(await p).toBeInstanceOf(RetryBudgetExhaustedError);
    expect(calls).toBe(3);
  });

  it("rethrows a final error at once", async () => {
    const clock = new ManualClock();
    const boom = new Error("final");
    await expect(withRetry(async () => Promise.reject(boom), () => ({ retryable: false }), { clock, budget: new RetryBudget(1000) })).rejects.toBe(boom);
  });
});
