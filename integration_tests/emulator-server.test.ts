// The emulator's HTTPS front over real sockets: Entra ID token endpoint and its AADSTS errors, msal-node
// against it, the bearer check (401/403 shapes), WhoAmI headers, impersonation and bypass headers,
// $batch framing, service protection limits, each fault kind, the body cap and the CLI.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:tls";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { Agent, request } from "undici";
import { ConfidentialClientApplication, type INetworkModule, type NetworkRequestOptions, type NetworkResponse } from "@azure/msal-node";
import { startEmulator, type Emulator } from "../emulator/index.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "dist", "emulator", "cli.js");

let emu: Emulator;
let agent: Agent;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

async function call(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  const res = await request(url, {
    method: (init.method ?? "GET") as "GET",
    dispatcher: agent,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
    ...(init.headers === undefined ? {} : { headers: init.headers }),
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

function tokenForm(e: Emulator, fields: Record<string, string>): Promise<Reply> {
  return call(`${e.origin}/${fields["tenant"] ?? e.config.tenant_id}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(Object.entries(fields).filter(([k]) => k !== "tenant")).toString(),
  });
}

async function token(e: Emulator, clientId = e.config.client_id, secret?: string): Promise<string> {
  const app = e.apps.find((a) => a.clientId === clientId);
  const reply = await tokenForm(e, {
    grant_type: "client_credentials",
    client_id: clientId,
    client_secret: secret ?? app?.clientSecret ?? "",
    scope: `${e.origin}/.default`,
  });
  expect(reply.status).toBe(200);
  return (JSON.parse(reply.text) as { access_token: string }).access_token;
}

const api = (e: Emulator, path: string): string => `${e.config.web_api_endpoint}${path}`;
const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}`, accept: "application/json" });
const errorOf = (r: Reply): { code: string; message: string } => (JSON.parse(r.text) as { error: { code: string; message: string } }).error;

beforeAll(async () => {
  emu = await startEmulator({ quiet: true });
  agent = new Agent({ connect: { ca: readFileSync(emu.config.ca_file) } });
});

afterEach(() => emu.faults.clear());

afterAll(async () => {
  await emu.close();
  await agent.close();
});

describe("Entra ID", () => {
  it("serves the OpenID configuration of the tenant", async () => {
    const reply = await call(`${emu.origin}/${emu.config.tenant_id}/v2.0/.well-known/openid-configuration`);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.text)).toMatchObject({
      issuer: `${emu.origin}/${emu.config.tenant_id}/v2.0`,
      token_endpoint: `${emu.origin}/${emu.config.tenant_id}/oauth2/v2.0/token`,
      authorization_endpoint: `${emu.origin}/${emu.config.tenant_id}/oauth2/v2.0/authorize`,
      jwks_uri: `${emu.origin}/${emu.config.tenant_id}/discovery/v2.0/keys`,
    });
  });

  it("issues a bearer token for the client credentials grant, accepting the //.default scope form", async () => {
    const reply = await tokenForm(emu, {
      grant_type: "client_credentials",
      client_id: emu.config.client_id,
      client_secret: emu.config.client_secret,
      scope: `${emu.origin}//.default`,
      "x-client-SKU": "msal.js.node",
      "x-client-VER": "7.2.3",
    });
    expect(reply.status).toBe(200);
    const body = JSON.parse(reply.text) as Record<string, unknown>;
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599 });
    const payload = JSON.parse(Buffer.from(String(body["access_token"]).split(".")[1] ?? "", "base64url").toString()) as Record<string, unknown>;
    expect(payload).toMatchObject({ aud: emu.origin, tid: emu.config.tenant_id, appid: emu.config.client_id, azp: emu.config.client_id });
    expect(typeof payload["exp"]).toBe("number");
  });

  const base = (e: Emulator): Record<string, string> => ({
    grant_type: "client_credentials",
    client_id: e.config.client_id,
    client_secret: e.config.client_secret,
    scope: `${e.origin}/.default`,
  });

  it.each([
    ["a wrong secret", { client_secret: "nope" }, 401, "invalid_client", 7000215],
    ["an expired secret", { client_id: "44444444-5555-4666-8777-888888888888", client_secret: "emulator-expired-secret" }, 401, "invalid_client", 7000222],
    ["an unknown client", { client_id: "99999999-9999-4999-8999-999999999999" }, 400, "unauthorized_client", 700016],
    ["an unknown tenant", { tenant: "00000000-0000-4000-8000-000000000000" }, 400, "invalid_tenant", 90002],
    ["a malformed tenant", { tenant: "not a tenant!" }, 400, "invalid_request", 900023],
    ["a scope for another resource", { scope: "https://org.crm.dynamics.com/.default" }, 400, "invalid_resource", 500011],
    ["no secret", { client_secret: "" }, 401, "invalid_client", 7000218],
  ] as const)("refuses %s with Entra's error shape", async (_case, override, status, error, code) => {
    const reply = await tokenForm(emu, { ...base(emu), ...override });
    expect(reply.status).toBe(status);
    const body = JSON.parse(reply.text) as Record<string, unknown>;
    expect(body["error"]).toBe(error);
    expect(body["error_codes"]).toEqual([code]);
    expect(String(body["error_description"])).toMatch(new RegExp(`^AADSTS${code}: `));
    for (const field of ["timestamp", "trace_id", "correlation_id"]) expect(typeof body[field]).toBe("string");
  });

  it("takes the client credentials from an HTTP Basic header too (client_secret_basic, which the OpenID configuration advertises)", async () => {
    const basic = (id: string, secret: string): Record<string, string> => ({
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`,
    });
    const url = `${emu.origin}/${emu.config.tenant_id}/oauth2/v2.0/token`;
    const body = new URLSearchParams({ grant_type: "client_credentials", scope: `${emu.origin}/.default` }).toString();
    const ok = await call(url, { method: "POST", headers: basic(emu.config.client_id, emu.config.client_secret), body });
    expect(ok.status).toBe(200);
    const accessToken = (JSON.parse(ok.text) as { access_token: string }).access_token;
    expect((await call(api(emu, "WhoAmI"), { headers: bearer(accessToken) })).status).toBe(200);
    const wrong = await call(url, { method: "POST", headers: basic(emu.config.client_id, "nope"), body });
    expect(wrong.status).toBe(401);
    expect((JSON.parse(wrong.text) as Record<string, unknown>)["error_codes"]).toEqual([7000215]);
  });

  it("echoes msal's client-request-id as the correlation id", async () => {
    const id = "6a4c0f6e-2f7b-4b57-9d5e-0d2a1b3c4d5e";
    const reply = await call(`${emu.origin}/${emu.config.tenant_id}/oauth2/v2.0/token?client-request-id=${id}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ ...base(emu), client_secret: "wrong" }).toString(),
    });
    expect((JSON.parse(reply.text) as Record<string, unknown>)["correlation_id"]).toBe(id);
  });

  it("hands msal-node 7 a token (knownAuthorities, discovery through the emulator, custom network client)", async () => {
    const networkClient: INetworkModule = {
      async sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
        const res = await request(url, { dispatcher: agent, headers: options?.headers ?? {} });
        return { headers: res.headers as Record<string, string>, body: (await res.body.json()) as T, status: res.statusCode };
      },
      async sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
        const res = await request(url, { method: "POST", dispatcher: agent, headers: options?.headers ?? {}, body: options?.body ?? "" });
        return { headers: res.headers as Record<string, string>, body: (await res.body.json()) as T, status: res.statusCode };
      },
    };
    const app = new ConfidentialClientApplication({
      auth: {
        clientId: emu.config.client_id,
        clientSecret: emu.config.client_secret,
        authority: `${emu.origin}/${emu.config.tenant_id}`,
        knownAuthorities: [new URL(emu.origin).host],
      },
      system: { networkClient },
    });
    const result = await app.acquireTokenByClientCredential({ scopes: [`${emu.origin}/.default`] });
    expect(result?.accessToken).toBeTruthy();
    const who = await call(api(emu, "WhoAmI"), { headers: bearer(result?.accessToken ?? "") });
    expect(who.status).toBe(200);
  });

  it("hands msal-node 7 a token with its own fetch when the CA comes through NODE_EXTRA_CA_CERTS", async () => {
    const script = `
      import { ConfidentialClientApplication } from "@azure/msal-node";
      const [origin, tenant, clientId, secret] = process.argv.slice(1);
      const app = new ConfidentialClientApplication({ auth: { clientId, clientSecret: secret,
        authority: origin + "/" + tenant, knownAuthorities: [new URL(origin).host] } });
      const r = await app.acquireTokenByClientCredential({ scopes: [origin + "/.default"] });
      process.stdout.write(r && r.accessToken ? "ok" : "none");`;
    const child = spawn(
      process.execPath,
      ["--input-type=module", "-e", script, emu.origin, emu.config.tenant_id, emu.config.client_id, emu.config.client_secret],
      { cwd: ROOT, env: { ...process.env, NODE_EXTRA_CA_CERTS: emu.config.ca_file }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect({ code, out, err: err.slice(0, 500) }).toEqual({ code: 0, out: "ok", err: "" });
  });
});

describe("bearer check and identity", () => {
  const challenge = (e: Emulator): string =>
    `Bearer authorization_uri=${e.origin}/${e.config.tenant_id}/oauth2/authorize, resource_id=${e.origin}`;

  it("answers 401 with the bearer challenge without a token or with a bad one", async () => {
    for (const headers of [{}, { authorization: "Bearer not.a.token" }, { authorization: "Basic abc" }]) {
      const reply = await call(api(emu, "WhoAmI"), { headers });
      expect(reply.status).toBe(401);
      expect(reply.headers["www-authenticate"]).toBe(challenge(emu));
    }
  });

  it("answers 401 to a token signed by another emulator (another key and audience)", async () => {
    const other = await startEmulator({ quiet: true });
    try {
      const foreign = await token(other);
      const reply = await call(api(emu, "WhoAmI"), { headers: bearer(foreign) });
      expect(reply.status).toBe(401);
    } finally {
      await other.close();
    }
  });

  it("answers 401 once the token has expired", async () => {
    const shortLived = await startEmulator({ quiet: true, tokenLifetimeSeconds: 1 });
    try {
      const t = await token(shortLived);
      expect((await call(api(shortLived, "WhoAmI"), { headers: bearer(t) })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1100));
      const reply = await call(api(shortLived, "WhoAmI"), { headers: bearer(t) });
      expect(reply.status).toBe(401);
      expect(reply.headers["www-authenticate"]).toBe(challenge(shortLived));
    } finally {
      await shortLived.close();
    }
  });

  it("answers 403 0x80072560 to an app that is not an application user", async () => {
    const t = await token(emu, "33333333-4444-4555-8666-777777777777");
    const reply = await call(api(emu, "WhoAmI"), { headers: bearer(t) });
    expect(reply.status).toBe(403);
    expect(errorOf(reply)).toEqual({ code: "0x80072560", message: "The user is not a member of the organization." });
  });

  it("answers WhoAmI with the caller's ids and Dataverse's response headers", async () => {
    const reply = await call(api(emu, "WhoAmI"), { headers: bearer(await token(emu)) });
    expect(reply.status).toBe(200);
    const main = emu.apps.find((a) => a.clientId === emu.config.client_id);
    expect(JSON.parse(reply.text)).toMatchObject({ UserId: main?.systemUserId, OrganizationId: emu.environment.organizationId });
    expect(reply.headers["x-ms-dop-hint"]).toMatch(/^\d+$/);
    expect(reply.headers["odata-version"]).toBe("4.0");
    expect(reply.headers["req_id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(reply.headers["x-ms-service-request-id"]).toBe(reply.headers["req_id"]);
    expect(String(reply.headers["set-cookie"])).toContain("ARRAffinity=");
    expect(reply.headers["x-ms-ratelimit-burst-remaining-xrm-requests"]).toMatch(/^\d+$/);
  });

  it("refuses CallerObjectId and the bypass header to an app without the privileges, accepts them otherwise", async () => {
    const readOnly = await token(emu, "22222222-3333-4444-8555-666666666666");
    const main = emu.apps.find((a) => a.clientId === emu.config.client_id);
    const impersonate = await call(api(emu, "WhoAmI"), { headers: { ...bearer(readOnly), CallerObjectId: main?.objectId ?? "" } });
    expect(impersonate.status).toBe(403);
    expect(errorOf(impersonate).code).toBe("0x80040220");
    const bypass = await call(api(emu, "WhoAmI"), { headers: { ...bearer(readOnly), "MSCRM.BypassBusinessLogicExecution": "CustomSync" } });
    expect(bypass.status).toBe(403);
    expect(errorOf(bypass).code).toBe("0x80040220");
    const full = await token(emu);
    const asReadOnly = await call(api(emu, "WhoAmI"), {
      headers: { ...bearer(full), CallerObjectId: emu.apps.find((a) => a.clientId.startsWith("2222"))?.objectId ?? "" },
    });
    expect(asReadOnly.status).toBe(200);
    expect(JSON.parse(asReadOnly.text)).toMatchObject({ UserId: emu.apps.find((a) => a.clientId.startsWith("2222"))?.systemUserId });
    expect((await call(api(emu, "WhoAmI"), { headers: { ...bearer(full), "MSCRM.BypassBusinessLogicExecution": "CustomSync,CustomAsync" } })).status).toBe(200);
  });
});

describe("$batch", () => {
  const crlf = (lines: string[]): string => lines.join("\r\n");
  const part = (boundary: string, method: string, url: string, body?: string, contentId?: string): string[] => [
    `--${boundary}`,
    "Content-Type: application/http",
    "Content-Transfer-Encoding: binary",
    ...(contentId === undefined ? [] : [`Content-ID: ${contentId}`]),
    "",
    `${method} ${url} HTTP/1.1`,
    ...(body === undefined ? ["", ""] : ["Content-Type: application/json; type=entry", "", body]),
  ];
  const send = async (body: string, extra: Record<string, string> = {}): Promise<Reply> =>
    call(api(emu, "$batch"), {
      method: "POST",
      headers: { ...bearer(await token(emu)), "content-type": 'multipart/mixed; boundary="batch_T"', ...extra },
      body,
    });

  it("runs a changeset with a $1 reference and a GET, answering per-part status lines", async () => {
    // Its own account name and a stats delta, so rows or counts left by other tests in this shared
    // emulator cannot change what it sees.
    const name = `Batch Co ${randomUUID()}`;
    const recordsBefore = emu.stats().records.batch;
    const body = crlf([
      "--batch_T",
      'Content-Type: multipart/mixed; boundary="changeset_C"',
      "",
      ...part("changeset_C", "POST", "/api/data/v9.2/accounts", JSON.stringify({ name }), "1"),
      ...part("changeset_C", "POST", `${emu.config.web_api_endpoint}contacts`, '{"lastname":"Batch","parentcustomerid_account@odata.bind":"$1"}', "2"),
      "--changeset_C--",
      ...part("batch_T", "GET", `accounts?$select=name&$filter=name%20eq%20'${encodeURIComponent(name)}'`),
      "--batch_T--",
      "",
    ]);
    const reply = await send(body);
    expect(reply.status).toBe(200);
    const boundary = /boundary=(batchresponse_[0-9a-f-]{36})/.exec(String(reply.headers["content-type"]))?.[1];
    expect(boundary).toBeDefined();
    expect(reply.text).toMatch(/Content-Type: multipart\/mixed; boundary=changesetresponse_[0-9a-f-]{36}\r\n/);
    expect(reply.text.match(/HTTP\/1\.1 204 No Content\r\n/g)).toHaveLength(2);
    expect(reply.text).toMatch(/Content-ID: 1\r\n\r\nHTTP\/1\.1 204 No Content\r\n/);
    expect(reply.text).toMatch(/OData-EntityId: https:\/\/[^\r]+\/accounts\([0-9a-f-]{36}\)\r\n/);
    expect(reply.text).toMatch(/Location: https:\/\/[^\r]+\/accounts\([0-9a-f-]{36}\)\r\n/);
    expect(reply.text).toContain("HTTP/1.1 200 OK\r\n");
    expect(reply.text).toContain(`"value":[{"@odata.etag":`);
    expect(reply.text).toContain(`"name":${JSON.stringify(name)}`);
    expect(reply.text.endsWith(`--${boundary}--\r\n`)).toBe(true);
    expect(emu.stats().records.batch - recordsBefore).toBe(2);
  });

  it("answers 400 0x80048d19 'Stream was not readable' for the last operation when the body ends without its line ending (web-api-client-errors)", async () => {
    for (const body of [
      crlf([...part("batch_T", "POST", "accounts", '{"name":"LF"}'), "--batch_T--", ""]).replaceAll("\r\n", "\n"),
      crlf([...part("batch_T", "POST", "accounts", '{"name":"no final CRLF"}'), "--batch_T--"]),
    ]) {
      const reply = await send(body);
      expect(reply.status).toBe(400);
      expect(reply.text).toMatch(/HTTP\/1\.1 400 Bad Request\r\n/);
      expect(reply.text).toContain('"code":"0x80048d19"');
      expect(reply.text).toContain("Error identified in Payload provided by the user for Entity :'accounts'");
      expect(reply.text).toContain("InnerException : System.ArgumentException: Stream was not readable.");
    }
  });

  it("runs an LF-framed body that ends with two LFs, as web-api-client-errors advises", async () => {
    const body = `${crlf([...part("batch_T", "POST", "accounts", '{"name":"LF framed"}'), "--batch_T--", ""]).replaceAll("\r\n", "\n")}\n`;
    const reply = await send(body);
    expect(reply.status).toBe(200);
    expect(reply.text).toMatch(/HTTP\/1\.1 204 No Content\r\n/);
  });

  it("stops at the first failure with its status, or runs on with odata.continue-on-error", async () => {
    const body = crlf([
      ...part("batch_T", "POST", "nosuchentities", "{}"),
      ...part("batch_T", "POST", "accounts", '{"name":"After the failure"}'),
      "--batch_T--",
      "",
    ]);
    const stopped = await send(body);
    expect(stopped.status).toBe(404);
    expect(stopped.text.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    const continued = await send(body, { prefer: "odata.continue-on-error" });
    expect(continued.status).toBe(200);
    expect(continued.text).toMatch(/HTTP\/1\.1 404 Not Found\r\n[\s\S]*HTTP\/1\.1 204 No Content\r\n/);
  });

  it("refuses a forward Content-ID reference and rolls the changeset back", async () => {
    const before = emu.stats().records.batch;
    const body = crlf([
      "--batch_T",
      "Content-Type: multipart/mixed; boundary=changeset_F",
      "",
      ...part("changeset_F", "POST", "accounts", '{"name":"Rolled back"}', "1"),
      ...part("changeset_F", "POST", "contacts", '{"lastname":"x","parentcustomerid_account@odata.bind":"$3"}', "2"),
      ...part("changeset_F", "POST", "accounts", '{"name":"y"}', "3"),
      "--changeset_F--",
      "--batch_T--",
      "",
    ]);
    const reply = await send(body);
    expect(reply.status).toBe(400);
    expect(reply.text).toContain("Content-ID Reference: '$3' does not exist in the batch context.");
    expect(emu.stats().records.batch).toBe(before);
    const check = await call(api(emu, "accounts?$filter=name%20eq%20'Rolled%20back'"), { headers: bearer(await token(emu)) });
    expect(JSON.parse(check.text)).toMatchObject({ value: [] });
  });

  it("refuses more than 1000 operations", async () => {
    const parts = Array.from({ length: 1001 }, () => part("batch_T", "GET", "WhoAmI")).flat();
    const reply = await send(crlf([...parts, "--batch_T--", ""]));
    expect(reply.status).toBe(400);
  });
});

describe("service protection limits (scaled preset)", () => {
  // The scaled preset's budget (60 requests) over a window no machine is slow enough to leave while
  // sending 61 requests: the 61st is refused whatever the speed (a 3 s window needed 61 requests in 3 s).
  it("answers 429 0x80072322 with an integer Retry-After once the request budget is spent", async () => {
    const limited = await startEmulator({ quiet: true, limits: { preset: "scaled", windowSeconds: 600 } as never });
    try {
      const t = await token(limited);
      const statuses: number[] = [];
      let throttled: Reply | undefined;
      for (let i = 0; i < 61; i++) {
        const reply = await call(api(limited, "WhoAmI"), { headers: bearer(t) });
        statuses.push(reply.status);
        if (reply.status === 429) throttled = reply;
      }
      expect(statuses.slice(0, 60).every((s) => s === 200)).toBe(true);
      expect(throttled?.status).toBe(429);
      // Until the oldest request leaves the window: whole seconds, at least 1, at most the window.
      expect(String(throttled?.headers["retry-after"])).toMatch(/^[1-9]\d*$/);
      expect(Number(throttled?.headers["retry-after"])).toBeLessThanOrEqual(600);
      expect(errorOf(throttled as Reply)).toEqual({
        code: "0x80072322",
        message: "Number of requests exceeded the limit of 60 over time window of 600 seconds.",
      });
      expect(limited.stats().throttled.byKind.requests).toBe(1);
    } finally {
      await limited.close();
    }
  });

  it("answers 0x80072321 once a bulk action has used more execution time than the window allows", async () => {
    const limited = await startEmulator({
      quiet: true,
      limits: { preset: "scaled", windowSeconds: 600, maxExecutionMs: 50, cost: { requestMs: 0.2, recordMs: 1, bulkRecordMs: 1 } } as never,
    });
    try {
      const t = await token(limited);
      const targets = Array.from({ length: 100 }, (_, i) => ({
        "@odata.type": "Microsoft.Dynamics.CRM.contact",
        "@odata.id": `contacts(emailaddress1='exec${i}@example.com')`,
        lastname: `Exec ${i}`,
      }));
      const bulk = await call(api(limited, "contacts/Microsoft.Dynamics.CRM.UpsertMultiple"), {
        method: "POST",
        headers: { ...bearer(t), "content-type": "application/json" },
        body: JSON.stringify({ Targets: targets }),
      });
      expect(bulk.status).toBe(204);
      expect(limited.stats().records.bulk).toBe(100);
      const next = await call(api(limited, "WhoAmI"), { headers: bearer(t) });
      expect(next.status).toBe(429);
      expect(errorOf(next).code).toBe("0x80072321");
      expect(errorOf(next).message).toContain("exceeded limit of 50  milliseconds over time window of 600 seconds");
      expect(Number(next.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    } finally {
      await limited.close();
    }
  });

  it("answers 0x80072326 beyond the concurrency limit while latency holds requests open", async () => {
    const limited = await startEmulator({
      quiet: true,
      latency: true,
      limits: { preset: "scaled", maxConcurrent: 2, cost: { requestMs: 300, recordMs: 0, bulkRecordMs: 0 } } as never,
    });
    try {
      const t = await token(limited);
      const replies = await Promise.all([0, 1, 2].map(() => call(api(limited, "WhoAmI"), { headers: bearer(t) })));
      const refused = replies.filter((r) => r.status === 429);
      expect(refused).toHaveLength(1);
      expect(errorOf(refused[0] as Reply).code).toBe("0x80072326");
    } finally {
      await limited.close();
    }
  });
});

describe("fault injection", () => {
  it.each([500, 502, 503, 504])("answers a scripted %i once, then normally", async (status) => {
    emu.faults.add({ fault: "status", status, path: "/WhoAmI", count: 1 });
    const t = await token(emu);
    const first = await call(api(emu, "WhoAmI"), { headers: bearer(t) });
    expect(first.status).toBe(status);
    expect(errorOf(first).code).toBe("0x80040216");
    expect((await call(api(emu, "WhoAmI"), { headers: bearer(t) })).status).toBe(200);
  });

  it("adds Retry-After to a scripted 503 when the rule gives one", async () => {
    emu.faults.add({ fault: "status", status: 503, retryAfterSeconds: 2, path: "/WhoAmI", count: 1 });
    const reply = await call(api(emu, "WhoAmI"), { headers: bearer(await token(emu)) });
    expect([reply.status, reply.headers["retry-after"]]).toEqual([503, "2"]);
  });

  it("honours after and every", async () => {
    emu.faults.add({ fault: "status", status: 503, path: "/WhoAmI", after: 1, every: 2 });
    const t = await token(emu);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await call(api(emu, "WhoAmI"), { headers: bearer(t) })).status);
    expect(statuses).toEqual([200, 503, 200, 503, 200]);
  });

  it("answers a scripted 429 with the given Retry-After and a 413", async () => {
    const t = await token(emu);
    emu.faults.add({ fault: "throttle", retryAfterSeconds: 7, path: "/WhoAmI", count: 1 });
    const throttled = await call(api(emu, "WhoAmI"), { headers: bearer(t) });
    expect([throttled.status, throttled.headers["retry-after"], errorOf(throttled).code]).toEqual([429, "7", "0x80072322"]);
    emu.faults.add({ fault: "too-large", path: "/WhoAmI", count: 1 });
    expect((await call(api(emu, "WhoAmI"), { headers: bearer(t) })).status).toBe(413);
  });

  it("resets the connection in the middle of the response, after the operation ran", async () => {
    const t = await token(emu);
    emu.faults.add({ fault: "reset", path: "/accounts", method: "POST", count: 1 });
    const attempt = call(api(emu, "accounts"), {
      method: "POST",
      headers: { ...bearer(t), "content-type": "application/json", prefer: "return=representation" },
      body: JSON.stringify({ name: "Reset Co" }),
    });
    await expect(attempt).rejects.toThrow();
    const check = await call(api(emu, "accounts?$filter=name%20eq%20'Reset%20Co'"), { headers: bearer(t) });
    expect((JSON.parse(check.text) as { value: unknown[] }).value).toHaveLength(1);
  });

  it("delays an answer and hangs another", async () => {
    const t = await token(emu);
    emu.faults.add({ fault: "delay", delayMs: 300, path: "/WhoAmI", count: 1 });
    const started = Date.now();
    expect((await call(api(emu, "WhoAmI"), { headers: bearer(t) })).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    emu.faults.add({ fault: "hang", path: "/WhoAmI", count: 1 });
    await expect(request(api(emu, "WhoAmI"), { dispatcher: agent, headers: bearer(t), headersTimeout: 300 })).rejects.toThrow(/timeout/i);
  });

  it("revokes a client's tokens: old ones get 401, a new one works", async () => {
    const t = await token(emu);
    emu.faults.revokeTokens(emu.config.client_id);
    expect((await call(api(emu, "WhoAmI"), { headers: bearer(t) })).status).toBe(401);
    expect((await call(api(emu, "WhoAmI"), { headers: bearer(await token(emu)) })).status).toBe(200);
    const t2 = await token(emu);
    emu.faults.add({ fault: "revoke-tokens", path: "/WhoAmI", count: 1 });
    expect((await call(api(emu, "WhoAmI"), { headers: bearer(t2) })).status).toBe(401);
  });
});

describe("robustness", () => {
  it("answers 413 to a body declared larger than 128 MiB without reading it", async () => {
    const ca = readFileSync(emu.config.ca_file);
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port: emu.port, ca, servername: "localhost" }, () => {
        socket.write(`POST /api/data/v9.2/accounts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${200 * 1024 * 1024}\r\n\r\n{`);
      });
      let data = "";
      socket.on("data", (d: Buffer) => (data += d.toString()));
      socket.on("close", () => resolve(data));
      socket.on("error", reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 413 /);
  });

  it("answers a volley of malformed requests with 4xx and keeps serving", async () => {
    const t = await token(emu);
    const cases: { url: string; init: { method?: string; headers?: Record<string, string>; body?: string } }[] = [
      { url: `${emu.origin}/%E0%A4%A/oauth2/v2.0/token`, init: { method: "POST", body: "x" } },
      { url: `${emu.origin}/${emu.config.tenant_id}/oauth2/v2.0/token`, init: { method: "POST", headers: { "content-type": "application/json" }, body: "{" } },
      { url: `${emu.origin}/${emu.config.tenant_id}/oauth2/v2.0/token`, init: { method: "GET" } },
      { url: api(emu, "$batch"), init: { method: "POST", headers: { ...bearer(t), "content-type": "multipart/mixed" }, body: "\u0000\u0001" } },
      { url: api(emu, "$batch"), init: { method: "POST", headers: { ...bearer(t), "content-type": "multipart/mixed; boundary=b" }, body: "--b\r\nContent-Type: application/http\r\n\r\nNOT A REQUEST LINE\r\n--b--" } },
      { url: api(emu, "$batch"), init: { method: "POST", headers: { ...bearer(t), "content-type": "multipart/mixed; boundary=b" }, body: "--b\r\n\r\nGET /elsewhere HTTP/1.1\r\n\r\n\r\n--b--" } },
      { url: api(emu, "accounts"), init: { method: "POST", headers: { ...bearer(t), "content-type": "application/json" }, body: "{not json" } },
    ];
    for (const { url, init } of cases) {
      const reply = await call(url, init);
      expect(reply.status, url).toBeGreaterThanOrEqual(400);
      expect(reply.status, url).toBeLessThan(500);
    }
    expect((await call(api(emu, "WhoAmI"), { headers: bearer(t) })).status).toBe(200);
  });

  it("answers garbage on unknown paths in a Dataverse shape instead of crashing", async () => {
    const reply = await call(`${emu.origin}/nowhere/at/all`);
    expect(reply.status).toBe(404);
    expect(errorOf(reply).code).toBe("0x8006088a");
    expect((await call(api(emu, "WhoAmI"), { headers: bearer(await token(emu)) })).status).toBe(200);
  });
});

describe("CLI", () => {
  it("prints exactly one JSON config line, serves it, and exits 0 on SIGTERM", async () => {
    expect(existsSync(CLI), `${CLI} is missing: run npm run build first`).toBe(true);
    const child = spawn(process.execPath, [CLI, "--port", "0", "--limits", "off"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no config line within 10 s")), 10_000);
      child.stdout.on("data", () => {
        if (out.includes("\n")) {
          clearTimeout(timer);
          resolve(out.slice(0, out.indexOf("\n")));
        }
      });
    });
    const config = JSON.parse(line) as Record<string, string>;
    expect(Object.keys(config).sort()).toEqual(["authority_host", "ca_file", "client_id", "client_secret", "tenant_id", "web_api_endpoint"]);
    expect(config["web_api_endpoint"]).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/api\/data\/v9\.2\/$/);
    const cliAgent = new Agent({ connect: { ca: readFileSync(config["ca_file"] ?? "") } });
    const res = await request(`${config["authority_host"]}/${config["tenant_id"]}/v2.0/.well-known/openid-configuration`, { dispatcher: cliAgent });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    await cliAgent.close();
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(0);
    expect(out.trim().split("\n")).toHaveLength(1);
  });
});
