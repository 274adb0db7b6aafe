// Issue 14, data integrity items 1 and 2, through the built CLI against the emulator over HTTPS:
// keys that look alike but that Dataverse tells apart (a tab is part of a key value, a trailing
// space is not), keys that Dataverse takes as one (case, accents under the environment's
// collation), and integers beyond 2^53 that JSON.parse would round into one another.
import { readFileSync } from "node:fs";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uuidv5 } from "../src/mapping/uuid.js";
import { startTestEmulator } from "./reliability/emulator.js";
import type { TestEmulator } from "./reliability/emulator.js";
import { WebApiReader } from "./reliability/webapi.js";
import { configuredCatalog, record, runCli, stateSummary, streamState } from "./helpers/cli.js";
import type { CliRun, Json } from "./helpers/cli.js";
import { MAPPING_SECRETS, mappingEnvironment, WebApiSeeder } from "./helpers/mapping-env.js";

const NS = "3b0c9a4e-2f1d-4c6b-8e7a-5d4c3b2a1f0e";

interface Env {
  emu: TestEmulator;
  reader: WebApiReader;
  seeder: WebApiSeeder;
  secrets: string[];
}

async function startEnv(baseLanguage?: number): Promise<Env> {
  const base = mappingEnvironment();
  // A BigInt column on account (Dataverse's Edm.Int64), for the numbers beyond 2^53.
  const env = {
    ...base,
    tables: base.tables.map((t) => (t.logicalName === "account" ? { ...t, columns: [...t.columns, { logicalName: "new_bigcount", type: "BigInt" as const }] } : t)),
  };
  const emu = await startTestEmulator({ environment: baseLanguage === undefined ? env : { ...env, baseLanguage } });
  const reader = new WebApiReader(emu.connection);
  const seeder = new WebApiSeeder(emu.connection, () => reader.accessToken());
  return { emu, reader, seeder, secrets: [...MAPPING_SECRETS, await reader.accessToken()] };
}

async function stopEnv(e: Env | undefined): Promise<void> {
  await e?.seeder.close();
  await e?.reader.close();
  await e?.emu.close();
}

type CatalogStream = { name: string; mode: string; pk?: string[][]; object?: string };

function write(e: Env, streams: Json[], catalog: CatalogStream[], input: string[]): Promise<CliRun> {
  return runCli({
    args: ["write", "--config", "{file:config.json}", "--catalog", "{file:catalog.json}"],
    files: { "config.json": { ...e.emu.connection, flush_interval_seconds: 5, streams }, "catalog.json": configuredCatalog(catalog) },
    input,
    secrets: e.secrets,
  });
}

/** The end-of-run summary line of a stream, as numbers. */
function summary(r: CliRun, stream: string): Record<string, number> {
  const line = r.logs.find((l) => /^summary: stream "/.test(l) && l.includes(`stream "${stream}"`));
  expect(line, `summary line of ${stream}`).toBeDefined();
  const out: Record<string, number> = {};
  for (const m of (line ?? "").matchAll(/(read|created|updated|upserted|unchanged|deleted|deactivated|rejected) (\d+)/g)) out[m[1] as string] = Number(m[2]);
  return out;
}

/** A Web API GET's answer as text (its numbers unparsed). */
async function rawGet(e: Env, path: string): Promise<string> {
  const agent = new Agent({ connect: { ca: readFileSync(e.emu.connection.ca_file, "utf8") } });
  try {
    const res = await request(new URL(path, e.emu.connection.web_api_endpoint), {
      dispatcher: agent,
      headers: { authorization: `Bearer ${await e.reader.accessToken()}`, accept: "application/json", "odata-version": "4.0", "odata-maxversion": "4.0" },
    });
    const text = await res.body.text();
    expect(res.statusCode, text).toBe(200);
    return text;
  } finally {
    await agent.close();
  }
}

/** A RECORD line whose data holds raw JSON number literals (JSON.stringify could not write them). */
function rawRecord(stream: string, data: Json, literals: Readonly<Record<string, string>>): string {
  let line = record(stream, data);
  for (const [placeholder, literal] of Object.entries(literals)) line = line.replace(JSON.stringify(placeholder), literal);
  return line;
}

const accounts = (name: string): Json => ({ name, table: "account", key: { columns: ["accountnumber"] } });
const contacts = (name: string, extra: Json = {}): Json => ({ name, table: "contact", key: { columns: ["emailaddress1"] }, ...extra });

describe("key identity in an English (1033, _CI_AI) environment", () => {
  let e: Env;
  beforeAll(async () => {
    e = await startEnv();
  });
  afterAll(async () => {
    await stopEnv(e);
  });

  it("rows cat/1 and cat/1<TAB> each get their own record's values when both arrive in one batch", async () => {
    await e.seeder.create("accounts", { accountnumber: "cat/1", name: "seeded plain" });
    await e.seeder.create("accounts", { accountnumber: "cat/1\t", name: "seeded tab" });
    const r = await write(
      e,
      [accounts("ki_cats")],
      [{ name: "ki_cats", mode: "append_dedup" }],
      [record("ki_cats", { accountnumber: "cat/1", name: "plain" }), record("ki_cats", { accountnumber: "cat/1\t", name: "tab" }), streamState("ki_cats", 1)],
    );
    expect(r.code).toBe(0);
    expect(stateSummary(r.states)).toEqual([[1, { recordCount: 2 }]]);
    const rows = await e.reader.rows("accounts", { filter: "startswith(accountnumber,'cat/1')", select: ["accountnumber", "name"] });
    expect(rows.map((x) => [x["accountnumber"], x["name"]]).sort()).toEqual(
      [
        ["cat/1", "plain"],
        ["cat/1\t", "tab"],
      ].sort(),
    );
  });

  it("deletes of ann+crm@corp.example and ANN+CRM@corp.example<TAB>: the row that exists is deleted, the other is absent", async () => {
    await e.seeder.create("contacts", { emailaddress1: "ann+crm@corp.example", lastname: "Ann" });
    const r = await write(
      e,
      [contacts("ki_ann", { delete_action: "delete" })],
      [{ name: "ki_ann", mode: "soft_delete" }],
      [record("ki_ann", { emailaddress1: "ann+crm@corp.example" }), record("ki_ann", { emailaddress1: "ANN+CRM@corp.example\t" }), streamState("ki_ann", 1)],
    );
    expect(r.code).toBe(0);
    expect(summary(r, "ki_ann")).toMatchObject({ deleted: 1, rejected: 0 });
    expect(await e.reader.rows("contacts", { filter: "startswith(emailaddress1,'ann+crm@')", select: ["emailaddress1"] })).toEqual([]);
  });

  it("deletes of two rows that differ by a tab delete both", async () => {
    await e.seeder.create("contacts", { emailaddress1: "bob+crm@corp.example", lastname: "Bob" });
    await e.seeder.create("contacts", { emailaddress1: "BOB+CRM@corp.example\t", lastname: "Bob tab" });
    const r = await write(
      e,
      [contacts("ki_bob", { delete_action: "delete" })],
      [{ name: "ki_bob", mode: "soft_delete" }],
      [record("ki_bob", { emailaddress1: "bob+crm@corp.example" }), record("ki_bob", { emailaddress1: "BOB+CRM@corp.example\t" }), streamState("ki_bob", 1)],
    );
    expect(r.code).toBe(0);
    expect(summary(r, "ki_bob")).toMatchObject({ deleted: 2, rejected: 0 });
    expect(await e.reader.rows("contacts", { filter: "startswith(emailaddress1,'bob+crm@')", select: ["emailaddress1"] })).toEqual([]);
  });

  it('lookups ACC/2 and "ACC/2 " (a trailing space, which SQL equality ignores) both bind the row ACC/2', async () => {
    const accountId = await e.seeder.create("accounts", { accountnumber: "ACC/2", name: "account two" });
    const r = await write(
      e,
      [contacts("ki_lk", { fields: { acct: { column: "parentcustomerid", lookup: { table: "account", by: "alternate_key", key_columns: ["accountnumber"] } } } })],
      [{ name: "ki_lk", mode: "append_dedup" }],
      [
        record("ki_lk", { emailaddress1: "ki-lk-1@example.org", lastname: "Linked", acct: "ACC/2" }),
        record("ki_lk", { emailaddress1: "ki-lk-2@example.org", lastname: "Linked", acct: "ACC/2 " }),
        streamState("ki_lk", 1),
      ],
    );
    expect(r.code).toBe(0);
    expect(stateSummary(r.states)).toEqual([[1, { recordCount: 2 }]]);
    const rows = await e.reader.rows("contacts", { filter: "startswith(emailaddress1,'ki-lk-')", select: ["emailaddress1", "_parentcustomerid_value"] });
    expect(rows.map((x) => [x["emailaddress1"], x["_parentcustomerid_value"]]).sort()).toEqual([
      ["ki-lk-1@example.org", accountId],
      ["ki-lk-2@example.org", accountId],
    ]);
  });

  it("records for Ord/1, ORD/1 and ord/1<SPACE> in one batch are one row, written in order: the last record's values win", async () => {
    const r = await write(
      e,
      [accounts("ki_ord")],
      [{ name: "ki_ord", mode: "append_dedup" }],
      [
        record("ki_ord", { accountnumber: "Ord/1", name: "first" }),
        record("ki_ord", { accountnumber: "ORD/1", name: "second" }),
        record("ki_ord", { accountnumber: "ord/1 ", name: "third" }),
        streamState("ki_ord", 1),
      ],
    );
    expect(r.code).toBe(0);
    expect(stateSummary(r.states)).toEqual([[1, { recordCount: 3 }]]);
    const rows = await e.reader.rows("accounts", { filter: "startswith(accountnumber,'ord/1')", select: ["name"] });
    expect(rows.map((x) => x["name"])).toEqual(["third"]);
  });

  it("café/1 and CAFE/1 are one key value (accent- and case-insensitive): the record updates the seeded row", async () => {
    const id = await e.seeder.create("accounts", { accountnumber: "café/1", name: "seeded" });
    const r = await write(e, [accounts("ki_cafe")], [{ name: "ki_cafe", mode: "append_dedup" }], [record("ki_cafe", { accountnumber: "CAFE/1", name: "updated" }), streamState("ki_cafe", 1)]);
    expect(r.code).toBe(0);
    expect(summary(r, "ki_cafe")).toMatchObject({ rejected: 0 });
    const rows = await e.reader.rows("accounts", { filter: "startswith(accountnumber,'caf')", select: ["accountid", "name"] });
    expect(rows.map((x) => [x["accountid"], x["name"]])).toEqual([[id, "updated"]]);
  });
});

describe("key identity in a Finnish/Swedish (1035, _CI_AS) environment", () => {
  let e: Env;
  beforeAll(async () => {
    e = await startEnv(1035);
  });
  afterAll(async () => {
    await stopEnv(e);
  });

  it("the organization's languagecode is the environment's base language, which the connector reads to choose the collation", async () => {
    expect(await e.reader.rows("organizations", { select: ["languagecode"] })).toEqual([expect.objectContaining({ languagecode: 1035 })]);
  });

  it("café/2 and cafe/2 are two rows, each with its own record's values", async () => {
    const r = await write(
      e,
      [accounts("ki_as")],
      [{ name: "ki_as", mode: "append_dedup" }],
      [record("ki_as", { accountnumber: "café/2", name: "accented" }), record("ki_as", { accountnumber: "CAFE/2", name: "plain" }), streamState("ki_as", 1)],
    );
    expect(r.code).toBe(0);
    expect(stateSummary(r.states)).toEqual([[1, { recordCount: 2 }]]);
    const rows = await e.reader.rows("accounts", { filter: "startswith(accountnumber,'caf')", select: ["accountnumber", "name"] });
    expect(rows.map((x) => [x["accountnumber"], x["name"]]).sort()).toEqual([
      ["CAFE/2", "plain"],
      ["café/2", "accented"],
    ]);
  });
});

describe("integers beyond 2^53", () => {
  let e: Env;
  beforeAll(async () => {
    e = await startEnv();
  });
  afterAll(async () => {
    await stopEnv(e);
  });

  it("accountnumber 12345678901234567890 and 12345678901234567891 (JSON numbers) are two rows with their exact digits", async () => {
    const r = await write(
      e,
      [accounts("ki_big")],
      [{ name: "ki_big", mode: "append_dedup" }],
      [
        rawRecord("ki_big", { accountnumber: "@A", name: "ninety" }, { "@A": "12345678901234567890" }),
        rawRecord("ki_big", { accountnumber: "@A", name: "ninety-one" }, { "@A": "12345678901234567891" }),
        streamState("ki_big", 1),
      ],
    );
    expect(r.code).toBe(0);
    expect(stateSummary(r.states)).toEqual([[1, { recordCount: 2 }]]);
    const rows = await e.reader.rows("accounts", { filter: "startswith(accountnumber,'1234567890123456')", select: ["accountnumber", "name"] });
    expect(rows.map((x) => [x["accountnumber"], x["name"]]).sort()).toEqual([
      ["12345678901234567890", "ninety"],
      ["12345678901234567891", "ninety-one"],
    ]);
  });

  it("a BigInt column takes 2^53+1 and 2^63-1 digit for digit, and refuses 2^63 (out_of_range) rather than write a nearby value", async () => {
    const r = await write(
      e,
      [accounts("ki_bigint")],
      [{ name: "ki_bigint", mode: "append_dedup" }],
      [
        rawRecord("ki_bigint", { accountnumber: "BI-1", new_bigcount: "@A" }, { "@A": "9007199254740993" }),
        rawRecord("ki_bigint", { accountnumber: "BI-2", new_bigcount: "@A" }, { "@A": "9223372036854775807" }),
        rawRecord("ki_bigint", { accountnumber: "BI-3", new_bigcount: "@A" }, { "@A": "9223372036854775808" }),
        rawRecord("ki_bigint", { accountnumber: "BI-4", new_bigcount: "@A" }, { "@A": "-9223372036854775808" }),
        streamState("ki_bigint", 1),
      ],
    );
    expect(r.code).toBe(0);
    expect(stateSummary(r.states)).toEqual([[1, { recordCount: 3, rejectedRecordCount: 1 }]]);
    // JSON.parse would round the answer's numbers, so its text is read.
    const text = await rawGet(e, "accounts?$select=accountnumber,new_bigcount&$filter=startswith(accountnumber,'BI-')&$orderby=accountnumber");
    const pairs = [...text.matchAll(/"accountnumber":"(BI-\d)"[^}]*?"new_bigcount":(-?\d+)|"new_bigcount":(-?\d+)[^}]*?"accountnumber":"(BI-\d)"/g)].map((m) => [m[1] ?? m[4], m[2] ?? m[3]]);
    expect(pairs).toEqual([
      ["BI-1", "9007199254740993"],
      ["BI-2", "9223372036854775807"],
      ["BI-4", "-9223372036854775808"],
    ]);
  });

  it("deterministic GUIDs of 12345678901234567890 and 12345678901234567891 are two rows, named by the exact digits", async () => {
    const r = await write(
      e,
      [{ name: "ki_det", table: "contact", key: { deterministic: { namespace: NS, fields: ["ext"] } }, fields: { ext: "description" } }],
      [{ name: "ki_det", mode: "append_dedup" }],
      [
        rawRecord("ki_det", { ext: "@A", lastname: "Big", emailaddress1: "ki-det-0@example.org" }, { "@A": "12345678901234567890" }),
        rawRecord("ki_det", { ext: "@A", lastname: "Big", emailaddress1: "ki-det-1@example.org" }, { "@A": "12345678901234567891" }),
        streamState("ki_det", 1),
      ],
    );
    expect(r.code).toBe(0);
    const rows = await e.reader.rows("contacts", { filter: "startswith(emailaddress1,'ki-det-')", select: ["contactid", "emailaddress1", "description"] });
    expect(rows.map((x) => [x["contactid"], x["emailaddress1"], x["description"]]).sort((a, b) => String(a[1]).localeCompare(String(b[1])))).toEqual([
      [uuidv5(JSON.stringify(["12345678901234567890"]), NS), "ki-det-0@example.org", "12345678901234567890"],
      [uuidv5(JSON.stringify(["12345678901234567891"]), NS), "ki-det-1@example.org", "12345678901234567891"],
    ]);
  });
});
