// One application user's view of the Web API: standard headers, bearer token (refreshed once on a
// 401), adaptive concurrency and retries. Everything that talks to Dataverse goes through `send`.
import type { Clock } from "../http/clock.js";
import { Throttle, type Slot, type SlotOutcome } from "../http/throttle.js";
import type { HttpResponse, Transport } from "../http/transport.js";
import { TransportError } from "../http/transport.js";
import {
  classifyStatus,
  headerValue,
  RetryBudget,
  RetryBudgetExhaustedError,
  withRetry,
  type BackoffOptions,
  type RetryDecision,
} from "../http/retry.js";
import { AuthError, type TokenProvider } from "./auth.js";
import { DataverseError, errorFromResponse, isObject, pathOf } from "./errors.js";
import { encodeQueryValue } from "./keys.js";

export interface DataverseClientOptions {
  /** Service root, e.g. https://org.crm.dynamics.com/api/data/v9.2/ */
  readonly endpoint: URL;
  readonly transport: Transport;
  readonly tokens: TokenProvider;
  readonly clock: Clock;
  /** This user's concurrency; a default one (16, up to 52) is made when absent. */
  readonly throttle?: Throttle;
  readonly retryBudgetMs: number;
  readonly backoff?: BackoffOptions;
  /** Per request, for headers and for each gap in the body. */
  readonly timeoutMs?: number;
  /** Added to every request (impersonation, bypass flags). */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface ClientRequest {
  readonly method: string;
  /** Relative to the service root (already encoded, may carry a query), or an absolute URL on the same host. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** JSON text, or its UTF-8 bytes (large bodies: held once, outside V8's heap, while in flight). */
  readonly body?: string | Buffer;
  /** Rows in the request, so the throttle compares latency per row; absent for reads (no latency signal). */
  readonly units?: number;
  /** Shared budget when the caller tracks one across requests (per operation). */
  readonly budget?: RetryBudget;
  /** Statuses to hand back instead of retrying (the writer retries $batch parts itself). */
  readonly noRetryStatuses?: readonly number[];
  /** A slot already taken from this client's throttle, used for the first attempt. */
  readonly slot?: Slot;
  /** Counts this request's attempts and 429s under this name too (the writer uses the table). */
  readonly tag?: string;
}

export interface TagCounters {
  requests: number;
  throttled429: number;
  /** Attempts after the first (429, 5xx, reset, timeout, token refresh): each resend once. */
  retries: number;
}

export interface ClientCounters {
  requests: number;
  retries: number;
  throttled429: number;
  unauthorizedRefreshes: number;
}

export interface WhoAmI {
  readonly userId: string;
  readonly businessUnitId: string;
  readonly organizationId: string;
  /** x-ms-dop-hint, when Dataverse sent one. */
  readonly dopHint?: number;
}

export interface QueryOptions {
  readonly select?: readonly string[];
  /** OData filter expression, not yet URL-encoded. */
  readonly filter?: string;
  readonly top?: number;
  readonly orderby?: string;
  /** Prefer: odata.maxpagesize (Dataverse allows up to 5000). */
  readonly maxPageSize?: number;
}

const BASE_HEADERS: Readonly<Record<string, string>> = {
  Accept: "application/json",
  "OData-MaxVersion": "4.0",
  "OData-Version": "4.0",
};

export class DataverseClient {
  readonly endpoint: URL;
  readonly throttle: Throttle;
  readonly counters: ClientCounters = { requests: 0, retries: 0, throttled429: 0, unauthorizedRefreshes: 0 };
  /** Attempts and 429 answers per request tag. */
  readonly tagged = new Map<string, TagCounters>();
  readonly #o: DataverseClientOptions;

  constructor(options: DataverseClientOptions) {
    if (options.endpoint.protocol !== "https:") throw new TypeError("web_api_endpoint must use https");
    const root = options.endpoint.href.endsWith("/") ? options.endpoint.href : `${options.endpoint.href}/`;
    this.endpoint = new URL(root);
    this.#o = options;
    this.throttle = options.throttle ?? new Throttle({ clock: options.clock, initial: 16, max: 52 });
  }

  get clientId(): string {
    return this.#o.tokens.clientId;
  }

  /** The service root's path, e.g. "/api/data/v9.2/", for $batch part URLs. */
  get rootPath(): string {
    return this.endpoint.pathname;
  }

  resolve(path: string): string {
    if (/^https:\/\//i.test(path)) {
      const u = new URL(path);
      // Never send the bearer token to another host (a nextLink or OData-EntityId is data we got).
      if (u.host !== this.endpoint.host) throw new TypeError("refusing to follow a URL on another host");
      return u.href;
    }
    return `${this.endpoint.href}${path.replace(/^\/+/, "")}`;
  }

  /**
   * Sends one request and returns the final answer, whatever its status. Retries 429/502/503/504,
   * resets and timeouts within the budget, refreshes the token once on a 401. Throws TransportError
   * for unreachable hosts, AuthError for token failures, DataverseError(kind "transient") when the
   * budget is spent.
   */
  async send(req: ClientRequest): Promise<HttpResponse> {
    const url = this.resolve(req.path);
    const budget = req.budget ?? new RetryBudget(this.#o.retryBudgetMs);
    let forceRefresh = false;
    let refreshed = false;
    const passThrough = new Set(req.noRetryStatuses ?? []);

    let reserved = req.slot;
    const attempt = async (): Promise<HttpResponse> => {
      const slot = reserved ?? (await this.throttle.acquire());
      reserved = undefined;
      const started = this.#o.clock.now();
      let outcome: SlotOutcome = { kind: "neutral" };
      try {
        const token = await this.#o.tokens.getToken(forceRefresh ? { forceRefresh: true } : undefined);
        forceRefresh = false;
        const headers: Record<string, string> = { ...BASE_HEADERS, ...(this.#o.headers ?? {}), ...(req.headers ?? {}) };
        if (req.method === "GET" && headerValue(headers, "if-none-match") === undefined) headers["If-None-Match"] = "null";
        if (req.body !== undefined && headerValue(headers, "content-type") === undefined) {
          headers["Content-Type"] = "application/json; charset=utf-8";
        }
        headers.Authorization = `Bearer ${token}`;
        this.counters.requests++;
        const tagged = req.tag === undefined ? undefined : this.#tag(req.tag);
        if (tagged !== undefined) tagged.requests++;
        const res = await this.#o.transport.request({
          method: req.method,
          url,
          headers,
          ...(req.body === undefined ? {} : { body: req.body }),
          ...(this.#o.timeoutMs === undefined ? {} : { timeoutMs: this.#o.timeoutMs }),
        });
        outcome = this.#slotOutcome(res, started, req.units);
        if (res.status === 429 && tagged !== undefined) tagged.throttled429++;
        return res;
      } catch (err) {
        if (err instanceof TransportError && err.retryable) outcome = { kind: "overloaded" };
        throw err;
      } finally {
        slot.release(outcome);
      }
    };

    const decide = (o: { ok: true; value: HttpResponse } | { ok: false; error: unknown }): RetryDecision => {
      if (!o.ok) {
        if (o.error instanceof TransportError) return { retryable: o.error.retryable };
        if (o.error instanceof AuthError) return { retryable: o.error.retryable };
        return { retryable: false };
      }
      const res = o.value;
      if (res.status === 401 && !refreshed) {
        refreshed = true;
        forceRefresh = true;
        this.counters.unauthorizedRefreshes++;
        return { retryable: true, retryAfterMs: 0 };
      }
      if (passThrough.has(res.status)) return { retryable: false };
      return classifyStatus(res.status, res.headers);
    };

    try {
      return await withRetry(attempt, decide, {
        clock: this.#o.clock,
        budget,
        ...(this.#o.backoff === undefined ? {} : { backoff: this.#o.backoff }),
        onRetry: () => {
          this.counters.retries++;
          if (req.tag !== undefined) this.#tag(req.tag).retries++;
        },
      });
    } catch (err) {
      if (err instanceof RetryBudgetExhaustedError) {
        const last = err.last;
        if (isResponse(last)) throw errorFromResponse(req.method, url, last, true, err);
        throw new DataverseError({
          kind: "transient",
          status: 0,
          code: last instanceof TransportError ? last.code : "",
          method: req.method,
          path: pathOf(url),
          retryable: true,
          serverMessage: "",
          summary: `no answer until the retry budget was spent (${last instanceof Error ? last.message : "unknown error"})`,
          cause: err,
        });
      }
      throw err;
    }
  }

  #tag(name: string): TagCounters {
    let c = this.tagged.get(name);
    if (c === undefined) {
      c = { requests: 0, throttled429: 0, retries: 0 };
      this.tagged.set(name, c);
    }
    return c;
  }

  #slotOutcome(res: HttpResponse, started: number, units: number | undefined): SlotOutcome {
    if (res.status === 429) {
      this.counters.throttled429++;
      const d = classifyStatus(res.status, res.headers);
      // Without a Retry-After there is no server timing to honour; a short pause still stops the herd.
      return { kind: "throttled", retryAfterMs: d.retryAfterMs ?? 1000 };
    }
    if (res.status >= 500) return { kind: "overloaded" };
    // Only writes (which say how many rows they carry) are evidence about write capacity: they feed the
    // latency signal and the growth. A read (metadata, lookups) leaves the limit where it is, so the
    // first writes go out at the x-ms-dop-hint rather than at whatever a dozen metadata reads grew it to.
    if (res.status < 400) return units === undefined ? { kind: "neutral" } : { kind: "ok", latencyMs: this.#o.clock.now() - started, units };
    return { kind: "neutral" };
  }

  /** GET returning parsed JSON; non-2xx becomes a DataverseError. */
  async get(path: string, headers?: Readonly<Record<string, string>>): Promise<{ body: unknown; headers: Readonly<Record<string, string>> }> {
    const res = await this.send({ method: "GET", path, ...(headers === undefined ? {} : { headers }) });
    if (res.status < 200 || res.status >= 300) throw errorFromResponse("GET", this.resolve(path), res, false);
    const text = bodyText(res.body);
    let body: unknown;
    try {
      body = text === "" ? {} : JSON.parse(text);
    } catch (cause) {
      throw new DataverseError({
        kind: "unexpected",
        status: res.status,
        code: "",
        method: "GET",
        path: pathOf(this.resolve(path)),
        retryable: false,
        serverMessage: "",
        summary: "the answer is not JSON",
        cause,
      });
    }
    return { body, headers: res.headers };
  }

  /** Pages of rows, following @odata.nextLink. */
  async *query(entitySet: string, options: QueryOptions = {}): AsyncGenerator<Record<string, unknown>[]> {
    const params: string[] = [];
    if (options.select !== undefined && options.select.length > 0) params.push(`$select=${options.select.join(",")}`);
    if (options.filter !== undefined) params.push(`$filter=${encodeQueryValue(options.filter)}`);
    if (options.top !== undefined) params.push(`$top=${options.top}`);
    if (options.orderby !== undefined) params.push(`$orderby=${encodeQueryValue(options.orderby)}`);
    let next: string | undefined = params.length === 0 ? entitySet : `${entitySet}?${params.join("&")}`;
    const headers: Record<string, string> =
      options.maxPageSize === undefined ? {} : { Prefer: `odata.maxpagesize=${options.maxPageSize}` };
    while (next !== undefined) {
      const { body } = await this.get(next, headers);
      if (!isObject(body) || !Array.isArray(body.value)) return;
      yield body.value.filter(isObject);
      const link = body["@odata.nextLink"];
      next = typeof link === "string" ? link : undefined;
    }
  }

  /**
   * Fetches this user's token ahead of its first request, so a user of a pool starts sending with
   * the others instead of a token round trip later. A failure is left for that first request to
   * report (the provider does not cache failures), so the error surfaces where it is handled.
   */
  prefetchToken(): void {
    this.#o.tokens.getToken().catch(() => undefined);
  }

  async whoAmI(): Promise<WhoAmI> {
    const { body, headers } = await this.get("WhoAmI");
    if (!isObject(body)) throw new TypeError("WhoAmI answer is not an object");
    const dop = Number(headerValue(headers, "x-ms-dop-hint"));
    return {
      userId: String(body.UserId ?? ""),
      businessUnitId: String(body.BusinessUnitId ?? ""),
      organizationId: String(body.OrganizationId ?? ""),
      ...(Number.isInteger(dop) && dop > 0 ? { dopHint: dop } : {}),
    };
  }
}

export function bodyText(body: Buffer | string): string {
  return typeof body === "string" ? body : body.toString("utf8");
}

function isResponse(v: unknown): v is HttpResponse {
  return isObject(v) && typeof v.status === "number" && "headers" in v && "body" in v;
}
