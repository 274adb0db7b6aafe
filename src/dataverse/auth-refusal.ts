// What a failed sign-in means: msal's errors, Entra ID's AADSTS numbers and the network failures
// behind them, turned into an AuthError that names the setting to fix. Never the secret.
import { TransportError } from "../http/transport.js";
import { AuthError, type AuthErrorCode, type AuthField } from "./auth-error.js";

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
