// The connector's pacer (src/dataverse/pacing.ts) against the emulator's service protection
// (emulator/limits.ts: the sliding window of execution time Microsoft documents), on a virtual
// clock, so the outcome does not hang on this machine's load the way the wall-clock case in
// dataverse-pacing.test.ts does. A user keeps 8 bulk writes in flight, each answered after its
// modelled execution time with the x-ms-ratelimit-* headers the server computes. Paced, no send is
// refused after the first window and the budget is still spent (no idle user); unpaced, the same
// user probes past the budget, is refused, and sits out Retry-After.
import { describe, expect, it } from "vitest";
import { LIMIT_PRESETS, ServiceProtection, requestMs, type LimitsConfig } from "../emulator/limits.js";
import { ExecutionPacer } from "../src/dataverse/pacing.js";
import type { Clock } from "../src/http/clock.js";

interface Outcome {
  /** 429s answered after the first window. */
  readonly refusedAfterFirstWindow: number;
  readonly refused: number;
  /** Execution time admitted after the first window, as a share of E / W over that time. */
  readonly shareOfCeiling: number;
  /** The window the pacer inferred at the end, ms. */
  readonly windowMs: number;
}

interface Options {
  /** What the sends tell the pacer their kind is (the interceptor passes method and path). */
  readonly kind?: string;
  /** The answer comes this share of the execution time after the execution ends: the n-th send's share is delays[n % length]. */
  readonly delays?: readonly number[];
  /** Every n-th admitted send is refused for its content (a duplicate key): charged its request only, answered at once. */
  readonly refuseEvery?: number;
  /** Whether the pacer is told a refused answer is one (the interceptor tells it from the status). */
  readonly sayRefused?: boolean;
}

function simulate(config: LimitsConfig, rows: number, inFlight: number, windows: number, pace: boolean, options: Options = {}): Outcome {
  let sends = 0;
  let now = 0;
  const clock: Clock = { now: () => now, sleep: () => Promise.reject(new Error("the simulation schedules waits itself")) };
  const server = new ServiceProtection(config, () => now);
  const pacer = new ExecutionPacer(clock);
  const costMs = requestMs(config.cost, [{ kind: "createMultiple", rows }]);
  const windowMs = config.windowSeconds * 1000;
  const end = windows * windowMs;
  let refused = 0;
  let refusedAfterFirstWindow = 0;
  let admittedAfterFirstWindow = 0;
  // Each slot is free again at `at`: after an answer (`done` runs first), a pacer's hold or a Retry-After.
  type Slot = { at: number; done?: () => void; held?: boolean };
  const slots: Slot[] = Array.from({ length: inFlight }, () => ({ at: 0 }));
  for (;;) {
    slots.sort((x, y) => x.at - y.at);
    const slot = slots[0];
    if (slot === undefined || slot.at >= end) break;
    now = slot.at;
    slot.done?.();
    delete slot.done;
    if (pace) {
      // As the interceptor does: hold, and ask the execution budget again when the hold ends.
      const wait = slot.held === true ? pacer.executionDelay(rows) : pacer.delayFor(rows);
      if (wait > 0) {
        slot.at = now + wait;
        slot.held = true;
        continue;
      }
    }
    slot.held = false;
    const sent = pacer.start(rows, options.kind);
    const admission = server.admit("u");
    if (!admission.ok) {
      refused++;
      if (now >= windowMs) refusedAfterFirstWindow++;
      pacer.finish(sent, rows, undefined);
      slot.at = now + admission.retryAfterSeconds * 1000;
      continue;
    }
    const ticket = admission.ticket;
    const refusal = options.refuseEvery !== undefined && sends % options.refuseEvery === options.refuseEvery - 1;
    if (refusal) {
      sends++;
      const spent = requestMs(config.cost, []);
      ticket.start(spent);
      slot.at = now + spent;
      slot.done = () => {
        ticket.finish();
        pacer.finish(sent, rows, ticket.headers(), options.sayRefused ?? true);
      };
      continue;
    }
    ticket.start(costMs);
    if (now >= windowMs) admittedAfterFirstWindow += costMs;
    const delays = options.delays ?? [0];
    slot.at = now + costMs * (1 + (delays[sends++ % delays.length] ?? 0));
    slot.done = () => {
      ticket.finish();
      pacer.finish(sent, rows, ticket.headers());
    };
  }
  const ceiling = (config.maxExecutionMs / windowMs) * (end - windowMs);
  return { refused, refusedAfterFirstWindow, shareOfCeiling: admittedAfterFirstWindow / ceiling, windowMs: pacer.windowMs };
}

describe("pacing on the rate-limit headers, on a virtual clock", () => {
  const faithful = LIMIT_PRESETS.faithful;

  it("paced: no 429 after the first window, and at least 90 % of the steady-state execution ceiling is spent", () => {
    const paced = simulate(faithful, 1000, 8, 10, true);
    expect(paced.refusedAfterFirstWindow).toBe(0);
    expect(paced.shareOfCeiling).toBeGreaterThanOrEqual(0.9);
    expect(paced.shareOfCeiling).toBeLessThanOrEqual(1.05);
  });

  it("unpaced: the same load is refused after the first window", () => {
    const unpaced = simulate(faithful, 1000, 8, 10, false);
    expect(unpaced.refusedAfterFirstWindow).toBeGreaterThan(0);
  });

  it("infers the window from the least latency per row of a kind when a busy server answers late", () => {
    // Answers 0-30 % later than the execution they report: the server was busy. Counted at their
    // latencies, the sends held in the window make the budget, and so the window, look longer than
    // they are, and execution is given back late; counted at the least latency per row their kind
    // showed, the window comes out as it is. Either way nothing is refused after the first window.
    const delays = [0, 0.1, 0.2, 0.3];
    const trueWindow = faithful.windowSeconds * 1000;
    const byKind = simulate(faithful, 1000, 16, 6, true, { kind: "POST contacts/Microsoft.Dynamics.CRM.CreateMultiple", delays });
    const byLatency = simulate(faithful, 1000, 16, 6, true, { delays });
    expect(byKind.refusedAfterFirstWindow).toBe(0);
    expect(byLatency.refusedAfterFirstWindow).toBe(0);
    expect(byKind.windowMs).toBeGreaterThanOrEqual(trueWindow);
    expect(byKind.windowMs).toBeLessThanOrEqual(trueWindow * 1.02);
    expect(byLatency.windowMs).toBeGreaterThan(trueWindow * 1.05);
  });

  it("holds with small writes and many in flight, and under Microsoft's own limits", () => {
    const small = simulate(faithful, 100, 32, 10, true);
    expect(small.refusedAfterFirstWindow).toBe(0);
    expect(small.shareOfCeiling).toBeGreaterThanOrEqual(0.9);
    const microsoft = simulate(LIMIT_PRESETS.microsoft, 1000, 8, 6, true);
    expect(microsoft.refusedAfterFirstWindow).toBe(0);
    expect(microsoft.shareOfCeiling).toBeGreaterThanOrEqual(0.9);
  });
  it("a refused bulk write (answered before it did its work) does not teach the per-row figures", () => {
    // One send in five is refused at once (a duplicate key). Had its latency per row counted as the
    // least its kind showed, every write of that kind would be counted as almost free: the budget
    // would come out short and the user sit idle with execution to spare.
    const kind = "POST contacts/Microsoft.Dynamics.CRM.CreateMultiple";
    const told = simulate(faithful, 1000, 16, 8, true, { kind, refuseEvery: 5 });
    expect(told.refusedAfterFirstWindow).toBe(0);
    expect(told.shareOfCeiling).toBeGreaterThanOrEqual(0.9);
    const untold = simulate(faithful, 1000, 16, 8, true, { kind, refuseEvery: 5, sayRefused: false });
    expect(untold.shareOfCeiling).toBeLessThan(0.5);
  });
});
