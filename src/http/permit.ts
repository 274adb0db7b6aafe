// The permit wrapper of a request path: a request goes out holding a permit of its sender's
// throttle, and gives it back with what the answer says about capacity.
import type { Clock } from "./clock.js";
import type { Interceptor } from "./dispatch.js";
import type { Permit, PermitOutcome } from "./throttle.js";
import { TransportError, type HttpRequest, type HttpResponse } from "./transport.js";

/** What the permit wrapper needs on each request. */
export interface PermitRequest extends HttpRequest {
  /** Rows in the request, so latency compares per row; absent for reads (no latency signal). */
  readonly units?: number;
}

export interface PermittedOptions<R extends PermitRequest> {
  readonly clock: Clock;
  /** The permit for this attempt (a reserved one, or one waited for). */
  readonly acquire: (req: R) => Promise<Permit>;
  /** The server's wait on a 429, when it gave one. */
  readonly retryAfterMs: (res: HttpResponse) => number | undefined;
}

/**
 * The permit wrapper: holds a permit while the request is out and releases it with what the answer
 * says about capacity (capacitySignal); a reset or timeout counts as overload.
 */
export function permitted<R extends PermitRequest>(options: PermittedOptions<R>): Interceptor<R> {
  return (next) => async (req) => {
    const permit = await options.acquire(req);
    const started = options.clock.now();
    let outcome: PermitOutcome = { kind: "neutral" };
    try {
      const res = await next(req);
      outcome = capacitySignal(res, options.clock.now() - started, req.units, options.retryAfterMs);
      return res;
    } catch (err) {
      if (err instanceof TransportError && err.retryable) outcome = { kind: "overloaded" };
      throw err;
    } finally {
      permit.release(outcome);
    }
  };
}

/** What one answer says about the sender's capacity. */
export function capacitySignal(res: HttpResponse, latencyMs: number, units: number | undefined, retryAfterMs: (res: HttpResponse) => number | undefined): PermitOutcome {
  // Without a Retry-After there is no server timing to honour; a short pause still stops the herd.
  if (res.status === 429) return { kind: "throttled", retryAfterMs: retryAfterMs(res) ?? 1000 };
  if (res.status >= 500) return { kind: "overloaded" };
  // Only writes (which say how many rows they carry) are evidence about write capacity: they feed the
  // latency signal and the growth. A read (metadata, lookups) leaves the limit where it is, so the
  // first writes go out at the x-ms-dop-hint rather than at whatever a dozen metadata reads grew it to.
  if (res.status < 400) return units === undefined ? { kind: "neutral" } : { kind: "ok", latencyMs, units };
  return { kind: "neutral" };
}
