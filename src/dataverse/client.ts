// One application user's view of the Web API. Everything that talks to Dataverse goes through
// `send`, down one path of wrappers: retry (DATAVERSE_RETRY_RULE, within the budget) → permit (this
// user's throttle) → Web API headers → bearer token (refreshed once on a 401) → counting → transport.
import type { Clock } from "../http/clock.js";
import { compose, transportDispatch, type Dispatch } from "../http/dispatch.js";
import { headerValue, RetryBudget, RetryBudgetExhaustedError, retrying, type BackoffOptions } from "../http/retry.js";
import { permitted } from "../http/permit.js";
import type { Permit, Throttle } from "../http/throttle.js";
import type { HttpResponse, Transport } from "../http/transport.js";
import { TransportError } from "../http/transport.js";
import { retryAfterMs } from "./answer.js";
import { AuthError, type TokenProvider } from "./auth.js";
import { DataverseError, errorFromResponse, ForeignHostError, isObject, pathOf } from "./errors.js";
import { encodeQueryValue } from "./keys.js";
import { DATAVERSE_RETRY_RULE, userThrottle } from "./limits.js";
import { ExecutionPacer, paced } from "./pacing.js";
import { bearerToken, counting, webApiHeaders, type ClientCounters, type TagCounters, type WebApiRequest } from "./request-path.js";

export type { ClientCounters, TagCounters } from "./request-path.js";

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
  /** Pace sends on the x-ms-ratelimit-* headers (pacing.ts); on unless false. */
  readonly pacing?: boolean;
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
  /** Statuses to hand back instead of retrying (the writer moves a 429 to another user itself). */
  readonly handBack?: readonly number[];
  /** A permit already taken from this client's throttle, used for the first attempt. */
  readonly permit?: Permit;
  /** Counts this request's attempts and 429s under this name too (the writer uses the table). */
  readonly tag?: string;
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

export class DataverseClient {
  readonly endpoint: URL;
  readonly throttle: Throttle;
  readonly counters: ClientCounters = { requests: 0, retries: 0, throttled429: 0, unauthorizedRefreshes: 0 };
  /** Attempts and 429 answers per request tag. */
  readonly tagged = new Map<string, TagCounters>();
  /** Spreads this user's execution budget over the window (pacing.ts). */
  readonly pacer: ExecutionPacer;
  readonly #options: DataverseClientOptions;
  readonly #dispatch: Dispatch<WebApiRequest>;

  constructor(options: DataverseClientOptions) {
    if (options.endpoint.protocol !== "https:") throw new TypeError("web_api_endpoint must use https");
    const root = options.endpoint.href.endsWith("/") ? options.endpoint.href : `${options.endpoint.href}/`;
    this.endpoint = new URL(root);
    this.#options = options;
    this.pacer = new ExecutionPacer(options.clock);
    const throttle = options.throttle ?? userThrottle({ clock: options.clock, initial: 16, max: 52 });
    this.throttle = throttle;
    const countRetry = (req: WebApiRequest): void => {
      this.counters.retries++;
      if (req.tag !== undefined) this.#tag(req.tag).retries++;
    };
    this.#dispatch = compose(
      transportDispatch<WebApiRequest>(options.transport),
      retrying<WebApiRequest>({
        rule: DATAVERSE_RETRY_RULE,
        clock: options.clock,
        ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
        retryableError: (err) => (err instanceof TransportError || err instanceof AuthError) && err.retryable,
        onRetry: countRetry,
      }),
      permitted<WebApiRequest>({
        clock: options.clock,
        acquire: async (req) => {
          const reserved = req.attempts.reserved;
          req.attempts.reserved = undefined;
          return reserved ?? (await throttle.acquire());
        },
        retryAfterMs,
      }),
      ...(options.pacing === false ? [] : [paced(this.pacer, options.clock)]),
      webApiHeaders(options.headers),
      bearerToken(options.tokens, (req) => {
        this.counters.unauthorizedRefreshes++;
        countRetry(req);
      }),
      counting(this.counters, (name) => this.#tag(name)),
    );
  }

  get clientId(): string {
    return this.#options.tokens.clientId;
  }

  /** The service root's path, e.g. "/api/data/v9.2/", for $batch part URLs. */
  get rootPath(): string {
    return this.endpoint.pathname;
  }

  resolve(path: string): string {
    if (/^https:\/\//i.test(path)) {
      const u = new URL(path);
      // Never send the bearer token to another host (a nextLink or OData-EntityId is data we got).
      if (u.host !== this.endpoint.host) throw new ForeignHostError(u.host, this.endpoint.host);
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
    try {
      return await this.#dispatch({
        method: req.method,
        url,
        headers: req.headers ?? {},
        ...(req.body === undefined ? {} : { body: req.body }),
        ...(this.#options.timeoutMs === undefined ? {} : { timeoutMs: this.#options.timeoutMs }),
        ...(req.units === undefined ? {} : { units: req.units }),
        ...(req.tag === undefined ? {} : { tag: req.tag }),
        budget: req.budget ?? new RetryBudget(this.#options.retryBudgetMs),
        ...(req.handBack === undefined ? {} : { handBack: new Set(req.handBack) }),
        attempts: { ...(req.permit === undefined ? {} : { reserved: req.permit }), refreshed: false, forceRefresh: false },
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
    this.#options.tokens.getToken().catch(() => undefined);
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
