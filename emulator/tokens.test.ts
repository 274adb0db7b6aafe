import { describe, expect, it } from "vitest";
import { TokenService } from "./tokens.js";

const base = { tenantId: "t-1", audience: "https://127.0.0.1:8443", issuer: "https://127.0.0.1:8443/t-1/", lifetimeSeconds: 60 };

function setup() {
  let t = 1_700_000_000_000;
  const svc = new TokenService({ ...base, now: () => t });
  return { svc, advance: (ms: number) => void (t += ms) };
}

describe("TokenService", () => {
  it("issues a JWT-shaped token with aud, tid, appid, azp, oid, iat and exp", () => {
    const { svc } = setup();
    const issued = svc.issue({ clientId: "c-1", objectId: "o-1" });
    const [h, p, s] = issued.accessToken.split(".");
    expect(s?.length).toBeGreaterThan(20);
    expect(JSON.parse(Buffer.from(h ?? "", "base64url").toString())).toMatchObject({ typ: "JWT", alg: "HS256" });
    const claims = JSON.parse(Buffer.from(p ?? "", "base64url").toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ aud: base.audience, tid: "t-1", appid: "c-1", azp: "c-1", oid: "o-1", iat: 1_700_000_000, exp: 1_700_000_060 });
    expect(issued.expiresIn).toBe(60);
    expect(svc.verify(issued.accessToken)).toMatchObject({ ok: true });
  });

  it("rejects the token once it expires", () => {
    const { svc, advance } = setup();
    const { accessToken } = svc.issue({ clientId: "c", objectId: "o" });
    advance(59_000);
    expect(svc.verify(accessToken).ok).toBe(true);
    advance(1_000);
    expect(svc.verify(accessToken)).toEqual({ ok: false, reason: "expired" });
  });

  it("rejects a tampered payload, a token of another instance and garbage", () => {
    const { svc } = setup();
    const { accessToken } = svc.issue({ clientId: "c", objectId: "o" });
    const [h, , s] = accessToken.split(".");
    const forged = `${h}.${Buffer.from(JSON.stringify({ aud: base.audience, tid: "t-1", appid: "other", iat: 1, exp: 9e9 })).toString("base64url")}.${s}`;
    expect(svc.verify(forged)).toEqual({ ok: false, reason: "signature" });
    const other = new TokenService(base).issue({ clientId: "c", objectId: "o" }).accessToken;
    expect(svc.verify(other)).toEqual({ ok: false, reason: "signature" });
    expect(svc.verify("not-a-jwt")).toEqual({ ok: false, reason: "malformed" });
  });

  it("rejects a correctly signed token for another audience or tenant", () => {
    const { svc } = setup();
    const now = 1_700_000_000;
    expect(svc.verify(svc.sign({ aud: "https://org.crm.dynamics.com", tid: "t-1", appid: "c", iat: now, exp: now + 60 }))).toEqual({ ok: false, reason: "audience" });
    expect(svc.verify(svc.sign({ aud: base.audience, tid: "t-2", appid: "c", iat: now, exp: now + 60 }))).toEqual({ ok: false, reason: "tenant" });
  });

  it("revocation invalidates the client's tokens issued so far, not later ones nor other clients'", () => {
    const { svc, advance } = setup();
    const old = svc.issue({ clientId: "c", objectId: "o" }).accessToken;
    const others = svc.issue({ clientId: "d", objectId: "o2" }).accessToken;
    svc.revoke("c");
    advance(1);
    const fresh = svc.issue({ clientId: "c", objectId: "o" }).accessToken;
    expect(svc.verify(old)).toEqual({ ok: false, reason: "revoked" });
    expect(svc.verify(others).ok).toBe(true);
    expect(svc.verify(fresh).ok).toBe(true);
  });

  it("a token issued in the same millisecond as a revoke, after it, stays valid", () => {
    const { svc } = setup();
    const old = svc.issue({ clientId: "c", objectId: "o" }).accessToken;
    svc.revoke("c");
    const fresh = svc.issue({ clientId: "c", objectId: "o" }).accessToken;
    expect(svc.verify(old)).toEqual({ ok: false, reason: "revoked" });
    expect(svc.verify(fresh).ok).toBe(true);
  });

  it("a 1 s token lives a full second even when issued late in a second (exp has whole seconds)", () => {
    let t = 1_700_000_000_999;
    const svc = new TokenService({ ...base, lifetimeSeconds: 1, now: () => t });
    const { accessToken } = svc.issue({ clientId: "c", objectId: "o" });
    t += 500;
    expect(svc.verify(accessToken).ok).toBe(true);
    t += 500;
    expect(svc.verify(accessToken)).toEqual({ ok: false, reason: "expired" });
  });
});
