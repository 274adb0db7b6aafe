// Tokens for one application user through msal-node's client-credentials flow, signed in with a
// client secret, a certificate (msal's clientCertificate: a client assertion signed with the key)
// or workload identity federation (msal's clientAssertion callback, which hands over the external
// token read from its file at each request). A user may hold a second credential for rollover: a
// refused credential makes the next token request try the other one, and the change is logged.
// msal's HTTP goes through our Transport, so the configured CA is trusted without NODE_EXTRA_CA_CERTS.
import {
  ConfidentialClientApplication,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
} from "@azure/msal-node";
import type { CredentialConfig } from "../config/types.js";
import type { Transport } from "../http/transport.js";
import { TransportError } from "../http/transport.js";
import { AuthError, isCredentialRefusal, type AuthErrorCode, type AuthField } from "./auth-error.js";
import { readTextFile, resolveCredential, type CredentialInfo, type FileReader, type ResolvedCredential } from "./credentials.js";

export interface TokenProvider {
  readonly clientId: string;
  /** A bearer token for the Dataverse endpoint; `forceRefresh` bypasses msal's cache. */
  getToken(options?: { forceRefresh?: boolean }): Promise<string>;
}

export { AuthError, isCredentialRefusal } from "./auth-error.js";
export type { AuthErrorCode, AuthField } from "./auth-error.js";

/** `https://<endpoint host>/.default`, always from the configured endpoint (never from user input). */
export function scopeFor(webApiEndpoint: URL): string {
  return `https://${webApiEndpoint.host}/.default`;
}

/** What an untrusted certificate usually means, and the fix (no setting switches the check off). */
export const UNTRUSTED_HINT =
  "a private CA, or a proxy that inspects TLS, signs it: give that CA's certificate (PEM) as ca_file, which is trusted beside the system's CAs";

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
  // Client assertions (certificate credentials and workload identity federation). Numbers from
  // Learn: reference-error-codes, the Azure SDK troubleshooting pages (ClientCertificateCredential,
  // ClientAssertionCredential) and workload-identity-federation-considerations.
  "700027": {
    code: "CERTIFICATE_REFUSED",
    field: "credentials",
    says: "the certificate is not registered on the app registration (or has expired there), or the assertion's signature does not match it; upload the certificate's public part under Certificates & secrets → Certificates",
  },
  "700024": {
    code: "ASSERTION_EXPIRED",
    field: "credentials",
    says: "the client assertion is not within its valid time range: the federated token in the token file has expired (is the file still being refreshed?) or this machine's clock is off",
  },
  "700021": { code: "ASSERTION_INVALID", field: "client_id", says: "the client assertion was made for another application (its iss and sub must be client_id)" },
  "700023": { code: "ASSERTION_INVALID", field: "authority_host", says: "the client assertion's audience is not this tenant's token endpoint; check tenant_id and authority_host" },
  "50048": { code: "ASSERTION_INVALID", field: "credentials", says: "the client assertion's subject does not match its issuer" },
  "50027": {
    code: "ASSERTION_INVALID",
    field: "credentials",
    says: "the client assertion is not a valid JWT, or the federated token's signature does not verify against its issuer's published keys",
  },
  "70021": {
    code: "NO_FEDERATED_MATCH",
    field: "credentials",
    says: "no federated credential of the app matches the token's issuer, subject and audience (api://AzureADTokenExchange); add one under Certificates & secrets → Federated credentials (it can take a few minutes to apply)",
  },
};
for (const n of ["700211", "700212", "700213"]) AADSTS_MAP[n] = AADSTS_MAP["70021"] as (typeof AADSTS_MAP)[string];

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
      `cannot reach the sign-in host ${host} (authority_host)${net !== undefined ? `: ${net.code}` : ": its OpenID configuration could not be read"}${net?.code === "CERT_UNTRUSTED" ? `; ${UNTRUSTED_HINT}` : ""}`,
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
  /** The older form: one client secret. Ignored when `credentials` is given. */
  readonly clientSecret?: string;
  /** The credentials to sign in with, in order: the first, then a standby one for rollover. */
  readonly credentials?: readonly CredentialConfig[];
  readonly webApiEndpoint: URL;
  readonly transport: Transport;
  /** Reads certificate, key and federated token files; default: the file system. */
  readonly readFile?: FileReader;
  /** Told when a standby credential takes over (or the first one comes back); never a value. */
  readonly notice?: (message: string) => void;
}

/** Which credential the last successful token request used. */
export interface SignIn extends CredentialInfo {
  /** 0 for `credentials`, 1 for `standby_credentials`. */
  readonly index: number;
}

export interface CredentialTokenProvider extends TokenProvider {
  /** The credential of the last token that was issued; undefined before the first one. */
  signedInWith(): SignIn | undefined;
}

interface Signer {
  readonly config: CredentialConfig;
  /** Built on first use, so a local problem (unreadable file, wrong passphrase) is a sign-in failure. */
  app?: ConfidentialClientApplication;
  resolved?: ResolvedCredential;
}

function describe(c: CredentialConfig): string {
  switch (c.kind) {
    case "client_secret":
      return "client secret";
    case "certificate":
      return `certificate${"path" in c.certificate ? ` (${c.certificate.path})` : ""}`;
    case "workload_identity":
      return `workload identity federation (token file ${c.tokenFile})`;
  }
}

export function createTokenProvider(options: TokenProviderOptions): CredentialTokenProvider {
  if (options.webApiEndpoint.protocol !== "https:") {
    throw new AuthError("AUTH_FAILED", "", "web_api_endpoint", "web_api_endpoint must use https", false);
  }
  if (options.authorityHost.protocol !== "https:") {
    throw new AuthError("AUTH_FAILED", "", "authority_host", "authority_host must use https", false);
  }
  const host = options.authorityHost.host;
  const base = options.authorityHost.pathname.replace(/\/+$/, "");
  const readFile = options.readFile ?? readTextFile;
  let networkError: TransportError | undefined;
  let refusedWith: string | undefined;
  /** A failure inside msal's assertion callback (our own AuthError), which msal may wrap. */
  let callbackError: AuthError | undefined;
  const configs: readonly CredentialConfig[] =
    options.credentials !== undefined && options.credentials.length > 0 ? options.credentials : [{ kind: "client_secret", secret: options.clientSecret ?? "" }];
  const signers: Signer[] = configs.map((config) => ({ config }));
  const networkClient = networkModuleFor(
    options.transport,
    undefined,
    (err) => {
      networkError = err;
    },
    (n) => {
      refusedWith = n;
    },
  );
  const authority = `${options.authorityHost.protocol}//${host}${base}/${encodeURIComponent(options.tenantId)}`;

  const appFor = async (signer: Signer): Promise<ConfidentialClientApplication> => {
    if (signer.app !== undefined) return signer.app;
    const resolved = await resolveCredential(signer.config, readFile);
    const credential =
      resolved.kind === "client_secret"
        ? { clientSecret: resolved.secret }
        : resolved.kind === "certificate"
          ? {
              clientCertificate: {
                ...(resolved.sha256 ? { thumbprintSha256: resolved.thumbprint } : { thumbprint: resolved.thumbprint }),
                privateKey: resolved.privateKey,
                ...(resolved.x5c !== undefined ? { x5c: resolved.x5c } : {}),
              },
            }
          : {
              clientAssertion: async (): Promise<string> => {
                try {
                  return await resolved.readAssertion();
                } catch (err) {
                  if (err instanceof AuthError) callbackError = err;
                  throw err;
                }
              },
            };
    signer.resolved = resolved;
    signer.app = new ConfidentialClientApplication({
      auth: {
        clientId: options.clientId,
        ...credential,
        authority,
        // Listing the host skips msal's instance-discovery call to the public cloud, which a
        // sovereign cloud or the emulator would not answer.
        knownAuthorities: [host],
      },
      system: { networkClient },
    });
    return signer.app;
  };

  const scopes = [scopeFor(options.webApiEndpoint)];
  let inFlight: Promise<string> | undefined;
  let inFlightForced = false;
  let current = 0;
  let signedIn: SignIn | undefined;

  const acquireWith = async (signer: Signer, forceRefresh: boolean): Promise<Issued> => {
    networkError = undefined;
    refusedWith = undefined;
    callbackError = undefined;
    try {
      const app = await appFor(signer);
      const result = await app.acquireTokenByClientCredential({ scopes, skipCache: forceRefresh });
      if (result === null || result.accessToken === "") {
        throw new AuthError("AUTH_FAILED", "", "unknown", `Entra ID returned no token for client ${options.clientId}`, false);
      }
      return { token: result.accessToken, reuseUntil: reuseUntil(result.expiresOn, result.refreshOn) };
    } catch (err) {
      const e = toAuthError(callbackError ?? err, options.clientId, {
        authorityHost: host,
        ...(networkError !== undefined ? { networkError } : {}),
        ...(refusedWith !== undefined ? { refusedWith } : {}),
      });
      const expired = signer.resolved?.info.expiresAt;
      if (e.code === "CERTIFICATE_REFUSED" && expired !== undefined && expired.getTime() <= Date.now()) {
        throw new AuthError(e.code, e.aadsts, e.field, `${e.message}; the certificate expired on ${expired.toISOString()}`, false);
      }
      throw e;
    }
  };

  const acquire = async (forceRefresh: boolean): Promise<Issued> => {
    const order = [current, ...signers.keys()].filter((i, at, all) => all.indexOf(i) === at);
    const refusals: { index: number; error: AuthError }[] = [];
    for (const index of order) {
      const signer = signers[index] as Signer;
      try {
        const issued = await acquireWith(signer, forceRefresh);
        const first = refusals[0];
        if (first !== undefined) {
          options.notice?.(
            `client ${options.clientId}: signed in with the ${index === 0 ? "first credential" : "standby credential"} (${describe(signer.config)}) because the ${first.index === 0 ? "first credential" : "standby credential"} (${describe((signers[first.index] as Signer).config)}) was refused: ${first.error.code}${first.error.aadsts === "" ? "" : ` ${first.error.aadsts}`}; finish the rollover in the configuration`,
          );
        }
        current = index;
        const info = (signer.resolved as ResolvedCredential).info;
        signedIn = { ...info, index };
        return issued;
      } catch (err) {
        const e = err instanceof AuthError ? err : toAuthError(err, options.clientId);
        // Another credential of the same app cannot help with a wrong tenant, client or endpoint.
        if (!isCredentialRefusal(e) || signers.length === 1) throw e;
        refusals.push({ index, error: e });
      }
    }
    const [first, ...rest] = refusals;
    if (first === undefined) throw new AuthError("AUTH_FAILED", "", "unknown", `no credential to sign in with for client ${options.clientId}`, false);
    throw new AuthError(
      first.error.code,
      first.error.aadsts,
      first.error.field,
      `${first.error.message}${rest.map((r) => `; the standby credential was refused too: ${r.error.message}`).join("")}`,
      first.error.retryable,
    );
  };

  // The last token, handed out without asking msal again until msal itself would renew it: a cache
  // lookup in msal costs more CPU than the rest of a request's client side.
  let held: { readonly token: Promise<string>; readonly reuseUntil: number } | undefined;

  return {
    clientId: options.clientId,
    signedInWith: () => signedIn,
    getToken(opts) {
      const force = opts?.forceRefresh === true;
      if (!force && held !== undefined && Date.now() < held.reuseUntil) return held.token;
      // Concurrent callers share one token request; a forced refresh never rides on a cached one.
      if (inFlight !== undefined && (inFlightForced || !force)) return inFlight;
      if (force) held = undefined;
      const p = acquire(force)
        .then((issued) => {
          if (inFlight === p) held = { token: Promise.resolve(issued.token), reuseUntil: issued.reuseUntil };
          return issued.token;
        })
        .finally(() => {
          if (inFlight === p) inFlight = undefined;
        });
      inFlight = p;
      inFlightForced = force;
      return p;
    },
  };
}

interface Issued {
  readonly token: string;
  /** Epoch ms until which the token is handed out again without asking msal. */
  readonly reuseUntil: number;
}

/** msal renews a token five minutes before it expires, or at refresh_in when Entra ID sent one. */
export const RENEW_BEFORE_EXPIRY_MS = 5 * 60 * 1000;

function reuseUntil(expiresOn: Date | null, refreshOn: Date | undefined): number {
  if (expiresOn === null) return 0;
  const renew = expiresOn.getTime() - RENEW_BEFORE_EXPIRY_MS;
  return refreshOn === undefined ? renew : Math.min(renew, refreshOn.getTime());
}
