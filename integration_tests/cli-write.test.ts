// The edge-case stream corpus (style.md) and the bad inputs of issue 3, through the built CLI
// against the emulator over real HTTPS; rows are checked through the Web API.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator } from "./reliability/emulator.js";
import type { TestEmulator } from "./reliability/emulator.js";
import { WebApiReader } from "./reliability/webapi.js";
import { configuredCatalog, globalState, record, runCli, stateSummary, streamState } from "./helpers/cli.js";
import type { Json } from "./helpers/cli.js";

let emu: TestEmulator;
let reader: WebApiReader;
let config: Json;
let secrets: string[];

beforeAll(async () => {
  emu = await startTestEmulator();
  reader = new WebApiReader(emu.connection);
  config = {
    ...emu.connection,
    streams: [
      { name: "accounts", table: "account", key: { columns: ["accountnumber"] } },
      {
        name: "contacts",
        table: "contact",
        key: { columns: ["emailaddress1"] },
        fields: { acct: { column: "parentcustomerid", lookup: { table: "account", by: "alternate_key", key_columns: ["accountnumber"] } } },
      },
    ],
    flush_interval_seconds: 5,
  };
  secrets = [emu.connection.client_secret, await reader.accessToken()];
});

afterAll(async () => {
  await reader?.close();
  await emu?.close();
});

const catalog = configuredCatalog([
  { name: "accounts", mode: "append_dedup" },
  { name: "contacts", mode: "append_dedup" },
]);

function write(input: string[], extra: { config?: Json; catalog?: Json } = {}) {
  return runCli({
    args: ["write", "--config", "{file:config.json}", "--catalog", "{file:catalog.json}"],
    files: { "config.json": { ...config, ...(extra.config ?? {}) }, "catalog.json": extra.catalog ?? catalog },
    input,
    secrets,
  });
}

const contactsLike = (prefix: string) => reader.rows("contacts", { filter: `startswith(emailaddress1,'${prefix}')`, select: ["emailaddress1", "firstname", "lastname", "_parentcustomerid_value"] });

describe("write: the edge-case stream corpus", () => {
  it("empty input: exit 0, no state", async () => {
    const r = await write([]);
    expect(r.code).toBe(0);
    expect(r.states).toEqual([]);
  });

  it("states only: every state echoed in order with its id and a zero count", async () => {
    const r = await write([streamState("contacts", 1), streamState("accounts", 2), globalState(["contacts", "accounts"], 3)]);
    expect(r.code).toBe(0);
    expect(stateSummary(r.states)).toEqual([
      [1, { recordCount: 0 }],
      [2, { recordCount: 0 }],
      [3, { recordCount: 0 }],
    ]);
    expect(r.states[0]).toMatchObject({ sourceStats: { recordCount: 0 }, stream: { stream_state: { cursor: 1 } } });
  });

  it("keys beside `state` on a STATE message (an id put on the envelope) are echoed too", async () => {
    const onEnvelope = JSON.stringify({ type: "STATE", id: 41, state: { type: "STREAM", stream: { stream_descriptor: { name: "contacts" }, stream_state: { cursor: 41 } }, id: 41 } });
    const r = await write([onEnvelope]);
    expect(r.code).toBe(0);
    expect(r.messages.filter((m) => m["type"] === "STATE")).toEqual([
      { type: "STATE", id: 41, state: { type: "STREAM", stream: { stream_descriptor: { name: "contacts" }, stream_state: { cursor: 41 } }, id: 41, destinationStats: { recordCount: 0 } } },
    ]);
  });

  it("states interleaved across two streams: per-stream counts, input order, contacts linked to their accounts", async () => {
    const r = await write([
      record("accounts", { accountnumber: "IL-A1", name: "Interleaved One" }),
      record("contacts", { emailaddress1: "il-1@example.org", lastname: "One", acct: "IL-A1" }),
      streamState("accounts", 10),
      record("contacts", { emailaddress1: "il-2@example.org", lastname: "Two", acct: "IL-A2" }),
      record("accounts", { accountnumber: "IL-A2", name: "Interleaved Two" }),
      streamState("contacts", 11),
      record("accounts", { accountnumber: "IL-A3", name: "Interleaved Three" }),
      streamState("accounts", 12),
    ]);
    expect(r.code).toBe(0);
    expect(stateSummary(r.states)).toEqual([
      [10, { recordCount: 1 }],
      [11, { recordCount: 2 }],
      [12, { recordCount: 2 }],
    ]);
    const accounts = await reader.rows("accounts", { filter: "startswith(accountnumber,'IL-')", select: ["accountid", "accountnumber"] });
    expect(accounts).toHaveLength(3);
    const idOf = new Map(accounts.map((a) => [a["accountnumber"], a["accountid"]]));
    const contacts = await contactsLike("il-");
    expect(contacts.map((c) => [c["emailaddress1"], c["_parentcustomerid_value"]]).sort()).toEqual([
      ["il-1@example.org", idOf.get("IL-A1")],
      ["il-2@example.org", idOf.get("IL-A2")],
    ]);
  });

  it("records after the last state are written, and no state is invented for them", async () => {
    const r = await write([record("contacts", { emailaddress1: "after-1@example.org", lastname: "A" }), streamState("contacts", 20), record("contacts", { emailaddress1: "after-2@example.org", lastname: "B" })]);
    expect(r.code).toBe(0);
    expect(stateSummary(r.states)).toEqual([[20, { recordCount: 1 }]]);
    expect(await contactsLike("after-")).toHaveLength(2);
  });

  it("a record missing its key is rejected and counted, the rest committed", async () => {
    const r = await write([record("contacts", { lastname: "No Key" }), record("contacts", { emailaddress1: "mk-1@example.org", lastname: "Keyed" }), streamState("contacts", 30)]);
    expect(r.code).toBe(0);
    expect(stateSummary(r.states)).toEqual([[30, { recordCount: 1, rejectedRecordCount: 1 }]]);
    expect(r.logs.some((l) => l.includes("line 1") && l.includes("rejected"))).toBe(true);
  });

  it("unicode and URL-significant characters in values and keys land intact", async () => {
    const names = ["Zoë 🚀", "山田太郎", "O'Brien/#%&?+"];
    const r = await write([...names.map((n, i) => record("contacts", { emailaddress1: `uni-${i}-ü'x@example.org`, lastname: n })), streamState("contacts", 40)]);
    expect(r.code).toBe(0);
    expect(stateSummary(r.states)).toEqual([[40, { recordCount: 3 }]]);
    const rows = await contactsLike("uni-");
    expect(rows.map((row) => row["lastname"]).sort()).toEqual([...names].sort());
    expect(rows.map((row) => row["emailaddress1"]).sort()).toEqual(names.map((_, i) => `uni-${i}-ü'x@example.org`).sort());
  });

  it("10,000 records with states every 1,000: every state counted, every row verified through the Web API; a rerun leaves the same rows", async () => {
    const input: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      input.push(record("contacts", { emailaddress1: `bulk-${i}@example.org`, lastname: `Bulk ${i}`, firstname: "B" }));
      if ((i + 1) % 1000 === 0) input.push(streamState("contacts", 100 + i));
    }
    const first = await write(input);
    expect(first.code).toBe(0);
    expect(first.states).toHaveLength(10);
    expect(first.states.every((s) => (s["destinationStats"] as Json)["recordCount"] === 1000)).toBe(true);
    const rows = await contactsLike("bulk-");
    expect(rows).toHaveLength(10_000);
    const byEmail = new Map(rows.map((row) => [row["emailaddress1"], row["lastname"]]));
    for (const i of [0, 1, 4999, 9999]) expect(byEmail.get(`bulk-${i}@example.org`)).toBe(`Bulk ${i}`);

    const second = await write(input);
    expect(second.code).toBe(0);
    expect(stateSummary(second.states)).toEqual(stateSummary(first.states));
    const again = await contactsLike("bulk-");
    expect(again).toHaveLength(10_000);
  });
});

describe("write: progress and run summary", () => {
  it("a resync of rows already as sent writes nothing: the summary and destinationStats count them unchanged", async () => {
    const input = [
      record("accounts", { accountnumber: "SAME-1", name: "Same one" }),
      record("accounts", { accountnumber: "SAME-2", name: "Same two" }),
      streamState("accounts", 60),
    ];
    expect((await write(input)).code).toBe(0);
    const writesBefore = emu.emulator.stats().records;
    const r = await write([...input.slice(0, 1), record("accounts", { accountnumber: "SAME-2", name: "Same two, renamed" }), ...input.slice(2)]);
    expect(r.code).toBe(0);
    const summary = r.logs.find((l) => l.startsWith('summary: stream "accounts"')) ?? "";
    expect(summary).toMatch(/created 0, updated 1, upserted 0, unchanged 1,/);
    const writesAfter = emu.emulator.stats().records;
    // One row written (the renamed one, by UpdateMultiple), the other not sent at all.
    expect(writesAfter.bulk + writesAfter.batch + writesAfter.single - (writesBefore.bulk + writesBefore.batch + writesBefore.single)).toBe(1);
    const stats = r.messages.filter((m) => m.type === "STATE").map((m) => (m.state as { destinationStats?: { recordCount?: number } }).destinationStats?.recordCount);
    expect(stats).toEqual([2]);
  });

  it("ends with one summary LOG per stream: counts, its table's requests and 429s, wall time; a global line first", async () => {
    emu.emulator.faults.add({ fault: "throttle", path: "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", count: 1, retryAfterSeconds: 1 });
    const r = await write([
      record("accounts", { accountnumber: "SUM-1", name: "Summary one" }),
      record("accounts", { accountnumber: "SUM-2", name: "Summary two" }),
      record("contacts", { emailaddress1: "sum-1@example.org", lastname: "Summary", acct: "SUM-1" }),
      record("contacts", { lastname: "No key" }),
      streamState("contacts", 50),
    // The UpsertMultiple path this test throttles: every row as sent, no read first.
    ], { config: { write_only_changes: false } });
    expect(r.code).toBe(0);
    const global = r.logs.find((l) => l.startsWith("summary: 4 records read"));
    expect(global).toMatch(/^summary: 4 records read, 3 written, 1 rejected in [\d.]+ s; \d+ requests, 1 throttled \(429\), [\d.]+ s paused by throttling$/);
    const line = (stream: string) => r.logs.find((l) => l.startsWith(`summary: stream "${stream}"`)) ?? "";
    expect(line("accounts")).toMatch(/^summary: stream "accounts" → account: read 2, created 0, updated 0, upserted 2, unchanged 0, deleted 0, deactivated 0, rejected 0, truncated 0, retried 1, requests 2, 429s 1, [\d.]+ s$/);
    expect(line("contacts")).toMatch(/^summary: stream "contacts" → contact: read 2, .*upserted 1, .*rejected 1 \(missing_key ×1\), .*requests 1, 429s 0, [\d.]+ s$/);
    // Not on a terminal: no status line or table reaches stderr.
    expect(r.stderr).not.toMatch(/\x1b\[K|Sync summary/);
  });
});

describe("write: bad input ends in a TRACE error naming the line, and no state past the durable point", () => {
  function traceError(r: { traces: Json[] }): Json {
    const errors = r.traces.filter((t) => t["type"] === "ERROR");
    expect(errors).toHaveLength(1);
    return errors[0]?.["error"] as Json;
  }

  it("a malformed JSON line", async () => {
    const r = await write([record("contacts", { emailaddress1: "bad-1@example.org", lastname: "Ok" }), streamState("contacts", 50), '{"type":"RECORD", oops', streamState("contacts", 51)]);
    expect(r.code).not.toBe(0);
    // The input comes from the platform and the source, not from the user's settings.
    expect(traceError(r)).toMatchObject({ failure_type: "system_error", message: expect.stringContaining("line 3") });
    expect(stateSummary(r.states)).toEqual([[50, { recordCount: 1 }]]);
  });

  it("an unknown message type", async () => {
    const r = await write([JSON.stringify({ type: "SURPRISE" })]);
    expect(r.code).not.toBe(0);
    expect(traceError(r)["message"]).toContain("line 1");
  });

  it("a record for a stream not in the catalog", async () => {
    const r = await write([streamState("contacts", 60), record("nope", { a: 1 })]);
    expect(r.code).not.toBe(0);
    expect(traceError(r)).toMatchObject({ message: expect.stringMatching(/line 2.*nope|nope.*line 2/), stream_descriptor: { name: "nope" } });
    expect(stateSummary(r.states)).toEqual([[60, { recordCount: 0 }]]);
  });

  it("a record for a stream not in the catalog: the TRACE's stream_descriptor keeps its namespace", async () => {
    const r = await write([record("nope", { a: 1 }, "elsewhere")]);
    expect(r.code).not.toBe(0);
    expect(traceError(r)).toMatchObject({ stream_descriptor: { name: "nope", namespace: "elsewhere" } });
  });

  it("non-object data, naming the line and never the value", async () => {
    const r = await write([JSON.stringify({ type: "RECORD", record: { stream: "contacts", data: "private-value-123", emitted_at: 1 } })]);
    expect(r.code).not.toBe(0);
    const e = traceError(r);
    expect(e["message"]).toContain("line 1");
    expect(r.stdout.join("\n")).not.toContain("private-value-123");
  });

  it("a config that fails the schema reports every violation with its path", async () => {
    const r = await write([], { config: { web_api_endpoint: "http://example.org/", batch_size: 0, tenant_id: undefined } });
    expect(r.code).not.toBe(0);
    const message = String(traceError(r)["message"]);
    for (const path of ["/web_api_endpoint", "/batch_size"]) expect(message).toContain(path);
  });

  it("a mapping to a column or table that does not exist fails before the first record", async () => {
    const bad = await write([record("contacts", { emailaddress1: "never@example.org" })], {
      config: { streams: [{ name: "contacts", table: "contact", key: { columns: ["emailaddress1"] }, fields: { x: "new_nosuchcolumn" } }] },
      catalog: configuredCatalog([{ name: "contacts", mode: "append_dedup" }]),
    });
    expect(bad.code).not.toBe(0);
    expect(traceError(bad)).toMatchObject({ failure_type: "config_error", message: expect.stringMatching(/contacts.*x/) });
    const noTable = await write([], { config: { streams: [] }, catalog: configuredCatalog([{ name: "things", mode: "append", object: "new_nosuchtable" }]) });
    expect(noTable.code).not.toBe(0);
    expect(traceError(noTable)["message"]).toContain("new_nosuchtable");
    expect(await contactsLike("never@")).toEqual([]);
  });

  it("a stream with neither a config entry nor a destination object fails at start", async () => {
    const r = await write([], { catalog: configuredCatalog([{ name: "orphan", mode: "append" }]) });
    expect(r.code).not.toBe(0);
    expect(traceError(r)["message"]).toContain("orphan");
  });
});

describe("write: data activation (destination_object_name + primary_key)", () => {
  it("upserts by the primary_key columns into the named table", async () => {
    const r = await write(
      [record("people", { emailaddress1: "da-1@example.org", lastname: "Activated" }), streamState("people", 70)],
      { config: { streams: [] }, catalog: configuredCatalog([{ name: "people", mode: "append_dedup", pk: [["emailaddress1"]], object: "contact" }]) },
    );
    expect(r.code).toBe(0);
    expect(stateSummary(r.states)).toEqual([[70, { recordCount: 1 }]]);
    expect((await contactsLike("da-1@")).map((c) => c["lastname"])).toEqual(["Activated"]);
  });
});

describe("write: a GLOBAL state with shared_state only", () => {
  it("is echoed with its counts, not refused, as the exchange_rate fixture of Airbyte's acceptance tests sends it (no stream_states)", async () => {
    const global = JSON.stringify({ type: "STATE", state: { type: "GLOBAL", global: { shared_state: { start_date: "2022-01-01" } }, id: 74 } });
    const r = await write(
      [record("rates", { emailaddress1: "gs-1@example.org", lastname: "Global" }), global],
      { config: { streams: [] }, catalog: configuredCatalog([{ name: "rates", mode: "append_dedup", pk: [["emailaddress1"]], object: "contact" }]) },
    );
    expect(r.code, r.stderr).toBe(0);
    // Echoed with the empty stream_states airbyte_protocol.yaml requires (every stdout line is checked against it).
    expect(r.states).toEqual([{ type: "GLOBAL", global: { shared_state: { start_date: "2022-01-01" }, stream_states: [] }, id: 74, destinationStats: { recordCount: 1 } }]);
    expect(await contactsLike("gs-1@")).toHaveLength(1);
  });
});

describe("write: append with the source's own primary key", () => {
  it("creates the rows: primary_key is ignored outside *_dedup, so a source key that is no alternate key is no error", async () => {
    const r = await write(
      [record("signups", { id: 17, emailaddress1: "ap-1@example.org", lastname: "Appended" }), streamState("signups", 71)],
      { config: { streams: [] }, catalog: configuredCatalog([{ name: "signups", mode: "append", pk: [["id"]], object: "contact" }]) },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(stateSummary(r.states)).toEqual([[71, { recordCount: 1 }]]);
    expect((await contactsLike("ap-1@")).map((c) => c["lastname"])).toEqual(["Appended"]);
  });
});

describe("write: overwrite without mirror settings", () => {
  // Overwrite replaces (issue 15): the stream gets mirror with the spec's defaults (scope owner, cap
  // max_delete_share), which runs only once the stream reports COMPLETE; this input sends no status.
  it("upserts, and removes nothing while the stream has not reported COMPLETE", async () => {
    const r = await write(
      [record("roster", { emailaddress1: "ow-1@example.org", lastname: "Over" }), record("roster", { emailaddress1: "ow-2@example.org", lastname: "Over" }), streamState("roster", 72)],
      { config: { streams: [] }, catalog: configuredCatalog([{ name: "roster", mode: "overwrite", pk: [["emailaddress1"]], object: "contact" }]) },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.logs.filter((l) => /overwrite upserts its records/.test(l))).toEqual([]);
    expect(r.logs).toContain('mirror: stream "roster" did not report COMPLETE, so no rows were removed');
    expect(await contactsLike("ow-")).toHaveLength(2);
  });

  it("a second sync of the stream leaves only its rows, as Airbyte's testSecondSync expects (settings in the current form, no mirror.enabled)", async () => {
    const complete = JSON.stringify({ type: "TRACE", trace: { type: "STREAM_STATUS", emitted_at: 1, stream_status: { stream_descriptor: { name: "replaced" }, status: "COMPLETE" } } });
    const config = { streams: [{ name: "replaced", mirror: { scope: "marker", marker_column: "description", marker_value: "ow-replace", max_delete_share: 0.5, action: "delete" } }] };
    const catalog = configuredCatalog([{ name: "replaced", mode: "overwrite", pk: [["emailaddress1"]], object: "contact" }]);
    const row = (i: number) => record("replaced", { emailaddress1: `owr-${i}@example.org`, lastname: `R${i}`, description: "ow-replace" });
    const first = await write([row(1), row(2), row(3), complete], { config, catalog });
    expect(first.code, first.stderr).toBe(0);
    expect(first.logs.filter((l) => /Unknown setting|no longer/.test(l))).toEqual([]);
    const second = await write([row(1), row(2), complete], { config, catalog });
    expect(second.code, second.stderr).toBe(0);
    expect(second.logs.some((l) => /mirror: stream "replaced" → contact: deleted 1 of 3/.test(l))).toBe(true);
    expect((await contactsLike("owr-")).map((c) => c["emailaddress1"]).sort()).toEqual(["owr-1@example.org", "owr-2@example.org"]);
  });
});

describe("write: Singer", () => {
  function singer(input: string[]) {
    return runCli({ args: ["--config", "{file:config.json}"], files: { "config.json": config }, input, secrets, protocol: "singer" });
  }
  const schema = (stream: string, keys: string[]) => JSON.stringify({ type: "SCHEMA", stream, schema: { properties: {} }, key_properties: keys });

  it("prints each state value bare once it is safe", async () => {
    const r = await singer([
      schema("contacts", ["emailaddress1"]),
      JSON.stringify({ type: "RECORD", stream: "contacts", record: { emailaddress1: "sg-1@example.org", lastname: "Singer" } }),
      JSON.stringify({ type: "STATE", value: { bookmarks: { contacts: 1 } } }),
      JSON.stringify({ type: "ACTIVATE_VERSION", stream: "contacts", version: 1 }),
      // A type outside the spec's own: permitted by Singer, skipped.
      JSON.stringify({ type: "CUSTOM_NOTE", stream: "contacts", note: "hello" }),
      JSON.stringify({ type: "RECORD", stream: "contacts", record: { emailaddress1: "sg-2@example.org", lastname: "Singer", _sdc_deleted_at: null } }),
      JSON.stringify({ type: "STATE", value: { bookmarks: { contacts: 2 } } }),
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toEqual(['{"bookmarks":{"contacts":1}}', '{"bookmarks":{"contacts":2}}']);
    expect(await contactsLike("sg-")).toHaveLength(2);
  });

  it("--input reads the messages from a file; unmapped fields are reported once per stream", async () => {
    const dir = mkdtempSync(join(tmpdir(), "singer-input-"));
    try {
      const file = join(dir, "tap-output.jsonl");
      const recordWith = (i: number) => JSON.stringify({ type: "RECORD", stream: "contacts", record: { emailaddress1: `sgi-${i}@example.org`, lastname: "File", favourite_colour: "blue" } });
      writeFileSync(file, [schema("contacts", ["emailaddress1"]), recordWith(1), recordWith(2), JSON.stringify({ type: "STATE", value: { done: true } })].join("\n") + "\n");
      const r = await runCli({ args: ["--config", "{file:config.json}", "--input", file], files: { "config.json": config }, secrets, protocol: "singer" });
      expect(r.code).toBe(0);
      expect(r.stdout).toEqual(['{"done":true}']);
      expect(r.stderr.match(/favourite_colour/g)).toHaveLength(1);
      expect(await contactsLike("sgi-")).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("settings come from TARGET_DYNAMICS365_* variables, JSON-valued ones included; the file wins where both are set", async () => {
    const { client_secret, streams, ...rest } = config as Json & { client_secret: string; streams: unknown };
    const r = await runCli({
      args: ["--config", "{file:config.json}"],
      files: { "config.json": { ...rest, batch_size: 1 } },
      env: {
        TARGET_DYNAMICS365_CLIENT_SECRET: client_secret,
        TARGET_DYNAMICS365_STREAMS: JSON.stringify(streams),
        // Overridden by the file's batch_size 1: a refused value here would fail the run.
        TARGET_DYNAMICS365_BATCH_SIZE: "-5",
      },
      input: [
        schema("contacts", ["emailaddress1"]),
        JSON.stringify({ type: "RECORD", stream: "contacts", record: { emailaddress1: "sge-1@example.org", lastname: "Env" } }),
        JSON.stringify({ type: "STATE", value: { env: 1 } }),
      ],
      secrets,
      protocol: "singer",
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toEqual(['{"env":1}']);
    expect(await contactsLike("sge-")).toHaveLength(1);
  });

  it("a record before its SCHEMA is an error naming the line", async () => {
    const r = await singer([JSON.stringify({ type: "RECORD", stream: "contacts", record: { emailaddress1: "sg-x@example.org" } })]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toEqual([]);
    expect(r.stderr).toMatch(/line 1/);
  });
});

describe("write --dry-run", () => {
  it("reports what would change by column name, writes nothing and echoes no state", async () => {
    const seeded = await write([record("contacts", { emailaddress1: "dry-1@example.org", lastname: "Same" }), record("contacts", { emailaddress1: "dry-2@example.org", lastname: "Before" })]);
    expect(seeded.code).toBe(0);
    const r = await runCli({
      args: ["write", "--config", "{file:config.json}", "--catalog", "{file:catalog.json}", "--dry-run"],
      files: { "config.json": config, "catalog.json": catalog },
      input: [
        record("contacts", { emailaddress1: "dry-1@example.org", lastname: "Same" }),
        record("contacts", { emailaddress1: "dry-2@example.org", lastname: "After-secret-value" }),
        record("contacts", { emailaddress1: "dry-3@example.org", lastname: "New" }),
        streamState("contacts", 80),
      ],
      secrets,
    });
    expect(r.code).toBe(0);
    expect(r.states).toEqual([]);
    const report = r.logs.filter((l) => l.startsWith("dry run: contact"));
    expect(report[0]).toMatch(/would create 1, update 1, delete 0, leave unchanged 1/);
    expect(report.some((l) => l.includes("sample update: lastname"))).toBe(true);
    expect(r.stdout.join("\n")).not.toContain("After-secret-value");
    const rows = await contactsLike("dry-");
    expect(rows.map((c) => [c["emailaddress1"], c["lastname"]]).sort()).toEqual([
      ["dry-1@example.org", "Same"],
      ["dry-2@example.org", "Before"],
    ]);
  });
});

describe("write: mirror mode", () => {
  const complete = (name: string) => JSON.stringify({ type: "TRACE", trace: { type: "STREAM_STATUS", emitted_at: 1, stream_status: { stream_descriptor: { name }, status: "COMPLETE" } } });
  const mirrorConfig = {
    streams: [
      {
        name: "mirrored",
        table: "contact",
        key: { columns: ["emailaddress1"] },
        mirror: { enabled: true, scope: "marker", marker_column: "description", marker_value: "mirror-suite", max_delete_share: 0.5, action: "delete" },
      },
    ],
  };
  const mirrorCatalog = configuredCatalog([{ name: "mirrored", mode: "overwrite" }]);
  const row = (i: number, description = "mirror-suite") => record("mirrored", { emailaddress1: `mirror-${i}@example.org`, lastname: `M${i}`, description });
  const present = async () => (await contactsLike("mirror-")).map((c) => c["emailaddress1"]).sort();

  it("after COMPLETE removes the in-scope rows missing from the sync, leaves other rows alone, and does nothing without COMPLETE", async () => {
    const first = await write([row(1), row(2), row(3), row(9, "not the connector's"), complete("mirrored")], { config: mirrorConfig, catalog: mirrorCatalog });
    expect(first.code).toBe(0);
    expect(await present()).toEqual(["mirror-1@example.org", "mirror-2@example.org", "mirror-3@example.org", "mirror-9@example.org"]);

    const partial = await write([row(1)], { config: mirrorConfig, catalog: mirrorCatalog });
    expect(partial.code).toBe(0);
    expect(partial.logs.some((l) => l.includes("did not report COMPLETE"))).toBe(true);
    expect(await present()).toHaveLength(4);

    const second = await write([row(1), row(2), complete("mirrored")], { config: mirrorConfig, catalog: mirrorCatalog });
    expect(second.code).toBe(0);
    expect(second.logs.some((l) => /mirror: stream "mirrored" → contact: deleted 1 of 3/.test(l))).toBe(true);
    expect(await present()).toEqual(["mirror-1@example.org", "mirror-2@example.org", "mirror-9@example.org"]);
  });

  it("refuses to remove more than max_delete_share, removing nothing", async () => {
    const r = await write([row(1), complete("mirrored")], { config: { streams: [{ ...mirrorConfig.streams[0], mirror: { ...mirrorConfig.streams[0]?.mirror, max_delete_share: 0.1 } }] }, catalog: mirrorCatalog });
    expect(r.code).not.toBe(0);
    expect(r.traces.find((t) => t["type"] === "ERROR")?.["error"]).toMatchObject({ failure_type: "config_error", message: expect.stringContaining("max_delete_share") });
    expect(await present()).toEqual(["mirror-1@example.org", "mirror-2@example.org", "mirror-9@example.org"]);
  });

  it("is refused at start for a stream that is not in overwrite mode", async () => {
    const r = await write([], { config: mirrorConfig, catalog: configuredCatalog([{ name: "mirrored", mode: "append_dedup" }]) });
    expect(r.code).not.toBe(0);
    expect(r.traces.find((t) => t["type"] === "ERROR")?.["error"]).toMatchObject({ message: expect.stringContaining("overwrite") });
  });
});
