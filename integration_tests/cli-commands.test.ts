// spec, check, discover, --about and --version through the built CLI; check's failures say what to fix.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_IDS } from "../emulator/default-environment.js";
import { startTestEmulator } from "./reliability/emulator.js";
import type { TestEmulator } from "./reliability/emulator.js";
import { runCli } from "./helpers/cli.js";
import type { Json } from "./helpers/cli.js";

let emu: TestEmulator;
const allSecrets = [DEFAULT_IDS.mainApp.secret, DEFAULT_IDS.readOnlyApp.secret, DEFAULT_IDS.notAUserApp.secret, DEFAULT_IDS.expiredApp.secret, "wrong-secret-value-123"];

beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => {
  await emu?.close();
});

function cli(args: string[], config?: Json) {
  return runCli({ args, ...(config !== undefined ? { files: { "config.json": config } } : {}), secrets: allSecrets });
}

async function check(overrides: Json): Promise<{ status: string; message: string }> {
  const r = await cli(["check", "--config", "{file:config.json}"], { ...emu.connection, ...overrides });
  expect(r.code).toBe(0);
  const statuses = r.messages.filter((m) => m["type"] === "CONNECTION_STATUS");
  expect(statuses).toHaveLength(1);
  return statuses[0]?.["connectionStatus"] as { status: string; message: string };
}

describe("spec", () => {
  it("prints one SPEC with a draft-07 connectionSpecification and secrets marked", async () => {
    const r = await cli(["spec"]);
    expect(r.code).toBe(0);
    expect(r.messages).toHaveLength(1);
    const spec = r.messages[0]?.["spec"] as Json;
    const cs = spec["connectionSpecification"] as { $schema: string; properties: Record<string, Json>; required: string[] };
    expect(cs.$schema).toBe("http://json-schema.org/draft-07/schema#");
    // Issue 16: the secret is one sign-in method of `credentials`; neither is in `required`, so a
    // configuration saved with the older top-level client_secret still validates (load.ts asks for one).
    expect(cs.required).toEqual(expect.arrayContaining(["web_api_endpoint", "tenant_id", "client_id"]));
    expect(cs.properties["client_secret"]?.["airbyte_secret"]).toBe(true);
    const users = cs.properties["additional_app_users"] as { items: { properties: Record<string, Json> } };
    expect(users.items.properties["client_secret"]?.["airbyte_secret"]).toBe(true);
    expect(spec["supported_destination_sync_modes"]).toEqual(expect.arrayContaining(["append", "append_dedup", "update", "soft_delete"]));
  });
});

describe("check", () => {
  it("succeeds with the emulator's application user and a valid mapping", async () => {
    const s = await check({ streams: [{ name: "contacts", table: "contact", key: { columns: ["emailaddress1"] } }] });
    expect(s).toMatchObject({ status: "SUCCEEDED" });
  });

  it("with bypass off, says whether the application user holds prvBypassCustomBusinessLogic", async () => {
    const holds = await check({});
    expect(holds).toMatchObject({ status: "SUCCEEDED" });
    expect(holds.message).toMatch(/bypass_business_logic is off \(the application user holds prvBypassCustomBusinessLogic/);
    const lacks = await check({ client_id: DEFAULT_IDS.readOnlyApp.clientId, client_secret: DEFAULT_IDS.readOnlyApp.secret });
    expect(lacks).toMatchObject({ status: "SUCCEEDED" });
    expect(lacks.message).toMatch(/bypass_business_logic is off \(the application user lacks prvBypassCustomBusinessLogic/);
  });

  it("a wrong secret names client_secret", async () => {
    const s = await check({ client_secret: "wrong-secret-value-123" });
    expect(s.status).toBe("FAILED");
    expect(s.message).toMatch(/client_secret/);
  });

  it("a tenant that does not exist names tenant_id (Entra ID refuses its OpenID configuration with AADSTS90002)", async () => {
    const s = await check({ tenant_id: "00000000-0000-4000-8000-000000000000" });
    expect(s.status).toBe("FAILED");
    expect(s.message).toMatch(/AADSTS90002.*check tenant_id/);
    expect(s.message).not.toMatch(/authority_host/);
  });

  it("an unreadable ca_file is a FAILED status naming ca_file, not a TRACE", async () => {
    const s = await check({ ca_file: "/nonexistent/dir/ca.pem" });
    expect(s.status).toBe("FAILED");
    expect(s.message).toMatch(/ca_file/);
  });

  it("an expired secret says so", async () => {
    const s = await check({ client_id: DEFAULT_IDS.expiredApp.clientId, client_secret: DEFAULT_IDS.expiredApp.secret });
    expect(s.status).toBe("FAILED");
    expect(s.message).toMatch(/expired/);
  });

  it("an app that is not an application user is told to become one", async () => {
    const s = await check({ client_id: DEFAULT_IDS.notAUserApp.clientId, client_secret: DEFAULT_IDS.notAUserApp.secret });
    expect(s.status).toBe("FAILED");
    expect(s.message).toMatch(/not an application user/);
  });

  it("an additional application user that cannot sign in is named by its index", async () => {
    const s = await check({ additional_app_users: [{ client_id: DEFAULT_IDS.readOnlyApp.clientId, client_secret: DEFAULT_IDS.readOnlyApp.secret }, { client_id: DEFAULT_IDS.notAUserApp.clientId, client_secret: DEFAULT_IDS.notAUserApp.secret }] });
    expect(s.status).toBe("FAILED");
    expect(s.message).toMatch(/additional_app_users\/1 .*not an application user/);
    expect(s.message).not.toMatch(/additional_app_users\/0/);
  });

  it("a missing privilege names the table", async () => {
    const s = await check({
      client_id: DEFAULT_IDS.readOnlyApp.clientId,
      client_secret: DEFAULT_IDS.readOnlyApp.secret,
      streams: [{ name: "contacts", table: "contact", key: { columns: ["emailaddress1"] } }],
    });
    expect(s.status).toBe("FAILED");
    expect(s.message).toMatch(/contact/);
  });

  it("a mapping problem names stream and field; an unknown table is named", async () => {
    const s = await check({
      streams: [
        { name: "contacts", table: "contact", key: { columns: ["emailaddress1"] }, fields: { x: "new_nosuchcolumn" } },
        { name: "things", table: "new_nosuchtable" },
      ],
    });
    expect(s.status).toBe("FAILED");
    expect(s.message).toMatch(/stream "contacts" field x/);
    expect(s.message).toMatch(/new_nosuchtable/);
  });

  it("mirror settings that write would refuse fail check, by stream; a key left to the catalog does not", async () => {
    const s = await check({
      streams: [
        { name: "contacts", table: "contact", key: { columns: ["emailaddress1"] }, mirror: { enabled: true, scope: "marker", marker_column: "new_nosuchmarker", marker_value: "x" } },
        { name: "people", table: "contact", key: { columns: ["emailaddress1"] }, mirror: { enabled: true, scope: "marker", marker_column: "description", marker_value: "sync" } },
      ],
    });
    expect(s.status).toBe("FAILED");
    expect(s.message).toMatch(/stream "contacts": mirror marker column new_nosuchmarker is not a column of table contact/);
    expect(s.message).not.toMatch(/stream "people"/);
    // No key in the config: an Airbyte catalog's primary_key may supply it, so check leaves it to write.
    const ok = await check({ streams: [{ name: "contacts", table: "contact", mirror: { enabled: true } }] });
    expect(ok).toMatchObject({ status: "SUCCEEDED" });
  });

  it("a URL without the Web API path is reported as a wrong endpoint path", async () => {
    const endpoint = new URL(emu.connection.web_api_endpoint);
    const s = await check({ web_api_endpoint: `${endpoint.origin}/` });
    expect(s.status).toBe("FAILED");
    expect(s.message).toMatch(/web_api_endpoint must be an https URL ending in \/api\/data\/v9\.x\//);
  });

  it("an endpoint outside the tenant names web_api_endpoint", async () => {
    const s = await check({ web_api_endpoint: "https://127.0.0.1:1/api/data/v9.2/" });
    expect(s.status).toBe("FAILED");
    expect(s.message).toMatch(/web_api_endpoint/);
  });

  it("an unreachable host says so", async () => {
    const s = await check({ web_api_endpoint: "https://127.0.0.1:1/api/data/v9.2/", authority_host: "https://127.0.0.1:1" });
    expect(s.status).toBe("FAILED");
    // msal reports it as endpoints_resolution_error; the network cause comes from our transport.
    expect(s.message).toMatch(/cannot reach the sign-in host 127\.0\.0\.1:1 \(authority_host\): ECONNREFUSED/);
  });

  it("bypass and impersonation options without their privileges are named up front", async () => {
    const s = await check({
      client_id: DEFAULT_IDS.readOnlyApp.clientId,
      client_secret: DEFAULT_IDS.readOnlyApp.secret,
      bypass_business_logic: "CustomSync",
      impersonate_caller_object_id: DEFAULT_IDS.mainApp.objectId,
    });
    expect(s.status).toBe("FAILED");
    expect(s.message).toMatch(/bypass_business_logic: The application user lacks prvBypassCustomBusinessLogic/);
    expect(s.message).toMatch(/impersonate_caller_object_id: The application user lacks prvActOnBehalfOfAnotherUser/);
    // The main app holds both: the same options pass.
    const ok = await check({ bypass_business_logic: "CustomSync", impersonate_caller_object_id: DEFAULT_IDS.readOnlyApp.objectId });
    expect(ok).toMatchObject({ status: "SUCCEEDED" });
  });

  it("a config that fails the schema lists every violation by path and never a value", async () => {
    const s = await check({ web_api_endpoint: "http://insecure.example.org/api/data/v9.2/", tenant_id: 5 });
    expect(s.status).toBe("FAILED");
    expect(s.message).toContain("/web_api_endpoint");
    expect(s.message).toContain("/tenant_id");
    expect(s.message).not.toContain("insecure.example.org");
  });
});

describe("discover", () => {
  it("prints one DESTINATION_CATALOG with operations for the emulator's tables", async () => {
    const r = await cli(["discover", "--config", "{file:config.json}"], { ...emu.connection });
    expect(r.code).toBe(0);
    const catalogs = r.messages.filter((m) => m["type"] === "DESTINATION_CATALOG");
    expect(catalogs).toHaveLength(1);
    const ops = (catalogs[0]?.["destination_catalog"] as { operations: { object_name: string; sync_mode: string; matching_keys?: string[][] }[] }).operations;
    const contactUpsert = ops.find((o) => o.object_name === "contact" && o.sync_mode === "append_dedup");
    expect(contactUpsert?.matching_keys).toEqual([["emailaddress1"]]);
    // Default scope: the standard tables a sync writes and the environment's own custom tables.
    expect([...new Set(ops.map((o) => o.object_name))].sort()).toEqual(["account", "contact", "lead", "new_membership", "opportunity"]);
  });

  it("discover_tables names the tables to describe; an unknown one is a warning, not a failure", async () => {
    const r = await cli(["discover", "--config", "{file:config.json}"], { ...emu.connection, discover_tables: ["systemuser", "new_nosuchtable"] });
    expect(r.code).toBe(0);
    const catalog = r.messages.find((m) => m["type"] === "DESTINATION_CATALOG")?.["destination_catalog"] as { operations: { object_name: string }[] };
    expect([...new Set(catalog.operations.map((o) => o.object_name))]).toEqual(["systemuser"]);
    expect(r.logs.some((l) => /discover_tables: table new_nosuchtable does not exist/.test(l))).toBe(true);
  });
});

describe("Meltano conventions", () => {
  it("--about --format json has the Meltano SDK's shape: name, description, version, capabilities, settings as a JSON Schema object", async () => {
    const r = await runCli({ args: ["--about", "--format", "json"], secrets: [], protocol: "singer" });
    expect(r.code).toBe(0);
    const about = JSON.parse(r.stdout.join("\n")) as { name: string; description: string; version: string; settings: { type: string; properties: Record<string, Json>; required: string[] }; capabilities: string[] };
    expect(about.name).toBe("destination-dynamics365");
    expect(about.description).toMatch(/Dynamics 365/);
    expect(about.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(about.capabilities).toEqual(expect.arrayContaining(["about", "hard-delete", "soft-delete"]));
    expect(about.settings.type).toBe("object");
    for (const s of Object.values(about.settings.properties)) expect(s).toMatchObject({ type: expect.any(String), title: expect.any(String), description: expect.any(String) });
    const byName = about.settings.properties;
    expect(about.settings.required).toEqual(expect.arrayContaining(["web_api_endpoint"]));
    // The older top-level client_secret is optional now that credentials carries the sign-in method.
    expect(about.settings.required).not.toContain("client_secret");
    expect(byName["client_secret"]).toMatchObject({ type: "string", secret: true, writeOnly: true });
    expect(byName["web_api_endpoint"]).toMatchObject({ type: "string" });
    expect(byName["web_api_endpoint"]).not.toHaveProperty("secret");
    expect(byName["batch_size"]).toMatchObject({ type: "integer", default: 1000 });
    expect(byName["streams"]).toMatchObject({ type: "array" });
    expect(byName["hard_delete"]).toMatchObject({ type: "boolean", default: false });
  });

  it("--about --format markdown has the capabilities, a settings table and the environment variable prefix", async () => {
    const r = await runCli({ args: ["--about", "--format", "markdown"], secrets: [], protocol: "singer" });
    expect(r.code).toBe(0);
    const md = r.stdout.join("\n");
    expect(md).toMatch(/^# `destination-dynamics365`/);
    expect(md).toContain("## Capabilities");
    expect(md).toContain("* `about`");
    expect(md).toMatch(/\| Setting \| Required \| Default \| Description \|/);
    expect(md).toMatch(/\| client_secret \| False \| None \| /);
    expect(md).toMatch(/\| batch_size \| False \| 1000 \| /);
    expect(md).toContain("TARGET_DYNAMICS365_");
  });
  it("--version prints the package version", async () => {
    const r = await runCli({ args: ["--version"], secrets: [], protocol: "singer" });
    expect(r.stdout).toEqual([expect.stringMatching(/^\d+\.\d+\.\d+/)]);
  });
  it("TARGET_DYNAMICS365_* settings fill what the config file leaves out", async () => {
    const { client_secret, ...rest } = emu.connection;
    const r = await runCli({
      args: ["check", "--config", "{file:config.json}"],
      files: { "config.json": rest },
      env: { TARGET_DYNAMICS365_CLIENT_SECRET: client_secret },
      secrets: allSecrets,
    });
    expect(r.messages.find((m) => m["type"] === "CONNECTION_STATUS")?.["connectionStatus"]).toMatchObject({ status: "SUCCEEDED" });
  });
});
