import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createDataService, defaultEnvironment, loadEnvironment } from "./environment.js";
import { EnvironmentFileError, parseEnvironment } from "./environment-file.js";

function file(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), "emu-env-"));
  const path = join(dir, "env.json");
  writeFileSync(path, content);
  return path;
}

function withApp(e: Record<string, unknown>, index: number, extra: Record<string, unknown>): Record<string, unknown> {
  return { ...e, apps: (e["apps"] as Record<string, unknown>[]).map((a, i) => (i === index ? { ...a, ...extra } : a)) };
}

describe("loadEnvironment", () => {
  it("round-trips the default environment through its JSON form", () => {
    const env = loadEnvironment(file(JSON.stringify(defaultEnvironment())));
    expect(env).toEqual(defaultEnvironment());
    expect(createDataService(env).rowCount("systemuser")).toBe(4);
  });

  it.each([
    [(e: Record<string, unknown>) => ({ ...e, tenantId: "nope" }), "$.tenantId"],
    [(e: Record<string, unknown>) => ({ ...e, extra: 1 }), "$.extra"],
    [
      (e: Record<string, unknown>) => ({
        ...e,
        tables: (e["tables"] as Record<string, unknown>[]).map((t, i) =>
          i === 0 ? { ...t, columns: [{ logicalName: "x", type: "Text" }, ...(t["columns"] as unknown[])] } : t,
        ),
      }),
      "$.tables[0].columns[0].type",
    ],
    [
      (e: Record<string, unknown>) => ({
        ...e,
        tables: (e["tables"] as Record<string, unknown>[]).map((t, i) => (i === 1 ? { ...t, keys: [{ logicalName: "k", attributes: ["nope"] }] } : t)),
      }),
      "$.tables[1].keys[0].attributes[0]",
    ],
    [(e: Record<string, unknown>) => ({ ...e, rows: { nosuch: [] } }), "$.rows.nosuch"],
    [(e: Record<string, unknown>) => withApp(e, 4, { certificates: [{ pem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" }] }), "$.apps[4].certificates[0].pem"],
    [(e: Record<string, unknown>) => withApp(e, 5, { federatedCredentials: [{ name: "fic", issuer: "https://i/", subject: "s", audiences: [] }] }), "$.apps[5].federatedCredentials[0].audiences"],
    [(e: Record<string, unknown>) => ({ ...e, federationIssuers: [{ issuer: "https://i/", jwks: { keys: [{ kty: "RSA" }] } }] }), "$.federationIssuers[0].jwks.keys[0]"],
  ])("names the JSON path of the problem (%#)", (mutate, path) => {
    const json = mutate(JSON.parse(JSON.stringify(defaultEnvironment())) as Record<string, unknown>);
    try {
      parseEnvironment(json, "env.json");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(EnvironmentFileError);
      expect((e as EnvironmentFileError).jsonPath).toBe(path);
      expect((e as EnvironmentFileError).message).toMatch(new RegExp(`^env.json: ${path.replace(/[$.[\]]/g, "\\$&")}: `));
    }
  });

  it("a seed row the service refuses names its JSON path", () => {
    const env = defaultEnvironment();
    expect(() => createDataService({ ...env, rows: { ...env.rows, account: [{ name: "ok" }, { name: "x".repeat(161) }] } })).toThrow(
      /^\$\.rows\.account\[1\]: 0x80044331 /,
    );
  });

  it("invalid JSON and a missing file are errors at $", () => {
    expect(() => loadEnvironment(file("{"))).toThrow(/: \$: is not valid JSON$/);
    expect(() => loadEnvironment("/nonexistent/env.json")).toThrow(/\$: cannot read the file \(ENOENT\)/);
  });
});

describe("plugins", () => {
  it("reads synchronous plug-in steps per table and message, and names the JSON path of a bad one", () => {
    const base = JSON.parse(JSON.stringify(defaultEnvironment())) as Record<string, unknown>;
    const env = parseEnvironment({ ...base, plugins: [{ table: "contact", message: "Create", milliseconds: 30 }] });
    expect(env.plugins).toEqual([{ table: "contact", message: "Create", milliseconds: 30 }]);
    expect(() => parseEnvironment({ ...base, plugins: [{ table: "nosuch", message: "Create", milliseconds: 1 }] })).toThrow(/\$\.plugins\[0\]\.table/);
    expect(() => parseEnvironment({ ...base, plugins: [{ table: "contact", message: "Retrieve", milliseconds: 1 }] })).toThrow(/\$\.plugins\[0\]\.message/);
    expect(() => parseEnvironment({ ...base, plugins: [{ table: "contact", message: "Create", milliseconds: -1 }] })).toThrow(/\$\.plugins\[0\]\.milliseconds/);
  });
});
