// The one place that opens sockets. Knows HTTP only: no OData, no Airbyte.
import { createRequire } from "node:module";
import * as tlsModule from "node:tls";
import type { Agent as UndiciAgent, errors as UndiciErrors } from "undici";

// undici's index also loads fetch, WebSocket, cookies, the cache stores and the mocks: about
// 60-90 ms of a connector's start-up on a 2-core machine, for nothing this transport uses. These
// three modules are what the index itself builds `Agent` and its `request` from (it copies
// `request` onto Dispatcher.prototype; calling `request` on the agent directly does the same
// without touching a shared prototype). The transport tests and every test against the emulator
// load them, so a release of undici that moved them fails there, not in the field.
const requireCjs = createRequire(import.meta.url);
const Agent = requireCjs("undici/lib/dispatcher/agent") as typeof UndiciAgent;
const undiciRequest = requireCjs("undici/lib/api/api-request") as UndiciAgent["request"];
const undiciErrors = requireCjs("undici/lib/core/errors") as typeof UndiciErrors;

export interface HttpRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  readonly signal?: AbortSignal;
  /** Applies separately to waiting for the headers and to each gap while reading the body. */
  readonly timeoutMs?: number;
}

export interface HttpResponse {
  readonly status: number;
  /** Header names lower-cased; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | string;
}

export interface Transport {
  request(req: HttpRequest): Promise<HttpResponse>;
  close?(): Promise<void>;
}

export type TransportErrorCode =
  | "ECONNRESET"
  | "ETIMEDOUT"
  | "ECONNREFUSED"
  | "ENOTFOUND"
  | "CERT_UNTRUSTED"
  | "CERT_INVALID"
  | "ABORTED"
  | "EPROTO"
  | "UNKNOWN";

/**
 * A request that got no HTTP answer. Carries the method and URL path only: a query string can hold
 * key values and headers hold the bearer token, so neither is ever part of the message.
 */
export class TransportError extends Error {
  override readonly name = "TransportError";
  readonly code: TransportErrorCode;
  readonly method: string;
  readonly path: string;
  /** Resets and timeouts may succeed on a retry; refused, unknown host and certificate errors will not. */
  readonly retryable: boolean;

  constructor(code: TransportErrorCode, method: string, url: string, cause?: unknown) {
    const path = safePath(url);
    super(`${method} ${path}: ${describe(code)}`, cause === undefined ? undefined : { cause });
    this.code = code;
    this.method = method;
    this.path = path;
    this.retryable = code === "ECONNRESET" || code === "ETIMEDOUT" || code === "EPROTO";
  }
}

function describe(code: TransportErrorCode): string {
  switch (code) {
    case "ECONNRESET":
      return "connection reset";
    case "ETIMEDOUT":
      return "timed out";
    case "ECONNREFUSED":
      return "connection refused (is the host and port right?)";
    case "ENOTFOUND":
      return "host not found (check the URL's host name)";
    case "CERT_UNTRUSTED":
      return "server certificate is not trusted (a private CA or a TLS-inspecting proxy signs it: give that CA's certificate as ca_file)";
    case "CERT_INVALID":
      return "server certificate is invalid for this host or expired";
    case "ABORTED":
      return "aborted";
    case "EPROTO":
      return "protocol error";
    case "UNKNOWN":
      return "request failed";
  }
}

/** Host and path of a URL without its query string or fragment. */
export function safePath(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    const cut = url.search(/[?#]/);
    return cut < 0 ? url : url.slice(0, cut);
  }
}

const CERT_UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
]);

/** Maps the many shapes of Node/undici network errors to one stable code. */
export function classifyNetworkError(err: unknown): TransportErrorCode {
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current !== null && typeof current === "object" && !seen.has(current)) {
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    const name = (current as { name?: unknown }).name;
    if (typeof code === "string") {
      if (code === "ECONNRESET" || code === "EPIPE" || code === "UND_ERR_SOCKET" || code === "ECONNABORTED") {
        // UND_ERR_SOCKET wraps the real cause; prefer a more specific one when present.
        const inner = (current as { cause?: unknown }).cause;
        if (code === "UND_ERR_SOCKET" && inner !== undefined) {
          const innerCode = classifyNetworkError(inner);
          if (innerCode !== "UNKNOWN") return innerCode;
        }
        return "ECONNRESET";
      }
      if (
        code === "ETIMEDOUT" ||
        code === "UND_ERR_CONNECT_TIMEOUT" ||
        code === "UND_ERR_HEADERS_TIMEOUT" ||
        code === "UND_ERR_BODY_TIMEOUT"
      )
        return "ETIMEDOUT";
      if (code === "ECONNREFUSED") return "ECONNREFUSED";
      if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "ENOTFOUND";
      if (CERT_UNTRUSTED.has(code)) return "CERT_UNTRUSTED";
      if (code.startsWith("CERT_") || code === "ERR_TLS_CERT_ALTNAME_INVALID") return "CERT_INVALID";
      if (code === "UND_ERR_ABORTED" || code === "ABORT_ERR") return "ABORTED";
      if (code === "EPROTO" || code === "HPE_INVALID_CONSTANT" || code.startsWith("HPE_")) return "EPROTO";
      if (code === "UND_ERR_CLOSED" || code === "UND_ERR_DESTROYED") return "ECONNRESET";
    }
    if (name === "AbortError") return "ABORTED";
    if (name === "TimeoutError") return "ETIMEDOUT";
    current = (current as { cause?: unknown }).cause;
  }
  return "UNKNOWN";
}

export interface UndiciTransportOptions {
  /** Extra CA certificate(s), PEM; trusted in addition to the system store. */
  readonly caPem?: string | Buffer;
  /** Sockets per origin; keep it at or above the highest concurrency the caller will use. */
  readonly connections?: number;
  readonly defaultTimeoutMs?: number;
}

/**
 * The real transport over an undici Agent with keep-alive. It keeps no cookie jar on purpose:
 * without the ARRAffinity cookie, Dataverse's load balancer spreads requests over its web servers,
 * each with its own service-protection budget.
 */
export function createUndiciTransport(options: UndiciTransportOptions = {}): Transport & { close(): Promise<void> } {
  // A `ca` option makes tls.connect build a new secure context for every connection, which the
  // start-up burst pays once per socket. One context, built here and handed to undici's connector
  // (it passes it through to tls.connect), is shared by all.
  const secureContext = options.caPem === undefined ? undefined : secureContextTrusting(options.caPem.toString());
  const agent = new Agent({
    connections: Math.max(options.connections ?? 64, 1),
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 120_000,
    pipelining: 1,
    connect: secureContext === undefined ? {} : { secureContext },
  });
  const defaultTimeout = options.defaultTimeoutMs ?? 240_000;

  return {
    async request(req: HttpRequest): Promise<HttpResponse> {
      let url: URL;
      try {
        url = new URL(req.url);
      } catch (cause) {
        throw new TransportError("UNKNOWN", req.method, req.url, cause);
      }
      const timeout = req.timeoutMs ?? defaultTimeout;
      try {
        const res = await undiciRequest.call(agent, {
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: req.method as "GET",
          headers: req.headers,
          body: req.body ?? null,
          signal: req.signal ?? null,
          headersTimeout: timeout,
          bodyTimeout: timeout,
        });
        const body = Buffer.from(await res.body.arrayBuffer());
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) {
          if (value === undefined) continue;
          headers[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
        }
        return { status: res.statusCode, headers, body };
      } catch (cause) {
        if (cause instanceof TransportError) throw cause;
        const code =
          cause instanceof undiciErrors.RequestAbortedError || req.signal?.aborted === true
            ? "ABORTED"
            : classifyNetworkError(cause);
        throw new TransportError(code, req.method, req.url, cause);
      }
    },
    close: () => agent.close(),
  };
}

/**
 * A TLS context that trusts Node's public roots and `caPem` too, so a real environment still
 * verifies when a private CA (a TLS-inspecting proxy, the emulator) is configured.
 *
 * The documented way, `ca: [...tls.rootCertificates, caPem]`, parses all ~150 roots from PEM
 * again (50-65 ms of start-up on a 2-core machine). A context made without `ca` shares Node's
 * root store, and adding a certificate to it gives the context its own copy of that store built
 * from the roots Node already parsed, plus ours: the same trust in about 2 ms (it is what
 * NODE_EXTRA_CA_CERTS does). That step is on the native context, which Node does not document,
 * so the documented way stays as the fallback.
 */
function secureContextTrusting(caPem: string): tlsModule.SecureContext {
  const context = tlsModule.createSecureContext();
  const native = (context as { context?: { addCACert?: unknown } }).context;
  if (typeof native?.addCACert === "function") {
    (native.addCACert as (pem: string) => void)(caPem);
    return context;
  }
  return tlsModule.createSecureContext({ ca: [...tlsModule.rootCertificates, caPem] });
}
