// The emulator's data service over real HTTPS: each behaviour pinned to Microsoft's documentation
// (Learn pages named in emulator/service.ts and the reference note), with undici's fetch, plus a
// round trip with the third-party dynamics-web-api client in a child process.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, fetch } from "undici";
import { startEmulator, type Emulator } from "../emulator/index.js";

const HERE = dirname(fileURLToPath(import.meta.url));

let emu: Emulator;
let agent: Agent;
const tokens = new Map<string, string>();

interface Reply {
  status: number;
  headers: Headers;
  json: Record<string, unknown> & { value?: Record<string, unknown>[]; error?: { code: string; message: string } };
  text: string;
}

async function token(clientId = emu.config.client_id): Promise<string> {
  const cached = tokens.get(clientId);
  if (cached !== undefined) return cached;
  const app = emu.apps.find((a) => a.clientId === clientId);
  const res = await fetch(`${emu.origin}/${emu.config.tenant_id}/oauth2/v2.0/token`, {
    method: "POST",
    dispatcher: agent,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: app?.clientSecret ?? "", scope: `${emu.origin}/.default` }).toString(),
  });
  const t = ((await res.json()) as { access_token: string }).access_token;
  tokens.set(clientId, t);
  return t;
}

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, clientId?: string): Promise<Reply> {
  const url = path.startsWith("https://") ? path : `${emu.config.web_api_endpoint}${path}`;
  const res = await fetch(url, {
    method,
    dispatcher: agent,
    headers: {
      authorization: `Bearer ${await token(clientId)}`,
      accept: "application/json",
      "odata-version": "4.0",
      "odata-maxversion": "4.0",
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  const json = (text !== "" && (res.headers.get("content-type") ?? "").startsWith("application/json") ? JSON.parse(text) : {}) as Reply["json"];
  return { status: res.status, headers: res.headers, json, text };
}

beforeAll(async () => {
  emu = await startEmulator({ quiet: true });
  agent = new Agent({ connect: { ca: readFileSync(emu.config.ca_file) } });
});

afterAll(async () => {
  await emu.close();
  await agent.close();
});

describe("writes (create-entity-web-api, update-delete-entities-using-web-api, use-upsert-insert-update-record)", () => {
  it("create: 204 with OData-EntityId; with return=representation 201 and a JSON body", async () => {
    const r = await api("POST", "contacts", { firstname: "Ada", lastname: "Lovelace" });
    expect(r.status).toBe(204);
    expect(r.headers.get("odata-entityid")).toMatch(new RegExp(`^${emu.config.web_api_endpoint.replace(/[.]/g, "\\.")}contacts\\([0-9a-f-]{36}\\)$`));
    const rep = await api("POST", "contacts?$select=fullname", { firstname: "Grace", lastname: "Hopper" }, { prefer: "return=representation" });
    expect(rep.status).toBe(201);
    expect(rep.headers.get("content-type")).toContain("application/json");
    expect(rep.headers.get("preference-applied")).toBe("return=representation");
    expect(rep.json["fullname"]).toBe("Grace Hopper");
  });

  it("upsert by alternate key with an apostrophe: 201 then 200; OData-EntityId echoes the key form", async () => {
    const url = `accounts(accountnumber='${encodeURIComponent("Mc''Kay-1")}')`;
    const a = await api("PATCH", url, { name: "McKay" }, { prefer: "return=representation" });
    expect(a.status).toBe(201);
    expect(a.json["accountnumber"]).toBe("Mc'Kay-1");
    const b = await api("PATCH", url, { name: "McKay 2" }, { prefer: "return=representation" });
    expect(b.status).toBe(200);
    expect(b.json["accountid"]).toBe(a.json["accountid"]);
    const c = await api("PATCH", url, { name: "McKay 3" });
    expect(c.status).toBe(204);
    expect(c.headers.get("odata-entityid")).toBe(`${emu.config.web_api_endpoint}${url}`);
  });

  it("update with If-Match * on a missing row: 404; create-only with If-None-Match * on an existing row: 412", async () => {
    const missing = await api("PATCH", "accounts(accountnumber='NOPE-1')", { name: "x" }, { "if-match": "*" });
    expect(missing.status).toBe(404);
    expect(missing.json.error?.code).toBe("0x80060891");
    await api("PATCH", "accounts(accountnumber='ONCE-1')", { name: "x" });
    const again = await api("PATCH", "accounts(accountnumber='ONCE-1')", { name: "y" }, { "if-none-match": "*" });
    expect(again.status).toBe(412);
  });

  it("a key value with a character Learn lists as unusable fails by key even when encoded", async () => {
    const r = await api("GET", `accounts(accountnumber='${encodeURIComponent("R&D-1")}')`);
    expect(r.status).toBe(400);
  });

  it("validation answers the documented code and message shape", async () => {
    const r = await api("POST", "contacts", { lastname: "x".repeat(51) });
    expect(r.status).toBe(400);
    expect(r.json.error?.code).toBe("0x80044331");
    expect(r.json.error?.message).toContain("exceeded the maximum allowed length of '50'");
  });

  it("a bind by alternate key sets the lookup; reads expose _x_value", async () => {
    await api("PATCH", "accounts(accountnumber='BIND-1')", { name: "Bind target" });
    const c = await api("POST", "contacts?$select=_parentcustomerid_value", { lastname: "x", "parentcustomerid_account@odata.bind": "/accounts(accountnumber='BIND-1')" }, { prefer: "return=representation" });
    const target = await api("GET", "accounts(accountnumber='BIND-1')?$select=accountid");
    expect(c.json["_parentcustomerid_value"]).toBe(target.json["accountid"]);
  });

  it("a missing privilege is 403 0x80040220", async () => {
    const readOnly = emu.apps.find((a) => a.displayName.startsWith("read-only"));
    expect(readOnly).toBeDefined();
    const r = await api("POST", "accounts", { name: "x" }, {}, readOnly?.clientId);
    expect(r.status).toBe(403);
    expect(r.json.error?.code).toBe("0x80040220");
  });
});

describe("reads (query-data-web-api)", () => {
  it("GET <set>/$count is a bare number as text/plain; the totalrecordcount annotations follow $count (query/count-rows)", async () => {
    for (let i = 0; i < 3; i++) await api("POST", "leads", { lastname: `Count ${i}`, companyname: "COUNTED" });
    const bare = await api("GET", "leads/$count?$filter=companyname eq 'COUNTED'");
    expect(bare.status).toBe(200);
    expect(bare.headers.get("content-type")).toBe("text/plain");
    expect(bare.text).toBe("3");
    const annotations = 'odata.include-annotations="Microsoft.Dynamics.CRM.totalrecordcount,Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"';
    const counted = await api("GET", "leads?$select=lastname&$filter=companyname eq 'COUNTED'&$count=true", undefined, { prefer: `odata.maxpagesize=1,${annotations}` });
    expect(counted.json).toMatchObject({ "@odata.count": 3, "@Microsoft.Dynamics.CRM.totalrecordcount": 3, "@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded": false });
    expect(counted.json.value).toHaveLength(1);
    const uncounted = await api("GET", "leads?$select=lastname&$filter=companyname eq 'COUNTED'", undefined, { prefer: annotations });
    expect(uncounted.json["@Microsoft.Dynamics.CRM.totalrecordcount"]).toBe(-1);
  });

  it("pages with odata.maxpagesize; @odata.nextLink is followable over HTTP", async () => {
    for (let i = 0; i < 5; i++) await api("POST", "leads", { lastname: `Page ${i}`, companyname: "PAGED" });
    const names: string[] = [];
    let next: string | undefined = "leads?$select=lastname&$filter=companyname eq 'PAGED'&$orderby=lastname&$count=true";
    let pages = 0;
    while (next !== undefined) {
      const r = await api("GET", next, undefined, { prefer: "odata.maxpagesize=2" });
      expect(r.status).toBe(200);
      if (pages === 0) expect(r.json["@odata.count"]).toBe(5);
      names.push(...(r.json.value ?? []).map((v) => String(v["lastname"])));
      const link = r.json["@odata.nextLink"];
      next = typeof link === "string" ? link : undefined;
      pages++;
    }
    expect(pages).toBe(3);
    expect(names).toEqual(["Page 0", "Page 1", "Page 2", "Page 3", "Page 4"]);
  });
});

describe("metadata and bulk", () => {
  it("EntityDefinitions by key and the attribute casts", async () => {
    const r = await api("GET", "EntityDefinitions(LogicalName='contact')/Attributes/Microsoft.Dynamics.CRM.DateTimeAttributeMetadata?$select=LogicalName,DateTimeBehavior&$filter=LogicalName eq 'birthdate'");
    expect(r.status).toBe(200);
    expect(r.json.value?.[0]).toMatchObject({ "@odata.type": "#Microsoft.Dynamics.CRM.DateTimeAttributeMetadata", DateTimeBehavior: { Value: "DateOnly" } });
  });

  it("UpsertMultiple: 204; the sdkmessagefilters probe says it exists", async () => {
    const probe = await api("GET", "sdkmessagefilters?$select=sdkmessagefilterid&$filter=sdkmessageid/name eq 'UpsertMultiple' and primaryobjecttypecode eq 'new_membership'");
    expect(probe.json.value).toHaveLength(1);
    const r = await api("POST", "new_memberships/Microsoft.Dynamics.CRM.UpsertMultiple", {
      Targets: [
        { "@odata.type": "Microsoft.Dynamics.CRM.new_membership", "@odata.id": "new_memberships(new_externalid='M-1')", new_name: "one" },
        { "@odata.type": "Microsoft.Dynamics.CRM.new_membership", "@odata.id": "new_memberships(new_externalid='M-2')", new_name: "two" },
      ],
    });
    expect(r.status).toBe(204);
    expect((await api("GET", "new_memberships(new_externalid='M-2')?$select=new_name")).json["new_name"]).toBe("two");
  });
});

describe("$batch changesets use the service's transactions", () => {
  it("a failing part rolls back the parts before it", async () => {
    const part = (id: number, body: string) => [
      "--changeset_X",
      "Content-Type: application/http",
      "Content-Transfer-Encoding: binary",
      `Content-ID: ${id}`,
      "",
      "POST /api/data/v9.2/accounts HTTP/1.1",
      "Content-Type: application/json; type=entry",
      "",
      body,
    ];
    const body = [
      "--batch_X",
      'Content-Type: multipart/mixed; boundary="changeset_X"',
      "",
      ...part(1, '{"name":"Rolled back","accountnumber":"RB-1"}'),
      ...part(2, `{"name":"${"x".repeat(161)}"}`),
      "--changeset_X--",
      "--batch_X--",
      "",
    ].join("\r\n");
    const r = await api("POST", "$batch", body, { "content-type": 'multipart/mixed; boundary="batch_X"' });
    expect(r.status).toBe(400);
    expect((await api("GET", "accounts(accountnumber='RB-1')")).status).toBe(404);
  });
});

describe("a round trip with the dynamics-web-api client", () => {
  it("create; upsert by alternate key with an apostrophe; a $batch changeset; paged retrieveMultiple; delete", async () => {
    const bearer = await token();
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [join(HERE, "emulator-conformance.dwa.mjs")],
        { env: { ...process.env, NODE_EXTRA_CA_CERTS: emu.config.ca_file, SERVER_URL: `${emu.origin}/`, TOKEN: bearer }, timeout: 30_000 },
        (error, out) => (error ? reject(error) : resolve(out)),
      );
    });
    const out = JSON.parse(stdout.trim()) as Record<string, unknown>;
    expect(out["failure"]).toBeUndefined();
    expect(String(out["createdId"])).toMatch(/^[0-9a-f-]{36}$/);
    expect(out["upserted"]).toMatchObject({ accountnumber: "O'Neil-1", name: "O'Neil & Sons" });
    expect((out["upsertedAgain"] as Record<string, unknown>)["accountid"]).toBe((out["upserted"] as Record<string, unknown>)["accountid"]);
    expect(out["batch"]).toHaveLength(2);
    expect(out["pages"]).toEqual([
      ["Paged 0", "Paged 1", "Paged 2"],
      ["Paged 3", "Paged 4", "Paged 5"],
      ["Paged 6"],
    ]);
    expect(out["afterDelete"]).toMatchObject({ status: 404 });
    // The library's other calls, each against the page that documents the request it sends:
    // update (If-Match: *, update-delete-entities-using-web-api), retrieve by alternate key
    // (use-alternate-key-reference-record), PUT of one property, /$count and $count=true
    // (query/count-rows), retrieveAll over @odata.nextLink (query/page-results), bound
    // CreateMultiple/UpsertMultiple (bulk-operations), $ref (associate-disassociate-entities-using-
    // web-api), continue-on-error (execute-batch-operations-using-web-api), a one-to-many $expand and
    // the related collection (query/join-tables, retrieve-related-entities-query) and delete by key.
    expect(out["more"]).toEqual({
      update: "More updated",
      updateMissing: { error: { status: 404, code: "0x80040217", message: expect.stringMatching(/^account With Id = 0{8}-0{4}-0{4}-0{4}-0{10}aa Does Not Exist$/) } },
      retrieveByKey: expect.stringMatching(/^[0-9a-f-]{36}$/),
      updateSingleProperty: "555-0100",
      countAll: expect.any(Number),
      countFiltered: 7,
      retrieveAll: 7,
      createMultiple: expect.objectContaining({ Ids: [expect.stringMatching(/^[0-9a-f-]{36}$/), expect.anything(), expect.anything()] }),
      upsertMultiple: "UM 1",
      associateSingleValued: true,
      batchContinueOnError: [{ status: 400, code: "0x80044331" }, "string"],
      retrieveExpand: "Exp Anded",
      associateCollection: [true, true],
      expandCollection: [["Kid 3", "Kid 2"], 3],
      deleteByKey: 404,
    });
    const child = await api("GET", "contacts?$select=lastname,_parentcustomerid_value&$filter=lastname eq 'Batch child'");
    const parent = await api("GET", "accounts(accountnumber='DWA-B1')?$select=accountid");
    expect(child.json.value?.[0]?.["_parentcustomerid_value"]).toBe(parent.json["accountid"]);
  });
});
