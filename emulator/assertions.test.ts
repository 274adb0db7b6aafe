// The emulated Entra ID's client assertion checks, through handleEntra: certificate credentials
// (RS256/PS256, x5t/x5t#S256, aud, iss = sub, exp/nbf, jti) and workload identity federation
// (issuer, subject, audience matched; the external token verified against the issuer's keys).
import { createPrivateKey, createSign, constants, randomUUID, sign, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { handleEntra, type EntraContext } from "./entra.js";
import { TokenService } from "./tokens.js";
import { CERTIFICATE_APP_PEM, DEFAULT_IDS, defaultEnvironment, defaultTokenIssuer } from "./default-environment.js";
import { TokenIssuer } from "./federation.js";
import { JWT_BEARER } from "./assertions.js";

const ORIGIN = "https://127.0.0.1:8443";
const env = defaultEnvironment();
const tenant = env.tenantId;
const TOKEN_ENDPOINT = `${ORIGIN}/${tenant}/oauth2/v2.0/token`;
const appKey = createPrivateKey(readFileSync(new URL("./certs/app-key.pem", import.meta.url)));
const otherKey = createPrivateKey(readFileSync(new URL("../integration_tests/fixtures/certs/unregistered-key.pem", import.meta.url)));
const cert = new X509Certificate(CERTIFICATE_APP_PEM);
const print = (fp: string): string => Buffer.from(fp.replace(/:/g, ""), "hex").toString("base64url");

function context(now = Date.now(), apps = env.apps): EntraContext {
  return {
    tenantId: tenant,
    apps,
    origin: ORIGIN,
    port: 8443,
    tokens: new TokenService({ tenantId: tenant, audience: ORIGIN, issuer: `${ORIGIN}/${tenant}/`, lifetimeSeconds: 3599, now: () => now }),
    now: () => now,
    issuers: env.federationIssuers ?? [],
  };
}

function jwt(header: object, claims: object, key: KeyObject, pss = false): string {
  const data = `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  const signature = pss
    ? sign("sha256", Buffer.from(data), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST })
    : createSign("RSA-SHA256").update(data).sign(key);
  return `${data}.${signature.toString("base64url")}`;
}

function certAssertion(over: { header?: object; claims?: object; key?: KeyObject; pss?: boolean } = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const pss = over.pss ?? true;
  const header = { alg: pss ? "PS256" : "RS256", typ: "JWT", ...(pss ? { "x5t#S256": print(cert.fingerprint256) } : { x5t: print(cert.fingerprint) }), ...over.header };
  const id = DEFAULT_IDS.certificateApp.clientId;
  return jwt(header, { aud: TOKEN_ENDPOINT, iss: id, sub: id, exp: now + 600, nbf: now, jti: randomUUID(), ...over.claims }, over.key ?? appKey, pss);
}

function request(clientId: string, assertion: string, ctx = context()): { status: number; body: Record<string, unknown> } {
  const body = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: clientId,
    scope: `${ORIGIN}/.default`,
    client_assertion_type: JWT_BEARER,
    client_assertion: assertion,
  }).toString();
  const answer = handleEntra(ctx, "POST", `/${tenant}/oauth2/v2.0/token`, new URLSearchParams(), "application/x-www-form-urlencoded", body);
  if (answer === undefined) throw new Error("not an Entra path");
  return { status: answer.status, body: JSON.parse(answer.body) as Record<string, unknown> };
}

const certApp = DEFAULT_IDS.certificateApp.clientId;
const fedApp = DEFAULT_IDS.federatedApp.clientId;
const code = (r: { body: Record<string, unknown> }): unknown => (r.body["error_codes"] as unknown[] | undefined)?.[0];

describe("certificate credentials", () => {
  it("a PS256 assertion with x5t#S256 and an RS256 one with x5t both get a token", () => {
    for (const pss of [true, false]) {
      const r = request(certApp, certAssertion({ pss }));
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ token_type: "Bearer", access_token: expect.any(String) });
    }
  });

  it.each([
    ["a certificate the app does not hold", () => certAssertion({ key: otherKey, header: { "x5t#S256": "bm90LXJlZ2lzdGVyZWQtdGh1bWJwcmludA" } }), 401, "invalid_client", 700027, /The key was not found/],
    ["a signature made with another key", () => certAssertion({ key: otherKey }), 401, "invalid_client", 700027, /signature does not verify/],
    ["an expired assertion", () => certAssertion({ claims: { exp: Math.floor(Date.now() / 1000) - 5 } }), 401, "invalid_client", 700024, /not within its valid time range/],
    ["an assertion not valid yet (beyond the skew)", () => certAssertion({ claims: { nbf: Math.floor(Date.now() / 1000) + 3600 } }), 401, "invalid_client", 700024, /valid time range/],
    ["an audience that is not the token endpoint", () => certAssertion({ claims: { aud: "https://login.microsoftonline.com/common/oauth2/v2.0/token" } }), 401, "invalid_client", 700023, /audience claim/],
    ["iss and sub of another client", () => certAssertion({ claims: { iss: DEFAULT_IDS.mainApp.clientId, sub: DEFAULT_IDS.mainApp.clientId } }), 401, "invalid_client", 700021, /doesn't match 'client_id'/],
    ["sub unlike iss", () => certAssertion({ claims: { sub: "someone-else" } }), 401, "invalid_client", 50048, /Subject mismatches Issuer/],
    ["no jti", () => certAssertion({ claims: { jti: undefined } }), 401, "invalid_client", 50027, /jti/],
    ["not a JWT", () => "not-a-jwt", 401, "invalid_client", 50027, /not a JWT/],
  ])("%s is refused in Entra's shape", (_name, make, status, error, number, text) => {
    const r = request(certApp, make());
    expect(r.status).toBe(status);
    expect(r.body["error"]).toBe(error);
    expect(code(r)).toBe(number);
    expect(String(r.body["error_description"])).toMatch(new RegExp(`^AADSTS${number}: `));
    expect(String(r.body["error_description"])).toMatch(text);
  });

  it("a key credential past its end date: 700027, the key used is expired", () => {
    const apps = env.apps.map((a) => (a.clientId === certApp ? { ...a, certificates: [{ pem: CERTIFICATE_APP_PEM, endDateTime: "2020-01-01T00:00:00Z" }] } : a));
    const r = request(certApp, certAssertion(), context(Date.now(), apps));
    expect(code(r)).toBe(700027);
    expect(String(r.body["error_description"])).toMatch(/The key used is expired/);
  });

  it("an assertion without client_assertion_type asks for it (900144)", () => {
    const body = new URLSearchParams({ grant_type: "client_credentials", client_id: certApp, scope: `${ORIGIN}/.default`, client_assertion: certAssertion() }).toString();
    const answer = handleEntra(context(), "POST", `/${tenant}/oauth2/v2.0/token`, new URLSearchParams(), "application/x-www-form-urlencoded", body);
    expect(JSON.parse(answer?.body ?? "{}")).toMatchObject({ error: "invalid_request", error_codes: [900144] });
  });
});

describe("workload identity federation", () => {
  const subject = DEFAULT_IDS.federatedApp.subject;

  it("a service account token of the trusted issuer, subject and audience is exchanged", () => {
    const r = request(fedApp, defaultTokenIssuer().mint({ subject }));
    expect(r.status).toBe(200);
  });

  it.each([
    ["another subject", () => defaultTokenIssuer().mint({ subject: "system:serviceaccount:other:sa" }), 70021, /No matching federated identity record.*Assertion Subject: 'system:serviceaccount:other:sa'/],
    ["another audience", () => defaultTokenIssuer().mint({ subject, audience: "api://other" }), 70021, /Assertion Audience: 'api:\/\/other'/],
    ["another issuer", () => new TokenIssuer("https://issuer.example.invalid/").mint({ subject }), 70021, /Assertion Issuer: 'https:\/\/issuer.example.invalid\/'/],
    ["the trusted issuer's URL signed with another key", () => new TokenIssuer(DEFAULT_IDS.federatedApp.issuer).mint({ subject }), 50027, /failed signature verification/],
    ["an expired token (the file was not refreshed)", () => defaultTokenIssuer().mint({ subject, issuedAt: Math.floor(Date.now() / 1000) - 3700 }), 700024, /not within its valid time range/],
  ])("%s is refused", (_name, make, number, text) => {
    const r = request(fedApp, make());
    expect(code(r)).toBe(number);
    expect(String(r.body["error_description"])).toMatch(text);
  });

  it("the certificate app cannot present a federated token, nor the federated app a certificate", () => {
    expect(code(request(certApp, defaultTokenIssuer().mint({ subject })))).toBe(70021);
    expect(code(request(fedApp, certAssertion({ claims: { iss: fedApp, sub: fedApp } })))).toBe(700027);
  });
});
