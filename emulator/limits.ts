// Service protection API limits (LEARN/api-limits), evaluated per user:
//   - number of requests over a sliding window (0x80072322),
//   - combined execution time over the same window (0x80072321),
//   - concurrent requests (0x80072326).
// The request and execution-time limits only bite after they have been exceeded; the concurrency
// limit bites at once. A client that keeps sending while throttled sees its Retry-After grow
// ("the duration will be extended"); the docs give no formula, so the growth below is our choice.
//
// The execution-time model is calibrated from one public measurement (piotrgaszewski.hashnode.dev,
// "Dataverse Elastic Tables", 2023, see ../shared/reference/dataverse-web-api.md): ~140-180 ms per
// single-record request end to end, CreateMultiple ~11 ms and UpdateMultiple ~19 ms per record on a
// standard table. Microsoft publishes no such numbers; every parameter is configurable.
import { readFileSync } from "node:fs";

export interface CostModel {
  /** Fixed server time of any request, in ms. */
  readonly requestMs: number;
  /** Per record written through a single request or a $batch part, in ms. */
  readonly recordMs: number;
  /** Per record written through CreateMultiple / UpdateMultiple / UpsertMultiple, in ms. */
  readonly bulkRecordMs: number;
}

export interface LimitsConfig {
  /** "off" disables every limit (the cost model still feeds stats and --latency). */
  readonly enabled: boolean;
  readonly windowSeconds: number;
  readonly maxRequests: number;
  /** Combined execution time allowed per window, in ms. */
  readonly maxExecutionMs: number;
  readonly maxConcurrent: number;
  /** Extra Retry-After, in ms, for each request sent while already throttled (doubling, capped at the window). */
  readonly penaltyMs: number;
  readonly cost: CostModel;
  /** Time scale relative to Microsoft's cloud (1 = real, 0.01 = 100 times faster); informative. */
  readonly timeScale: number;
  /** Value of x-ms-dop-hint. */
  readonly dopHint: number;
}

// 120 ms per single record + 20 ms fixed ≈ the 142-149 ms measured per one-record request, minus
// some round trip. 15 ms per bulk record sits between the measured 11 ms (create) and 19 ms (update):
// the service reports records, not whether each one was created or updated.
const MICROSOFT_COST: CostModel = { requestMs: 20, recordMs: 100, bulkRecordMs: 15 };

const MICROSOFT_LIMITS: LimitsConfig = {
  enabled: true,
  windowSeconds: 300,
  maxRequests: 6000,
  maxExecutionMs: 1_200_000,
  maxConcurrent: 52,
  penaltyMs: 1000,
  cost: MICROSOFT_COST,
  timeScale: 1,
  dopHint: 4,
};

export const LIMIT_PRESETS: Readonly<Record<"microsoft" | "scaled" | "off", LimitsConfig>> = {
  microsoft: MICROSOFT_LIMITS,
  // Everything measured in time is divided by 100 (window 3 s, 12 s of execution per window, costs
  // 0.2 / 1 / 0.15 ms, throttle extension 10 ms) and so is the request budget (60 per 3 s), so every
  // limit keeps Microsoft's shape and per-second rate relative to the model, and a test hits a limit
  // within seconds. Retry-After alone cannot follow: it is whole seconds, at least 1.
  scaled: {
    enabled: true,
    windowSeconds: 3,
    maxRequests: 60,
    maxExecutionMs: 12_000,
    maxConcurrent: 52,
    penaltyMs: 10,
    cost: { requestMs: 0.2, recordMs: 1, bulkRecordMs: 0.15 },
    timeScale: 0.01,
    dopHint: 4,
  },
  // Microsoft's figures kept (costs and hints still reported), none enforced.
  off: { ...MICROSOFT_LIMITS, enabled: false },
};

export class LimitsConfigError extends Error {
  readonly code = "EMULATOR_LIMITS_CONFIG";
}

/**
 * A preset name, or a JSON file: `{"preset":"scaled", ...fields}` where fields override the preset
 * (default preset "microsoft"; `cost` may be partial).
 */
export function resolveLimits(spec: string | Partial<LimitsConfig> | undefined): LimitsConfig {
  if (spec === undefined) return LIMIT_PRESETS.off;
  if (typeof spec === "string") {
    if (spec === "microsoft" || spec === "scaled" || spec === "off") return LIMIT_PRESETS[spec];
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(spec, "utf8"));
    } catch (cause) {
      throw new LimitsConfigError(`--limits: not a preset (microsoft, scaled, off) nor a readable JSON file: ${spec}`, {
        cause,
      });
    }
    return mergeLimits(raw);
  }
  return mergeLimits(spec);
}

function mergeLimits(raw: unknown): LimitsConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new LimitsConfigError("limits: expected a JSON object");
  }
  const r = raw as Record<string, unknown>;
  const presetName = r["preset"] ?? "microsoft";
  if (presetName !== "microsoft" && presetName !== "scaled" && presetName !== "off") {
    throw new LimitsConfigError("limits.preset: expected microsoft, scaled or off");
  }
  const base = LIMIT_PRESETS[presetName];
  const num = (key: string, fallback: number, from: Record<string, unknown> = r, prefix = ""): number => {
    const v = from[key];
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new LimitsConfigError(`limits.${prefix}${key}: expected a non-negative number`);
    }
    return v;
  };
  const costRaw = r["cost"];
  const cost =
    typeof costRaw === "object" && costRaw !== null ? (costRaw as Record<string, unknown>) : ({} as Record<string, unknown>);
  const enabled = r["enabled"];
  return {
    enabled: typeof enabled === "boolean" ? enabled : base.enabled,
    windowSeconds: num("windowSeconds", base.windowSeconds),
    maxRequests: num("maxRequests", base.maxRequests),
    maxExecutionMs: num("maxExecutionMs", base.maxExecutionMs),
    maxConcurrent: num("maxConcurrent", base.maxConcurrent),
    penaltyMs: num("penaltyMs", base.penaltyMs),
    timeScale: num("timeScale", base.timeScale),
    dopHint: num("dopHint", base.dopHint),
    cost: {
      requestMs: num("requestMs", base.cost.requestMs, cost, "cost."),
      recordMs: num("recordMs", base.cost.recordMs, cost, "cost."),
      bulkRecordMs: num("bulkRecordMs", base.cost.bulkRecordMs, cost, "cost."),
    },
  };
}

/** Server time the model charges for one operation (a request, or one $batch part without requestMs). */
export function costOf(model: CostModel, work: { readonly records: number; readonly bulk: boolean } | undefined): number {
  if (work === undefined) return model.requestMs;
  return model.requestMs + work.records * (work.bulk ? model.bulkRecordMs : model.recordMs);
}

/**
 * Records per second one user can sustain under this config with `recordsPerRequest` records in
 * each request (bulk action or $batch of single-record parts), limited by the request budget and
 * the execution-time budget; Infinity when limits are off.
 */
export function theoreticalRecordsPerSecond(config: LimitsConfig, recordsPerRequest: number, bulk: boolean): number {
  if (!config.enabled) return Number.POSITIVE_INFINITY;
  const perRequestMs = costOf(config.cost, { records: recordsPerRequest, bulk });
  const byExecution = perRequestMs === 0 ? Number.POSITIVE_INFINITY : (config.maxExecutionMs / perRequestMs) * recordsPerRequest;
  const byRequests = config.maxRequests * recordsPerRequest;
  return Math.min(byExecution, byRequests) / config.windowSeconds;
}

export type LimitKind = "requests" | "execution" | "concurrency";

export const LIMIT_CODES: Readonly<Record<LimitKind, string>> = {
  requests: "0x80072322",
  execution: "0x80072321",
  concurrency: "0x80072326",
};

export type Admission =
  | { readonly ok: true; readonly ticket: Ticket }
  | { readonly ok: false; readonly kind: LimitKind; readonly retryAfterSeconds: number; readonly code: string; readonly message: string };

/** Held while a request runs; `finish` releases the concurrency slot and books the execution time. */
export interface Ticket {
  finish(executionMs: number): void;
  /** Remaining budgets, for the x-ms-ratelimit-* headers. */
  headers(): Record<string, string>;
}

/** Fixed-capacity FIFO of (time, value) pairs; amortised O(1), no per-request allocation. */
class Ring {
  #times: Float64Array;
  #values: Float64Array;
  #head = 0;
  #size = 0;
  sum = 0;

  constructor(capacity: number) {
    this.#times = new Float64Array(Math.max(16, capacity));
    this.#values = new Float64Array(Math.max(16, capacity));
  }

  get size(): number {
    return this.#size;
  }

  push(time: number, value: number): void {
    if (this.#size === this.#times.length) this.#grow();
    const i = (this.#head + this.#size) % this.#times.length;
    this.#times[i] = time;
    this.#values[i] = value;
    this.#size++;
    this.sum += value;
  }

  dropBefore(time: number): void {
    while (this.#size > 0 && (this.#times[this.#head] ?? 0) <= time) {
      this.sum -= this.#values[this.#head] ?? 0;
      this.#head = (this.#head + 1) % this.#times.length;
      this.#size--;
    }
    if (this.#size === 0) this.sum = 0;
  }

  /** Time of the entry at position i from the oldest. */
  timeAt(i: number): number {
    return this.#times[(this.#head + i) % this.#times.length] ?? 0;
  }

  valueAt(i: number): number {
    return this.#values[(this.#head + i) % this.#times.length] ?? 0;
  }

  #grow(): void {
    const times = new Float64Array(this.#times.length * 2);
    const values = new Float64Array(this.#values.length * 2);
    for (let i = 0; i < this.#size; i++) {
      times[i] = this.timeAt(i);
      values[i] = this.valueAt(i);
    }
    this.#times = times;
    this.#values = values;
    this.#head = 0;
  }
}

class UserBudget {
  readonly requests: Ring;
  readonly execution = new Ring(1024);
  inFlight = 0;
  throttledUntil = 0;
  strikes = 0;

  constructor(maxRequests: number) {
    this.requests = new Ring(Math.min(maxRequests + 1, 1 << 16));
  }
}

export class ServiceProtection {
  readonly #users = new Map<string, UserBudget>();

  constructor(
    readonly config: LimitsConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** Call before running a request of `user`; on success call `ticket.finish` exactly once. */
  admit(user: string): Admission {
    const config = this.config;
    let budget = this.#users.get(user);
    if (budget === undefined) {
      budget = new UserBudget(config.maxRequests);
      this.#users.set(user, budget);
    }
    const now = this.now();
    const windowMs = config.windowSeconds * 1000;
    budget.requests.dropBefore(now - windowMs);
    budget.execution.dropBefore(now - windowMs);

    if (config.enabled) {
      if (now < budget.throttledUntil) {
        // Still inside an earlier Retry-After: the docs say the period gets extended.
        const extension = Math.min(config.penaltyMs * 2 ** budget.strikes, windowMs);
        budget.strikes = Math.min(budget.strikes + 1, 30);
        budget.throttledUntil = Math.min(budget.throttledUntil + extension, now + windowMs);
        const kind: LimitKind = budget.requests.size >= config.maxRequests ? "requests" : "execution";
        return this.#reject(kind, budget.throttledUntil - now);
      }
      if (budget.inFlight >= config.maxConcurrent) {
        return this.#reject("concurrency", 1000);
      }
      if (budget.requests.size >= config.maxRequests) {
        // Free once enough of the oldest requests have left the window.
        const release = budget.requests.timeAt(budget.requests.size - config.maxRequests) + windowMs;
        budget.throttledUntil = release;
        budget.strikes = 0;
        return this.#reject("requests", release - now);
      }
      if (budget.execution.sum > config.maxExecutionMs) {
        let excess = budget.execution.sum - config.maxExecutionMs;
        let release = now;
        for (let i = 0; i < budget.execution.size && excess >= 0; i++) {
          excess -= budget.execution.valueAt(i);
          release = budget.execution.timeAt(i) + windowMs;
        }
        budget.throttledUntil = release;
        budget.strikes = 0;
        return this.#reject("execution", release - now);
      }
    }

    budget.requests.push(now, 1);
    budget.inFlight++;
    const b = budget;
    let finished = false;
    return {
      ok: true,
      ticket: {
        finish: (executionMs: number) => {
          if (finished) return;
          finished = true;
          b.inFlight--;
          if (executionMs > 0) b.execution.push(this.now(), executionMs);
        },
        headers: () => ({
          "x-ms-ratelimit-burst-remaining-xrm-requests": String(Math.max(0, config.maxRequests - b.requests.size)),
          "x-ms-ratelimit-time-remaining-xrm-requests": formatSeconds(
            Math.max(0, config.maxExecutionMs - b.execution.sum) / 1000,
          ),
        }),
      },
    };
  }

  #reject(kind: LimitKind, waitMs: number): Admission {
    const c = this.config;
    const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
    const message =
      kind === "requests"
        ? `Number of requests exceeded the limit of ${c.maxRequests} over time window of ${c.windowSeconds} seconds.`
        : kind === "execution"
          ? // Two spaces before "milliseconds" as in Microsoft's published text.
            `Combined execution time of incoming requests exceeded limit of ${groupThousands(c.maxExecutionMs)}  milliseconds over time window of ${c.windowSeconds} seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.`
          : `Number of concurrent requests exceeded the limit of ${c.maxConcurrent}.`;
    return { ok: false, kind, retryAfterSeconds, code: LIMIT_CODES[kind], message };
  }
}

const THOUSANDS = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const SECONDS = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

function groupThousands(n: number): string {
  return THOUSANDS.format(n);
}

/** "1,200.00", the shape captured from real responses. */
function formatSeconds(seconds: number): string {
  return SECONDS.format(seconds);
}
