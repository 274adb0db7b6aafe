import { describe, expect, it } from "vitest";
import { loadConfig, rawSecrets, secretsOf } from "./load.js";
import { ConfigError } from "./errors.js";
import { credentialsOf } from "./types.js";

const base = {
  web_api_endpoint: "https://org.crm.dynamics.com/api/data/v9.2/",
  tenant_id: "t",
  client_id: "c",
};
const KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----";

function failure(raw: unknown, env: Record<string, string> = {}): ConfigError {
  try {
    loadConfig(raw, env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("no error");
}

describe("credentials: one choice keyed by auth_type", () => {
  it("the older top-level client_secret is read as the client secret method", () => {
    const { config } = loadConfig({ ...base, client_secret: "older-secret-value" });
    expect(config.clientSecret).toBe("older-secret-value");
    expect(credentialsOf(config)).toEqual([{ kind: "client_secret", secret: "older-secret-value" }]);
  });

  it("a certificate as PEM text or as files, with a passphrase and the sha1 form", () => {
    const text = loadConfig({ ...base, credentials: { auth_type: "certificate", certificate: `cert\n${KEY}` } }).config;
    expect(text.credentials).toEqual([{ kind: "certificate", certificate: { pem: `cert\n${KEY}` }, thumbprint: "sha256", sendChain: false }]);
    const files = loadConfig({
      ...base,
      credentials: { auth_type: "certificate", certificate_path: "/c.pem", private_key_path: "/k.pem", private_key_passphrase: "pass-phrase-1", thumbprint: "sha1", send_certificate_chain: true },
    }).config;
    expect(files.credentials?.[0]).toEqual({ kind: "certificate", certificate: { path: "/c.pem" }, privateKey: { path: "/k.pem" }, passphrase: "pass-phrase-1", thumbprint: "sha1", sendChain: true });
    expect(files.clientSecret).toBe("");
  });

  it("workload identity takes the token file, client, tenant and authority from Azure Workload Identity's variables", () => {
    const env = { AZURE_FEDERATED_TOKEN_FILE: "/var/run/secrets/azure/tokens/azure-identity-token", AZURE_CLIENT_ID: "cid", AZURE_TENANT_ID: "tid", AZURE_AUTHORITY_HOST: "https://login.microsoftonline.com/" };
    const { config } = loadConfig({ web_api_endpoint: base.web_api_endpoint, credentials: { auth_type: "workload_identity" } }, env);
    expect(config).toMatchObject({ clientId: "cid", tenantId: "tid", credentials: [{ kind: "workload_identity", tokenFile: env.AZURE_FEDERATED_TOKEN_FILE }] });
    expect(config.authorityHost.href).toBe("https://login.microsoftonline.com/");
    // The config wins over the environment.
    expect(loadConfig({ ...base, credentials: { auth_type: "workload_identity", token_file: "/t" } }, env).config).toMatchObject({ clientId: "c", credentials: [{ tokenFile: "/t" }] });
  });

  it("a workload identity without a token file anywhere names token_file", () => {
    expect(failure({ ...base, credentials: { auth_type: "workload_identity" } }).message).toMatch(/\/credentials\/token_file is required when AZURE_FEDERATED_TOKEN_FILE is not set/);
  });

  it("the standby credential follows the first; pool users take any method", () => {
    const { config } = loadConfig({
      ...base,
      credentials: { auth_type: "client_secret", client_secret: "old-secret-0001" },
      standby_credentials: { auth_type: "client_secret", client_secret: "new-secret-0002" },
      additional_app_users: [
        { client_id: "u2", client_secret: "pool-secret-0003" },
        { client_id: "u3", credentials: { auth_type: "workload_identity", token_file: "/t" } },
      ],
    });
    expect(credentialsOf(config).map((c) => (c.kind === "client_secret" ? c.secret : c.kind))).toEqual(["old-secret-0001", "new-secret-0002"]);
    expect(config.additionalUsers.map((u) => credentialsOf(u)[0]?.kind)).toEqual(["client_secret", "workload_identity"]);
  });

  it("errors name the chosen branch's fields only, and an unknown auth_type lists the choices", () => {
    const e = failure({ ...base, credentials: { auth_type: "certificate", thumbprint: "md5" } });
    expect(e.violations.map((v) => v.path)).toEqual(expect.arrayContaining(["/credentials/thumbprint", "/credentials/certificate"]));
    expect(e.message).not.toMatch(/client_secret|token_file|oneOf/);
    const u = failure({ ...base, credentials: { auth_type: "password" } });
    expect(u.message).toMatch(/\/credentials\/auth_type must be one of "client_secret", "certificate", "workload_identity"/);
  });

  it("no credential at all, or two forms at once, is named", () => {
    expect(failure(base).message).toMatch(/\/credentials is required/);
    expect(failure({ ...base, client_secret: "s-0001-aaaa", credentials: { auth_type: "client_secret", client_secret: "s-0002-bbbb" } }).message).toMatch(/\/client_secret is set beside credentials/);
    expect(failure({ ...base, credentials: { auth_type: "certificate", certificate: "x", certificate_path: "/x" } }).message).toMatch(/give either certificate \(PEM text\) or certificate_path/);
  });

  it("secrets, private keys and passphrases reach the scrubber; certificates alone do not", () => {
    const { config } = loadConfig({ ...base, credentials: { auth_type: "certificate", certificate: `-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n${KEY}`, private_key_passphrase: "pass-phrase-1" } });
    const secrets = secretsOf(config);
    expect(secrets).toContain(KEY);
    expect(secrets).toContain("pass-phrase-1");
    expect(secrets).toContain("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7");
    expect(secrets.some((s) => s.includes("BEGIN CERTIFICATE"))).toBe(false);
    expect(rawSecrets({ credentials: { auth_type: "certificate", private_key: KEY, private_key_passphrase: "p-123" } })).toEqual(expect.arrayContaining([KEY, "p-123"]));
  });
});
