// The server's one door to the service protection model (limits.ts): admitting a request when its
// headers arrive (before its body is read, so an upload holds its concurrency slot), booking the
// execution time the cost model charges when it starts executing (so running requests count
// against the budget), holding the answer for that time under --latency, and the headers an
// admitted answer carries. Every call into limits.ts from the server goes through here, so a
// change to the model changes this file and limits.ts only.
import type { ServiceResponse } from "./types.js";
import { type DataverseError, errors } from "./errors.js";
import { requestMs, ServiceProtection, type LimitKind, type LimitsConfig, type Ticket, type Work } from "./limits.js";

export type Admitted = { readonly ok: true; readonly ticket: Ticket } | { readonly ok: false; readonly kind: LimitKind; readonly error: DataverseError; readonly retryAfterSeconds: number };

export class AdmissionControl {
  readonly #protection: ServiceProtection;

  constructor(
    readonly limits: LimitsConfig,
    /** --latency: hold each answer for the execution time it was charged. */
    readonly latency: boolean,
    now: () => number,
  ) {
    this.#protection = new ServiceProtection(limits, now);
  }

  /** Call when a request of `clientId` arrives, before reading its body; when admitted, `finish` the ticket exactly once. */
  admit(clientId: string): Admitted {
    const admission = this.#protection.admit(clientId);
    if (admission.ok) return admission;
    return { ok: false, kind: admission.kind, error: errors.throttled(admission.code, admission.message), retryAfterSeconds: admission.retryAfterSeconds };
  }

  /** Execution time the model charges a request that ran these operations (none: the fixed request time). */
  charge(works: readonly Work[]): number {
    return requestMs(this.limits.cost, works);
  }

  /** Books the request's execution time now, as it starts executing. */
  start(ticket: Ticket, executionMs: number): void {
    ticket.start(executionMs);
  }

  /** Frees the slot of an admitted request that will not run (its client hung up mid-body). */
  release(ticket: Ticket): void {
    ticket.finish();
  }

  /** Waits out the execution time under --latency, then frees the ticket's slot. */
  async finish(ticket: Ticket, executionMs: number): Promise<void> {
    try {
      if (this.latency && executionMs > 0) await sleep(executionMs);
    } finally {
      ticket.finish();
    }
  }

  /** x-ms-dop-hint: the degree of parallelism the service suggests. */
  get dopHint(): string {
    return String(this.limits.dopHint);
  }

  /** The x-ms-ratelimit-* headers of an admitted request's answer: the budgets it left. */
  rateLimitHeaders(ticket: Ticket): Record<string, string> {
    return ticket.headers();
  }

  /** The message of the requests-per-window limit, for throttle faults that give none. */
  requestLimitMessage(): string {
    return `Number of requests exceeded the limit of ${this.limits.maxRequests} over time window of ${this.limits.windowSeconds} seconds.`;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function isWrite(method: string): boolean {
  return method !== "GET" && method !== "HEAD";
}

/** A successful single-row write that reports no cost counts as one non-bulk record. */
export function withCost(method: string, response: ServiceResponse): ServiceResponse {
  if (response.cost !== undefined || !isWrite(method) || response.status >= 300) return response;
  return { ...response, cost: { records: 1, bulk: false } };
}
