// Scripted faults, so the connector's retry and recovery paths run against real sockets.
// Rules come from `--faults FILE` (a JSON array of FaultRule, or {"rules":[...]}) and from the
// controller `startEmulator(...).faults` at run time. The first rule whose selectors match and whose
// counters say "fire" decides; a request matches at most one rule.
import { readFileSync } from "node:fs";

export type FaultKind =
  /** Answer `status` (500, 502, 503 or 504) with a Dataverse-shaped error body (and Retry-After if given). */
  | "status"
  /** Answer 429 with `Retry-After: retryAfterSeconds` and the request-count code. */
  | "throttle"
  /** Answer 413 as if the body were too large. */
  | "too-large"
  /** Run the request, then send the status line, headers and part of the body, and destroy the socket. */
  | "reset"
  /** Wait `delayMs`, then handle the request normally. */
  | "delay"
  /** Never answer; the socket stays open until the client gives up or the emulator closes. */
  | "hang"
  /** Revoke every token of the calling client issued so far, then handle the request (→ 401). */
  | "revoke-tokens";

export interface FaultRule {
  readonly fault: FaultKind;
  /** HTTP method, case-insensitive. */
  readonly method?: string;
  /** Substring of the request target (path and query as sent, e.g. "/api/data/v9.2/$batch"). */
  readonly path?: string;
  /** Regular expression (JavaScript syntax) tested against the request target. */
  readonly pathRegex?: string;
  /** Only requests of this client id (from the bearer token, or the token request's client_id). */
  readonly clientId?: string;
  /** Let the first `after` matching requests through untouched. */
  readonly after?: number;
  /** Then fire on every `every`-th matching request (1 = each one). */
  readonly every?: number;
  /** Fire at most `count` times (default: without end). */
  readonly count?: number;
  readonly status?: number;
  readonly retryAfterSeconds?: number;
  readonly delayMs?: number;
  /** For "reset": how many body bytes to send before the reset (default: half the body). */
  readonly resetAfterBytes?: number;
  /** Error code and message of the injected body (defaults per status). */
  readonly code?: string;
  readonly message?: string;
}

export class FaultConfigError extends Error {
  readonly code = "EMULATOR_FAULTS_CONFIG";
}

const KINDS: ReadonlySet<string> = new Set(["status", "throttle", "too-large", "reset", "delay", "hang", "revoke-tokens"]);

export function loadFaultRules(file: string): FaultRule[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (cause) {
    throw new FaultConfigError(`--faults: cannot read JSON from ${file}`, { cause });
  }
  return parseFaultRules(raw);
}

export function parseFaultRules(raw: unknown): FaultRule[] {
  const list =
    Array.isArray(raw)
      ? raw
      : typeof raw === "object" && raw !== null && Array.isArray((raw as Record<string, unknown>)["rules"])
        ? ((raw as Record<string, unknown>)["rules"] as unknown[])
        : undefined;
  if (list === undefined) throw new FaultConfigError("faults: expected an array of rules or {\"rules\": [...]}");
  return list.map((item, i) => parseRule(item, `faults[${i}]`));
}

function parseRule(raw: unknown, at: string): FaultRule {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new FaultConfigError(`${at}: expected an object`);
  const r = raw as Record<string, unknown>;
  const fault = r["fault"];
  if (typeof fault !== "string" || !KINDS.has(fault)) {
    throw new FaultConfigError(`${at}.fault: expected one of ${[...KINDS].join(", ")}`);
  }
  const rule: Record<string, unknown> = { fault };
  for (const key of ["method", "path", "pathRegex", "clientId", "code", "message"]) {
    const v = r[key];
    if (v === undefined) continue;
    if (typeof v !== "string") throw new FaultConfigError(`${at}.${key}: expected a string`);
    rule[key] = v;
  }
  for (const key of ["after", "every", "count", "status", "retryAfterSeconds", "delayMs", "resetAfterBytes"]) {
    const v = r[key];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
      throw new FaultConfigError(`${at}.${key}: expected a non-negative integer`);
    }
    rule[key] = v;
  }
  if (typeof rule["pathRegex"] === "string") {
    try {
      new RegExp(rule["pathRegex"]);
    } catch (cause) {
      throw new FaultConfigError(`${at}.pathRegex: not a valid regular expression`, { cause });
    }
  }
  if (fault === "status") {
    const status = rule["status"] ?? 503;
    if (status !== 500 && status !== 502 && status !== 503 && status !== 504) {
      throw new FaultConfigError(`${at}.status: expected 500, 502, 503 or 504`);
    }
  }
  if (rule["every"] === 0) throw new FaultConfigError(`${at}.every: must be at least 1`);
  return rule as unknown as FaultRule;
}

interface ActiveRule {
  readonly rule: FaultRule;
  readonly regex: RegExp | undefined;
  readonly method: string | undefined;
  matched: number;
  fired: number;
}

export interface FaultRequest {
  readonly method: string;
  readonly target: string;
  readonly clientId: string | undefined;
}

/** The run-time controller handed to tests as `emulator.faults`. */
export interface FaultController {
  /** Adds rules after the existing ones; returns their ids for `remove`. */
  add(...rules: FaultRule[]): number[];
  remove(id: number): void;
  clear(): void;
  /** Every token of the client issued until now stops working (401). */
  revokeTokens(clientId: string): void;
  /** How often each rule fired, in the order added. */
  fired(): readonly { readonly id: number; readonly rule: FaultRule; readonly fired: number }[];
}

export class FaultInjector implements FaultController {
  readonly #rules = new Map<number, ActiveRule>();
  #nextId = 1;

  constructor(
    rules: readonly FaultRule[],
    private readonly onRevoke: (clientId: string) => void,
  ) {
    this.add(...parseFaultRules(rules));
  }

  get empty(): boolean {
    return this.#rules.size === 0;
  }

  add(...rules: FaultRule[]): number[] {
    return parseFaultRules(rules).map((rule) => {
      const id = this.#nextId++;
      this.#rules.set(id, {
        rule,
        regex: rule.pathRegex === undefined ? undefined : new RegExp(rule.pathRegex),
        method: rule.method?.toUpperCase(),
        matched: 0,
        fired: 0,
      });
      return id;
    });
  }

  remove(id: number): void {
    this.#rules.delete(id);
  }

  clear(): void {
    this.#rules.clear();
  }

  revokeTokens(clientId: string): void {
    this.onRevoke(clientId);
  }

  fired(): { id: number; rule: FaultRule; fired: number }[] {
    return [...this.#rules].map(([id, r]) => ({ id, rule: r.rule, fired: r.fired }));
  }

  /** The rule that fires for this request, if any; advances the counters of matching rules. */
  pick(request: FaultRequest): FaultRule | undefined {
    if (this.#rules.size === 0) return undefined;
    for (const active of this.#rules.values()) {
      const { rule } = active;
      if (active.method !== undefined && active.method !== request.method) continue;
      if (rule.path !== undefined && !request.target.includes(rule.path)) continue;
      if (active.regex !== undefined && !active.regex.test(request.target)) continue;
      if (rule.clientId !== undefined && rule.clientId.toLowerCase() !== request.clientId?.toLowerCase()) continue;
      if (rule.count !== undefined && active.fired >= rule.count) continue;
      active.matched++;
      const position = active.matched - (rule.after ?? 0);
      if (position <= 0) continue;
      if ((position - 1) % (rule.every ?? 1) !== 0) continue;
      active.fired++;
      return rule;
    }
    return undefined;
  }
}

/** Default error body of an injected status, in Dataverse's shape. The docs do not publish these texts. */
export function faultBody(rule: FaultRule, status: number): string {
  const message =
    rule.message ??
    (status === 502
      ? "Bad Gateway"
      : status === 503
        ? "The service is temporarily unavailable. Please try again later."
        : status === 504
          ? "The operation has timed out."
          : status === 413
            ? "The request is too large."
            : "An unexpected error occurred.");
  // 0x80040216 is UnexpectedError, the generic code Dataverse uses for server-side failures.
  return JSON.stringify({ error: { code: rule.code ?? "0x80040216", message } });
}
