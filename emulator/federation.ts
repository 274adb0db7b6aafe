// External token issuers for workload identity federation. Entra ID checks an external token's
// signature against the keys its issuer publishes (OpenID discovery → jwks_uri); the emulator
// fetches nothing, so an environment lists each trusted issuer with its JWKS. `TokenIssuer` lets
// the emulator play such an issuer (a Kubernetes cluster's service account token issuer) in tests:
// it holds an RSA key and mints RS256 tokens the way the kubelet's projected tokens look.
import { createHash, generateKeyPairSync, randomUUID, sign, type JsonWebKey, type KeyObject } from "node:crypto";

/** A trusted OpenID issuer and its published signing keys (RFC 7517 JWK set). */
export interface FederationIssuer {
  /** Exactly as it appears in the tokens' iss claim (case and trailing slash matter). */
  readonly issuer: string;
  readonly jwks: { readonly keys: readonly JsonWebKey[] };
}

export interface MintOptions {
  /** e.g. "system:serviceaccount:airbyte:destination-dynamics365" */
  readonly subject: string;
  /** Default "api://AzureADTokenExchange", what Azure Workload Identity requests. */
  readonly audience?: string;
  /** Default 3600 s, a projected service account token's usual life. */
  readonly lifetimeSeconds?: number;
  /** Seconds since the epoch; default now. */
  readonly issuedAt?: number;
}

export class TokenIssuer {
  readonly issuer: string;
  readonly #key: KeyObject;
  readonly #kid: string;
  readonly #jwk: JsonWebKey;

  constructor(issuer: string, privateKey?: KeyObject) {
    this.issuer = issuer;
    this.#key = privateKey ?? generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const publicJwk = this.#key.export({ format: "jwk" });
    const pub: JsonWebKey = { kty: "RSA", n: publicJwk.n ?? "", e: publicJwk.e ?? "" };
    // RFC 7638 thumbprint as the key id, as Kubernetes does.
    this.#kid = createHash("sha256").update(JSON.stringify({ e: pub.e, kty: "RSA", n: pub.n })).digest("base64url");
    this.#jwk = { ...pub, kid: this.#kid, use: "sig", alg: "RS256" } as JsonWebKey;
  }

  get definition(): FederationIssuer {
    return { issuer: this.issuer, jwks: { keys: [this.#jwk] } };
  }

  /** An RS256 token as a Kubernetes projected service account token carries it. */
  mint(options: MintOptions): string {
    const iat = options.issuedAt ?? Math.floor(Date.now() / 1000);
    const header = { alg: "RS256", kid: this.#kid };
    const payload = {
      aud: [options.audience ?? "api://AzureADTokenExchange"],
      exp: iat + (options.lifetimeSeconds ?? 3600),
      iat,
      iss: this.issuer,
      jti: randomUUID(),
      nbf: iat,
      sub: options.subject,
    };
    const data = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}`;
    return `${data}.${sign("sha256", Buffer.from(data), this.#key).toString("base64url")}`;
  }
}

function b64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64url");
}
