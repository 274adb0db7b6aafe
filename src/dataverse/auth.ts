// Tokens for one application user through msal-node's client-credentials flow, signed in with a
// client secret, a certificate (msal's clientCertificate: a client assertion signed with the key)
// or workload identity federation (msal's clientAssertion callback, which hands over the external
// token read from its file at each request). A user may hold a second credential for rollover: a
// refused credential makes the next token request try the other one, and the change is logged.
// msal's HTTP goes through our Transport, so the configured CA is trusted without NODE_EXTRA_CA_CERTS.
import { createRequire } from "node:module";
import type { ConfidentialClientApplication, INetworkModule, NetworkRequestOptions, NetworkResponse } from "@azure/msal-node";
import type { CredentialConfig } from "../config/types.js";
import type { Transport } from "../http/transport.js";
import { TransportError } from "../http/transport.js";
import { AuthError, isCredentialRefusal } from "./auth-error.js";
import { toAuthError } from "./auth-refusal.js";
import { readTextFile, resolveCredential, type CredentialInfo, type FileReader, type ResolvedCredential } from "./credentials.js";

const require = createRequire(import.meta.url);

/**
 * msal-node's CommonJS build, required when the first application is made. It is one bundled file
 * (its `require` export), which loads in about a third of the time of the ES module build's tree of
 * files (about 40 ms against 110 ms here): start-up time every sync pays, and spec and discover
 * never sign in at all.
 */
function msal(): typeof import("@azure/msal-node") {
  return require("@azure/msal-node") as typeof import("@azure/msal-node");
}

export interface TokenProvider {
  readonly clientId: string;
  /** A bearer token for the Dataverse endpoint; `forceRefresh` bypasses msal's cache. */
  getToken(options?: { forceRefresh?: boolean }): Promise<string>;
}

export { AuthError, isCredentialRefusal } from "./auth-error.js";
export type { AuthErrorCode, AuthField } from "./auth-error.js";
export { toAuthError, UNTRUSTED_HINT, type AuthErrorContext } from "./auth-refusal.js";

/** `https://<endpoint host>/.default`, always from the configured endpoint (never from user input). */
export function scopeFor(webApiEndpoint: URL): string {
  return `https://${webApiEndpoint.host}/.default`;
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
    const { ConfidentialClientApplication: App } = msal();
    signer.app = new App({
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

  // The last token, handed out without asking msal again until msal itself would renew it: msal's
  // cache lookup on every request was 3.7 % of the connector's CPU in a resync.
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
const RENEW_BEFORE_EXPIRY_MS = 5 * 60 * 1000;

function reuseUntil(expiresOn: Date | null, refreshOn: Date | undefined): number {
  if (expiresOn === null) return 0;
  const renew = expiresOn.getTime() - RENEW_BEFORE_EXPIRY_MS;
  return refreshOn === undefined ? renew : Math.min(renew, refreshOn.getTime());
}
