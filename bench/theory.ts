// The ceilings the emulated service protection limits set, for comparison with the clients run
// under the same limits. Closed formulas, shown in docs/benchmarks.md.
//
// Reference: UpsertMultiple. Steady state, records/s, for u users sending n records per bulk request:
//
//     rate(n) = u × n × min( R / W,  E / (W × c(n)),  C / c(n) )
//
// with R requests and E ms of execution time per user per W-second sliding window, C concurrent
// requests, and c(n) = requestMs + n × bulkRecordMs the execution time the emulator's model
// charges one UpsertMultiple (also its latency when latency is on; without latency the concurrency
// term sets no bound). It is the most a client writing every record by UpsertMultiple of n can
// sustain: the context for records per hour per application user.
//
// The ceiling for the operations a run actually sent. A client that reads before it writes, creates
// new rows (cheaper than upserts), updates changed ones and skips the rest sends a different mix in
// every run, so its ceiling is computed from what the run cost on the emulator: X ms of execution
// time charged (the emulator's own count, model time) and Q requests admitted. A user's window starts
// empty and a limit bites only once exceeded, so the first window's allowance (E, R) can be spent at
// once; on the sliding window a budget spent at once comes back at once a window later, so each
// further window's worth waits a whole window:
//
//     k = ⌈X / (u × E)⌉ − 1     windows the execution budget makes the run wait (0 if X ≤ u × E)
//     q = ⌈Q / (u × R)⌉ − 1     the same for the request budget
//
//     T = max( k × W + (X − k × u × E) / (1000 × u × C),   X / (1000 × u × C),   q × W )
//
// in seconds, with X and E in ms and W in seconds. The first term's second part is the time the last
// window's share takes with C requests in flight per user, each held for the time it was charged
// (latency on; 0 when off), and the second the same for the whole run. N / T is the ceiling
// for the run's N records. Over many windows it converges on the steady pace of the same operations,
// N × min( u × E / (W × X),  u × R / (W × Q),  1000 × u × C / X ), which a short run beats by spending its
// first window's allowance at once. The emulator books a request's execution time when it starts, so
// requests in flight count against E and no client gets more than these figures by keeping many in
// flight; one that first exceeds a budget is still admitted, so a run can land a request's worth more.

export interface LimitParams {
  readonly windowSeconds: number;
  readonly maxRequests: number;
  readonly maxExecutionMs: number;
  readonly maxConcurrent: number;
  /** Fixed modelled execution time per request, ms. */
  readonly requestMs: number;
  /** Modelled execution time per record of an UpsertMultiple, ms. */
  readonly bulkRecordMs: number;
  /** Whether the emulator really delays each answer by its modelled execution time. */
  readonly latency: boolean;
}

export function requestCostMs(p: LimitParams, records: number): number {
  return p.requestMs + records * p.bulkRecordMs;
}

export type Bound = "requests" | "execution" | "concurrency";

export interface SteadyState {
  /** All users together. */
  readonly recordsPerSecond: number;
  readonly binding: Bound;
  /** Each term of the min(), per user, records/s. */
  readonly perUser: Readonly<Record<Bound, number>>;
}

/** rate(n): the steady state of u users writing every record by UpsertMultiple of n. */
export function steadyStateCeiling(p: LimitParams, users: number, perRequest: number): SteadyState {
  const cost = requestCostMs(p, perRequest);
  const requests = (p.maxRequests / p.windowSeconds) * perRequest;
  const execution = cost > 0 ? (p.maxExecutionMs / (p.windowSeconds * cost)) * perRequest : Infinity;
  const concurrency = p.latency && cost > 0 ? (p.maxConcurrent / (cost / 1000)) * perRequest : Infinity;
  const min = Math.min(requests, execution, concurrency);
  const binding: Bound = min === requests ? "requests" : min === execution ? "execution" : "concurrency";
  return { recordsPerSecond: users * min, binding, perUser: { requests, execution, concurrency } };
}

/** What a run cost on the emulator, every user together. */
export interface RunCost {
  /** Execution time the emulator charged (X), ms of model time: `EmulatorStats.executionMs.total`. */
  readonly executionMs: number;
  /** Web API requests the emulator admitted (Q): every one it answered other than with a 429. */
  readonly requests: number;
}

/** The ceiling for the operations a run actually sent. */
export interface SentCeiling {
  readonly cost: RunCost;
  readonly users: number;
  /** Whole windows the execution budget makes the run wait (k). */
  readonly executionWindows: number;
  /** Whole windows the request budget makes the run wait (q). */
  readonly requestWindows: number;
  /** T, seconds. */
  readonly idealSeconds: number;
  /** The limit T comes from: execution (k ≥ 1), concurrency (the run fits its first windows' allowance), or requests. */
  readonly binding: Bound;
  /** Whole windows the binding budget makes the run wait (q when requests bind, else k). */
  readonly windowsWaited: number;
  /** N / T; Infinity when T is 0 (latency off and the run fits the first window). */
  readonly recordsPerSecond: number;
  /** The steady pace of the same operations, records/s (no first window spent at once). */
  readonly steadyRecordsPerSecond: number;
  readonly steadyBinding: Bound;
}

/** Windows a budget of `perWindow` per user makes `users` users wait to spend `spent`: ⌈spent / (users × perWindow)⌉ − 1, at least 0. */
export function windowsWaited(spent: number, perWindow: number, users: number): number {
  const allowance = perWindow * users;
  if (spent <= allowance) return 0;
  if (allowance <= 0) return Infinity;
  return Math.ceil(spent / allowance) - 1;
}

export function sentCeiling(p: LimitParams, cost: RunCost, records: number, users: number): SentCeiling {
  const X = cost.executionMs;
  const W = p.windowSeconds;
  const inFlight = p.latency ? users * p.maxConcurrent : Infinity;
  /** Seconds `ms` of execution takes with `inFlight` requests held for their charged time. */
  const held = (ms: number): number => (inFlight === Infinity || ms <= 0 ? 0 : ms / 1000 / inFlight);
  const k = windowsWaited(X, p.maxExecutionMs, users);
  const q = windowsWaited(cost.requests, p.maxRequests, users);
  const execution = k === Infinity ? Infinity : k * W + held(X - k * users * p.maxExecutionMs);
  // Never less than the whole run held C requests at a time (only binds if C is what limits the pace).
  const concurrency = held(X);
  const requests = q * W;
  const idealSeconds = Math.max(execution, concurrency, requests);
  const binding: Bound = q > 0 && idealSeconds === requests ? "requests" : k > 0 && idealSeconds === execution ? "execution" : "concurrency";

  const steady = {
    execution: p.maxExecutionMs > 0 ? (W * X) / (users * p.maxExecutionMs) : Infinity,
    requests: p.maxRequests > 0 ? (W * cost.requests) / (users * p.maxRequests) : Infinity,
    concurrency: held(X),
  };
  const steadySeconds = Math.max(steady.execution, steady.requests, steady.concurrency);
  const steadyBinding: Bound = steadySeconds === steady.execution ? "execution" : steadySeconds === steady.requests ? "requests" : "concurrency";
  return {
    cost,
    users,
    executionWindows: k,
    requestWindows: q,
    idealSeconds,
    binding,
    windowsWaited: binding === "requests" ? q : k,
    recordsPerSecond: idealSeconds > 0 ? records / idealSeconds : Infinity,
    steadyRecordsPerSecond: steadySeconds > 0 ? records / steadySeconds : Infinity,
    steadyBinding,
  };
}
