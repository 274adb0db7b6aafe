// Issue 4 end to end: every mapping feature through the built CLI against the emulator over real
// HTTPS, rows checked through the Web API. Each case uses its own stream names and key values so
// the cases share one emulator without seeing each other's rows.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_IDS } from "../emulator/default-environment.js";
import { uuidv5 } from "../src/mapping/uuid.js";
import { startTestEmulator } from "./reliability/emulator.js";
import type { TestEmulator } from "./reliability/emulator.js";
import { odataString, WebApiReader } from "./reliability/webapi.js";
import type { Row } from "./reliability/webapi.js";
import { configuredCatalog, record, runCli, stateSummary, streamState } from "./helpers/cli.js";
import type { CliRun, Json } from "./helpers/cli.js";
import { MAPPING_SECRETS, mappingEnvironment, PLAIN_WRITER, WebApiSeeder } from "./helpers/mapping-env.js";

const NS = "6f1d3c2b-8a4e-4b7f-9c0d-2e3f4a5b6c7d";

let emu: TestEmulator;
let reader: WebApiReader;
let seeder: WebApiSeeder;
let secrets: string[];

beforeAll(async () => {
  emu = await startTestEmulator({ environment: mappingEnvironment() });
  reader = new WebApiReader(emu.connection);
  seeder = new WebApiSeeder(emu.connection, () => reader.accessToken());
  secrets = [...MAPPING_SECRETS, await reader.accessToken()];
});

afterAll(async () => {
  await seeder?.close();
  await reader?.close();
  await emu?.close();
});

type CatalogStream = { name: string; mode: string; pk?: string[][]; object?: string };

function write(streams: Json[], catalog: CatalogStream[], input: string[], extra: Json = {}, args: string[] = []): Promise<CliRun> {
  return runCli({
    args: ["write", "--config", "{file:config.json}", "--catalog", "{file:catalog.json}", ...args],
    files: { "config.json": { ...emu.connection, flush_interval_seconds: 5, ...extra, streams }, "catalog.json": configuredCatalog(catalog) },
    input,
    secrets,
  });
}

function cli(args: string[], config: Json): Promise<CliRun> {
  return runCli({ args, files: { "config.json": { ...emu.connection, ...config } }, secrets });
}

const eq = (column: string, value: string) => `${column} eq ${odataString(value)}`;

async function one(entitySet: string, filter: string, select: readonly string[]): Promise<Row> {
  const rows = await reader.rows(entitySet, { filter, select });
  expect(rows, `rows of ${entitySet} where ${filter}`).toHaveLength(1);
  return rows[0] as Row;
}

function errorOf(r: CliRun): Json {
  const errors = r.traces.filter((t) => t["type"] === "ERROR");
  expect(errors, "exactly one TRACE ERROR").toHaveLength(1);
  return errors[0]?.["error"] as Json;
}

/** The end-of-run summary line of a stream, as numbers. */
function summary(r: CliRun, stream: string): Record<string, number> {
  const line = r.logs.find((l) => /^summary(?: \(dry run, nothing written\))?: stream "/.test(l) && l.includes(`stream "${stream}"`));
  expect(line, `summary line of ${stream}`).toBeDefined();
  const out: Record<string, number> = {};
  for (const m of (line ?? "").matchAll(/(read|created|updated|upserted|unchanged|deleted|deactivated|rejected|truncated|retried|requests|429s) (\d+)/g)) out[m[1] as string] = Number(m[2]);
  return out;
}

const contactsStream = (name: string, extra: Json = {}): Json => ({ name, table: "contact", key: { columns: ["emailaddress1"] }, ...extra });

describe("keys", () => {
  it("a composite alternate key with a lookup column (contact GUID + tier label) upserts one row per key", async () => {
    const contactId = uuidv5(JSON.stringify(["ck-1@example.org"]), NS);
    const streams = [
      { name: "ck_people", table: "contact", key: { deterministic: { namespace: NS, fields: ["emailaddress1"] } } },
      {
        name: "ck_members",
        table: "new_membership",
        key: { columns: ["new_contactid", "new_tier"] },
        fields: { person: "new_contactid", tier: "new_tier" },
      },
    ];
    const catalog = [
      { name: "ck_people", mode: "append_dedup" },
      { name: "ck_members", mode: "append_dedup" },
    ];
    const first = await write(streams, catalog, [
      record("ck_people", { emailaddress1: "ck-1@example.org", lastname: "Composite" }),
      streamState("ck_people", 1),
      record("ck_members", { person: contactId, tier: "Gold", new_name: "gold", new_points: 10 }),
      record("ck_members", { person: contactId, tier: "silver", new_name: "silver", new_points: 20 }),
      streamState("ck_members", 2),
    ]);
    expect(first.code).toBe(0);
    expect(stateSummary(first.states)).toEqual([
      [1, { recordCount: 1 }],
      [2, { recordCount: 2 }],
    ]);
    const again = await write(streams, catalog, [record("ck_members", { person: contactId, tier: 100000002, new_name: "gold", new_points: 11 }), streamState("ck_members", 3)]);
    expect(again.code).toBe(0);
    const rows = await reader.rows("new_memberships", { filter: `_new_contactid_value eq ${contactId}`, select: ["new_tier", "new_points"] });
    expect(rows.map((r) => [r["new_tier"], r["new_points"]]).sort()).toEqual([
      [100000001, 20],
      [100000002, 11],
    ]);
  });

  it("creates by a composite key with a lookup column go out as create-only PATCHes: a create body cannot carry the read-only _x_value", async () => {
    const contactId = uuidv5(JSON.stringify(["ckc-1@example.org"]), NS);
    const streams = [
      { name: "ckc_people", table: "contact", key: { deterministic: { namespace: NS, fields: ["emailaddress1"] } } },
      { name: "ckc_members", table: "new_membership", mode: "create", key: { columns: ["new_contactid", "new_tier"] }, fields: { person: "new_contactid", tier: "new_tier" } },
    ];
    const catalog = [
      { name: "ckc_people", mode: "append_dedup" },
      { name: "ckc_members", mode: "append" },
    ];
    const refusedBefore = emu.emulator.stats().requests.byStatus["400"] ?? 0;
    const r = await write(streams, catalog, [
      record("ckc_people", { emailaddress1: "ckc-1@example.org", lastname: "Created" }),
      streamState("ckc_people", 1),
      record("ckc_members", { person: contactId, tier: "Gold", new_name: "gold" }),
      record("ckc_members", { person: contactId, tier: "Bronze", new_name: "bronze" }),
      streamState("ckc_members", 2),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(stateSummary(r.states)).toEqual([
      [1, { recordCount: 1 }],
      [2, { recordCount: 2 }],
    ]);
    // No request was refused on the way (a CreateMultiple with _new_contactid_value in its targets was).
    expect(emu.emulator.stats().requests.byStatus["400"] ?? 0).toBe(refusedBefore);
    const rows = await reader.rows("new_memberships", { filter: `_new_contactid_value eq ${contactId}`, select: ["new_tier", "new_name"] });
    expect(rows.map((x) => x["new_name"]).sort()).toEqual(["bronze", "gold"]);
  });

  it("key values with an apostrophe, a slash and non-ASCII text upsert in place; the slash one by a route that keeps it out of the URL", async () => {
    const numbers = ["KO'Brien-1", "KA/B-2", "KZoë-山田-3", "K'/ü+?&-4"];
    const streams = [{ name: "k_accounts", table: "account", key: { columns: ["accountnumber"] } }];
    const catalog = [{ name: "k_accounts", mode: "append_dedup" }];
    const run = (suffix: string) => write(streams, catalog, [...numbers.map((n) => record("k_accounts", { accountnumber: n, name: `${n} ${suffix}` })), streamState("k_accounts", 1)]);
    const first = await run("one");
    expect(first.code).toBe(0);
    expect(stateSummary(first.states)).toEqual([[1, { recordCount: 4 }]]);
    const second = await run("two");
    expect(second.code).toBe(0);
    expect(stateSummary(second.states)).toEqual([[1, { recordCount: 4 }]]);
    const rows = await reader.rows("accounts", { filter: "startswith(accountnumber,'K')", select: ["accountnumber", "name"] });
    expect(rows.map((r) => [r["accountnumber"], r["name"]]).sort()).toEqual(numbers.map((n) => [n, `${n} two`]).sort());
    // The emulator answers 400 to a key with "/" in the URL (Microsoft's documented limit): landing proves the other route.
    const direct = await reader.get(`accounts(accountnumber=${encodeURIComponent("'KA/B-2'")})`);
    expect(direct.status).not.toBe(200);
  });

  it("deterministic GUID creates: the row's id is UUIDv5(namespace, key) and a rerun creates nothing new", async () => {
    const streams = [{ name: "dg_contacts", table: "contact", key: { deterministic: { namespace: NS, fields: ["ext", "n"] } }, fields: { ext: "jobtitle" } }];
    const catalog = [{ name: "dg_contacts", mode: "append" }];
    const input = [record("dg_contacts", { ext: "DG", n: 1, lastname: "Det One" }), record("dg_contacts", { ext: "DG", n: 2, lastname: "Det Two" }), streamState("dg_contacts", 1)];
    const first = await write(streams, catalog, input);
    expect(first.code).toBe(0);
    expect(summary(first, "dg_contacts")).toMatchObject({ created: 2, rejected: 0 });
    const second = await write(streams, catalog, input);
    expect(second.code).toBe(0);
    // The rerun's creates meet existing ids: committed, not rejected, and counted as unchanged.
    expect(stateSummary(second.states)).toEqual([[1, { recordCount: 2 }]]);
    expect(summary(second, "dg_contacts")).toMatchObject({ created: 0, unchanged: 2, rejected: 0 });
    const rows = await reader.rows("contacts", { filter: "startswith(lastname,'Det ')", select: ["contactid", "lastname"] });
    expect(rows.map((r) => [r["lastname"], r["contactid"]]).sort()).toEqual([
      ["Det One", uuidv5(JSON.stringify(["DG", "1"]), NS)],
      ["Det Two", uuidv5(JSON.stringify(["DG", "2"]), NS)],
    ]);
  });

  it("an alternate key whose index is not Active fails before the first record, naming the key and its status", async () => {
    const r = await write(
      [{ name: "pk_accounts", table: "account", key: { alternate_key: "new_account_email" } }],
      [{ name: "pk_accounts", mode: "append_dedup" }],
      [record("pk_accounts", { emailaddress1: "pending@example.org", name: "Pending" })],
    );
    expect(r.code).not.toBe(0);
    const e = errorOf(r);
    expect(e["failure_type"]).toBe("config_error");
    expect(String(e["message"])).toMatch(/new_account_email/);
    expect(String(e["message"])).toMatch(/Pending/);
    expect(await reader.rows("accounts", { filter: eq("emailaddress1", "pending@example.org") })).toEqual([]);

    const byColumns = await write(
      [{ name: "pk_leads", table: "lead", key: { columns: ["firstname", "lastname", "companyname"] } }],
      [{ name: "pk_leads", mode: "append_dedup" }],
      [],
    );
    expect(byColumns.code).not.toBe(0);
    expect(String(errorOf(byColumns)["message"])).toMatch(/new_lead_name_company.*Failed|Failed.*new_lead_name_company/);
  });
});

describe("lookups", () => {
  it("a contact bound to its account by account number, the account arriving later in another stream of the same sync, ends up linked", async () => {
    const streams = [
      { name: "lk_accounts", table: "account", key: { columns: ["accountnumber"] } },
      contactsStream("lk_contacts", { fields: { acct: { column: "parentcustomerid", lookup: { table: "account", by: "alternate_key", key_columns: ["accountnumber"] } } } }),
    ];
    const r = await write(
      streams,
      [
        { name: "lk_contacts", mode: "append_dedup" },
        { name: "lk_accounts", mode: "append_dedup" },
      ],
      [
        record("lk_contacts", { emailaddress1: "lk-1@example.org", lastname: "Linked", acct: "LK-1" }),
        record("lk_contacts", { emailaddress1: "lk-2@example.org", lastname: "Linked", acct: "LK/2" }),
        record("lk_accounts", { accountnumber: "LK-1", name: "Link One" }),
        record("lk_accounts", { accountnumber: "LK/2", name: "Link Two" }),
        streamState("lk_contacts", 1),
        streamState("lk_accounts", 2),
      ],
    );
    expect(r.code).toBe(0);
    expect(stateSummary(r.states)).toEqual([
      [1, { recordCount: 2 }],
      [2, { recordCount: 2 }],
    ]);
    const accounts = await reader.rows("accounts", { filter: "startswith(accountnumber,'LK')", select: ["accountid", "accountnumber"] });
    const idOf = new Map(accounts.map((a) => [a["accountnumber"], a["accountid"]]));
    const contacts = await reader.rows("contacts", { filter: "startswith(emailaddress1,'lk-')", select: ["emailaddress1", "_parentcustomerid_value"] });
    expect(contacts.map((c) => [c["emailaddress1"], c["_parentcustomerid_value"]]).sort()).toEqual([
      ["lk-1@example.org", idOf.get("LK-1")],
      ["lk-2@example.org", idOf.get("LK/2")],
    ]);
  });

  it("a polymorphic customer (parentcustomerid) points at an account in one row and a contact in the next, the table given per row", async () => {
    const targets = await write(
      [
        { name: "pm_accounts", table: "account", key: { deterministic: { namespace: NS, fields: ["accountnumber"] } } },
        { name: "pm_contacts", table: "contact", key: { deterministic: { namespace: NS, fields: ["emailaddress1"] } } },
      ],
      [
        { name: "pm_accounts", mode: "append_dedup" },
        { name: "pm_contacts", mode: "append_dedup" },
      ],
      [record("pm_accounts", { accountnumber: "PM-A", name: "Poly Account" }), record("pm_contacts", { emailaddress1: "pm-parent@example.org", lastname: "Poly Parent" }), streamState("pm_accounts", 1)],
    );
    expect(targets.code).toBe(0);
    const children = await write(
      [contactsStream("pm_children", { fields: { parent: { column: "parentcustomerid", lookup: { table_field: "parent_type", by: "deterministic", namespace: NS } } } })],
      [{ name: "pm_children", mode: "append_dedup" }],
      [
        record("pm_children", { emailaddress1: "pm-1@example.org", lastname: "Child", parent: "PM-A", parent_type: "account" }),
        record("pm_children", { emailaddress1: "pm-2@example.org", lastname: "Child", parent: "pm-parent@example.org", parent_type: "contact" }),
        record("pm_children", { emailaddress1: "pm-3@example.org", lastname: "Child", parent: "PM-A", parent_type: "lead" }),
        streamState("pm_children", 2),
      ],
    );
    expect(children.code).toBe(0);
    expect(stateSummary(children.states)).toEqual([[2, { recordCount: 2, rejectedRecordCount: 1 }]]);
    expect(children.logs.some((l) => l.includes("/parent_type") && l.includes("lookup_target_invalid"))).toBe(true);
    const rows = await reader.rows("contacts", { filter: "startswith(emailaddress1,'pm-')", select: ["emailaddress1", "_parentcustomerid_value"] });
    const parentOf = new Map(rows.map((r) => [r["emailaddress1"], r["_parentcustomerid_value"]]));
    expect(parentOf.get("pm-1@example.org")).toBe(uuidv5(JSON.stringify(["PM-A"]), NS));
    expect(parentOf.get("pm-2@example.org")).toBe(uuidv5(JSON.stringify(["pm-parent@example.org"]), NS));
    expect(parentOf.has("pm-3@example.org")).toBe(false);
  });
});

describe("choices, types and nulls", () => {
  it("choices by label (any case) and by value; multi-select from an array and from a delimited string", async () => {
    const r = await write(
      [
        { name: "ch_accounts", table: "account", key: { columns: ["accountnumber"] } },
        { name: "ch_members", table: "new_membership", key: { columns: ["new_externalid"] }, fields: { channels: { column: "new_channels", delimiter: "|" } } },
      ],
      [
        { name: "ch_accounts", mode: "append_dedup" },
        { name: "ch_members", mode: "append_dedup" },
      ],
      [
        record("ch_accounts", { accountnumber: "CH-1", name: "By label", industrycode: "consulting", preferredcontactmethodcode: "E-mail" }),
        record("ch_accounts", { accountnumber: "CH-2", name: "By value", industrycode: 33, preferredcontactmethodcode: "2" }),
        record("ch_accounts", { accountnumber: "CH-3", name: "By label", industrycode: "Consulting", preferredcontactmethodcode: "email" }),
        record("ch_members", { new_externalid: "CH-M1", new_name: "array", channels: ["Email", "sms", "Email"] }),
        record("ch_members", { new_externalid: "CH-M2", new_name: "delimited", channels: "Phone| Post" }),
        streamState("ch_accounts", 1),
      ],
    );
    expect(r.code).toBe(0);
    // "E-mail" is not a label of the choice: that record is rejected at its field, the rest land.
    expect(stateSummary(r.states)).toEqual([[1, { recordCount: 2, rejectedRecordCount: 1 }]]);
    expect(r.logs.some((l) => l.includes("at /preferredcontactmethodcode"))).toBe(true);
    expect(summary(r, "ch_members")).toMatchObject({ read: 2, rejected: 0 });
    const accounts = await reader.rows("accounts", { filter: "startswith(accountnumber,'CH-')", select: ["accountnumber", "industrycode", "preferredcontactmethodcode"] });
    expect(accounts.map((a) => [a["accountnumber"], a["industrycode"], a["preferredcontactmethodcode"]]).sort()).toEqual([
      ["CH-2", 33, 2],
      ["CH-3", 7, 2],
    ]);
    const members = await reader.rows("new_memberships", { filter: "startswith(new_externalid,'CH-M')", select: ["new_externalid", "new_channels"] });
    const channels = new Map(members.map((m) => [m["new_externalid"], String(m["new_channels"]).split(",").map(Number).sort()]));
    expect(channels.get("CH-M1")).toEqual([100000000, 100000001]);
    expect(channels.get("CH-M2")).toEqual([100000002, 100000003]);
  });

  it("statecode/statuscode (update mode: statecode is not valid on create): a matching pair lands, a state alone gets its default status, a mismatched pair is rejected at the status field", async () => {
    const emails = ["ss-1@example.org", "ss-2@example.org", "ss-3@example.org"];
    const seed = await write([contactsStream("ss_seed")], [{ name: "ss_seed", mode: "append_dedup" }], emails.map((e) => record("ss_seed", { emailaddress1: e, lastname: "State" })));
    expect(seed.code).toBe(0);
    const r = await write(
      [contactsStream("ss_contacts")],
      [{ name: "ss_contacts", mode: "update" }],
      [
        record("ss_contacts", { emailaddress1: "ss-1@example.org", statecode: "inactive", statuscode: "Inactive" }),
        record("ss_contacts", { emailaddress1: "ss-2@example.org", statecode: 1 }),
        record("ss_contacts", { emailaddress1: "ss-3@example.org", statecode: 0, statuscode: 2 }),
        streamState("ss_contacts", 1),
      ],
    );
    expect(r.code).toBe(0);
    expect(stateSummary(r.states)).toEqual([[1, { recordCount: 2, rejectedRecordCount: 1 }]]);
    expect(r.logs.some((l) => l.includes("at /statuscode") && l.includes("status_state_mismatch"))).toBe(true);
    const rows = await reader.rows("contacts", { filter: "startswith(emailaddress1,'ss-')", select: ["emailaddress1", "statecode", "statuscode"] });
    expect(rows.map((x) => [x["emailaddress1"], x["statecode"], x["statuscode"]]).sort()).toEqual([
      ["ss-1@example.org", 1, 2],
      ["ss-2@example.org", 1, 2],
      ["ss-3@example.org", 0, 1],
    ]);
  });

  it("a DateOnly birthday keeps its day whatever the offset; booleans from yes/no", async () => {
    const r = await write(
      [contactsStream("dt_contacts")],
      [{ name: "dt_contacts", mode: "append_dedup" }],
      [
        record("dt_contacts", { emailaddress1: "dt-1@example.org", lastname: "West", birthdate: "1990-05-17T23:30:00-05:00", donotemail: "yes" }),
        record("dt_contacts", { emailaddress1: "dt-2@example.org", lastname: "East", birthdate: "1990-05-17T00:30:00+09:00", donotemail: "No" }),
        record("dt_contacts", { emailaddress1: "dt-3@example.org", lastname: "Plain", birthdate: "1990-05-17", donotemail: "maybe" }),
        streamState("dt_contacts", 1),
      ],
    );
    expect(r.code).toBe(0);
    expect(stateSummary(r.states)).toEqual([[1, { recordCount: 2, rejectedRecordCount: 1 }]]);
    expect(r.logs.some((l) => l.includes("/donotemail"))).toBe(true);
    const rows = await reader.rows("contacts", { filter: "startswith(emailaddress1,'dt-')", select: ["emailaddress1", "birthdate", "donotemail"] });
    expect(rows.map((x) => [x["emailaddress1"], x["birthdate"], x["donotemail"]]).sort()).toEqual([
      ["dt-1@example.org", "1990-05-17", true],
      ["dt-2@example.org", "1990-05-17", false],
    ]);
  });

  it("a string one character over its limit is rejected with its field path, or truncated and counted when configured", async () => {
    const long = "x".repeat(51); // contact.lastname: MaxLength 50
    const input = (p: string) => [record(`${p}_contacts`, { emailaddress1: `${p}-1@example.org`, lastname: long }), record(`${p}_contacts`, { emailaddress1: `${p}-2@example.org`, lastname: "Short" }), streamState(`${p}_contacts`, 1)];
    const rejected = await write([contactsStream("tl_contacts")], [{ name: "tl_contacts", mode: "append_dedup" }], input("tl"));
    expect(rejected.code).toBe(0);
    expect(stateSummary(rejected.states)).toEqual([[1, { recordCount: 1, rejectedRecordCount: 1 }]]);
    expect(rejected.logs.some((l) => l.includes("at /lastname") && l.includes("too_long"))).toBe(true);
    expect((await reader.rows("contacts", { filter: "startswith(emailaddress1,'tl-')", select: ["emailaddress1"] })).map((x) => x["emailaddress1"])).toEqual(["tl-2@example.org"]);

    const truncated = await write([contactsStream("tt_contacts", { truncate_strings: true })], [{ name: "tt_contacts", mode: "append_dedup" }], input("tt"));
    expect(truncated.code).toBe(0);
    expect(stateSummary(truncated.states)).toEqual([[1, { recordCount: 2 }]]);
    expect(summary(truncated, "tt_contacts")).toMatchObject({ truncated: 1, rejected: 0 });
    expect((await one("contacts", eq("emailaddress1", "tt-1@example.org"), ["lastname"]))["lastname"]).toBe("x".repeat(50));
  });

  it("nulls: ignore leaves the column as it is, write clears it (per stream and per field)", async () => {
    const seed = await write(
      [contactsStream("nl_seed")],
      [{ name: "nl_seed", mode: "append_dedup" }],
      ["nl-1", "nl-2"].map((p) => record("nl_seed", { emailaddress1: `${p}@example.org`, lastname: "Null", jobtitle: "Keeper", telephone1: "555" })),
    );
    expect(seed.code).toBe(0);
    const ignore = await write([contactsStream("nl_ignore", { nulls: "ignore" })], [{ name: "nl_ignore", mode: "append_dedup" }], [record("nl_ignore", { emailaddress1: "nl-1@example.org", jobtitle: null, telephone1: null })]);
    expect(ignore.code).toBe(0);
    const writeNulls = await write(
      [contactsStream("nl_write", { nulls: "write", fields: { phone: { column: "telephone1", nulls: "ignore" } } })],
      [{ name: "nl_write", mode: "append_dedup" }],
      [record("nl_write", { emailaddress1: "nl-2@example.org", jobtitle: null, phone: null })],
    );
    expect(writeNulls.code).toBe(0);
    const rows = await reader.rows("contacts", { filter: "startswith(emailaddress1,'nl-')", select: ["emailaddress1", "jobtitle", "telephone1"] });
    expect(rows.map((x) => [x["emailaddress1"], x["jobtitle"], x["telephone1"]]).sort()).toEqual([
      ["nl-1@example.org", "Keeper", "555"],
      ["nl-2@example.org", null, "555"],
    ]);
  });
});

describe("write modes and deletions", () => {
  it("create, upsert, update (a missing row is a rejected record, not a failure), delete, deactivate and CDC deletes", async () => {
    const acct = (n: string, extra: Json = {}) => ({ accountnumber: n, name: `Mode ${n}`, ...extra });
    const base = { table: "account", key: { columns: ["accountnumber"] } };
    const created = await write([{ name: "wm_create", ...base }], [{ name: "wm_create", mode: "append" }], ["WM-1", "WM-2", "WM-3", "WM-4", "WM-5"].map((n) => record("wm_create", acct(n))));
    expect(created.code).toBe(0);
    expect(summary(created, "wm_create")).toMatchObject({ created: 5 });

    const upsert = await write([{ name: "wm_upsert", ...base }], [{ name: "wm_upsert", mode: "append_dedup" }], [record("wm_upsert", acct("WM-1", { address1_city: "Upserted" })), record("wm_upsert", acct("WM-6"))]);
    expect(upsert.code).toBe(0);
    const up = summary(upsert, "wm_upsert");
    // UpsertMultiple does not say which rows it created, so the summary may count them as "upserted".
    expect((up["created"] ?? 0) + (up["updated"] ?? 0) + (up["upserted"] ?? 0)).toBe(2);
    expect(up["rejected"]).toBe(0);

    const update = await write(
      [{ name: "wm_update", ...base }],
      [{ name: "wm_update", mode: "update" }],
      [record("wm_update", acct("WM-2", { address1_city: "Updated" })), record("wm_update", acct("WM-404", { address1_city: "Nowhere" })), streamState("wm_update", 1)],
    );
    expect(update.code).toBe(0);
    expect(stateSummary(update.states)).toEqual([[1, { recordCount: 1, rejectedRecordCount: 1 }]]);

    const removed = await write(
      [
        { name: "wm_delete", ...base, delete_action: "delete" },
        { name: "wm_deactivate", ...base },
        { name: "wm_cdc", ...base, delete_action: "delete" },
      ],
      [
        { name: "wm_delete", mode: "soft_delete" },
        { name: "wm_deactivate", mode: "soft_delete" },
        { name: "wm_cdc", mode: "append_dedup" },
      ],
      [
        record("wm_delete", { accountnumber: "WM-3" }),
        record("wm_deactivate", { accountnumber: "WM-4" }),
        record("wm_cdc", acct("WM-5", { _ab_cdc_deleted_at: "2026-11-26T06:00:00Z" })),
        record("wm_cdc", acct("WM-6", { _ab_cdc_deleted_at: null, address1_city: "Kept" })),
      ],
    );
    expect(removed.code).toBe(0);
    expect(summary(removed, "wm_delete")).toMatchObject({ deleted: 1 });
    expect(summary(removed, "wm_deactivate")).toMatchObject({ deactivated: 1 });
    expect(summary(removed, "wm_cdc")).toMatchObject({ deleted: 1, rejected: 0 });

    const rows = await reader.rows("accounts", { filter: "startswith(accountnumber,'WM-')", select: ["accountnumber", "address1_city", "statecode"] });
    expect(rows.map((x) => [x["accountnumber"], x["address1_city"], x["statecode"]]).sort()).toEqual([
      ["WM-1", "Upserted", 0],
      ["WM-2", "Updated", 0],
      ["WM-4", null, 1],
      ["WM-6", "Kept", 0],
    ]);
  });
});

describe("data activation, discover, check", () => {
  it("a catalog stream with destination_object_name and primary_key writes without a config entry", async () => {
    const r = await write(
      [],
      [{ name: "da_people", mode: "append_dedup", pk: [["emailaddress1"]], object: "contact" }],
      [record("da_people", { emailaddress1: "da-m1@example.org", lastname: "Activated", preferredcontactmethodcode: "Phone" }), streamState("da_people", 1)],
    );
    expect(r.code).toBe(0);
    expect(stateSummary(r.states)).toEqual([[1, { recordCount: 1 }]]);
    expect(await one("contacts", eq("emailaddress1", "da-m1@example.org"), ["lastname", "preferredcontactmethodcode"])).toMatchObject({ lastname: "Activated", preferredcontactmethodcode: 3 });
  });

  it("discover prints one valid DESTINATION_CATALOG: Active keys only, choices as label enums", async () => {
    const r = await cli(["discover", "--config", "{file:config.json}"], {});
    expect(r.code).toBe(0);
    // runCli has validated every stdout line against airbyte_protocol.yaml's AirbyteMessage.
    const catalogs = r.messages.filter((m) => m["type"] === "DESTINATION_CATALOG");
    expect(catalogs).toHaveLength(1);
    const ops = (catalogs[0]?.["destination_catalog"] as { operations: Json[] }).operations;
    const op = (object: string, mode: string) => ops.find((o) => o["object_name"] === object && o["sync_mode"] === mode);
    const accountUpsert = op("account", "append_dedup");
    expect(accountUpsert).toBeDefined();
    expect(accountUpsert?.["matching_keys"]).toEqual([["accountnumber"]]); // new_account_email is Pending
    const props = (accountUpsert?.["json_schema"] as { properties: Record<string, Json> }).properties;
    expect(props["industrycode"]?.["enum"]).toEqual(expect.arrayContaining(["Consulting", "Wholesale"]));
    expect(op("contact", "update")?.["matching_keys"]).toEqual([["contactid"]]);
    // new_membership_contact_tier (new_contactid, new_tier) is composite: no single path expresses it.
    expect(op("new_membership", "append_dedup")?.["matching_keys"]).toEqual([["new_externalid"]]);
  });

  it("check reports each problem by stream and field, and passes a good mapping", async () => {
    const bad = await cli(["check", "--config", "{file:config.json}"], {
      streams: [
        contactsStream("ok_contacts"),
        { name: "bad_col", table: "contact", key: { columns: ["emailaddress1"] }, fields: { x: "new_nosuchcolumn" } },
        { name: "bad_key", table: "account", key: { alternate_key: "new_account_email" } },
        { name: "bad_lookup", table: "contact", key: { columns: ["emailaddress1"] }, fields: { acct: { column: "parentcustomerid", lookup: { table: "lead", by: "id" } } } },
      ],
    });
    expect(bad.code).toBe(0);
    const status = bad.messages.find((m) => m["type"] === "CONNECTION_STATUS")?.["connectionStatus"] as Json;
    expect(status["status"]).toBe("FAILED");
    const message = String(status["message"]);
    expect(message).toMatch(/stream "bad_col" field \/?x\b/);
    expect(message).toMatch(/stream "bad_key".*new_account_email.*Pending/);
    expect(message).toMatch(/stream "bad_lookup" field \/?acct\b.*lead/);
    expect(message).not.toMatch(/ok_contacts/);
    const good = await cli(["check", "--config", "{file:config.json}"], { streams: [contactsStream("ok_contacts")] });
    expect((good.messages.find((m) => m["type"] === "CONNECTION_STATUS")?.["connectionStatus"] as Json)["status"]).toBe("SUCCEEDED");
  });
});

describe("options: bypass business logic, impersonation", () => {
  const streams = [contactsStream("op_contacts")];
  const catalog = [{ name: "op_contacts", mode: "append_dedup" }];

  it("the main app holds the privileges: bypass lands the row; impersonation writes it as the impersonated user", async () => {
    const bypass = await write(streams, catalog, [record("op_contacts", { emailaddress1: "op-1@example.org", lastname: "Bypass" })], { bypass_business_logic: "CustomSync" });
    expect(bypass.code).toBe(0);
    expect(await one("contacts", eq("emailaddress1", "op-1@example.org"), ["lastname"])).toMatchObject({ lastname: "Bypass" });
    const imp = await write(streams, catalog, [record("op_contacts", { emailaddress1: "op-2@example.org", lastname: "Impersonated" })], {
      impersonate_caller_object_id: PLAIN_WRITER.objectId,
    });
    expect(imp.code).toBe(0);
    expect((await one("contacts", eq("emailaddress1", "op-2@example.org"), ["_ownerid_value"]))["_ownerid_value"]).toBe(PLAIN_WRITER.systemUserId);
  });

  const asPlain = { client_id: PLAIN_WRITER.clientId, client_secret: PLAIN_WRITER.secret };
  const withoutPrivilege = (email: string, option: Json) =>
    write(streams, catalog, [record("op_contacts", { emailaddress1: email, lastname: "No privilege" }), streamState("op_contacts", 1)], { ...asPlain, ...option });

  it("an application user without prvBypassCustomBusinessLogic / prvActOnBehalfOfAnotherUser: the sync fails with a config error, no state, nothing written", async () => {
    for (const [email, option] of [
      ["op-3@example.org", { bypass_business_logic: "CustomSync" }],
      ["op-4@example.org", { impersonate_caller_object_id: DEFAULT_IDS.mainApp.objectId }],
    ] as const) {
      const r = await withoutPrivilege(email, option);
      expect(r.code).not.toBe(0);
      expect(r.states).toEqual([]);
      expect(errorOf(r)).toMatchObject({ failure_type: "config_error", message: expect.stringMatching(/privilege/) });
      expect(await reader.rows("contacts", { filter: eq("emailaddress1", email) })).toEqual([]);
    }
    // Without the options the same user writes fine: the failures above are the options' privileges.
    const plain = await write(streams, catalog, [record("op_contacts", { emailaddress1: "op-5@example.org", lastname: "Plain" })], asPlain);
    expect(plain.code).toBe(0);
    expect(await reader.rows("contacts", { filter: eq("emailaddress1", "op-5@example.org") })).toHaveLength(1);
  });

  it("the error names the missing privilege and the option that needs it", async () => {
    const bypass = await withoutPrivilege("op-6@example.org", { bypass_business_logic: "CustomSync" });
    expect(String(errorOf(bypass)["message"])).toMatch(/lacks prvBypassCustomBusinessLogic, which the option bypass_business_logic needs/);
    const imp = await withoutPrivilege("op-7@example.org", { impersonate_caller_object_id: DEFAULT_IDS.mainApp.objectId });
    expect(String(errorOf(imp)["message"])).toMatch(/lacks prvActOnBehalfOfAnotherUser, which the option impersonate_caller_object_id needs/);
  });
});

describe("dry run", () => {
  it("prints per-stream counts and writes nothing", async () => {
    const streams = [{ name: "dr_accounts", table: "account", key: { columns: ["accountnumber"] } }];
    const catalog = [{ name: "dr_accounts", mode: "append_dedup" }];
    const seed = await write(streams, catalog, [record("dr_accounts", { accountnumber: "DR-1", name: "Dry one" }), record("dr_accounts", { accountnumber: "DR-2", name: "Dry two" })]);
    expect(seed.code).toBe(0);
    const before = await reader.rows("accounts", { filter: "startswith(accountnumber,'DR-')", select: ["accountnumber", "name"] });
    const dry = await write(
      streams,
      catalog,
      [
        record("dr_accounts", { accountnumber: "DR-1", name: "Dry one" }),
        record("dr_accounts", { accountnumber: "DR-2", name: "Dry changed" }),
        record("dr_accounts", { accountnumber: "DR-3", name: "Dry new" }),
        record("dr_accounts", { accountnumber: "DR-4", name: "x".repeat(161) }),
        streamState("dr_accounts", 1),
      ],
      {},
      ["--dry-run"],
    );
    expect(dry.code).toBe(0);
    const text = dry.logs.join("\n");
    expect(dry.logs).toContain("dry run: account (stream dr_accounts): would create 1, update 1, delete 0, leave unchanged 1");
    // The summary line counts the same rows the report does.
    expect(summary(dry, "dr_accounts")).toMatchObject({ read: 4, created: 1, updated: 1, unchanged: 1, rejected: 1 });
    expect(text).toMatch(/dry run: account sample update: name/);
    expect(text).toMatch(/dry run: stream "dr_accounts": 1 record\(s\) would be rejected/);
    // No state: a dry run must not let the platform checkpoint past records it did not write.
    expect(dry.states).toEqual([]);
    expect(await reader.rows("accounts", { filter: "startswith(accountnumber,'DR-')", select: ["accountnumber", "name"] })).toEqual(before);
  });
});

function streamStatus(stream: string, status: "STARTED" | "RUNNING" | "COMPLETE" | "INCOMPLETE"): string {
  return JSON.stringify({ type: "TRACE", trace: { type: "STREAM_STATUS", emitted_at: 1_764_000_000_000, stream_status: { stream_descriptor: { name: stream }, status } } });
}

// Leads are used by no other case here, so the owner scope sees only this suite's rows.
describe("mirror (owner scope)", () => {
  const mirrorStream = (mirror: Json): Json => ({ name: "mr_leads", table: "lead", key: { columns: ["emailaddress1"] }, mirror: { enabled: true, scope: "owner", action: "delete", ...mirror } });
  const lead = (n: number) => record("mr_leads", { emailaddress1: `mr-${n}@example.org`, lastname: `Mirror ${n}` });
  const leads = () => reader.rows("leads", { filter: "startswith(emailaddress1,'mr-')", select: ["emailaddress1", "_ownerid_value"] });
  const emails = async () => (await leads()).map((l) => l["emailaddress1"]).sort();
  const run = (input: string[], mirror: Json = { max_delete_share: 0.5 }) => write([mirrorStream(mirror)], [{ name: "mr_leads", mode: "overwrite" }], input);

  it("removes the connector's row missing from the source after COMPLETE, leaves another owner's row alone, and never acts without COMPLETE or over the cap", async () => {
    const foreign = await seeder.create("leads", { emailaddress1: "mr-foreign@example.org", lastname: "Not ours", "ownerid@odata.bind": `/systemusers(${DEFAULT_IDS.userId})` });
    const full = await run([lead(1), lead(2), lead(3), lead(4), streamStatus("mr_leads", "COMPLETE")]);
    expect(full.code).toBe(0);
    expect(await emails()).toEqual(["mr-1@example.org", "mr-2@example.org", "mr-3@example.org", "mr-4@example.org", "mr-foreign@example.org"]);

    // No COMPLETE status (the source stopped early): nothing is removed.
    const partial = await run([lead(1), lead(2), lead(3), streamStatus("mr_leads", "INCOMPLETE")]);
    expect(partial.code).toBe(0);
    expect(partial.logs).toContain('mirror: stream "mr_leads" did not report COMPLETE, so no rows were removed');
    expect(await emails()).toHaveLength(5);

    // Over the cap: 3 of 4 in-scope rows missing > 50 %: a config error, nothing removed.
    const capped = await run([lead(1), streamStatus("mr_leads", "COMPLETE")]);
    expect(capped.code).not.toBe(0);
    expect(errorOf(capped)).toMatchObject({ failure_type: "config_error", message: expect.stringMatching(/max_delete_share/) });
    expect(await emails()).toHaveLength(5);

    // A complete sync without mr-4: it goes; the foreign row (owned by another user) stays.
    const mirrored = await run([lead(1), lead(2), lead(3), streamStatus("mr_leads", "COMPLETE")]);
    expect(mirrored.code).toBe(0);
    expect(mirrored.logs).toContain('mirror: stream "mr_leads" → lead: deleted 1 of 4 rows in scope');
    expect(await emails()).toEqual(["mr-1@example.org", "mr-2@example.org", "mr-3@example.org", "mr-foreign@example.org"]);
    const rows = await leads();
    expect(rows.find((r) => r["emailaddress1"] === "mr-foreign@example.org")?.["_ownerid_value"]).toBe(DEFAULT_IDS.userId);
    expect(foreign).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("marker scope with a composite key (lookup + choice) deactivates only the marked row missing from the source", async () => {
    const person = await seeder.create("contacts", { emailaddress1: "mc-person@example.org", lastname: "Member" });
    const streams = [
      {
        name: "mc_members",
        table: "new_membership",
        key: { columns: ["new_contactid", "new_tier"] },
        fields: { person: "new_contactid", tier: "new_tier" },
        mirror: { enabled: true, scope: "marker", marker_column: "new_notes", marker_value: "mirror-composite", action: "deactivate", max_delete_share: 0.5 },
      },
    ];
    const catalog = [{ name: "mc_members", mode: "overwrite" }];
    const member = (tier: string) => record("mc_members", { person, tier, new_name: tier, new_notes: "mirror-composite" });
    const handMade = await seeder.create("new_memberships", { new_name: "unmarked", new_tier: 100000000, "new_ContactId@odata.bind": `/contacts(${person})`, new_notes: "hand made" });
    const first = await write(streams, catalog, [member("Bronze"), member("Silver"), member("Gold"), streamStatus("mc_members", "COMPLETE")]);
    expect(first.code).toBe(0);
    // The hand-made Bronze row has the key of a synced record: the upsert takes it over (and marks it).
    const second = await write(streams, catalog, [member("bronze"), member("GOLD"), streamStatus("mc_members", "COMPLETE")]);
    expect(second.code).toBe(0);
    expect(second.logs).toContain('mirror: stream "mc_members" → new_membership: deactivated 1 of 3 rows in scope');
    const rows = await reader.rows("new_memberships", { filter: `_new_contactid_value eq ${person}`, select: ["new_membershipid", "new_tier", "statecode"] });
    expect(rows.map((r) => [r["new_tier"], r["statecode"]]).sort()).toEqual([
      [100000000, 0],
      [100000001, 1],
      [100000002, 0],
    ]);
    expect(rows.find((r) => r["new_tier"] === 100000000)?.["new_membershipid"]).toBe(handMade);
    // A rerun deactivates nothing more: already inactive rows are not removed again.
    const third = await write(streams, catalog, [member("Bronze"), member("Gold"), streamStatus("mc_members", "COMPLETE")]);
    expect(third.logs).toContain('mirror: stream "mc_members" → new_membership: deactivated 0 of 3 rows in scope');
  });
});
