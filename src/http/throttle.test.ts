import { describe, expect, it } from "vitest";
import { ManualClock } from "./clock.js";
import { Throttle, ThrottlePool } from "./throttle.js";

describe("Throttle (AIMD)", () => {
  it("starts at the hint and never exceeds the max", () => {
    const clock = new ManualClock();
    expect(new Throttle({ clock, initial: 8, max: 100 }).limit).toBe(8);
    expect(new Throttle({ clock, initial: 80, max: 10 }).limit).toBe(10);
  });

  it("grows by one per healthy answer until the first sign of overload (slow start), then by one per full window", () => {
    const clock = new ManualClock();
    const t = new Throttle({ clock, initial: 4, max: 52 });
    for (let i = 0; i < 4; i++) t.tryAcquire()?.release({ kind: "ok", latencyMs: 100 });
    expect(t.limit).toBe(8);
    t.tryAcquire()?.release({ kind: "overloaded" });
    expect(t.limit).toBe(6);
    for (let i = 0; i < 5; i++) t.tryAcquire()?.release({ kind: "ok", latencyMs: 100 });
    expect(t.limit).toBe(6);
    t.tryAcquire()?.release({ kind: "ok", latencyMs: 100 });
    expect(t.limit).toBe(7);
    for (let i = 0; i < 7; i++) t.tryAcquire()?.release({ kind: "ok", latencyMs: 100 });
    expect(t.limit).toBe(8);
  });

  it("slow start stops at max and after a 429", async () => {
    const t = new Throttle({ clock: new ManualClock(), initial: 4, max: 10 });
    for (let i = 0; i < 20; i++) t.tryAcquire()?.release({ kind: "ok", latencyMs: 100 });
    expect(t.limit).toBe(10);
    const clock = new ManualClock();
    const u = new Throttle({ clock, initial: 8, max: 52 });
    u.tryAcquire()?.release({ kind: "throttled", retryAfterMs: 1000 });
    expect(u.limit).toBe(4);
    await clock.advance(1000);
    for (let i = 0; i < 4; i++) u.tryAcquire()?.release({ kind: "ok", latencyMs: 100 });
    expect(u.limit).toBe(5);
  });

  it("hands out at most `limit` slots", () => {
    const t = new Throttle({ clock: new ManualClock(), initial: 2, max: 52 });
    expect(t.tryAcquire()).toBeDefined();
    expect(t.tryAcquire()).toBeDefined();
    expect(t.tryAcquire()).toBeUndefined();
  });

  it("halves on a 429 and pauses every send until Retry-After has passed", async () => {
    const clock = new ManualClock();
    const t = new Throttle({ clock, initial: 20, max: 52 });
    const a = t.tryAcquire();
    const b = t.tryAcquire();
    a?.release({ kind: "throttled", retryAfterMs: 5000 });
    expect(t.limit).toBe(10);
    expect(t.tryAcquire()).toBeUndefined();
    let got = false;
    const waiting = t.acquire().then((s) => {
      got = true;
      return s;
    });
    // The other request was sent before the decrease: its 429 extends nothing and does not halve again.
    b?.release({ kind: "throttled", retryAfterMs: 5000 });
    expect(t.limit).toBe(10);
    await clock.advance(4999);
    expect(got).toBe(false);
    await clock.advance(1);
    await waiting;
    expect(got).toBe(true);
    expect(t.stats().throttled429).toBe(2);
    expect(t.stats().pausedMs).toBe(5000);
  });

  it("shrinks when latency rises and stops growing", () => {
    const clock = new ManualClock();
    const t = new Throttle({ clock, initial: 22, max: 52 });
    // Out of slow start first: from here growth is one per window.
    t.tryAcquire()?.release({ kind: "overloaded" });
    expect(t.limit).toBe(16);
    for (let i = 0; i < 16; i++) t.tryAcquire()?.release({ kind: "ok", latencyMs: 100 });
    expect(t.limit).toBe(17);
    for (let i = 0; i < 10; i++) t.tryAcquire()?.release({ kind: "ok", latencyMs: 1000 });
    expect(t.limit).toBe(12);
    // One shrink per window: the next slow answers right after it do not collapse the limit.
    for (let i = 0; i < 2; i++) t.tryAcquire()?.release({ kind: "ok", latencyMs: 1000 });
    expect(t.limit).toBe(12);
    // A full window (12 answers) of high latency later, it shrinks again.
    t.tryAcquire()?.release({ kind: "ok", latencyMs: 1000 });
    expect(t.limit).toBe(9);
  });

  it("normalises latency by the rows in the request", () => {
    const clock = new ManualClock();
    const t = new Throttle({ clock, initial: 4, max: 52 });
    t.tryAcquire()?.release({ kind: "ok", latencyMs: 10, units: 1 });
    for (let i = 0; i < 3; i++) t.tryAcquire()?.release({ kind: "ok", latencyMs: 9000, units: 1000 });
    // 9 ms per row is no rise over 10 ms for one: every answer grew the limit (slow start).
    expect(t.limit).toBe(8);
  });

  it("answers without a latency sample (reads) grow the limit but never shrink it", () => {
    const t = new Throttle({ clock: new ManualClock(), initial: 2, max: 52 });
    t.tryAcquire()?.release({ kind: "ok", latencyMs: 1, units: 1 });
    for (let i = 0; i < 9; i++) t.tryAcquire()?.release({ kind: "ok" });
    expect(t.limit).toBe(12);
  });

  it("startAt sets the limit to the dop hint, lower or higher than the default, within the bounds", () => {
    const t = new Throttle({ clock: new ManualClock(), initial: 4, max: 10 });
    t.startAt(2);
    expect(t.limit).toBe(2);
    expect(t.tryAcquire()).toBeDefined();
    expect(t.tryAcquire()).toBeDefined();
    expect(t.tryAcquire()).toBeUndefined();
    t.startAt(7);
    expect(t.limit).toBe(7);
    t.startAt(100);
    expect(t.limit).toBe(10);
    t.startAt(0);
    expect(t.limit).toBe(1);
  });

  it("server errors shrink without pausing", () => {
    const t = new Throttle({ clock: new ManualClock(), initial: 8, max: 52 });
    t.tryAcquire()?.release({ kind: "overloaded" });
    expect(t.limit).toBe(6);
    expect(t.paused).toBe(false);
  });
});

describe("ThrottlePool", () => {
  it("gives work to the user with room while another is paused", async () => {
    const clock = new ManualClock();
    const a = new Throttle({ clock, initial: 2, max: 52, label: "a" });
    const b = new Throttle({ clock, initial: 2, max: 52, label: "b" });
    const pool = new ThrottlePool([a, b]);
    a.pause(10_000);
    const got = [await pool.acquire(), await pool.acquire()];
    expect(got.map((g) => g.index)).toEqual([1, 1]);
    let third: number | undefined;
    const pending = pool.acquire().then((g) => (third = g.index));
    await clock.advance(100);
    expect(third).toBeUndefined();
    got[0]?.permit.release({ kind: "neutral" });
    await pending;
    expect(third).toBe(1);
  });

  it("spreads over users by spare capacity", () => {
    const clock = new ManualClock();
    const pool = new ThrottlePool([new Throttle({ clock, initial: 3, max: 52 }), new Throttle({ clock, initial: 3, max: 52 })]);
    const idx = Array.from({ length: 6 }, () => pool.tryAcquire()?.index);
    expect(idx.filter((i) => i === 0)).toHaveLength(3);
    expect(idx.filter((i) => i === 1)).toHaveLength(3);
    expect(pool.tryAcquire()).toBeUndefined();
  });

  it("takes turns when every user is idle at each pick (one request at a time)", () => {
    const clock = new ManualClock();
    const pool = new ThrottlePool([0, 1, 2].map((i) => new Throttle({ clock, initial: 4, max: 52, label: `u${i}` })));
    const picked: number[] = [];
    for (let k = 0; k < 9; k++) {
      const got = pool.tryAcquire();
      if (got === undefined) throw new Error("no permit");
      picked.push(got.index);
      got.permit.release({ kind: "ok" });
    }
    expect(picked).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2]);
  });

  it("prefers the least loaded user relative to its limit", () => {
    const clock = new ManualClock();
    const big = new Throttle({ clock, initial: 8, max: 52 });
    const small = new Throttle({ clock, initial: 2, max: 52 });
    const pool = new ThrottlePool([big, small]);
    const idx = Array.from({ length: 10 }, () => pool.tryAcquire()?.index);
    expect(idx.filter((i) => i === 0)).toHaveLength(8);
    expect(idx.filter((i) => i === 1)).toHaveLength(2);
    expect(big.inFlight / big.limit).toBe(1);
  });
});
