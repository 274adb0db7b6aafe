import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { AuthError } from "./auth-error.js";
import { resolveCredential, type FileReader } from "./credentials.js";

const CERT = readFileSync(new URL("../../emulator/certs/app-cert.pem", import.meta.url), "utf8");
const KEY = readFileSync(new URL("../../emulator/certs/app-key.pem", import.meta.url), "utf8");
const files = (map: Record<string, string>): FileReader => (path) => (path in map ? Promise.resolve(map[path] as string) : Promise.reject(Object.assign(new Error("nope"), { code: "ENOENT" })));

async function failure(p: Promise<unknown>): Promise<AuthError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  if (!(e instanceof AuthError)) throw new Error("expected an AuthError");
  return e;
}

describe("resolveCredential", () => {
  it("a certificate with an encrypted key: SHA-256 thumbprint, decrypted PKCS#8 key, expiry from the certificate", async () => {
    const encrypted = createPrivateKey(KEY).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw-123456" }).toString();
    const r = await resolveCredential({ kind: "certificate", certificate: { pem: CERT }, privateKey: { pem: encrypted }, passphrase: "pw-123456", thumbprint: "sha256", sendChain: true });
    if (r.kind !== "certificate") throw new Error("kind");
    expect(r.thumbprint).toMatch(/^[0-9A-F]{64}$/);
    expect(r.sha256).toBe(true);
    expect(r.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(r.x5c).toContain("BEGIN CERTIFICATE");
    expect(r.info.expiresAt?.toISOString().slice(0, 10)).toBe("2126-11-08");
  });

  it("one file holding certificate and key, SHA-1 thumbprint; the description names the file, never the key", async () => {
    const r = await resolveCredential({ kind: "certificate", certificate: { path: "/s/bundle.pem" }, thumbprint: "sha1", sendChain: false }, files({ "/s/bundle.pem": CERT + KEY }));
    expect(r.kind === "certificate" ? r.thumbprint : "").toMatch(/^[0-9A-F]{40}$/);
    expect(r.info.description).toMatch(/^certificate with SHA-1 thumbprint [0-9A-F]{40} \(\/s\/bundle\.pem\)$/);
  });

  it.each([
    ["PRIVATE_KEY_INVALID", { certificate: { pem: CERT } }, /no private key found/],
    ["PRIVATE_KEY_MISMATCH", { certificate: { pem: CERT }, privateKey: { pem: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString() } }, /does not belong/],
    ["PRIVATE_KEY_INVALID", { certificate: { pem: CERT }, privateKey: { pem: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString() } }, /the private key is ec; Entra ID client assertions are signed with an RSA key/],
    ["CERTIFICATE_INVALID", { certificate: { pem: "not a pem" } }, /not PEM text/],
    ["CREDENTIAL_UNREADABLE", { certificate: { path: "/missing.pem" } }, /cannot read the certificate file \/missing\.pem \(ENOENT\)/],
    ["CREDENTIAL_UNREADABLE", { certificate: { pem: CERT }, privateKey: { path: "/missing-key.pem" } }, /cannot read the private key file \/missing-key\.pem \(ENOENT\)/],
  ])("%s: %j", async (code, c, message) => {
    const e = await failure(resolveCredential({ kind: "certificate", thumbprint: "sha256", sendChain: false, ...c }, files({})));
    expect([e.code, e.field]).toEqual([code, "credentials"]);
    expect(e.message).toMatch(message);
  });

  it("workload identity reads the token file at every call, so a rotated token is used at once", async () => {
    const contents = ["first.token.aaaa\n", "second.token.bbbb"];
    const r = await resolveCredential({ kind: "workload_identity", tokenFile: "/t" }, () => Promise.resolve(contents.shift() ?? ""));
    if (r.kind !== "workload_identity") throw new Error("kind");
    expect(await r.readAssertion()).toBe("first.token.aaaa");
    expect(await r.readAssertion()).toBe("second.token.bbbb");
    expect((await failure(r.readAssertion())).message).toMatch(/the federated token file \/t is empty/);
  });
});
