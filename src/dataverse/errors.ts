// Dataverse's error answers as typed data. Messages carry the method and the path without its
// query string; Dataverse's own message is kept in `serverMessage` because it can quote record
// values (e.g. a duplicate key), so callers decide whether it may be shown.
import { headerValue } from "../http/retry.js";

/** Coarse, stable categories the writer and commands branch on. */
export type DataverseErrorKind =
  /** 401 after a fresh token: the credentials do not open this environment. */
  | "unauthorized"
  /** 403 0x80072560: the app is not an application user in this environment. */
  | "not_member"
  /** 403 privilege errors. */
  | "forbidden"
  /** Table or resource does not exist (metadata, wrong entity set). */
  | "not_found"
  /** 429 or 5xx after the retry budget was spent. */
  | "transient"
  /** Any other answer we cannot act on. */
  | "unexpected";

/** Codes Microsoft documents for missing privileges (web-service-error-codes). */
export const PRIVILEGE_CODES = new Set(["0x80040220", "0x80040231"]);
export const NOT_MEMBER_CODE = "0x80072560";

export class DataverseError extends Error {
  override readonly name = "DataverseError";
  readonly kind: DataverseErrorKind;
  readonly status: number;
  /** Dataverse's error code, e.g. "0x80040220"; "" when it gave none. */
  readonly code: string;
  readonly method: string;
  /** URL path without the query string. */
  readonly path: string;
  readonly retryable: boolean;
  /** Dataverse's message; may quote record values, never put it in a log without thought. */
  readonly serverMessage: string;
  readonly requestId?: string;

  constructor(init: {
    kind: DataverseErrorKind;
    status: number;
    code: string;
    method: string;
    path: string;
    retryable: boolean;
    serverMessage: string;
    requestId?: string;
    summary?: string;
    cause?: unknown;
  }) {
    const what = init.summary ?? defaultSummary(init.kind, init.status, init.code);
    super(`${init.method} ${withoutKeyValues(init.path)}: ${what}`, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = init.kind;
    this.status = init.status;
    this.code = init.code;
    this.method = init.method;
    this.path = init.path;
    this.retryable = init.retryable;
    this.serverMessage = init.serverMessage;
    if (init.requestId !== undefined) this.requestId = init.requestId;
  }
}

function defaultSummary(kind: DataverseErrorKind, status: number, code: string): string {
  const suffix = code === "" ? `HTTP ${status}` : `HTTP ${status} ${code}`;
  switch (kind) {
    case "unauthorized":
      return `Dataverse refused the access token (${suffix}); check that the endpoint matches the app registration's environment`;
    case "not_member":
      return `the app is not an application user in this Dataverse environment (${suffix}); add it under Power Platform admin center > Application users`;
    case "forbidden":
      return `the application user lacks a privilege (${suffix}); give its security role the missing privilege on this table`;
    case "not_found":
      return `not found (${suffix})`;
    case "transient":
      return `Dataverse stayed unavailable or throttled until the retry budget was spent (${suffix})`;
    case "unexpected":
      return `unexpected answer (${suffix})`;
  }
}

export interface ParsedError {
  readonly code: string;
  readonly message: string;
}

/** Reads `{"error":{"code","message"}}`; tolerates empty, non-JSON and OData-level bodies. */
export function parseErrorBody(body: Buffer | string | undefined): ParsedError {
  if (body === undefined) return { code: "", message: "" };
  const text = typeof body === "string" ? body : body.toString("utf8");
  if (text.trim() === "") return { code: "", message: "" };
  try {
    const parsed: unknown = JSON.parse(text);
    if (isObject(parsed) && isObject(parsed.error)) {
      const code = typeof parsed.error.code === "string" ? normaliseCode(parsed.error.code) : "";
      const message = typeof parsed.error.message === "string" ? parsed.error.message : "";
      return { code, message };
    }
  } catch {
    // A gateway or load balancer answered in HTML or plain text.
  }
  return { code: "", message: text.length > 300 ? `${text.slice(0, 300)}…` : text };
}

/** "0x0" means "no Dataverse code" (OData-level errors); hex codes are lower-cased for comparison. */
function normaliseCode(code: string): string {
  if (code === "0x0" || code === "0") return "";
  return /^0x[0-9a-f]+$/i.test(code) ? `0x${code.slice(2).toLowerCase()}` : code;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The path with every key predicate's contents left out (`contacts(…)`): a key is a record's value
 * (an e-mail address, an account number), and messages never carry record values. Parentheses inside
 * values are percent-encoded by keys.ts, so a predicate ends at the first ')'.
 */
export function withoutKeyValues(path: string): string {
  return path.replace(/\([^)]*\)/g, "(…)");
}

export function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    const cut = url.search(/[?#]/);
    return cut < 0 ? url : url.slice(0, cut);
  }
}

/** Builds the error for a final non-2xx answer (`parsed`: its body, when the caller read it already). */
export function errorFromResponse(
  method: string,
  url: string,
  res: { status: number; headers: Readonly<Record<string, string>>; body: Buffer | string },
  retryable: boolean,
  cause?: unknown,
  parsed: ParsedError = parseErrorBody(res.body),
): DataverseError {
  const { code, message } = parsed;
  const requestId = headerValue(res.headers, "x-ms-service-request-id") ?? headerValue(res.headers, "req_id");
  let kind: DataverseErrorKind = "unexpected";
  if (res.status === 401) kind = "unauthorized";
  else if (res.status === 403 && code === NOT_MEMBER_CODE) kind = "not_member";
  else if (res.status === 403) kind = "forbidden";
  else if (res.status === 404) kind = "not_found";
  else if (retryable) kind = "transient";
  return new DataverseError({
    kind,
    status: res.status,
    code,
    method,
    path: pathOf(url),
    retryable,
    serverMessage: message,
    ...(requestId === undefined ? {} : { requestId }),
    ...(cause === undefined ? {} : { cause }),
  });
}

/** A failure that concerns the whole run (credentials, membership, privilege), not one record. */
export function isRunLevel(status: number, code: string): boolean {
  return status === 401 || code === NOT_MEMBER_CODE || (status === 403 && (PRIVILEGE_CODES.has(code) || code === ""));
}

/**
 * Dataverse handed back a URL (an @odata.nextLink, an OData-EntityId) on another host than
 * web_api_endpoint's. The bearer token is never sent there; the run stops instead.
 */
export class ForeignHostError extends Error {
  override readonly name = "ForeignHostError";
  readonly code = "foreign_host";
  constructor(
    /** The host the link names (a host, never a path or query, which could hold key values). */
    readonly host: string,
    /** web_api_endpoint's host. */
    readonly endpointHost: string,
  ) {
    super(`refusing to follow a link to ${host}: only ${endpointHost} (web_api_endpoint) gets the access token`);
  }
}
