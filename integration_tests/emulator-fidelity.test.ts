// Issue 12 through the emulator's HTTPS front: execution time booked while requests run, admission
// before the body is read, truthful rate-limit headers, synchronous plug-in time and its bypass, and
// the request-format gaps other clients hit (ETag on a single-row GET, $orderby aliases, 501 for
// what is not emulated, OneToManyRelationships).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { Agent, request } from "undici";
import { startEmulator, type Emulator } from "../emulator/index.js";
import { defaultEnvironment } from "../emulator/environment.js";

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const agents = new Map<Emulator, Agent>();

function agentFor(e: Emulator): Agent {
  let agent = agents.get(e);
  if (agent === undefined) {
    agent = new Agent({ connect: { ca: readFileSync(e.config.ca_file) }, connections: 64 });
    agents.set(e, agent);
  }
  return agent;
}

async function call(e: Emulator, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  const res = await request(`${e.config.web_api_endpoint}${path}`, {
    method: (init.method ?? "GET") as "GET",
    dispatcher: agentFor(e),
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
    headers: { authorization: `Bearer ${e.issueToken(e.config.client_id)}`, accept: "application/json", ...(init.body === undefined ? {} : { "content-type": "application/json" }), ...(init.headers ?? {}) },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

const errorOf = (r: Reply): { code: string; message: string } => (JSON.parse(r.text) as { error: { code: string; message: string } }).error;

function upsertBody(prefix: string, n: number): string {
  return JSON.stringify({
    Targets: Array.from({ length: n }, (_, i) => ({
      "@odata.type": "Microsoft.Dynamics.CRM.contact",
      "@odata.id": `contacts(emailaddress1='${prefix}${i}@example.com')`,
      lastname: `${prefix} ${i}`,
    })),
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

afterAll(async () => {
  for (const agent of agents.values()) await agent.close();
});

describe("execution time is counted while requests run", () => {
  it("a client keeping 52 bulk requests in flight and honouring Retry-After gets at most 105 % of the execution ceiling after the first window", async () => {
    // Microsoft's shape (requests 6000, 52 concurrent, execution binding) with a 4 s window so the
    // test spans four windows in seconds; each UpsertMultiple of 20 records is held 101 ms.
    const windowMs = 4000;
    const maxExecutionMs = 4000;
    const e = await startEmulator({
      quiet: true,
      latency: true,
      limits: { preset: "microsoft", windowSeconds: windowMs / 1000, maxExecutionMs, penaltyMs: 10, cost: { requestMs: 1, upsertMultipleRecordMs: 5 } } as never,
    });
    try {
      const started = Date.now();
      const end = started + 4 * windowMs;
      let pauseUntil = 0;
      let atFirstWindow: number | undefined;
      let n = 0;
      const sampler = setTimeout(() => {
        atFirstWindow = e.stats().executionMs.total;
      }, windowMs);
      const slot = async (): Promise<void> => {
        while (Date.now() < end) {
          const wait = pauseUntil - Date.now();
          if (wait > 0) {
            await sleep(wait);
            continue;
          }
          const r = await call(e, "contacts/Microsoft.Dynamics.CRM.UpsertMultiple", { method: "POST", body: upsertBody(`inflight${n++}-`, 20) });
          if (r.status === 429) pauseUntil = Math.max(pauseUntil, Date.now() + Number(r.headers["retry-after"]) * 1000);
          else expect(r.status).toBe(204);
        }
      };
      await Promise.all(Array.from({ length: 52 }, () => slot()));
      clearTimeout(sampler);
      const elapsed = Date.now() - started;
      const booked = e.stats().executionMs.total - (atFirstWindow ?? 0);
      const ceiling = (maxExecutionMs / windowMs) * (elapsed - windowMs);
      expect(booked / ceiling).toBeLessThanOrEqual(1.05);
      expect(booked / ceiling).toBeGreaterThan(0.3); // the budget is usable
      expect(e.stats().throttled.byKind.execution).toBeGreaterThan(0);
    } finally {
      await e.close();
    }
  }, 60_000);

  it("reports the remaining time and requests of the window, a request still running included", async () => {
    const e = await startEmulator({
      quiet: true,
      latency: true,
      limits: { preset: "microsoft", windowSeconds: 30, maxExecutionMs: 10_000, cost: { requestMs: 100, upsertMultipleRecordMs: 10 } } as never,
    });
    try {
      const running = call(e, "contacts/Microsoft.Dynamics.CRM.UpsertMultiple", { method: "POST", body: upsertBody("headers", 40) }); // 500 ms
      await sleep(150);
      const whoami = await call(e, "WhoAmI"); // 100 ms, while the bulk request still runs
      expect(whoami.status).toBe(200);
      expect(whoami.headers["x-ms-ratelimit-time-remaining-xrm-requests"]).toBe("9.40");
      expect(whoami.headers["x-ms-ratelimit-burst-remaining-xrm-requests"]).toBe("5998");
      expect((await running).status).toBe(204);
    } finally {
      await e.close();
    }
  });

  it("admits a request before reading its body: a slow upload holds a concurrency slot", async () => {
    const e = await startEmulator({ quiet: true, limits: { preset: "microsoft", maxConcurrent: 1 } as never });
    try {
      const body = upsertBody("slow", 5);
      const url = new URL(`${e.config.web_api_endpoint}contacts/Microsoft.Dynamics.CRM.UpsertMultiple`);
      const slow = new Promise<number>((resolve, reject) => {
        const req = httpsRequest(
          url,
          {
            method: "POST",
            ca: readFileSync(e.config.ca_file),
            headers: {
              authorization: `Bearer ${e.issueToken(e.config.client_id)}`,
              "content-type": "application/json",
              "content-length": String(Buffer.byteLength(body)),
            },
          },
          (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
          },
        );
        req.on("error", reject);
        req.write(body.slice(0, 10));
        setTimeout(() => req.end(body.slice(10)), 600);
      });
      await sleep(200); // the slow request's headers are in, its body is not
      const second = await call(e, "WhoAmI");
      expect(second.status).toBe(429);
      expect(errorOf(second).code).toBe("0x80072326");
      expect(await slow).toBe(204);
      expect((await call(e, "WhoAmI")).status).toBe(200);
    } finally {
      await e.close();
    }
  });
});

describe("synchronous plug-in time", () => {
  let e: Emulator;
  beforeAll(async () => {
    e = await startEmulator({ quiet: true, environment: { ...defaultEnvironment(), plugins: [{ table: "contact", message: "Create", milliseconds: 300 }] } });
  });
  afterAll(async () => {
    await e.close();
  });

  it("is charged per created row and removed by MSCRM.BypassBusinessLogicExecution: CustomSync", async () => {
    const cost = async (headers: Record<string, string>): Promise<number> => {
      const before = e.stats().executionMs.total;
      const r = await call(e, "contacts", { method: "POST", body: JSON.stringify({ lastname: "Plug-in" }), headers });
      expect(r.status).toBe(204);
      return e.stats().executionMs.total - before;
    };
    const plain = await cost({});
    const bypassed = await cost({ "MSCRM.BypassBusinessLogicExecution": "CustomSync" });
    expect(plain - bypassed).toBe(300);
    const bulkBefore = e.stats().executionMs.total;
    const createMultiple = JSON.stringify({ Targets: [1, 2, 3].map((i) => ({ "@odata.type": "Microsoft.Dynamics.CRM.contact", lastname: `Bulk ${i}` })) });
    expect((await call(e, "contacts/Microsoft.Dynamics.CRM.CreateMultiple", { method: "POST", body: createMultiple })).status).toBe(200);
    const m = e.stats().model.cost;
    expect(e.stats().executionMs.total - bulkBefore).toBeCloseTo(m.requestMs + 3 * m.createMultipleRecordMs + 3 * 300, 6);
  });

  it("in a $batch, is charged per created part, and the batch request's bypass header covers its parts", async () => {
    const body = [
      "--batch_P",
      "Content-Type: multipart/mixed; boundary=changeset_Q",
      "",
      ...[1, 2].flatMap((i) => ["--changeset_Q", "Content-Type: application/http", "Content-Transfer-Encoding: binary", `Content-ID: ${i}`, "", "POST contacts HTTP/1.1", "Content-Type: application/json", "", `{"lastname":"Batch ${i}"}`]),
      "--changeset_Q--",
      "--batch_P--",
      "",
    ].join("\r\n");
    const cost = async (headers: Record<string, string>): Promise<number> => {
      const before = e.stats().executionMs.total;
      const r = await call(e, "$batch", { method: "POST", body, headers: { "content-type": "multipart/mixed; boundary=batch_P", ...headers } });
      expect(r.status).toBe(200);
      return e.stats().executionMs.total - before;
    };
    const m = e.stats().model.cost;
    expect(await cost({})).toBeCloseTo(m.requestMs + 2 * (m.createMs + 300), 6);
    expect(await cost({ "MSCRM.BypassBusinessLogicExecution": "CustomSync" })).toBeCloseTo(m.requestMs + 2 * m.createMs, 6);
  });
});

describe("request formats other clients send", () => {
  let e: Emulator;
  beforeAll(async () => {
    e = await startEmulator({ quiet: true });
  });
  afterAll(async () => {
    await e.close();
  });

  it("answers a single-row GET with an ETag header equal to its @odata.etag", async () => {
    const created = await call(e, "accounts", { method: "POST", body: JSON.stringify({ name: "ETag" }), headers: { prefer: "return=representation" } });
    const id = (JSON.parse(created.text) as { accountid: string }).accountid;
    const r = await call(e, `accounts(${id})?$select=name`);
    expect(r.status).toBe(200);
    expect(r.headers["etag"]).toBe((JSON.parse(r.text) as { "@odata.etag": string })["@odata.etag"]);
    expect(r.headers["etag"]).toMatch(/^W\/"\d+"$/);
  });

  it("orders by parameter aliases ($orderby=@p1 desc&@p1=name)", async () => {
    for (const name of ["Alias A", "Alias C", "Alias B"]) await call(e, "accounts", { method: "POST", body: JSON.stringify({ name }) });
    const r = await call(e, "accounts?$select=name&$filter=startswith(name,'Alias')&$orderby=@p1%20desc&@p1=name");
    expect(r.status).toBe(200);
    expect((JSON.parse(r.text) as { value: { name: string }[] }).value.map((a) => a.name)).toEqual(["Alias C", "Alias B", "Alias A"]);
  });

  it.each([
    ["RelationshipDefinitions", "RelationshipDefinitions"],
    ["GlobalOptionSetDefinitions", "GlobalOptionSetDefinitions"],
    ["RetrieveMetadataChanges(Query=@q)?@q={}", "RetrieveMetadataChanges"],
    ['RetrieveTotalRecordCount(EntityNames=["account"])', "RetrieveTotalRecordCount"],
  ])("answers 501 naming the feature for %s", async (path, feature) => {
    const r = await call(e, path);
    expect(r.status).toBe(501);
    expect(errorOf(r).message).toContain(feature);
  });

  it("counts the rows of a one-to-many navigation property with /$count, as text", async () => {
    const created = await call(e, "accounts", { method: "POST", body: JSON.stringify({ name: "Count parent" }), headers: { prefer: "return=representation" } });
    const id = (JSON.parse(created.text) as { accountid: string }).accountid;
    for (const lastname of ["Child A", "Child B"]) {
      await call(e, "contacts", { method: "POST", body: JSON.stringify({ lastname, "parentcustomerid_account@odata.bind": `/accounts(${id})` }) });
    }
    const r = await call(e, `accounts(${id})/contact_customer_accounts/$count`);
    expect(r.status).toBe(200);
    expect(r.text).toBe("2");
  });

  it("lists the one-to-many relationships it knows under OneToManyRelationships", async () => {
    const r = await call(e, "EntityDefinitions(LogicalName='account')/OneToManyRelationships?$select=SchemaName,ReferencingEntity,ReferencedEntityNavigationPropertyName");
    expect(r.status).toBe(200);
    const value = (JSON.parse(r.text) as { value: { SchemaName: string; ReferencingEntity: string; ReferencedEntityNavigationPropertyName: string }[] }).value;
    expect(value).toContainEqual(expect.objectContaining({ SchemaName: "contact_customer_accounts", ReferencingEntity: "contact", ReferencedEntityNavigationPropertyName: "contact_customer_accounts" }));
    expect(value.every((rel) => rel.ReferencingEntity !== undefined)).toBe(true);
  });
});
