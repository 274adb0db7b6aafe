// When to try again and how long to wait. Knows HTTP statuses and headers, nothing of OData: which
// statuses a server wants retried is a rule the caller hands in, as plain data.
//
// The budget is the total time one operation may spend waiting between attempts, not a cap per
// wait: a Retry-After is honoured in full or not at all (waiting less than the server asked only
// earns another 429 with a longer Retry-After).
import type { Clock } from "./clock.js";
import type { Interceptor } from "./dispatch.js";
import type { HttpRequest } from "./transport.js";

export interface RetryDecision {
  readonly retryable: boolean;
  /** The server's requested wait, when it gave one. */
  readonly retryAfterMs?: number;
}

/** Which answers are worth another attempt. */
export interface RetryRule {
  /** Statuses retried with or without a Retry-After. */
  readonly statuses: readonly number[];
  /** Statuses retried only when the answer carries a Retry-After. */
  readonly statusesWithRetryAfter: readonly number[];
  /** Reads a Retry-After value into milliseconds; HTTP's two forms (parseRetryAfter) when absent. */
  readonly retryAfter?: (value: string | undefined, nowEpochMs: number) => number | undefined;
}

/** RFC 9110's transient answers: too many requests, bad gateway, unavailable, gateway timeout. */
export const HTTP_RETRY_RULE: RetryRule = { statuses: [429, 502, 503, 504], statusesWithRetryAfter: [] };

export function headerValue(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  const direct = headers[name];
  if (direct !== undefined) return direct;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** Retry-After as delta-seconds (fractions allowed) or an HTTP date; undefined when absent or unparsable. */
export function parseRetryAfter(value: string | undefined, nowEpochMs: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowEpochMs);
}

/** Whether an answer with this status and headers is worth another attempt under `rule`, and when. */
export function classifyStatus(
  status: number,
  headers: Readonly<Record<string, string>>,
  rule: RetryRule = HTTP_RETRY_RULE,
  nowEpochMs: number = Date.now(),
): RetryDecision {
  const retryAfterMs = (rule.retryAfter ?? parseRetryAfter)(headerValue(headers, "retry-after"), nowEpochMs);
  const retryable = rule.statuses.includes(status) || (rule.statusesWithRetryAfter.includes(status) && retryAfterMs !== undefined);
  if (!retryable) return { retryable: false };
  return retryAfterMs === undefined ? { retryable } : { retryable, retryAfterMs };
}

export interface BackoffOptions {
  /** First wait when the server gave no timing. */
  readonly baseDelayMs: number;
  /** Largest single wait when the server gave no timing. */
  readonly maxDelayMs: number;
  /**
   * The shortest wait before any retry, whatever the server said (0 when absent): a server that
   * answers `Retry-After: 0` again and again would otherwise be hit as fast as the network allows.
   */
  readonly minDelayMs?: number;
  /** Uniform in [0, 1); injected so tests are deterministic. */
  readonly random: () => number;
}

export const defaultBackoff: BackoffOptions = { baseDelayMs: 500, maxDelayMs: 30_000, minDelayMs: 250, random: Math.random };

/**
 * The wait before attempt `attempt + 1` (attempt counts from 1). A server-given Retry-After is
 * honoured in full, never less, raised to the floor (minDelayMs), plus a jitter of up to a tenth of
 * the wait (at least the floor), so clients the server sent back at the same instant do not all
 * return at that instant. Otherwise exponential backoff with "equal jitter": half fixed, half
 * random, so clients that failed together spread out, and never under the floor.
 */
export function nextDelay(attempt: number, decision: RetryDecision, backoff: BackoffOptions = defaultBackoff): number {
  const floor = backoff.minDelayMs ?? 0;
  if (decision.retryAfterMs !== undefined) {
    const wait = Math.max(floor, decision.retryAfterMs);
    return Math.round(wait + Math.max(floor, wait / 10) * backoff.random());
  }
  const exp = Math.min(backoff.maxDelayMs, backoff.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(floor, Math.round(exp / 2 + (exp / 2) * backoff.random()));
}

/** The total waiting time one operation may spend across all its retries. */
export class RetryBudget {
  #spentMs = 0;
  constructor(readonly totalMs: number) {}

  get spentMs(): number {
    return this.#spentMs;
  }

  get remainingMs(): number {
    return Math.max(0, this.totalMs - this.#spentMs);
  }

  /** Records time spent elsewhere on this operation's behalf (a shared request's waits). */
  charge(ms: number): void {
    this.#spentMs += Math.max(0, ms);
  }

  /** True and charged when the wait fits in what is left; false (and nothing charged) otherwise. */
  tryCharge(ms: number): boolean {
    if (ms > this.remainingMs) return false;
    this.#spentMs += ms;
    return true;
  }
}

export class RetryBudgetExhaustedError extends Error {
  override readonly name = "RetryBudgetExhaustedError";
  readonly code = "RETRY_BUDGET_EXHAUSTED";
  constructor(
    readonly attempts: number,
    readonly spentMs: number,
    readonly neededMs: number,
    /** The last answer (a response value) or error, for the caller to report. */
    readonly last: unknown,
  ) {
    super(
      `gave up after ${attempts} attempt(s): the next wait of ${Math.round(neededMs)} ms does not fit in the retry budget ` +
        `(${Math.round(spentMs)} ms already spent)`,
      last instanceof Error ? { cause: last } : undefined,
    );
  }
}

export interface RetryOptions {
  readonly clock: Clock;
  readonly budget: RetryBudget;
  readonly backoff?: BackoffOptions;
  /** Hard cap on attempts for errors without timing, so a zero-delay loop cannot spin. */
  readonly maxAttempts?: number;
  readonly signal?: AbortSignal;
  /** Called before each wait (stats, logs). */
  readonly onRetry?: (info: { attempt: number; delayMs: number; decision: RetryDecision }) => void;
}

/**
 * Runs `attempt` until `decide` says the outcome is final, waiting between attempts within the
 * budget. `decide` sees either the value or the thrown error.
 */
export async function withRetry<T>(
  attempt: (n: number) => Promise<T>,
  decide: (outcome: { ok: true; value: T } | { ok: false; error: unknown }) => RetryDecision,
  options: RetryOptions,
): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 100;
  for (let n = 1; ; n++) {
    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: await attempt(n) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    const decision = decide(outcome);
    if (!decision.retryable) {
      if (outcome.ok) return outcome.value;
      throw outcome.error;
    }
    const delayMs = nextDelay(n, decision, options.backoff);
    if (n >= maxAttempts || !options.budget.tryCharge(delayMs)) {
      throw new RetryBudgetExhaustedError(n, options.budget.spentMs, delayMs, outcome.ok ? outcome.value : outcome.error);
    }
    options.onRetry?.({ attempt: n, delayMs, decision });
    await options.clock.sleep(delayMs, options.signal);
  }
}

/** What the retry wrapper needs on each request: the budget its waits are charged to. */
export interface RetryingRequest extends HttpRequest {
  readonly budget: RetryBudget;
  /** Statuses handed back to the caller at once instead of being retried. */
  readonly handBack?: ReadonlySet<number>;
}

export interface RetryingOptions<R extends RetryingRequest> {
  readonly rule: RetryRule;
  readonly clock: Clock;
  readonly backoff?: BackoffOptions;
  /** Thrown errors worth another attempt (resets, timeouts); any other throw is final. */
  readonly retryableError: (error: unknown) => boolean;
  /** Called before each wait (counting). */
  readonly onRetry?: (req: R) => void;
}

/**
 * The retry wrapper: sends again while `rule` calls the answer (or `retryableError` the error)
 * transient and the wait fits in the request's budget; throws RetryBudgetExhaustedError when it
 * does not.
 */
export function retrying<R extends RetryingRequest>(options: RetryingOptions<R>): Interceptor<R> {
  return (next) => (req) =>
    withRetry(
      () => next(req),
      (outcome) => {
        if (!outcome.ok) return { retryable: options.retryableError(outcome.error) };
        if (req.handBack?.has(outcome.value.status) === true) return { retryable: false };
        return classifyStatus(outcome.value.status, outcome.value.headers, options.rule);
      },
      {
        clock: options.clock,
        budget: req.budget,
        ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
        ...(options.onRetry === undefined ? {} : { onRetry: () => options.onRetry?.(req) }),
      },
    );
}
