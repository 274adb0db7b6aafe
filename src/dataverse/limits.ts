// Dataverse's service protection limits as the connector meets them: one application user's
// concurrency and when an answer asks to be retried.
import type { Clock } from "../http/clock.js";
import { parseRetryAfter, type RetryRule } from "../http/retry.js";
import { Throttle } from "../http/throttle.js";

/** Dataverse's documented concurrent-request limit per user ("52 or higher"). */
export const MAX_CONCURRENT_REQUESTS = 52;

/** One application user's throttle: `max` is also capped at Dataverse's 52 concurrent requests. */
export function userThrottle(options: { readonly clock: Clock; readonly initial: number; readonly max: number; readonly label?: string }): Throttle {
  return new Throttle({ ...options, max: Math.min(options.max, MAX_CONCURRENT_REQUESTS) });
}

/** Retry-After in HTTP's forms, or as TimeSpan text ("00:00:05"), which Dataverse has been seen sending as the SDK exposes it. */
export function parseDataverseRetryAfter(value: string | undefined, nowEpochMs: number = Date.now()): number | undefined {
  const span = value === undefined ? null : /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(value.trim());
  if (span !== null) return Math.round((Number(span[1]) * 3600 + Number(span[2]) * 60 + Number(span[3])) * 1000);
  return parseRetryAfter(value, nowEpochMs);
}

/**
 * Which Dataverse answers are transient: 429, 502, 503, 504 always (and resets and timeouts, which
 * the client's retry wrapper sees as errors). A 500 only with a Retry-After: Dataverse answers 500 for
 * plug-in crashes and unexpected errors (0x80040216) that fail the same way every time, so retrying a
 * bare 500 would spend the budget on a row that is rejected anyway.
 */
export const DATAVERSE_RETRY_RULE: RetryRule = {
  statuses: [429, 502, 503, 504],
  statusesWithRetryAfter: [500],
  retryAfter: parseDataverseRetryAfter,
};
