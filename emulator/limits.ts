// Service protection API limits (LEARN/api-limits), evaluated per user:
//   - number of requests over a sliding window (0x80072322),
//   - combined execution time over the same window (0x80072321),
//   - concurrent requests (0x80072326).
// The request and execution-time limits only bite after they have been exceeded; the concurrency
// limit bites at once. A client that keeps sending while throttled sees its Retry-After grow
// ("the duration will be extended"); the docs give no formula, so the growth below is our choice.
//
// Learn counts the "combined execution time of incoming requests": a request's execution time is
// booked when it starts executing (Ticket.start), so requests still running count against the
// budget and a client cannot outrun it by keeping many long requests in flight.
//
// The execution-time model charges each operation kind what Microsoft's published samples measure
// (docs/emulator.md, "The execution-time model", has the table of figures and sources); every
// parameter is configurable.
import { readFileSync } from "node:fs";

/** Modelled server time per operation kind, in ms. */
export interface CostModel {
  /** Fixed server time of any request (a $batch counts once), in ms. */
  readonly requestMs: number;
  /** One row created, updated, upserted or deleted by a single request or a $batch part. */
  readonly createMs: number;
  readonly updateMs: number;
  readonly upsertMs: number;
  readonly deleteMs: number;
  /** Per record of CreateMultiple / UpdateMultiple / UpsertMultiple. */
  readonly createMultipleRecordMs: number;
  readonly updateMultipleRecordMs: number;
  readonly upsertMultipleRecordMs: number;
  /** Per row a read returns (a single-row GET returns one). */
  readonly readRowMs: number;
  /** Per metadata read ($metadata, EntityDefinitions and what hangs below them). */
  readonly metadataReadMs: number;
}

export type OperationKind =
  | "create"
  | "update"
  | "upsert"
  | "delete"
  | "createMultiple"
  | "updateMultiple"
  | "upsertMultiple"
  | "read"
  | "metadata"
  | "other";

/** One operation the data service ran: its kind and the rows it wrote (or, for a read, returned). */
export interface Work {
  readonly kind: OperationKind;
  readonly rows: number;
  /** Synchronous plug-in time the environment declares for this operation, ms (0 when bypassed). */
  readonly pluginMs?: number;
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
  /** Time scale relative to Microsoft's cloud (1 = real, 0.1 = ten times faster); informative. */
  readonly timeScale: number;
  /** Value of x-ms-dop-hint. */
  readonly dopHint: number;
}

// Calibration (docs/emulator.md has the table with every source). Microsoft's PowerApps-Samples
// bulk-operation projects print, for 100 records of a one-column custom standard table, rounded to
// whole seconds (Math.Round): CreateMultiple 1 s, UpdateMultiple 3 s, UpsertMultiple 2 s (half new,
// half existing), ExecuteMultiple 4 s for creates and 4 s for updates, one request per record 10 s
// (create) and 12 s (update). Learn (optimize-performance-create-update): the operations of a batch
// "are applied sequentially on the server, so there's no improved efficiency per operation", so a
// $batch part costs what the same single operation costs; the ~60 ms a lone request adds on top
// (10 s / 100 − 40 ms) is charged as per-request time, network included, which is conservative.
const MICROSOFT_COST: CostModel = {
  requestMs: 60,
  createMs: 40,
  updateMs: 40,
  // No published figure: the dearer of create and update (an upsert is one or the other, after a lookup).
  upsertMs: 40,
  // No Microsoft figure; a public measurement has single deletes 1.29× single creates (183.0 / 141.9 ms).
  deleteMs: 52,
  // The samples' 10 ms per record (100 records) and a public measurement's 11 ms (1,000): the dearer.
  createMultipleRecordMs: 11,
  updateMultipleRecordMs: 30,
  upsertMultipleRecordMs: 20,
  // No published figure for reads: 1 ms per row returned, 250 ms per metadata read, both on the dear side.
  readRowMs: 1,
  metadataReadMs: 250,
};

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

/**
 * `base` with time running `factor` times faster: every duration (window, execution budget, costs,
 * throttle extension) divided by `factor`, every count (requests per window, concurrent requests,
 * DOP hint) kept. A client then sees exactly what it would see on `base`, `factor` times sooner;
 * the one thing that cannot follow is Retry-After, which is whole seconds (rounded up, at least 1).
 */
export function timeScaled(base: LimitsConfig, factor: number): LimitsConfig {
  const c = base.cost;
  const t = (ms: number): number => ms / factor;
  return {
    ...base,
    windowSeconds: base.windowSeconds / factor,
    maxExecutionMs: t(base.maxExecutionMs),
    penaltyMs: t(base.penaltyMs),
    timeScale: base.timeScale / factor,
    cost: {
      requestMs: t(c.requestMs),
      createMs: t(c.createMs),
      updateMs: t(c.updateMs),
      upsertMs: t(c.upsertMs),
      deleteMs: t(c.deleteMs),
      createMultipleRecordMs: t(c.createMultipleRecordMs),
      updateMultipleRecordMs: t(c.updateMultipleRecordMs),
      upsertMultipleRecordMs: t(c.upsertMultipleRecordMs),
      readRowMs: t(c.readRowMs),
      metadataReadMs: t(c.metadataReadMs),
    },
  };
}

export type PresetName = "microsoft" | "faithful" | "scaled" | "off";

export const PRESET_NAMES: readonly PresetName[] = ["microsoft", "faithful", "scaled", "off"];

/** The faithful preset's speed-up: a 30 s window, so Retry-After's whole-second rounding is at most 1/30 of it. */
export const FAITHFUL_FACTOR = 10;

export const LIMIT_PRESETS: Readonly<Record<PresetName, LimitsConfig>> = {
  microsoft: MICROSOFT_LIMITS,
  // Microsoft's limits with time ten times faster: 30 s window, 6000 requests, 120,000 ms of
  // execution per window, 52 concurrent, every cost ÷ 10. The headline benchmark figures come from it.
  faithful: timeScaled(MICROSOFT_LIMITS, FAITHFUL_FACTOR),
  // The fast preset for tests that must hit a limit within seconds: time ÷ 100 (window 3 s,
  // 12,000 ms of execution, costs ÷ 100) but only 60 requests per window, so the request cap binds
  // where Microsoft's execution cap would, and Retry-After (at least 1 s) is a third of a window.
  // Not a scaling of `microsoft`: no reported figure comes from it.
  scaled: { ...timeScaled(MICROSOFT_LIMITS, 100), maxRequests: 60 },
  // Microsoft's figures kept (costs and hints still reported), none enforced.
  off: { ...MICROSOFT_LIMITS, enabled: false },
};

export class LimitsConfigError extends Error {
  readonly code = "EMULATOR_LIMITS_CONFIG";
}

function isPreset(name: unknown): name is PresetName {
  return typeof name === "string" && (PRESET_NAMES as readonly string[]).includes(name);
}

/**
 * A preset name, or a JSON file: `{"preset":"faithful", ...fields}` where fields override the preset
 * (default preset "microsoft"; `cost` may be partial).
 */
export function resolveLimits(spec: string | Partial<LimitsConfig> | undefined): LimitsConfig {
  if (spec === undefined) return LIMIT_PRESETS.off;
  if (typeof spec === "string") {
    if (isPreset(spec)) return LIMIT_PRESETS[spec];
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(spec, "utf8"));
    } catch (cause) {
      throw new LimitsConfigError(`--limits: not a preset (${PRESET_NAMES.join(", ")}) nor a readable JSON file: ${spec}`, {
        cause,
      });
    }
    return mergeLimits(raw);
  }
  return mergeLimits(spec);
}

const COST_FIELDS = [
  "requestMs",
  "createMs",
  "updateMs",
  "upsertMs",
  "deleteMs",
  "createMultipleRecordMs",
  "updateMultipleRecordMs",
  "upsertMultipleRecordMs",
  "readRowMs",
  "metadataReadMs",
] as const satisfies readonly (keyof CostModel)[];

function mergeLimits(raw: unknown): LimitsConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new LimitsConfigError("limits: expected a JSON object");
  }
  const r = raw as Record<string, unknown>;
  const presetName = r["preset"] ?? "microsoft";
  if (!isPreset(presetName)) {
    throw new LimitsConfigError(`limits.preset: expected one of ${PRESET_NAMES.join(", ")}`);
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
  // Shorthands of the earlier two-figure model: `recordMs` sets every single-row write (request or
  // $batch part), `bulkRecordMs` every bulk action's per-record cost; named fields win over them.
  const single = num("recordMs", Number.NaN, cost, "cost.");
  const bulk = num("bulkRecordMs", Number.NaN, cost, "cost.");
  const fallback = (key: (typeof COST_FIELDS)[number]): number => {
    if (!Number.isNaN(single) && (key === "createMs" || key === "updateMs" || key === "upsertMs" || key === "deleteMs")) return single;
    if (!Number.isNaN(bulk) && key.endsWith("MultipleRecordMs")) return bulk;
    return base.cost[key];
  };
  const merged = Object.fromEntries(COST_FIELDS.map((key) => [key, num(key, fallback(key), cost, "cost.")])) as unknown as CostModel;
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
    cost: merged,
  };
}

/** The cost model's per-row price of each operation kind that is charged by the row. */
const PER_ROW_MS: Readonly<Record<Exclude<OperationKind, "metadata" | "other">, keyof CostModel>> = {
  create: "createMs",
  update: "updateMs",
  upsert: "upsertMs",
  delete: "deleteMs",
  createMultiple: "createMultipleRecordMs",
  updateMultiple: "updateMultipleRecordMs",
  upsertMultiple: "upsertMultipleRecordMs",
  read: "readRowMs",
};

/** Server time the model charges one operation, without the request's own requestMs. */
export function operationMs(model: CostModel, work: Work): number {
  const plugin = work.pluginMs ?? 0;
  if (work.kind === "other") return plugin;
  if (work.kind === "metadata") return model.metadataReadMs + plugin;
  return work.rows * model[PER_ROW_MS[work.kind]] + plugin;
}

/** Server time the model charges one request: requestMs plus each operation it ran. */
export function requestMs(model: CostModel, works: readonly Work[]): number {
  let total = model.requestMs;
  for (const w of works) total += operationMs(model, w);
  return total;
}

/**
 * Records per second one user can sustain under this config with `recordsPerRequest` records in
 * each request of the given kind (a bulk action, or a $batch of single-row parts of that kind),
 * limited by the request budget and the execution-time budget; Infinity when limits are off.
 */
export function theoreticalRecordsPerSecond(config: LimitsConfig, recordsPerRequest: number, kind: OperationKind = "upsertMultiple"): number {
  if (!config.enabled) return Number.POSITIVE_INFINITY;
  const single = kind === "create" || kind === "update" || kind === "upsert" || kind === "delete";
  const works: Work[] = single
    ? Array.from({ length: recordsPerRequest }, () => ({ kind, rows: 1 }))
    : [{ kind, rows: recordsPerRequest }];
  const perRequestMs = requestMs(config.cost, works);
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

/**
 * Held from admission until the answer is written. `start` books the request's execution time at
 * the moment it starts executing; `finish` releases the concurrency slot. Both at most once.
 */
export interface Ticket {
  start(executionMs: number): void;
  finish(): void;
  /** The caller's remaining budgets now, running requests included, for the x-ms-ratelimit-* headers. */
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

  #slide(budget: UserBudget, now: number): void {
    const windowMs = this.config.windowSeconds * 1000;
    budget.requests.dropBefore(now - windowMs);
    budget.execution.dropBefore(now - windowMs);
  }

  /** Call when a request of `user` arrives, before reading its body; on success call `ticket.finish` once. */
  admit(user: string): Admission {
    const config = this.config;
    let budget = this.#users.get(user);
    if (budget === undefined) {
      budget = new UserBudget(config.maxRequests);
      this.#users.set(user, budget);
    }
    const now = this.now();
    const windowMs = config.windowSeconds * 1000;
    this.#slide(budget, now);

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
        // Free once enough of the oldest bookings (running requests' included) have left the window.
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
    let started = false;
    let finished = false;
    return {
      ok: true,
      ticket: {
        start: (executionMs: number) => {
          if (started) return;
          started = true;
          if (executionMs > 0) b.execution.push(this.now(), executionMs);
        },
        finish: () => {
          if (finished) return;
          finished = true;
          b.inFlight--;
        },
        headers: () => {
          // Limits off: nothing is held against the user, so every answer reports the whole
          // budget. Reporting what the requests would have spent tells a client that paces on the
          // headers (as Microsoft asks) to wait for a budget that is never enforced.
          if (!config.enabled) {
            return {
              "x-ms-ratelimit-burst-remaining-xrm-requests": String(config.maxRequests),
              "x-ms-ratelimit-time-remaining-xrm-requests": formatSeconds(config.maxExecutionMs / 1000),
            };
          }
          this.#slide(b, this.now());
          return {
            "x-ms-ratelimit-burst-remaining-xrm-requests": String(Math.max(0, config.maxRequests - b.requests.size)),
            "x-ms-ratelimit-time-remaining-xrm-requests": formatSeconds(Math.max(0, config.maxExecutionMs - b.execution.sum) / 1000),
          };
        },
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
