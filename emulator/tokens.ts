// Access tokens the emulated Entra ID issues and the emulated Dataverse accepts.
//
// They are JWT-shaped (header.payload.signature, HS256 with a key that lives only in this process)
// so that clients which peek at `exp` or `aud` see what they would see with real Entra tokens. Real
// Entra signs with RS256 and publishes the keys at jwks_uri; nobody but this emulator verifies these
// tokens, so a symmetric key is enough and keeps verification cheap.
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";

export interface TokenSubject {
  readonly clientId: string;
  /** Entra object id of the app's service principal. */
  readonly objectId: string;
}

export interface TokenClaims {
  readonly aud: string;
  readonly iss: string;
  readonly iat: number;
  readonly nbf: number;
  readonly exp: number;
  readonly appid: string;
  readonly azp: string;
  readonly oid: string;
  readonly sub: string;
  readonly tid: string;
  readonly uti: string;
  readonly ver: string;
}

export interface IssuedToken {
  readonly accessToken: string;
  readonly expiresIn: number;
  readonly claims: TokenClaims;
}

export type TokenRejection = "malformed" | "signature" | "expired" | "not-yet-valid" | "audience" | "tenant" | "revoked";

export type TokenCheck =
  | { readonly ok: true; readonly claims: TokenClaims }
  | { readonly ok: false; readonly reason: TokenRejection };

export interface TokenServiceOptions {
  readonly tenantId: string;
  /** `https://host:port`, the resource the tokens are for (Dataverse's `aud`). */
  readonly audience: string;
  /** Issuer URL, as in the OpenID configuration. */
  readonly issuer: string;
  readonly lifetimeSeconds: number;
  /** Milliseconds since the epoch; injected so tests can move time. */
  readonly now?: () => number;
  /** Signing key; random per process unless a test pins it. */
  readonly key?: Buffer;
}

interface CachedToken {
  readonly claims: TokenClaims;
  /** Exact issue time in ms for tokens this instance issued (iat only has seconds). */
  readonly issuedAtMs: number;
  /**
   * Issue order within this instance. Revocation compares it rather than the clock, so a token
   * issued in the same millisecond as a revoke (fast machines) is still on the right side of it.
   */
  readonly serial?: number;
  /**
   * Exact expiry in ms. `exp` is whole seconds counted from a floored `iat`, so checking it alone
   * would cut a token's life by up to a second (a 1 s token issued at x.999 s would die 1 ms later).
   */
  readonly expiresAtMs: number;
}

/** Bounded so a client that invents tokens cannot grow memory without limit. */
const CACHE_LIMIT = 10_000;

export class TokenService {
  readonly #key: Buffer;
  readonly #now: () => number;
  readonly #options: TokenServiceOptions;
  readonly #cache = new Map<string, CachedToken>();
  readonly #revokedBefore = new Map<string, { readonly atMs: number; readonly serial: number }>();
  #serial = 0;
  #lifetimeSeconds: number;

  constructor(options: TokenServiceOptions) {
    this.#options = options;
    this.#key = options.key ?? randomBytes(32);
    this.#now = options.now ?? Date.now;
    this.#lifetimeSeconds = options.lifetimeSeconds;
  }

  get lifetimeSeconds(): number {
    return this.#lifetimeSeconds;
  }

  set lifetimeSeconds(value: number) {
    this.#lifetimeSeconds = value;
  }

  issue(subject: TokenSubject): IssuedToken {
    const nowMs = this.#now();
    const iat = Math.floor(nowMs / 1000);
    const claims: TokenClaims = {
      aud: this.#options.audience,
      iss: this.#options.issuer,
      iat,
      nbf: iat,
      exp: iat + this.#lifetimeSeconds,
      appid: subject.clientId,
      azp: subject.clientId,
      oid: subject.objectId,
      sub: subject.objectId,
      tid: this.#options.tenantId,
      uti: randomUUID(),
      ver: "1.0",
    };
    const accessToken = this.sign(claims);
    this.#remember(accessToken, { claims, issuedAtMs: nowMs, expiresAtMs: nowMs + this.#lifetimeSeconds * 1000, serial: ++this.#serial });
    return { accessToken, expiresIn: this.#lifetimeSeconds, claims };
  }

  /** Signs arbitrary claims with this instance's key; tests use it to forge wrong-audience tokens. */
  sign(claims: object): string {
    const header = base64url(JSON.stringify({ typ: "JWT", alg: "HS256", kid: "emulator" }));
    const payload = base64url(JSON.stringify(claims));
    const signature = createHmac("sha256", this.#key).update(`${header}.${payload}`).digest("base64url");
    return `${header}.${payload}.${signature}`;
  }

  /** Makes every token of this client issued up to now invalid. */
  revoke(clientId: string): void {
    this.#revokedBefore.set(clientId, { atMs: this.#now(), serial: this.#serial });
  }

  verify(token: string): TokenCheck {
    let cached = this.#cache.get(token);
    if (cached === undefined) {
      const parsed = this.#parse(token);
      if (!parsed.ok) return parsed;
      cached = { claims: parsed.claims, issuedAtMs: parsed.claims.iat * 1000, expiresAtMs: parsed.claims.exp * 1000 };
      this.#remember(token, cached);
    }
    const { claims } = cached;
    const nowMs = this.#now();
    const nowSeconds = nowMs / 1000;
    if (claims.aud !== this.#options.audience && claims.aud !== `${this.#options.audience}/`) {
      return { ok: false, reason: "audience" };
    }
    if (claims.tid !== this.#options.tenantId) return { ok: false, reason: "tenant" };
    if (nowMs >= cached.expiresAtMs) return { ok: false, reason: "expired" };
    if (nowSeconds + 300 < claims.nbf) return { ok: false, reason: "not-yet-valid" };
    const revoked = this.#revokedBefore.get(claims.appid);
    if (revoked !== undefined) {
      // A token known only from its claims (evicted from the cache) falls back to the clock.
      const before = cached.serial !== undefined ? cached.serial <= revoked.serial : cached.issuedAtMs <= revoked.atMs;
      if (before) return { ok: false, reason: "revoked" };
    }
    return { ok: true, claims };
  }

  #remember(token: string, entry: CachedToken): void {
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(token, entry);
  }

  #parse(token: string): TokenCheck {
    const parts = token.split(".");
    if (parts.length !== 3) return { ok: false, reason: "malformed" };
    const [header, payload, signature] = parts as [string, string, string];
    const expected = createHmac("sha256", this.#key).update(`${header}.${payload}`).digest();
    let given: Buffer;
    try {
      given = Buffer.from(signature, "base64url");
    } catch {
      return { ok: false, reason: "malformed" };
    }
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: "signature" };
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    } catch {
      return { ok: false, reason: "malformed" };
    }
    const claims = asClaims(decoded);
    return claims === undefined ? { ok: false, reason: "malformed" } : { ok: true, claims };
  }
}

function base64url(text: string): string {
  return Buffer.from(text, "utf8").toString("base64url");
}

function asClaims(value: unknown): TokenClaims | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const str = (k: string): string | undefined => (typeof v[k] === "string" ? (v[k] as string) : undefined);
  const num = (k: string): number | undefined => (typeof v[k] === "number" ? (v[k] as number) : undefined);
  const aud = str("aud");
  const appid = str("appid") ?? str("azp");
  const tid = str("tid");
  const exp = num("exp");
  const iat = num("iat");
  if (aud === undefined || appid === undefined || tid === undefined || exp === undefined || iat === undefined) {
    return undefined;
  }
  return {
    aud,
    iss: str("iss") ?? "",
    iat,
    nbf: num("nbf") ?? iat,
    exp,
    appid,
    azp: str("azp") ?? appid,
    oid: str("oid") ?? "",
    sub: str("sub") ?? "",
    tid,
    uti: str("uti") ?? "",
    ver: str("ver") ?? "1.0",
  };
}
