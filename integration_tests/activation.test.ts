// Issue 17 end to end: a segment becomes a marketing list's membership, and a many-to-many
// relationship (a custom one, declared in the emulator's environment) is kept in line, through the
// built CLI against the emulator over real HTTPS; what Dataverse holds is read back through the Web API.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Environment } from "../emulator/environment.js";
import { environmentWithReader, startTestEmulator, type TestEmulator } from "./reliability/emulator.js";
import { WebApiReader, isObject } from "./reliability/webapi.js";
import { configuredCatalog, record, runCli, streamState, type Json } from "./helpers/cli.js";

const CONTACTS = 10_400;
const email = (i: number): string => `member${i}@example.com`;
const contactId = (i: number): string => `c0000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
const INTERESTS = ["SAIL", "GOLF", "WINE", "JAZZ"] as const;

function activationEnvironment(): Environment {
  const env = environmentWithReader();
  const everything = ["create", "read", "write", "delete", "append", "appendto"] as const;
  return {
    ...env,
    tables: [
      ...env.tables,
      {
        logicalName: "new_interest",
        entitySetName: "new_interests",
        primaryIdAttribute: "new_interestid",
        primaryNameAttribute: "new_name",
        columns: [
          { logicalName: "new_interestid", type: "Uniqueidentifier" },
          { logicalName: "new_name", type: "String", maxLength: 100 },
          { logicalName: "new_code", type: "String", maxLength: 20 },
        ],
        keys: [{ logicalName: "new_interest_code", attributes: ["new_code"] }],
      },
    ],
    // A custom N:N, as an environment file declares it (docs/emulator-environment.md).
    manyToManyRelationships: [
      ...(env.manyToManyRelationships ?? []),
      { schemaName: "new_contact_new_interest", entity1LogicalName: "contact", entity2LogicalName: "new_interest" },
    ],
    apps: env.apps.map((a) =>
      a.applicationUser === undefined ? a : { ...a, applicationUser: { ...a.applicationUser, privileges: { ...a.applicationUser.privileges, new_interest: a.clientId.startsWith("7777") ? ["read"] : everything } } },
    ),
    rows: {
      ...(env.rows ?? {}),
      contact: Array.from({ length: CONTACTS }, (_, i) => ({ contactid: contactId(i), lastname: `Member ${i}`, emailaddress1: email(i) })),
      new_interest: INTERESTS.map((code) => ({ new_code: code, new_name: code })),
    },
  };
}

let emu: TestEmulator;
let reader: WebApiReader;
let secrets: string[];

beforeAll(async () => {
  emu = await startTestEmulator({ environment: activationEnvironment() });
  reader = new WebApiReader(emu.connection);
  secrets = [emu.connection.client_secret, await reader.accessToken()];
}, 60_000);

afterAll(async () => {
  await reader?.close();
  await emu?.close();
});

const complete = (name: string): string => JSON.stringify({ type: "TRACE", trace: { type: "STREAM_STATUS", emitted_at: 1, stream_status: { stream_descriptor: { name }, status: "COMPLETE" } } });

function write(streams: Json[], catalogStreams: { name: string; mode: string; pk?: string[][]; object?: string }[], input: string[]) {
  return runCli({
    args: ["write", "--config", "{file:config.json}", "--catalog", "{file:catalog.json}"],
    files: { "config.json": { ...emu.connection, streams }, "catalog.json": configuredCatalog(catalogStreams) },
    input,
    secrets,
    timeoutMs: 120_000,
  });
}

async function listNamed(name: string): Promise<Json> {
  const { body } = await reader.get(`lists?$select=listid,listname,type,createdfromcode,membercount&$filter=listname eq '${name}'`);
  const rows = isObject(body) && Array.isArray(body["value"]) ? (body["value"] as Json[]) : [];
  expect(rows).toHaveLength(1);
  return rows[0] as Json;
}

async function relatedEmails(path: string): Promise<Set<string>> {
  const out = new Set<string>();
  let next: string | undefined = path;
  while (next !== undefined) {
    const { body } = await reader.get(next, { Prefer: "odata.maxpagesize=5000" });
    if (!isObject(body)) break;
    for (const row of (body["value"] as Json[] | undefined) ?? []) out.add(String(row["emailaddress1"] ?? row["new_code"]));
    const link = body["@odata.nextLink"];
    next = typeof link === "string" ? link : undefined;
  }
  return out;
}

function segment(stream: string, members: readonly number[], extra: string[] = []): string[] {
  const lines = members.map((i) => record(stream, { email: email(i), segment: "vip" }));
  return [...lines.slice(0, 5000), streamState(stream, 1), ...lines.slice(5000), ...extra, complete(stream), streamState(stream, 2)];
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);

describe("a segment becomes a marketing list's membership (issue 17)", () => {
  const membership = (removeMissing: boolean): Json => ({
    name: "vip_customers",
    membership: { list: "VIP customers", member_table: "contact", key: { columns: ["emailaddress1"] }, source_fields: ["email"], remove_missing: removeMissing },
  });
  const catalog = [{ name: "vip_customers", mode: "overwrite" }];

  it("10,000 contacts become the new static list's members; a changed segment adds and removes exactly the difference; without remove_missing only adds", async () => {
    // 1. The list does not exist: it is created static, of contacts, and gets the 10,000 members.
    const first = await write([membership(true)], catalog, segment("vip_customers", range(0, 10_000)));
    expect(first.code, first.stderr).toBe(0);
    const list = await listNamed("VIP customers");
    expect(list).toMatchObject({ type: false, createdfromcode: 2, membercount: 10_000 });
    const listPath = `lists(${String(list["listid"])})/listcontact_association?$select=emailaddress1`;
    expect(await relatedEmails(listPath)).toEqual(new Set(range(0, 10_000).map(email)));
    // Every record is counted in the states that follow it, as for any stream.
    expect(first.states.map((s) => (s["destinationStats"] as Json)["recordCount"])).toEqual([5000, 5000]);
    expect(first.logs.some((l) => l.includes("10000 added, 0 already present, 0 removed, 0 rejected"))).toBe(true);

    // 2. 200 left the segment (0..199) and 200 joined (10,000..10,199): exactly that changes.
    const second = await write([membership(true)], catalog, segment("vip_customers", range(200, 10_200)));
    expect(second.code, second.stderr).toBe(0);
    expect(second.logs.some((l) => l.includes("200 added, 9800 already present, 200 removed, 0 rejected")), second.logs.join("\n")).toBe(true);
    expect(await relatedEmails(listPath)).toEqual(new Set(range(200, 10_200).map(email)));
    expect((await listNamed("VIP customers"))["membercount"]).toBe(10_000);

    // 3. Without remove_missing: 100 join, nobody leaves although the segment is smaller; a member
    // key that matches no contact is a rejected record, counted in the state.
    const unknown = record("vip_customers", { email: "nobody@example.com" });
    const third = await write([membership(false)], catalog, segment("vip_customers", range(10_200, 10_300), [unknown]));
    expect(third.code, third.stderr).toBe(0);
    expect(third.logs.some((l) => l.includes("100 added, 0 already present, 0 removed, 1 rejected")), third.logs.join("\n")).toBe(true);
    expect(third.states.map((st) => st["destinationStats"])).toEqual([{ recordCount: 100 }, { recordCount: 0, rejectedRecordCount: 1 }]);
    expect(await relatedEmails(listPath)).toEqual(new Set(range(200, 10_300).map(email)));
  }, 240_000);

  it("check plans membership streams without writing: a new list is fine (and not created), a list of another member type is not", async () => {
    const check = (streams: Json[]) => runCli({ args: ["check", "--config", "{file:config.json}"], files: { "config.json": { ...emu.connection, streams } }, secrets });
    const fresh = await check([{ name: "s", membership: { list: "Not created by check", member_table: "lead", key: { columns: ["emailaddress1"] } } }]);
    expect(JSON.stringify(fresh.messages)).toContain('"status":"SUCCEEDED"');
    const { body } = await reader.get("lists?$select=listid&$filter=listname eq 'Not created by check'");
    expect(isObject(body) ? body["value"] : undefined).toEqual([]);
    const wrong = await check([
      { name: "s", membership: { list: "VIP customers", member_table: "lead", key: { columns: ["emailaddress1"] } } },
      { name: "r", relationship: { name: "no_such_relationship", from: { table: "contact", key: { columns: ["emailaddress1"] } }, to: { table: "new_interest", key: { columns: ["new_code"] } } } },
    ]);
    const text = JSON.stringify(wrong.messages);
    expect(text).toContain('"status":"FAILED"');
    expect(text).toContain("holds contact members, not lead");
    expect(text).toContain("no many-to-many relationship named no_such_relationship");
  }, 120_000);

  it("refuses a list of another member type, and a run that would remove more than max_remove_share", async () => {
    const wrongType = await write(
      [{ name: "leads_list", membership: { list: "VIP customers", member_table: "lead", key: { columns: ["emailaddress1"] } } }],
      [{ name: "leads_list", mode: "overwrite" }],
      [record("leads_list", { emailaddress1: email(1) })],
    );
    expect(wrongType.code).toBe(1);
    expect(wrongType.traces.map((t) => JSON.stringify(t)).join()).toContain("holds contact members, not lead");

    const tooMany = await write([membership(true)], catalog, segment("vip_customers", range(9_000, 9_010)));
    expect(tooMany.code).toBe(1);
    expect(tooMany.traces.map((t) => JSON.stringify(t)).join()).toContain("more than max_remove_share");
    const list = await listNamed("VIP customers");
    expect(list["membercount"]).toBe(10_100);
  }, 120_000);

  it("a dry run passes a membership stream's records over and changes nothing", async () => {
    const dry = await runCli({
      args: ["write", "--dry-run", "--config", "{file:config.json}", "--catalog", "{file:catalog.json}"],
      files: { "config.json": { ...emu.connection, streams: [membership(true)] }, "catalog.json": configuredCatalog(catalog) },
      input: segment("vip_customers", range(0, 10)),
      secrets,
    });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.logs.some((l) => l.includes("are not previewed"))).toBe(true);
    expect((await listNamed("VIP customers"))["membercount"]).toBe(10_100);
  }, 60_000);

  it("discover offers the static lists as destination objects, and a catalog that names one adds its members", async () => {
    const discovered = await runCli({ args: ["discover", "--config", "{file:config.json}"], files: { "config.json": emu.connection }, secrets });
    expect(discovered.code, discovered.stderr).toBe(0);
    const text = JSON.stringify(discovered.messages);
    expect(text).toContain('"list:VIP customers"');

    const activated = await write([], [{ name: "segment", mode: "append_dedup", pk: [["emailaddress1"]], object: "list:VIP customers" }], [
      record("segment", { emailaddress1: email(10_350) }),
      streamState("segment", 1),
    ]);
    expect(activated.code, activated.stderr).toBe(0);
    const list = await listNamed("VIP customers");
    expect(list["membercount"]).toBe(10_101);
  }, 120_000);
});

describe("a custom many-to-many relationship is kept in line (issue 17)", () => {
  const stream = (removeMissing: boolean): Json => ({
    name: "contact_interests",
    relationship: {
      name: "new_contact_new_interest",
      from: { table: "contact", key: { columns: ["emailaddress1"] }, source_fields: ["email"] },
      to: { table: "new_interest", key: { columns: ["new_code"] }, source_fields: ["interest"] },
      remove_missing: removeMissing,
    },
  });
  const catalog = [{ name: "contact_interests", mode: "overwrite" }];
  const pairs = (list: readonly (readonly [number, string])[], extra: string[] = []): string[] => [
    ...list.map(([i, code]) => record("contact_interests", { email: email(i), interest: code })),
    ...extra,
    complete("contact_interests"),
    streamState("contact_interests", 1),
  ];
  const interestsOf = (i: number) => relatedEmails(`contacts(${contactId(i)})/new_contact_new_interest?$select=new_code`);

  it("associates the pairs, then adds and removes exactly the difference; without remove_missing only adds", async () => {
    const start: [number, string][] = [];
    for (let i = 0; i < 100; i++) start.push([i, "SAIL"], [i, "GOLF"]);
    const first = await write([stream(true)], catalog, pairs(start));
    expect(first.code, first.logs.join("\n")).toBe(0);
    expect(first.logs.some((l) => l.includes("200 records, 200 added, 0 already present, 0 removed, 0 rejected")), first.logs.join("\n")).toBe(true);
    expect(await interestsOf(7)).toEqual(new Set(["SAIL", "GOLF"]));

    // Contacts 0..9 dropped GOLF and took WINE; the rest is unchanged.
    const changed: [number, string][] = [];
    for (let i = 0; i < 100; i++) changed.push([i, "SAIL"], [i, i < 10 ? "WINE" : "GOLF"]);
    const second = await write([stream(true)], catalog, pairs(changed));
    expect(second.code, second.stderr).toBe(0);
    expect(second.logs.some((l) => l.includes("200 records, 10 added, 190 already present, 10 removed, 0 rejected")), second.logs.join("\n")).toBe(true);
    expect(await interestsOf(3)).toEqual(new Set(["SAIL", "WINE"]));
    expect(await interestsOf(50)).toEqual(new Set(["SAIL", "GOLF"]));

    // Without remove_missing: contact 3 takes JAZZ and nothing is removed; an unknown interest is rejected.
    const third = await write([stream(false)], catalog, pairs([[3, "JAZZ"]], [record("contact_interests", { email: email(3), interest: "NOPE" })]));
    expect(third.code, third.stderr).toBe(0);
    expect(third.logs.some((l) => l.includes("2 records, 1 added, 0 already present, 0 removed, 1 rejected")), third.logs.join("\n")).toBe(true);
    expect(await interestsOf(3)).toEqual(new Set(["SAIL", "WINE", "JAZZ"]));
  }, 120_000);
});
