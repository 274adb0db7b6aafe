// The theoretical maximum the emulated service protection limits allow, for comparison with the
// connector under the same limits (issue 5 item 5b).
//
// Two figures:
//  - the steady-state ceiling, a closed formula (shown in docs/benchmarks.md):
//        rate(n) = users × n × min( R / W,  E / (W × c(n)),  C / L(n) )
//    with n records per request, R requests and E ms of execution per user per W-second window,
//    C concurrent requests, c(n) = requestMs + n × bulkRecordMs the modelled execution time of
//    one bulk request, and L(n) its latency (= c(n) when latency is on, else 0: no bound);
//  - the ideal time for THIS run: an event simulation of a perfect client (zero CPU, zero network,
//    knows the limiter's state exactly, never draws a 429, splits the records evenly across users)
//    against the same sliding-window rules as emulator/limits.ts. Short runs start with an empty
//    window, so they can beat the steady-state rate; the simulation accounts for that burst, the
//    formula does not. The run's ratio is judged against the simulation.
//
// The rules mirrored here (emulator/limits.ts): a request is admitted while fewer than R requests
// were admitted in the last W seconds, the execution time booked in the last W seconds is at most
// E (so the limit bites only after it was exceeded), and fewer than C are in flight; a request's
// execution time is booked when it finishes.

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

export interface SteadyState {
  readonly recordsPerSecond: number;
  readonly binding: "requests" | "execution" | "concurrency";
  readonly perUser: { readonly requests: number; readonly execution: number; readonly concurrency: number };
}

/** Steady-state ceiling in records/s for `users` users sending `perRequest` records per request. */
export function steadyStateCeiling(p: LimitParams, users: number, perRequest: number): SteadyState {
  const cost = requestCostMs(p, perRequest);
  const requests = (p.maxRequests / p.windowSeconds) * perRequest;
  const execution = (p.maxExecutionMs / (p.windowSeconds * cost)) * perRequest;
  const concurrency = p.latency && cost > 0 ? (p.maxConcurrent / (cost / 1000)) * perRequest : Infinity;
  const min = Math.min(requests, execution, concurrency);
  const binding = min === requests ? "requests" : min === execution ? "execution" : "concurrency";
  return { recordsPerSecond: users * min, binding, perUser: { requests, execution, concurrency } };
}

/** Array-backed FIFO; the simulation pushes at the back and pops at the front. */
class Fifo {
  #items: number[] = [];
  #head = 0;
  get size(): number {
    return this.#items.length - this.#head;
  }
  at(i: number): number {
    return this.#items[this.#head + i] ?? NaN;
  }
  push(v: number): void {
    this.#items.push(v);
  }
  shift(): number {
    const v = this.#items[this.#head] ?? NaN;
    this.#head++;
    if (this.#head > 4096 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return v;
  }
}

/**
 * Seconds a perfect client needs to write `records` records through one user, `perRequest` per
 * bulk request, under the limits `p` (from the first request to the last answer).
 */
export function idealSecondsOneUser(p: LimitParams, records: number, perRequest: number): number {
  const windowMs = p.windowSeconds * 1000;
  const admitted = new Fifo(); // admission times, ms
  const bookedAt = new Fifo(); // execution bookings: times, ms
  const bookedMs = new Fifo(); //                    and amounts, ms
  let bookedSum = 0;
  // In-flight requests finish in admission order (every request but the last has the same size,
  // and the last is the smallest), so a FIFO of (finish time, cost) suffices.
  const finishAt = new Fifo();
  const finishCost = new Fifo();
  let remaining = records;
  let now = 0;
  let lastFinish = 0;
  let guard = 0;

  const drop = (): void => {
    // Same expression as the wake-up time below, so floating-point rounding cannot stall the loop.
    while (admitted.size > 0 && admitted.at(0) + windowMs <= now) admitted.shift();
    while (bookedAt.size > 0 && bookedAt.at(0) + windowMs <= now) {
      bookedAt.shift();
      bookedSum -= bookedMs.shift();
    }
    if (bookedAt.size === 0) bookedSum = 0;
  };

  while (remaining > 0 || finishAt.size > 0) {
    if (++guard > 50_000_000) throw new Error("theory simulation did not converge");
    while (finishAt.size > 0 && finishAt.at(0) <= now) {
      const at = finishAt.shift();
      const cost = finishCost.shift();
      bookedAt.push(at);
      bookedMs.push(cost);
      bookedSum += cost;
      lastFinish = Math.max(lastFinish, at);
    }
    if (remaining === 0 && finishAt.size === 0) break;
    drop();
    const canSend =
      remaining > 0 && finishAt.size < p.maxConcurrent && admitted.size < p.maxRequests && bookedSum <= p.maxExecutionMs;
    if (canSend) {
      const n = Math.min(perRequest, remaining);
      const cost = requestCostMs(p, n);
      admitted.push(now);
      finishAt.push(now + (p.latency ? cost : 0));
      finishCost.push(cost);
      remaining -= n;
      continue;
    }
    // Jump to the next moment anything can change: an answer, or an entry leaving the window
    // (an entry booked at time a is dropped once now - W >= a, as in emulator/limits.ts).
    const candidates: number[] = [];
    if (finishAt.size > 0) candidates.push(finishAt.at(0));
    if (remaining > 0) {
      if (admitted.size >= p.maxRequests) candidates.push(admitted.at(admitted.size - p.maxRequests) + windowMs);
      if (bookedSum > p.maxExecutionMs) {
        // The first booking whose departure brings the sum back within E (the last one at
        // worst, which also absorbs floating-point drift of the running sum).
        let excess = bookedSum - p.maxExecutionMs;
        let i = 0;
        for (; i < bookedAt.size - 1; i++) {
          excess -= bookedMs.at(i);
          if (excess <= 0) break;
        }
        candidates.push(bookedAt.at(i) + windowMs);
      }
    }
    const next = Math.min(...candidates);
    if (!Number.isFinite(next)) throw new Error("theory simulation is stuck (a limit of zero?)");
    now = Math.max(now, next);
  }
  return lastFinish / 1000;
}

export interface RunCeiling {
  /** Ideal seconds for the run (all users in parallel, records split evenly). */
  readonly idealSeconds: number;
  /** records / idealSeconds. */
  readonly recordsPerSecond: number;
  readonly steady: SteadyState;
}

export function runCeiling(p: LimitParams, records: number, users: number, perRequest: number): RunCeiling {
  // Limits are per user, so users are independent; the slowest user holds ceil(records/users).
  const share = Math.ceil(records / users);
  const seconds = idealSecondsOneUser(p, share, perRequest);
  return {
    idealSeconds: seconds,
    recordsPerSecond: seconds > 0 ? records / seconds : Infinity,
    steady: steadyStateCeiling(p, users, perRequest),
  };
}
