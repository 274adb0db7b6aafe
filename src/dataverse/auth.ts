// Tokens for one application user through msal-node's client-credentials flow. msal's HTTP goes
// through our Transport, so the configured CA is trusted without NODE_EXTRA_CA_CERTS.
import {
  ConfidentialClientApplication,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
} from "@azure/msal-node";
import type { Transport } from "../http/transport.js";
import { TransportError } from "../http/transport.js";

export interface TokenProvider {
  readonly clientId: string;
  /** A bearer token for the Dataverse endpoint; `forceRefresh` bypasses msal's cache. */
  getToken(options?: { forceRefresh?: boolean }): Promise<string>;
}

/** Which configuration value the failure points at. */
export type AuthField = "tenant_id" | "client_id" | "client_secret" | "authority_host" | "web_api_endpoint" | "unknown";

export type AuthErrorCode =
  | "INVALID_SECRET"
  | "SECRET_EXPIRED"
  | "UNKNOWN_CLIENT"
  | "UNKNOWN_TENANT"
  | "RESOURCE_NOT_IN_TENANT"
  | "MISSING_SECRET"
  | "AUTHORITY_UNREACHABLE"
  | "AUTH_FAILED";

export class AuthError extends Error {
  override readonly name = "AuthError";
  readonly code: AuthErrorCode;
  /** e.g. "AADSTS7000215"; "" when Entra ID gave no number. */
  readonly aadsts: string;
  readonly field: AuthField;
  readonly retryable: boolean;
  constructor(code: AuthErrorCode, aadsts: string, field: AuthField, message: string, retryable: boolean, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.aadsts = aadsts;
    this.field = field;
    this.retryable = retryable;
  }
}

/** `https://<endpoint host>/.default`, always from the configured endpoint (never from user input). */
export function scopeFor(webApiEndpoint: URL): string {
  return `https://${webApiEndpoint.host}/.default`;
}

const AADSTS_MAP: Record<string, { code: AuthErrorCode; field: AuthField; says: string }> = {
  "7000215": { code: "INVALID_SECRET", field: "client_secret", says: "the client secret is wrong (use the secret's Value, not its ID)" },
  "7000222": { code: "SECRET_EXPIRED", field: "client_secret", says: "the client secret has expired; create a new one in the app registration" },
  "700016": { code: "UNKNOWN_CLIENT", field: "client_id", says: "no application with this client id exists in the tenant" },
  "90002": { code: "UNKNOWN_TENANT", field: "tenant_id", says: "the tenant id or domain does not exist" },
  "900023": { code: "UNKNOWN_TENANT", field: "tenant_id", says: "the tenant id is malformed" },
  "90013": { code: "UNKNOWN_TENANT", field: "tenant_id", says: "the tenant id is malformed" },
  "500011": {
    code: "RESOURCE_NOT_IN_TENANT",
    field: "web_api_endpoint",
    says: "the Dataverse environment in web_api_endpoint is not in this tenant",
  },
  "7000218": { code: "MISSING_SECRET", field: "client_secret", says: "no client secret was sent" },
};

/** Where the token came from, so a failure to reach it can be named. */
export interface AuthErrorContext {
  /** The authority host as configured, e.g. "login.microsoftonline.com". */
  readonly authorityHost?: string;
  /** The last network failure the token requests met (msal drops it from its own error). */
  readonly networkError?: TransportError;
  /**
   * The AADSTS number of the last refusal Entra ID answered (msal drops the body of a refused
   * OpenID configuration request: an unknown tenant answers 400 AADSTS90002 there).
   */
  readonly refusedWith?: string;
}

/** Turns whatever msal or the network threw into an AuthError; never includes the secret. */
export function toAuthError(err: unknown, clientId: string, context: AuthErrorContext = {}): AuthError {
  if (err instanceof AuthError) return err;
  const msalCode = typeof (err as { errorCode?: unknown } | null)?.errorCode === "string" ? (err as { errorCode: string }).errorCode : "";
  if (msalCode === "endpoints_resolution_error") {
    const refused = context.refusedWith === undefined ? undefined : AADSTS_MAP[context.refusedWith];
    if (refused !== undefined) {
      const aadsts = `AADSTS${context.refusedWith ?? ""}`;
      return new AuthError(refused.code, aadsts, refused.field, `Entra ID refused a token for client ${clientId}: ${refused.says} (${aadsts})`, false, undefined);
    }
    // msal could not fetch the authority's OpenID configuration: the host is unreachable, or it
    // is not a sign-in host (a wrong authority_host answers 404 there).
    const host = context.authorityHost ?? "the authority host";
    const net = context.networkError ?? findTransportError(err);
    return new AuthError(
      "AUTHORITY_UNREACHABLE",
      "",
      "authority_host",
      `cannot reach the sign-in host ${host} (authority_host)${net !== undefined ? `: ${net.code}` : ": its OpenID configuration could not be read"}`,
      net?.retryable ?? false,
      err,
    );
  }
  if (err instanceof TransportError) {
    return new AuthError(
      "AUTHORITY_UNREACHABLE",
      "",
      "authority_host",
      `cannot reach the token endpoint (${err.message})`,
      err.retryable,
      err,
    );
  }
  const e = err as { errorCode?: unknown; errorMessage?: unknown; errorNo?: unknown; message?: unknown };
  const texts = [e.errorNo, e.errorMessage, e.message].filter((t): t is string | number => typeof t === "string" || typeof t === "number");
  let number: string | undefined;
  for (const t of texts) {
    const m = /AADSTS(\d+)/.exec(String(t)) ?? (typeof t === "number" || /^\d+$/.test(String(t)) ? [String(t), String(t)] : null);
    if (m?.[1] !== undefined) {
      number = m[1];
      break;
    }
  }
  const known = number === undefined ? undefined : AADSTS_MAP[number];
  const aadsts = number === undefined ? "" : `AADSTS${number}`;
  if (known !== undefined) {
    return new AuthError(known.code, aadsts, known.field, `Entra ID refused a token for client ${clientId}: ${known.says} (${aadsts})`, false, undefined);
  }
  const errorCode = typeof e.errorCode === "string" ? e.errorCode : "";
  const cause = findTransportError(err);
  if (cause !== undefined) return toAuthError(cause, clientId);
  const field: AuthField = errorCode === "invalid_client" ? "client_secret" : errorCode === "unauthorized_client" ? "client_id" : "unknown";
  return new AuthError(
    "AUTH_FAILED",
    aadsts,
    field,
    `Entra ID refused a token for client ${clientId}${aadsts === "" ? "" : ` (${aadsts})`}${errorCode === "" ? "" : `: ${errorCode}`}`,
    false,
    undefined,
  );
}

function findTransportError(err: unknown): TransportError | undefined {
  let current: unknown = err;
  for (let i = 0; i < 5 && current !== null && typeof current === "object"; i++) {
    if (current instanceof TransportError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** msal's INetworkModule over our Transport; `onError` sees each network failure before msal wraps it. */
function networkModuleFor(
  transport: Transport,
  timeoutMs = 30_000,
  onError?: (err: TransportError) => void,
  onRefusal?: (aadstsNumber: string) => void,
): INetworkModule {
  const send = async <T>(method: string, url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> => {
    let res;
    try {
      res = await transport.request({
        method,
        url,
        headers: options?.headers ?? {},
        ...(options?.body === undefined ? {} : { body: options.body }),
        timeoutMs: timeout ?? timeoutMs,
      });
    } catch (err) {
      if (err instanceof TransportError) onError?.(err);
      throw err;
    }
    const text = typeof res.body === "string" ? res.body : res.body.toString("utf8");
    let body: unknown = {};
    try {
      body = text === "" ? {} : JSON.parse(text);
    } catch {
      body = {};
    }
    if (res.status >= 400) {
      // Only the number is kept: the description repeats the tenant and request ids.
      const codes = (body as { error_codes?: unknown }).error_codes;
      const first: unknown = Array.isArray(codes) ? codes[0] : undefined;
      if (typeof first === "number" && Number.isInteger(first)) onRefusal?.(String(first));
    }
    return { status: res.status, headers: { ...res.headers }, body: body as T };
  };
  return {
    sendGetRequestAsync: <T>(url: string, options?: NetworkRequestOptions, timeout?: number) => send<T>("GET", url, options, timeout),
    sendPostRequestAsync: <T>(url: string, options?: NetworkRequestOptions) => send<T>("POST", url, options),
  };
}

export interface TokenProviderOptions {
  readonly authorityHost: URL;
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly webApiEndpoint: URL;
  readonly transport: Transport;
}

export function createTokenProvider(options: TokenProviderOptions): TokenProvider {
  if (options.webApiEndpoint.protocol !== "https:") {
    throw new AuthError("AUTH_FAILED", "", "web_api_endpoint", "web_api_endpoint must use https", false);
  }
  if (options.authorityHost.protocol !== "https:") {
    throw new AuthError("AUTH_FAILED", "", "authority_host", "authority_host must use https", false);
  }
  const host = options.authorityHost.host;
  const base = options.authorityHost.pathname.replace(/\/+$/, "");
  let networkError: TransportError | undefined;
  let refusedWith: string | undefined;
  const app = new ConfidentialClientApplication({
    auth: {
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      authority: `${options.authorityHost.protocol}//${host}${base}/${encodeURIComponent(options.tenantId)}`,
      // Listing the host skips msal's instance-discovery call to the public cloud, which a
      // sovereign cloud or the emulator would not answer.
      knownAuthorities: [host],
    },
    system: {
      networkClient: networkModuleFor(
        options.transport,
        undefined,
        (err) => {
          networkError = err;
        },
        (n) => {
          refusedWith = n;
        },
      ),
    },
  });
  const scopes = [scopeFor(options.webApiEndpoint)];
  let inFlight: Promise<string> | undefined;
  let inFlightForced = false;

  const acquire = async (forceRefresh: boolean): Promise<string> => {
    networkError = undefined;
    refusedWith = undefined;
    try {
      const result = await app.acquireTokenByClientCredential({ scopes, skipCache: forceRefresh });
      if (result === null || result.accessToken === "") {
        throw new AuthError("AUTH_FAILED", "", "unknown", `Entra ID returned no token for client ${options.clientId}`, false);
      }
      return result.accessToken;
    } catch (err) {
      throw toAuthError(err, options.clientId, {
        authorityHost: host,
        ...(networkError !== undefined ? { networkError } : {}),
        ...(refusedWith !== undefined ? { refusedWith } : {}),
      });
    }
  };

  return {
    clientId: options.clientId,
    getToken(opts) {
      const force = opts?.forceRefresh === true;
      // Concurrent callers share one token request; a forced refresh never rides on a cached one.
      if (inFlight !== undefined && (inFlightForced || !force)) return inFlight;
      const p = acquire(force).finally(() => {
        if (inFlight === p) inFlight = undefined;
      });
      inFlight = p;
      inFlightForced = force;
      return p;
    },
  };
}
