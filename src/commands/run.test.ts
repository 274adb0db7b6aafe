import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { run } from "./run.js";
import { sameEnvironmentHost, tokenAudience } from "./check.js";
import type { CommandIO } from "./io.js";

function io(argv: string[], files: Record<string, string> = {}, env: Record<string, string> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c: Buffer) => (out += c.toString()));
  stderr.on("data", (c: Buffer) => (err += c.toString()));
  const value: CommandIO = {
    argv,
    env,
    stdin: Readable.from([]),
    stdout,
    stderr,
    now: () => 1000,
    version: "9.9.9",
    readFile: (p) => (p in files ? Promise.resolve(files[p] as string) : Promise.reject(new Error("ENOENT"))),
    openInput: () => Promise.resolve(Readable.from([])),
  };
  return { value, out: () => out, err: () => err };
}

describe("run", () => {
  it("spec prints one SPEC line", async () => {
    const x = io(["spec"]);
    expect(await run(x.value)).toBe(0);
    const lines = x.out().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ type: "SPEC", spec: { connectionSpecification: { type: "object" } } });
  });

  it("a usage error exits 2 with usage on stderr and nothing on stdout", async () => {
    const x = io(["bogus"]);
    expect(await run(x.value)).toBe(2);
    expect(x.out()).toBe("");
    expect(x.err()).toContain("Usage:");
  });

  it("an unreadable config is a config_error TRACE and exit 1", async () => {
    const x = io(["write", "--config", "missing.json", "--catalog", "c.json"]);
    expect(await run(x.value)).toBe(1);
    expect(JSON.parse(x.out().trim())).toMatchObject({ type: "TRACE", trace: { type: "ERROR", emitted_at: 1000, error: { failure_type: "config_error", message: 'The config file "missing.json" cannot be read: ENOENT' } } });
  });

  it("a trailing comma names the file, line and column, and never quotes the file", async () => {
    const x = io(["write", "--config", "c.json", "--catalog", "k.json"], { "c.json": '{\n  "client_secret": "very-secret-value-42",\n}\n' });
    expect(await run(x.value)).toBe(1);
    expect(x.out()).toContain('The config file \\"c.json\\" is not valid JSON at line 3, column 1 (a trailing comma: JSON allows no comma before } or ])');
    expect(x.out()).not.toContain("very-secret-value-42");
  });

  it("a config file saved with a UTF-8 byte order mark is read (Notepad writes one)", async () => {
    const config = JSON.stringify({ web_api_endpoint: "nope", tenant_id: "t", client_id: "c", client_secret: "s" });
    const x = io(["write", "--config", "c.json", "--catalog", "k.json"], { "c.json": `\uFEFF${config}`, "k.json": "\uFEFF{}" });
    expect(await run(x.value)).toBe(1);
    // Parsed: the failure is the schema's, not "not valid JSON".
    expect(x.out()).toContain("/web_api_endpoint");
    expect(x.out()).not.toContain("not valid JSON");
  });

  it("a config that fails validation never echoes its secret", async () => {
    const config = JSON.stringify({ web_api_endpoint: "nope", tenant_id: 1, client_id: "c", client_secret: "very-secret-value-42" });
    const x = io(["write", "--config", "c.json", "--catalog", "k.json"], { "c.json": config, "k.json": "{}" });
    expect(await run(x.value)).toBe(1);
    expect(x.out()).toContain("/tenant_id");
    expect(x.out() + x.err()).not.toContain("very-secret-value-42");
  });

  it("Singer mode reports a fatal error on stderr and keeps stdout for states", async () => {
    const x = io(["--config", "missing.json"]);
    expect(await run(x.value)).toBe(1);
    expect(x.out()).toBe("");
    expect(x.err()).toMatch(/^FATAL config_error: The config file "missing.json" cannot be read/);
  });
});

describe("sameEnvironmentHost", () => {
  it("takes <org>.api.crm*.dynamics.com and <org>.crm*.dynamics.com as one environment, and nothing else", () => {
    expect(sameEnvironmentHost("org.crm4.dynamics.com", "org.api.crm4.dynamics.com")).toBe(true);
    expect(sameEnvironmentHost("org.api.crm.dynamics.com", "ORG.crm.dynamics.com")).toBe(true);
    expect(sameEnvironmentHost("127.0.0.1:8443", "127.0.0.1:8443")).toBe(true);
    expect(sameEnvironmentHost("org.crm.dynamics.com", "other.crm.dynamics.com")).toBe(false);
    expect(sameEnvironmentHost("org.crm.dynamics.com", "org.crm4.dynamics.com")).toBe(false);
    expect(sameEnvironmentHost("127.0.0.1:8443", "localhost:8443")).toBe(false);
  });
});

describe("tokenAudience", () => {
  it("reads aud from a JWT payload without verifying it", () => {
    const payload = Buffer.from(JSON.stringify({ aud: "https://org.crm.dynamics.com" })).toString("base64url");
    expect(tokenAudience(`e30.${payload}.sig`)).toBe("https://org.crm.dynamics.com");
    expect(tokenAudience("not-a-jwt")).toBeUndefined();
  });
});
