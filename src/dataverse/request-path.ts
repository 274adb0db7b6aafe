// The wrappers of one application user's request path that speak Dataverse: its standard headers,
// its bearer token (refreshed once on a 401) and its counters. The client composes them with the
// generic ones from http/ (retry, permit) around the transport.
import type { Dispatch, Interceptor } from "../http/dispatch.js";
import { headerValue, type RetryingRequest } from "../http/retry.js";
import type { PermitRequest } from "../http/permit.js";
import type { Permit } from "../http/throttle.js";
import type { TokenProvider } from "./auth.js";

/** One request on its way down the path. */
export interface WebApiRequest extends RetryingRequest, PermitRequest {
  /** Counts this request's attempts and 429s under this name too (the writer uses the table). */
  readonly tag?: string;
  /** What the attempts of one send share. */
  readonly attempts: SendState;
}

export interface SendState {
  /** A permit taken before the send, for its first attempt. */
  reserved?: Permit | undefined;
  /** The token was refreshed once after a 401 already. */
  refreshed: boolean;
  /** The next token must bypass the cache (set by a 401, cleared once a token came). */
  forceRefresh: boolean;
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

const BASE_HEADERS: Readonly<Record<string, string>> = {
  Accept: "application/json",
  "OData-MaxVersion": "4.0",
  "OData-Version": "4.0",
};

/**
 * The Web API's headers: OData versions, JSON, the client's own (impersonation, bypass flags), the
 * request's; a GET asks for `If-None-Match: null` (no cached answer), a body is JSON unless it says otherwise.
 */
export function webApiHeaders(clientHeaders: Readonly<Record<string, string>> | undefined): Interceptor<WebApiRequest> {
  return (next) => (req) => {
    const headers: Record<string, string> = { ...BASE_HEADERS, ...(clientHeaders ?? {}), ...req.headers };
    if (req.method === "GET" && headerValue(headers, "if-none-match") === undefined) headers["If-None-Match"] = "null";
    if (req.body !== undefined && headerValue(headers, "content-type") === undefined) headers["Content-Type"] = "application/json; charset=utf-8";
    return next({ ...req, headers });
  };
}

/** The bearer token; on the first 401 of a send, a fresh token and one resend (counted by `onRefresh`). */
export function bearerToken(tokens: TokenProvider, onRefresh: (req: WebApiRequest) => void): Interceptor<WebApiRequest> {
  return (next) => {
    const withToken: Dispatch<WebApiRequest> = async (req) => {
      const token = await tokens.getToken(req.attempts.forceRefresh ? { forceRefresh: true } : undefined);
      req.attempts.forceRefresh = false;
      const res = await next({ ...req, headers: { ...req.headers, Authorization: `Bearer ${token}` } });
      if (res.status !== 401 || req.attempts.refreshed) return res;
      req.attempts.refreshed = true;
      req.attempts.forceRefresh = true;
      onRefresh(req);
      return withToken(req);
    };
    return withToken;
  };
}

/** Counts every request sent and every 429, in total and per tag. */
export function counting(counters: ClientCounters, tag: (name: string) => TagCounters): Interceptor<WebApiRequest> {
  return (next) => async (req) => {
    counters.requests++;
    const tagged = req.tag === undefined ? undefined : tag(req.tag);
    if (tagged !== undefined) tagged.requests++;
    const res = await next(req);
    if (res.status === 429) {
      counters.throttled429++;
      if (tagged !== undefined) tagged.throttled429++;
    }
    return res;
  };
}
