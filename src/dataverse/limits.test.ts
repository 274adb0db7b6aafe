import { describe, expect, it } from "vitest";
import { ManualClock } from "../http/clock.js";
import { classifyStatus } from "../http/retry.js";
import { DATAVERSE_RETRY_RULE, parseDataverseRetryAfter, userThrottle } from "./limits.js";

describe("an application user's throttle", () => {
  it("starts at the hint and never exceeds the max or 52", () => {
    const clock = new ManualClock();
    expect(userThrottle({ clock, initial: 8, max: 100 }).limit).toBe(8);
    expect(userThrottle({ clock, initial: 80, max: 100 }).limit).toBe(52);
    expect(userThrottle({ clock, initial: 80, max: 10 }).limit).toBe(10);
  });
});

describe("Dataverse's Retry-After", () => {
  it.each([
    ["2", 2000],
    ["00:00:05", 5000],
    ["01:00:00", 3_600_000],
  ])("%s → %d ms", (v, ms) => expect(parseDataverseRetryAfter(v)).toBe(ms));
});

describe("Dataverse's retry rule", () => {
  it.each([429, 502, 503, 504])("%d is retryable", (s) => expect(classifyStatus(s, {}, DATAVERSE_RETRY_RULE).retryable).toBe(true));
  it("a bare 500 is final, a 500 with Retry-After is retried", () => {
    expect(classifyStatus(500, {}, DATAVERSE_RETRY_RULE).retryable).toBe(false);
    expect(classifyStatus(500, { "retry-after": "3" }, DATAVERSE_RETRY_RULE)).toEqual({ retryable: true, retryAfterMs: 3000 });
  });
  it("reads a TimeSpan Retry-After on a 429", () => {
    expect(classifyStatus(429, { "Retry-After": "00:00:07" }, DATAVERSE_RETRY_RULE)).toEqual({ retryable: true, retryAfterMs: 7000 });
  });
});
