// The theoretical maximum the emulated service protection limits allow, for comparison with the
// connector under the same limits (issue 5 item 5b). Closed formulas, shown in docs/benchmarks.md.
//
// Steady state, records/s, for u users sending n records per bulk request:
//
//     rate(n) = u × n × min( R / W,  E / (W × c(n)),  C / c(n) )
//
// with R requests and E ms of execution time per user per W-second sliding window, C concurrent
// requests, and c(n) = requestMs + n × bulkRecordMs the execution time the emulator's model
// charges one bulk request (also its latency when latency is on; without latency the concurrency
// term sets no bound).
//
// A finite run starts with an empty window, and the request and execution limits bite only once
// exceeded (emulator/limits.ts admits while the booked time is ≤ E), so before the first 429 a
// user can land A = n × min(R, ⌊E / c(n)⌋ + 1) records. The ideal time of a run of N records split
// evenly over u users is therefore
//
//     T(N) = c(n) + max(0, N / u − A) / (rate(n) / u)
//
// (one request's latency, then the rest at the steady rate), and N / T(N) is the run's ideal rate,
// never below the steady-state rate. Judging the connector against N / T(N) is the stricter of
// the two comparisons. The emulator books a request's execution time when it starts, so requests
// in flight count against E and no client gets more than these figures by keeping many in flight.

export interface LimitParams {
  readonly windowSeconds: number;
  readonly maxRequests: number;
  readonly maxExecutionMs: number;
  readonly maxConcurrent: number;
  /** Fixed modelled execution time per request, ms. */
  readonly requestMs: number;
  /** Modelled execution time per record of a bulk action, ms. */
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

export function steadyStateCeiling(p: LimitParams, users: number, perRequest: number): SteadyState {
  const cost = requestCostMs(p, perRequest);
  const requests = (p.maxRequests / p.windowSeconds) * perRequest;
  const execution = cost > 0 ? (p.maxExecutionMs / (p.windowSeconds * cost)) * perRequest : Infinity;
  const concurrency = p.latency && cost > 0 ? (p.maxConcurrent / (cost / 1000)) * perRequest : Infinity;
  const min = Math.min(requests, execution, concurrency);
  const binding: Bound = min === requests ? "requests" : min === execution ? "execution" : "concurrency";
  return { recordsPerSecond: users * min, binding, perUser: { requests, execution, concurrency } };
}

/** Records one user lands before the request or execution limit first bites. */
export function firstWindowAllowance(p: LimitParams, perRequest: number): number {
  const cost = requestCostMs(p, perRequest);
  const byExecution = cost > 0 ? Math.floor(p.maxExecutionMs / cost) + 1 : Infinity;
  return perRequest * Math.min(p.maxRequests, byExecution);
}

export interface RunCeiling {
  readonly steady: SteadyState;
  /** Records per user before the first 429 (A). */
  readonly allowancePerUser: number;
  /** T(N), seconds. */
  readonly idealSeconds: number;
  /** N / T(N). */
  readonly recordsPerSecond: number;
}

export function runCeiling(p: LimitParams, records: number, users: number, perRequest: number): RunCeiling {
  const steady = steadyStateCeiling(p, users, perRequest);
  const allowance = firstWindowAllowance(p, perRequest);
  const latency = p.latency ? requestCostMs(p, perRequest) / 1000 : 0;
  const perUserRate = steady.recordsPerSecond / users;
  const idealSeconds = latency + Math.max(0, records / users - allowance) / perUserRate;
  return {
    steady,
    allowancePerUser: allowance,
    idealSeconds,
    recordsPerSecond: idealSeconds > 0 ? records / idealSeconds : Infinity,
  };
}
