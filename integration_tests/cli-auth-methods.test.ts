// Issue 16 through the built CLI against the emulator: every sign-in method for check and write
// (a certificate as PEM text and as files, an encrypted key, a federated token file that rotates
// mid-sync), a standby credential taking over from a refused one, the application-user pool with
// mixed methods, and the actionable message of each documented failure. No secret, private key,
// client assertion or federated token may appear in the output.
import { createPrivateKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_IDS, defaultTokenIssuer } from "../emulator/default-environment.js";
import { configuredCatalog, record, runCli, streamState, type CliRun } from "./helpers/cli.js";
import { findTokenShapes } from "./helpers/no-secrets.js";
import { startTestEmulator, type TestEmulator } from "./reliability/emulator.js";

const ROOT = new URL("..", import.meta.url);
const CERT_PEM = readFileSync(new URL("emulator/certs/app-cert.pem", ROOT), "utf8");
const KEY_PEM = readFileSync(new URL("emulator/certs/app-key.pem", ROOT), "utf8");
const OTHER_CERT_PEM = readFileSync(new URL("integration_tests/fixtures/certs/unregistered-cert.pem", ROOT), "utf8");
const OTHER_KEY_PEM = readFileSync(new URL("integration_tests/fixtures/certs/unregistered-key.pem", ROOT), "utf8");
const PASSPHRASE = "correct horse battery staple 16";
// Encrypted at test time with Node's crypto (PKCS#8, AES-256-CBC), as openssl pkcs8 -topk8 -v2 aes256 would.
const ENCRYPTED_KEY_PEM = createPrivateKey(KEY_PEM).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: PASSPHRASE }).toString();
const SUBJECT = DEFAULT_IDS.federatedApp.subject;

let emu: TestEmulator;
let dir: string;
/** Every federated token the tests minted, for the leak check. */
const minted: string[] = [];

function mint(options: { subject?: string; lifetimeSeconds?: number; issuedAt?: number } = {}): string {
  const token = defaultTokenIssuer().mint({ subject: options.subject ?? SUBJECT, ...options });
  minted.push(token);
  return token;
}

/** Writes a file the way kubelet updates a projected token: a new file renamed over the old one. */
function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

beforeAll(async () => {
  // 302 s tokens: msal renews 300 s before expiry, so every request after 2 s asks Entra again,
  // and a rotating federated token file is read again mid-sync.
  emu = await startTestEmulator({ tokenLifetimeSeconds: 302 });
  dir = mkdtempSync(join(tmpdir(), "auth-methods-"));
  writeFileSync(join(dir, "cert.pem"), CERT_PEM);
  writeFileSync(join(dir, "key.pem"), KEY_PEM);
  writeFileSync(join(dir, "bundle.pem"), `${CERT_PEM}${KEY_PEM}`);
});
afterAll(async () => {
  await emu.close();
  rmSync(dir, { recursive: true, force: true });
});

function secrets(): string[] {
  return [emu.connection.client_secret, KEY_PEM, ENCRYPTED_KEY_PEM, OTHER_KEY_PEM, PASSPHRASE, ...minted];
}

function base(clientId: string): Record<string, unknown> {
  const { client_secret: _secret, ...rest } = emu.connection;
  return { ...rest, client_id: clientId };
}

const certApp = DEFAULT_IDS.certificateApp.clientId;
const fedApp = DEFAULT_IDS.federatedApp.clientId;

async function run(args: string[], config: Record<string, unknown>, input: string[] = [], more: { env?: Record<string, string>; pace?: boolean } = {}): Promise<CliRun> {
  const r = await runCli({
    args,
    files: { "config.json": config, "catalog.json": configuredCatalog([{ name: "people", mode: "append_dedup", pk: [["emailaddress1"]] }]) },
    input,
    secrets: secrets(),
    ...(more.env !== undefined ? { env: more.env } : {}),
  });
  // Client assertions and federated tokens are JWTs: none may be printed, known or not.
  expect(findTokenShapes({ stdout: r.stdout.join("\n"), stderr: r.stderr })).toEqual([]);
  return r;
}

async function check(config: Record<string, unknown>, env?: Record<string, string>): Promise<{ status: string; message: string; logs: string[] }> {
  const r = await run(["check", "--config", "{file:config.json}"], config, [], env !== undefined ? { env } : {});
  expect(r.code).toBe(0);
  const status = r.messages.find((m) => m["type"] === "CONNECTION_STATUS")?.["connectionStatus"] as { status: string; message: string };
  return { ...status, logs: r.logs };
}

const STREAMS = [{ name: "people", table: "contact", mode: "upsert", key: { columns: ["emailaddress1"] } }];

async function write(prefix: string, config: Record<string, unknown>, count = 20, env?: Record<string, string>, pace?: { every: number; ms: number }): Promise<CliRun & { written: number }> {
  const before = emu.emulator.service.rowCount("contact");
  const input = [...Array.from({ length: count }, (_, i) => record("people", { emailaddress1: `${prefix}-${i}@example.org`, lastname: `L${i}` })), streamState("people", 1)];
  const r = pace === undefined ? await run(["write", "--config", "{file:config.json}", "--catalog", "{file:catalog.json}"], { ...config, streams: STREAMS, batch_size: 5 }, input, env !== undefined ? { env } : {}) : await paced(config, input, pace, env);
  return { ...r, written: emu.emulator.service.rowCount("contact") - before };
}

/** A write whose input arrives slowly, so the sync runs long enough for token files to rotate. */
async function paced(config: Record<string, unknown>, input: string[], pace: { every: number; ms: number }, env?: Record<string, string>): Promise<CliRun> {
  const { runConnector, workdir } = await import("./reliability/connector.js");
  const w = workdir("auth-paced-");
  try {
    const cfg = w.json("config.json", { ...config, streams: STREAMS, batch_size: 5 });
    const cat = w.json("catalog.json", configuredCatalog([{ name: "people", mode: "append_dedup", pk: [["emailaddress1"]] }]));
    const r = await runConnector({ args: ["write", "--config", cfg, "--catalog", cat], input, pace, timeoutMs: 60_000, ...(env !== undefined ? { env } : {}) });
    const text = { stdout: r.stdout.join("\n"), stderr: r.stderr };
    expect(findTokenShapes(text)).toEqual([]);
    for (const s of secrets()) expect(text.stdout.includes(s) || text.stderr.includes(s)).toBe(false);
    const messages = r.stdout.map((l) => JSON.parse(l) as Record<string, unknown>);
    return {
      ...r,
      messages,
      states: messages.filter((m) => m["type"] === "STATE").map((m) => m["state"] as Record<string, unknown>),
      traces: messages.filter((m) => m["type"] === "TRACE").map((m) => m["trace"] as Record<string, unknown>),
      logs: messages.filter((m) => m["type"] === "LOG").map((m) => String((m["log"] as Record<string, unknown>)["message"])),
    };
  } finally {
    w.remove();
  }
}

describe("certificate credentials", () => {
  it("check: certificate and key as PEM text; says which method signed in and when the certificate expires", async () => {
    const s = await check({ ...base(certApp), credentials: { auth_type: "certificate", certificate: CERT_PEM, private_key: KEY_PEM } });
    expect(s.status).toBe("SUCCEEDED");
    expect(s.message).toMatch(/signed in with certificate with SHA-256 thumbprint [0-9A-F]{64}, which expires on 2126-11-08/);
  });

  it("check and write: one PEM file holding certificate and key, RS256 with the SHA-1 thumbprint", async () => {
    const config = { ...base(certApp), credentials: { auth_type: "certificate", certificate_path: join(dir, "bundle.pem"), thumbprint: "sha1" } };
    expect((await check(config)).message).toMatch(/SHA-1 thumbprint [0-9A-F]{40} \(.*bundle\.pem\)/);
    const w = await write("cert-file", config);
    expect(w.code).toBe(0);
    expect(w.written).toBe(20);
    expect(w.states).toHaveLength(1);
  });

  it("check and write: certificate and key in separate files, x5c sent", async () => {
    const config = { ...base(certApp), credentials: { auth_type: "certificate", certificate_path: join(dir, "cert.pem"), private_key_path: join(dir, "key.pem"), send_certificate_chain: true } };
    expect((await check(config)).status).toBe("SUCCEEDED");
    const w = await write("cert-files", config, 10);
    expect([w.code, w.written]).toEqual([0, 10]);
  });

  it("check and write: an encrypted private key with its passphrase", async () => {
    const config = { ...base(certApp), credentials: { auth_type: "certificate", certificate: CERT_PEM, private_key: ENCRYPTED_KEY_PEM, private_key_passphrase: PASSPHRASE } };
    expect((await check(config)).status).toBe("SUCCEEDED");
    const w = await write("cert-encrypted", config, 10);
    expect([w.code, w.written]).toEqual([0, 10]);
  });

  it.each([
    ["a wrong passphrase", { certificate: CERT_PEM, private_key: ENCRYPTED_KEY_PEM, private_key_passphrase: "not the passphrase" }, /the private key cannot be decrypted: check private_key_passphrase/],
    ["no passphrase for an encrypted key", { certificate: CERT_PEM, private_key: ENCRYPTED_KEY_PEM }, /the private key is encrypted: set private_key_passphrase/],
    ["a key of another certificate", { certificate: CERT_PEM, private_key: OTHER_KEY_PEM }, /the private key does not belong to the certificate/],
    ["no key at all", { certificate: CERT_PEM }, /no private key found: give private_key or private_key_path/],
    ["a certificate file that is not there", { certificate_path: "/nonexistent/cert.pem" }, /cannot read the certificate file \/nonexistent\/cert\.pem \(ENOENT\)/],
    ["a certificate the app registration does not hold", { certificate: OTHER_CERT_PEM, private_key: OTHER_KEY_PEM }, /upload the certificate's public part under Certificates & secrets → Certificates \(AADSTS700027\)/],
  ])("check: %s fails with an actionable message", async (_name, cred, message) => {
    const s = await check({ ...base(certApp), credentials: { auth_type: "certificate", ...cred } });
    expect(s.status).toBe("FAILED");
    expect(s.message).toMatch(/^Sign-in failed: /);
    expect(s.message).toMatch(message);
  });
});

describe("workload identity federation", () => {
  it("check: the token file named by AZURE_FEDERATED_TOKEN_FILE, client and tenant from AZURE_CLIENT_ID and AZURE_TENANT_ID", async () => {
    const file = join(dir, "azure-identity-token");
    writeAtomically(file, mint());
    const { client_id: _c, tenant_id: tenant, ...rest } = base(fedApp);
    const s = await check({ ...rest, credentials: { auth_type: "workload_identity" } }, { AZURE_FEDERATED_TOKEN_FILE: file, AZURE_CLIENT_ID: fedApp, AZURE_TENANT_ID: String(tenant) });
    expect(s.status).toBe("SUCCEEDED");
    expect(s.message).toMatch(/signed in with workload identity federation \(token file .*azure-identity-token\)/);
  });

  it("write: the token file rotates mid-sync (each token lives 3 s, the sync 8 s) and every token request reads the current one", async () => {
    const file = join(dir, "rotating-token");
    writeAtomically(file, mint({ lifetimeSeconds: 3 }));
    const issuedBefore = emu.emulator.stats().tokensIssued;
    const timer = setInterval(() => writeAtomically(file, mint({ lifetimeSeconds: 3 })), 750);
    try {
      const w = await write("federated", { ...base(fedApp), credentials: { auth_type: "workload_identity", token_file: file } }, 80, undefined, { every: 5, ms: 550 });
      expect(w.traces).toEqual([]);
      expect([w.code, w.written]).toEqual([0, 80]);
      expect(w.elapsedMs).toBeGreaterThan(7000);
    } finally {
      clearInterval(timer);
    }
    // Entra tokens renew every ~2.5 s here, so the sync asked for at least three: the later ones
    // came after the first federated token had expired (700024 had the file not been read again).
    expect(emu.emulator.stats().tokensIssued - issuedBefore).toBeGreaterThanOrEqual(3);
  });

  it.each([
    ["a token for another service account", () => mint({ subject: "system:serviceaccount:default:other" }), /no federated credential of the app matches the token's issuer, subject and audience .*add one under Certificates & secrets → Federated credentials .*\(AADSTS70021\)/],
    ["an expired token (the file is no longer refreshed)", () => mint({ issuedAt: Math.floor(Date.now() / 1000) - 7200 }), /the federated token in the token file has expired .*\(AADSTS700024\)/],
    ["an empty file", () => "", /the federated token file .* is empty/],
  ])("check: %s fails with an actionable message", async (_name, content, message) => {
    const file = join(dir, `token-${minted.length}`);
    writeAtomically(file, content());
    const s = await check({ ...base(fedApp), credentials: { auth_type: "workload_identity", token_file: file } });
    expect(s.status).toBe("FAILED");
    expect(s.message).toMatch(message);
  });

  it("check: a missing token file says how Azure Workload Identity provides it", async () => {
    const s = await check({ ...base(fedApp), credentials: { auth_type: "workload_identity", token_file: "/nonexistent/token" } });
    expect(s.status).toBe("FAILED");
    expect(s.message).toMatch(/cannot read the federated token file \/nonexistent\/token \(ENOENT\); on AKS, label the pod azure\.workload\.identity\/use/);
  });
});

describe("rollover and the pool", () => {
  it("a refused secret hands over to the standby credential, and the log says so (check and write)", async () => {
    const config = {
      ...base(DEFAULT_IDS.mainApp.clientId),
      credentials: { auth_type: "client_secret", client_secret: "the-secret-that-was-just-deleted" },
      standby_credentials: { auth_type: "client_secret", client_secret: emu.connection.client_secret },
    };
    const s = await check(config);
    expect(s.status).toBe("SUCCEEDED");
    expect(s.message).toMatch(/signed in with the standby credential, client secret/);
    expect(s.logs.some((l) => /signed in with the standby credential \(client secret\) because the first credential \(client secret\) was refused: INVALID_SECRET AADSTS7000215/.test(l))).toBe(true);
    const w = await write("rollover", config, 10);
    expect([w.code, w.written]).toEqual([0, 10]);
    expect(w.logs.filter((l) => /standby credential/.test(l))).toHaveLength(1);
  });

  it("a certificate rollover: the new certificate is registered, the old one not any more", async () => {
    const s = await check({
      ...base(certApp),
      credentials: { auth_type: "certificate", certificate: OTHER_CERT_PEM, private_key: OTHER_KEY_PEM },
      standby_credentials: { auth_type: "certificate", certificate_path: join(dir, "bundle.pem") },
    });
    expect(s.status).toBe("SUCCEEDED");
    expect(s.logs.some((l) => /because the first credential \(certificate\) was refused: CERTIFICATE_REFUSED AADSTS700027/.test(l))).toBe(true);
  });

  it("both refused: the message names both", async () => {
    const s = await check({
      ...base(DEFAULT_IDS.mainApp.clientId),
      credentials: { auth_type: "client_secret", client_secret: "wrong-one-0000000001" },
      standby_credentials: { auth_type: "client_secret", client_secret: "wrong-two-0000000002" },
    });
    expect(s.status).toBe("FAILED");
    expect(s.message).toMatch(/AADSTS7000215.*the standby credential was refused too: .*AADSTS7000215/);
  });

  it("the application-user pool takes every method: secret, certificate and federated users write together", async () => {
    const file = join(dir, "pool-token");
    writeAtomically(file, mint());
    const config = {
      ...emu.connection,
      additional_app_users: [
        { client_id: certApp, credentials: { auth_type: "certificate", certificate_path: join(dir, "bundle.pem") } },
        { client_id: fedApp, credentials: { auth_type: "workload_identity", token_file: file } },
      ],
    };
    expect((await check(config)).status).toBe("SUCCEEDED");
    const w = await write("pool", config, 30);
    expect([w.code, w.written]).toEqual([0, 30]);
  });
});
