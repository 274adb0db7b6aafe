// Client assertions at the token endpoint (client_assertion_type
// urn:ietf:params:oauth:client-assertion-type:jwt-bearer), two kinds:
//
// * a certificate credential (Learn: "Microsoft identity platform application authentication
//   certificate credentials"): a JWT the app signs with its certificate's key, RS256 or PS256, whose
//   header names the certificate by x5t (SHA-1) or x5t#S256 (SHA-256), with aud = the token
//   endpoint, iss = sub = the client id, exp, nbf and jti;
// * an external token for workload identity federation (Learn: "Workload identity federation"),
//   matched against the app's federated credentials by issuer, subject and audience
//   (api://AzureADTokenExchange) and verified against the issuer's published keys.
//
// AADSTS numbers: 700027 (certificate not found, bad signature, expired key), 700024 (outside the
// valid time range), 700021 (iss/sub not the client id), 700023 (audience not the token endpoint)
// from Learn's Azure SDK troubleshooting pages and reference-error-codes; 50048
// (SubjectMismatchesIssuer) and 50027 (InvalidJwtToken, also "External ID token from issuer failed
// signature verification") from reference-error-codes; 70021 (no matching federated identity
// record) from workload-identity-federation-considerations. The description texts are ours.
import { constants, createPublicKey, verify, X509Certificate, type KeyObject } from "node:crypto";
import type { FederationIssuer } from "./federation.js";
import type { AppCertificate, AppRegistration, FederatedCredential } from "./types.js";

export const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** A refusal: Entra's error string, AADSTS number, HTTP status and description. */
export interface AssertionRefusal {
  readonly ok: false;
  readonly status: number;
  readonly error: string;
  readonly code: number;
  readonly description: string;
}

export type AssertionCheck = { readonly ok: true; readonly kind: "certificate" | "federated" } | AssertionRefusal;

export interface AssertionContext {
  /** The token endpoints an assertion's aud may name (v2.0 and v1, tenant id and as requested). */
  readonly audiences: readonly string[];
  readonly issuers: readonly FederationIssuer[];
  /** Milliseconds since the epoch. */
  readonly now: number;
}

/** Entra tolerates some clock skew on nbf; Learn does not give a number, five minutes is assumed [U]. */
const NBF_SKEW_SECONDS = 300;

function refuse(code: number, description: string, error = "invalid_client", status = 401): AssertionRefusal {
  return { ok: false, status, error, code, description };
}

interface Jwt {
  readonly header: Record<string, unknown>;
  readonly claims: Record<string, unknown>;
  readonly signed: Buffer;
  readonly signature: Buffer;
}

function parseJwt(token: string): Jwt | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  const [h, p, s] = parts as [string, string, string];
  try {
    const header: unknown = JSON.parse(Buffer.from(h, "base64url").toString("utf8"));
    const claims: unknown = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
    if (typeof header !== "object" || header === null || typeof claims !== "object" || claims === null) return undefined;
    return { header: header as Record<string, unknown>, claims: claims as Record<string, unknown>, signed: Buffer.from(`${h}.${p}`), signature: Buffer.from(s, "base64url") };
  } catch {
    return undefined;
  }
}

function verifySignature(jwt: Jwt, key: KeyObject): boolean {
  const alg = jwt.header["alg"];
  try {
    if (alg === "RS256") return verify("sha256", jwt.signed, key, jwt.signature);
    if (alg === "PS256") {
      return verify("sha256", jwt.signed, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, jwt.signature);
    }
  } catch {
    return false;
  }
  return false;
}

/** exp and nbf against now: AADSTS700024 outside the range. */
function timeRange(claims: Record<string, unknown>, now: number, what: string): AssertionRefusal | undefined {
  const exp = claims["exp"];
  const nbf = claims["nbf"];
  const seconds = now / 1000;
  const at = (s: number): string => new Date(s * 1000).toISOString();
  if (typeof exp !== "number") return refuse(50027, `Invalid JWT token. The ${what} has no exp claim.`);
  if (seconds >= exp || (typeof nbf === "number" && seconds + NBF_SKEW_SECONDS < nbf)) {
    return refuse(
      700024,
      `Client assertion is not within its valid time range. Current time: ${at(seconds)}, assertion valid from ${typeof nbf === "number" ? at(nbf) : "(no nbf)"}, expiry time of assertion ${at(exp)}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .`,
    );
  }
  return undefined;
}

interface KnownCertificate {
  readonly sha1: string;
  readonly sha256: string;
  readonly key: KeyObject;
  readonly endMs: number;
  readonly startMs: number;
}

const certificateCache = new WeakMap<AppCertificate, KnownCertificate | null>();

function known(cert: AppCertificate): KnownCertificate | undefined {
  let entry = certificateCache.get(cert);
  if (entry === undefined) {
    try {
      const x = new X509Certificate(cert.pem);
      const digest = (fp: string): string => Buffer.from(fp.replace(/:/g, ""), "hex").toString("base64url");
      entry = {
        sha1: digest(x.fingerprint),
        sha256: digest(x.fingerprint256),
        key: x.publicKey,
        endMs: cert.endDateTime !== undefined ? Date.parse(cert.endDateTime) : Date.parse(x.validTo),
        startMs: Date.parse(x.validFrom),
      };
    } catch {
      entry = null;
    }
    certificateCache.set(cert, entry);
  }
  return entry ?? undefined;
}

function certificateAssertion(app: AppRegistration, jwt: Jwt, ctx: AssertionContext): AssertionCheck {
  const x5t = jwt.header["x5t"];
  const x5tS256 = jwt.header["x5t#S256"];
  const thumbprint = typeof x5tS256 === "string" ? x5tS256 : typeof x5t === "string" ? x5t : "";
  const alg = jwt.header["alg"];
  if (alg !== "RS256" && alg !== "PS256") return refuse(50027, `Invalid JWT token. The client assertion's algorithm '${String(alg)}' is not supported; use RS256 or PS256.`);
  const hexPrint = Buffer.from(thumbprint, "base64url").toString("hex").toUpperCase();
  const cert = (app.certificates ?? [])
    .map(known)
    .find((c) => c !== undefined && (typeof x5tS256 === "string" ? c.sha256 === x5tS256 : c.sha1 === x5t));
  if (cert === undefined) {
    return refuse(
      700027,
      `Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '${hexPrint}', Please visit the Azure Portal to see configured keys for app Id '${app.clientId}'.]`,
    );
  }
  if (!verifySignature(jwt, cert.key)) {
    return refuse(700027, `Client assertion failed signature validation. [Reason - The key was found, but the signature does not verify with it., Thumbprint of key used by client: '${hexPrint}']`);
  }
  if (ctx.now >= cert.endMs || ctx.now < cert.startMs) {
    return refuse(700027, `Client assertion failed signature validation. [Reason - The key used is expired., Thumbprint of key used by client: '${hexPrint}']`);
  }
  const { iss, sub, aud, jti } = jwt.claims;
  if (sub !== iss) return refuse(50048, "Subject mismatches Issuer claim in the client assertion.");
  if (typeof iss !== "string" || iss.toLowerCase() !== app.clientId.toLowerCase()) {
    return refuse(700021, `Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .`);
  }
  const audiences = Array.isArray(aud) ? aud : [aud];
  if (!audiences.some((a) => typeof a === "string" && ctx.audiences.includes(a))) {
    return refuse(700023, `Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .`);
  }
  if (typeof jti !== "string" || jti === "") return refuse(50027, "Invalid JWT token. The client assertion has no jti claim.");
  return timeRange(jwt.claims, ctx.now, "client assertion") ?? { ok: true, kind: "certificate" };
}

function issuerKeys(issuer: FederationIssuer | undefined, kid: unknown): KeyObject[] {
  const keys = (issuer?.jwks.keys ?? []).filter((k) => kid === undefined || (k as { kid?: unknown }).kid === kid);
  const out: KeyObject[] = [];
  for (const k of keys) {
    try {
      out.push(createPublicKey({ key: k, format: "jwk" }));
    } catch {
      // A key the issuer publishes but Node cannot read is skipped, as a JWKS client would.
    }
  }
  return out;
}

function federatedAssertion(app: AppRegistration, jwt: Jwt, ctx: AssertionContext): AssertionCheck {
  const { iss, sub, aud } = jwt.claims;
  const audiences = (Array.isArray(aud) ? aud : [aud]).filter((a): a is string => typeof a === "string");
  const matches = (f: FederatedCredential): boolean => f.issuer === iss && f.subject === sub && f.audiences.some((a) => audiences.includes(a));
  if (!(app.federatedCredentials ?? []).some(matches)) {
    return refuse(
      70021,
      `No matching federated identity record found for presented assertion. Assertion Issuer: '${String(iss)}'. Assertion Subject: '${String(sub)}'. Assertion Audience: '${audiences.join(",")}'. https://learn.microsoft.com/entra/workload-id/workload-identity-federation`,
      "invalid_request",
      400,
    );
  }
  const alg = jwt.header["alg"];
  const keys = alg === "RS256" || alg === "PS256" ? issuerKeys(ctx.issuers.find((i) => i.issuer === iss), jwt.header["kid"]) : [];
  if (!keys.some((k) => verifySignature(jwt, k))) {
    return refuse(50027, `Invalid JWT token. External ID token from issuer '${String(iss)}' failed signature verification.`, "invalid_request", 400);
  }
  return timeRange(jwt.claims, ctx.now, "external token") ?? { ok: true, kind: "federated" };
}

/**
 * Checks a client assertion for `app`. A header naming a certificate (x5t or x5t#S256) makes it a
 * certificate credential; anything else is taken as an external token for federation.
 */
export function checkClientAssertion(app: AppRegistration, assertion: string, ctx: AssertionContext): AssertionCheck {
  const jwt = parseJwt(assertion);
  if (jwt === undefined) return refuse(50027, "Invalid JWT token. The client assertion is not a JWT in JWS compact form.");
  if (typeof jwt.header["x5t"] === "string" || typeof jwt.header["x5t#S256"] === "string") return certificateAssertion(app, jwt, ctx);
  return federatedAssertion(app, jwt, ctx);
}
