import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/load.js";
import { parseCatalog, resolveAirbyteStreams } from "../config/catalog.js";
import type { WriteSettings } from "../config/types.js";
import { DataverseError } from "../dataverse/errors.js";
import type { InputState, JsonObject } from "../protocol/airbyte.js";
import { parseAirbyteMessage } from "../protocol/airbyte.js";
import { readLineBatches } from "../protocol/lines.js";
import { Readable, Writable } from "node:stream";
import type { DeadLetter, DeadLetterSink } from "./deadletter.js";
import { runAirbyte } from "./loop.js";
import { Sync } from "./sync.js";
import { TerminalStatus } from "./report.js";
import { FakeWriter, ManualTimers, MemoryOutput, settle, tableSource } from "./test-fixtures.js";

const base = { web_api_endpoint: "https://org.crm.dynamics.com/api/data/v9.2/", tenant_id: "t", client_id: "c", client_secret: "secret-xyz" };

function setup(opts: { settings?: Partial<WriteSettings>; config?: JsonObject; deadLetter?: DeadLetterSink; terminal?: TerminalStatus } = {}) {
  const loaded = loadConfig({ ...base, ...(opts.config ?? {}) });
  const catalog = parseCatalog({
    streams: [
      { stream: { name: "contacts" }, destination_sync_mode: "append_dedup", primary_key: [["emailaddress1"]], destination_object_name: "contact" },
      { stream: { name: "accounts" }, destination_sync_mode: "append_dedup", primary_key: [["accountnumber"]], destination_object_name: "account" },
    ],
  });
  const writer = new FakeWriter();
  const output = new MemoryOutput();
  const timers = new ManualTimers();
  const settings = { ...loaded.config.write, batchSize: 2, ...(opts.settings ?? {}) };
  const sync = new Sync({
    output,
    writer,
    tables: tableSource(),
    settings,
    timers,
    ...(opts.deadLetter ? { deadLetter: opts.deadLetter } : {}),
    ...(opts.terminal ? { terminal: opts.terminal } : {}),
  });
  return { loaded, catalog, writer, output, timers, sync, resolved: resolveAirbyteStreams(loaded, catalog) };
}

const rec = (stream: string, data: JsonObject) => JSON.stringify({ type: "RECORD", record: { stream, data, emitted_at: 1 } });
const st = (stream: string, id: number) => JSON.stringify({ type: "STATE", state: { type: "STREAM", stream: { stream_descriptor: { name: stream }, stream_state: { c: id } }, id } });

function lines(...ls: string[]) {
  return readLineBatches(Readable.from([ls.join("\n") + "\n"]));
}

function stateOf(line: string): InputState {
  const m = parseAirbyteMessage(line, 1);
  if (m.kind !== "state") throw new Error("not a state");
  return m.state;
}

describe("Sync checkpoints", () => {
  it("holds a state until the records before it are committed, then echoes it with counts and its id", async () => {
    const { sync, writer, output, resolved } = setup();
    await sync.addStreams(resolved);
    writer.hold();
    await sync.record({ name: "contacts" }, { emailaddress1: "a@x.org", firstname: "A" }, 1);
    await sync.record({ name: "contacts" }, { emailaddress1: "b@x.org" }, 2);
    sync.state({ protocol: "airbyte", state: stateOf(st("contacts", 1)) });
    await settle();
    expect(writer.calls).toHaveLength(1);
    expect(output.states).toEqual([]);
    writer.release();
    await settle();
    expect(output.states).toEqual([
      { type: "STREAM", stream: { stream_descriptor: { name: "contacts" }, stream_state: { c: 1 } }, id: 1, destinationStats: { recordCount: 2 } },
    ]);
    await sync.finish();
  });

  it("interleaved streams: each STREAM state counts its own stream's records and states keep input order", async () => {
    const { sync, output, resolved } = setup({ settings: { batchSize: 100 } });
    const summary = await runAirbyte(
      lines(
        rec("accounts", { accountnumber: "A1", name: "Acme" }),
        rec("contacts", { emailaddress1: "a@x.org" }),
        rec("contacts", { emailaddress1: "b@x.org" }),
        st("contacts", 1),
        rec("accounts", { accountnumber: "A2" }),
        st("accounts", 2),
        rec("contacts", { emailaddress1: "c@x.org" }),
      ),
      (await sync.addStreams(resolved), sync),
      output,
    );
    expect(output.states.map((s) => [(s as { id: number }).id, (s as { destinationStats: unknown }).destinationStats])).toEqual([
      [1, { recordCount: 2 }],
      [2, { recordCount: 2 }],
    ]);
    expect(summary.streams.get("contacts")?.read).toBe(3);
  });

  it("sends a parent stream's pending rows before a child's that look them up", async () => {
    const { sync, writer, output, resolved } = setup({
      settings: { batchSize: 2 },
      config: { streams: [{ name: "contacts", fields: { acct: { column: "parentcustomerid", lookup: { table: "account", by: "alternate_key", key_columns: ["accountnumber"] } } } }] },
    });
    await sync.addStreams(resolved);
    await runAirbyte(
      lines(rec("accounts", { accountnumber: "A1" }), rec("contacts", { emailaddress1: "a@x.org", acct: "A1" }), rec("contacts", { emailaddress1: "b@x.org", acct: "A1" })),
      sync,
      output,
    );
    expect(writer.calls.map((c) => c.map((o) => o.table))).toEqual([["account"], ["contact", "contact"]]);
    expect(writer.calls[1]?.[0]?.bindings[0]?.navigationProperty).toBe("parentcustomerid_account");
  });

  it("at end of input, a parent listed first whose table looks back at the child is still sent before it", async () => {
    const { sync, writer, output, resolved } = setup({
      settings: { batchSize: 100 },
      config: { streams: [{ name: "contacts", fields: { acct: { column: "parentcustomerid", lookup: { table: "account", by: "alternate_key", key_columns: ["accountnumber"] } } } }] },
    });
    await sync.addStreams([...resolved].reverse());
    await runAirbyte(lines(rec("contacts", { emailaddress1: "a@x.org", acct: "A1" }), rec("accounts", { accountnumber: "A1" })), sync, output);
    expect(writer.calls.map((c) => c.map((o) => o.table))).toEqual([["account"], ["contact"]]);
  });

  it("retries once a child whose lookup target was missing while its parent had pending rows", async () => {
    const { sync, writer, output, resolved } = setup({
      settings: { batchSize: 1 },
      config: { streams: [{ name: "contacts", fields: { acct: { column: "parentcustomerid", lookup: { table: "account", by: "alternate_key", key_columns: ["accountnumber"] } } } }] },
    });
    await sync.addStreams(resolved);
    let accountWritten = false;
    writer.outcome = (op) => {
      if (op.table === "account") {
        accountWritten = true;
        return { ok: true, created: true };
      }
      return accountWritten ? { ok: true, created: true } : { ok: false, status: 404, code: "0x80060891", message: "A record with the specified key values does not exist in account entity" };
    };
    writer.hold();
    const sent = sync.record({ name: "contacts" }, { emailaddress1: "a@x.org", acct: "A1" }, 1);
    await settle();
    // The account arrives while the contact's write is still in flight.
    const batchSizeOne = sync.record({ name: "accounts" }, { accountnumber: "A1" }, 2);
    await settle();
    writer.release();
    await sent;
    await batchSizeOne;
    const summary = await sync.finish();
    expect(summary.streams.get("contacts")).toMatchObject({ rejected: 0, retried: 1 });
    expect(output.logs.join("\n")).not.toContain("rejected at");
  });

  it("a periodic flush sends partial batches so held states go out while input trickles", async () => {
    const { sync, writer, output, timers, resolved } = setup({ settings: { batchSize: 1000, flushIntervalSeconds: 60 } });
    await sync.addStreams(resolved);
    await sync.record({ name: "contacts" }, { emailaddress1: "a@x.org" }, 1);
    sync.state({ protocol: "airbyte", state: stateOf(st("contacts", 7)) });
    await settle();
    expect(writer.calls).toHaveLength(0);
    timers.advance(60_000);
    await settle();
    expect(writer.calls).toHaveLength(1);
    expect(output.states).toHaveLength(1);
    await sync.finish();
    expect(timers.active).toBe(0);
  });

  it("a mapping rejection is counted, reported once per code without values, and dead-lettered", async () => {
    const letters: DeadLetter[] = [];
    const sink: DeadLetterSink = { write: (e) => (letters.push(e), Promise.resolve()), close: () => Promise.resolve() };
    const { sync, output, resolved } = setup({ deadLetter: sink });
    await sync.addStreams(resolved);
    await runAirbyte(
      lines(
        rec("contacts", { emailaddress1: "a@x.org", firstname: "WAYTOOLONGNAME-1" }),
        rec("contacts", { emailaddress1: "b@x.org", firstname: "WAYTOOLONGNAME-2" }),
        rec("contacts", { emailaddress1: "c@x.org", firstname: "ok" }),
        st("contacts", 1),
      ),
      sync,
      output,
    );
    expect(output.states).toEqual([expect.objectContaining({ destinationStats: { recordCount: 1, rejectedRecordCount: 2 } })]);
    const warnings = output.logs.filter((l) => l.includes("rejected at"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("/firstname");
    expect(output.logs.join("\n")).not.toContain("WAYTOOLONGNAME");
    expect(letters).toHaveLength(2);
    expect(letters[0]).toMatchObject({ stream: "contacts", line: 1, field: "/firstname", record: { firstname: "WAYTOOLONGNAME-1" } });
  });

  it("a writer outcome ok:false is a rejected record, its Dataverse message kept out of the log", async () => {
    const { sync, writer, output, resolved } = setup();
    await sync.addStreams(resolved);
    writer.outcome = (op) => (op.ref.kind === "key" && op.ref.values[0]?.[1] === "bad@x.org" ? { ok: false, status: 400, code: "0x80040237", message: "duplicate bad@x.org" } : { ok: true });
    await runAirbyte(lines(rec("contacts", { emailaddress1: "bad@x.org" }), rec("contacts", { emailaddress1: "ok@x.org" }), st("contacts", 3)), sync, output);
    expect(output.states).toEqual([expect.objectContaining({ id: 3, destinationStats: { recordCount: 1, rejectedRecordCount: 1 } })]);
    expect(output.logs.join("\n")).toContain("0x80040237");
    expect(output.logs.join("\n")).not.toContain("bad@x.org");
  });

  it("a run-level writer failure fails the sync as config_error and emits no state past the durable point", async () => {
    const { sync, writer, output, resolved } = setup();
    await sync.addStreams(resolved);
    writer.failWith = new DataverseError({ kind: "forbidden", status: 403, code: "0x80040220", method: "POST", path: "/api/data/v9.2/$batch", retryable: false, serverMessage: "no" });
    const err = await runAirbyte(lines(st("contacts", 1), rec("contacts", { emailaddress1: "a@x.org" }), rec("contacts", { emailaddress1: "b@x.org" }), st("contacts", 2), rec("contacts", { emailaddress1: "c@x.org" })), sync, output).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "dataverse_privilege", failureType: "config_error" });
    expect(output.states.map((s) => (s as { id: number }).id)).toEqual([1]);
    // The failed run still logs its per-stream summary, once, marked as failed.
    const summaries = output.logs.filter((l) => l.startsWith("summary"));
    expect(summaries).toEqual([expect.stringMatching(/^summary \(the run failed\): stream "contacts" → contact: read 2, /), expect.stringMatching(/^summary \(the run failed\): stream "accounts"/)]);
  });

  it("a record for a stream not in the catalog is an error naming the line", async () => {
    const { sync, output, resolved } = setup();
    await sync.addStreams(resolved);
    await expect(runAirbyte(lines(rec("contacts", { emailaddress1: "a@x.org" }), rec("nope", { a: 1 })), sync, output)).rejects.toMatchObject({
      code: "unknown_stream",
      context: { line: 2, stream: "nope" },
    });
  });

  it("fails the sync once rejections pass max_rejected_share", async () => {
    const { sync, output, resolved } = setup({ settings: { maxRejectedShare: 0.5, batchSize: 1000 } });
    await sync.addStreams(resolved);
    const input = Array.from({ length: 200 }, (_, i) => rec("contacts", { emailaddress1: `${i}@x.org`, firstname: i % 4 === 0 ? "ok" : "WAYTOOLONGNAME" }));
    await expect(runAirbyte(lines(...input), sync, output)).rejects.toMatchObject({ code: "too_many_rejections" });
  });

  it("a mapping to a column that does not exist fails before the first record, naming stream and field", async () => {
    const { sync, resolved } = setup({ config: { streams: [{ name: "contacts", fields: { x: "nosuchcolumn" } }] } });
    await expect(sync.addStreams(resolved)).rejects.toMatchObject({ code: "mapping_invalid", message: expect.stringMatching(/contacts.*x/) });
  });

  it("a table that does not exist is a config error", async () => {
    const { sync, loaded } = setup();
    const r = resolveAirbyteStreams(loaded, parseCatalog({ streams: [{ stream: { name: "s" }, destination_sync_mode: "append", destination_object_name: "nosuchtable" }] }));
    await expect(sync.addStreams(r)).rejects.toMatchObject({ code: "table_not_found", failureType: "config_error" });
  });

  it("logs progress every 30 s with read, written, rejected and rate", async () => {
    const { sync, output, timers, resolved } = setup({ settings: { batchSize: 1 } });
    await sync.addStreams(resolved);
    await sync.record({ name: "contacts" }, { emailaddress1: "a@x.org" }, 1);
    await settle();
    expect(output.logs.filter((l) => l.startsWith("progress:"))).toEqual([]);
    timers.advance(30_000);
    await settle();
    expect(output.logs.filter((l) => l.startsWith("progress:"))).toEqual([expect.stringMatching(/read 1, written 1, rejected 0, \d+ records\/s/)]);
    await sync.finish();
  });

  it("on a terminal, redraws the progress line every 250 ms and ends with a summary table; never off a terminal", async () => {
    for (const isTTY of [true, false]) {
      let text = "";
      const err = new Writable({
        write(chunk: Buffer, _e, cb) {
          text += chunk.toString("utf8");
          cb();
        },
      });
      const { sync, output, timers, resolved } = setup({ settings: { batchSize: 1 }, terminal: new TerminalStatus(err, isTTY) });
      await sync.addStreams(resolved);
      await sync.record({ name: "contacts" }, { emailaddress1: "a@x.org" }, 1);
      await settle();
      timers.advance(250);
      await settle();
      await sync.finish();
      if (!isTTY) {
        expect(text).toBe("");
        continue;
      }
      expect(text).toMatch(/^\r\x1b\[Kread 1, written 1, rejected 0, \d+ records\/s, states held 0/);
      expect(text).toMatch(/Sync summary, [\d.]+ s:\nstream +table +read +created/);
      expect(text).toMatch(/\ncontacts +contact +1 /);
      // The LOG form is there as well, whatever the terminal.
      expect(output.logs).toContainEqual(expect.stringMatching(/^summary: stream "contacts" → contact: read 1, /));
      expect(timers.active).toBe(0);
    }
  });

  it("an ignored field is reported once per stream with the reason that is true for it", async () => {
    const { sync, output, loaded } = setup({
      config: { streams: [{ name: "people", table: "contact", key: { columns: ["emailaddress1"] }, fields: { first: "firstname" } }] },
    });
    await sync.addStreams(resolveAirbyteStreams(loaded, parseCatalog({ streams: [{ stream: { name: "people" }, destination_sync_mode: "append_dedup" }] })));
    const data = { emailaddress1: "a@x.org", first: "A", firstname: "B", contactid: "x", parentcustomerid: "y", nosuch: 1 };
    await sync.record({ name: "people" }, data, 1);
    await sync.record({ name: "people" }, data, 2);
    await sync.finish();
    const warnings = output.logs.filter((l) => l.includes("is ignored"));
    expect(warnings).toEqual([
      'stream "people": field "firstname" is ignored: column firstname of table contact is already written from field "first"',
      expect.stringMatching(/^stream "people": field "contactid" is ignored: column contactid is table contact's row id/),
      expect.stringMatching(/^stream "people": field "parentcustomerid" is ignored: column parentcustomerid of table contact is a lookup that cannot pass through by name/),
      'stream "people": field "nosuch" is ignored: it is not mapped and table contact has no column of that name',
    ]);
  });

  it("GLOBAL states count every stream's records since the previous state", async () => {
    const { sync, output, resolved } = setup({ settings: { batchSize: 100 } });
    await sync.addStreams(resolved);
    const global = JSON.stringify({ type: "STATE", state: { type: "GLOBAL", global: { stream_states: [{ stream_descriptor: { name: "contacts" } }, { stream_descriptor: { name: "accounts" } }] }, id: 9 } });
    await runAirbyte(lines(rec("contacts", { emailaddress1: "a@x.org" }), rec("accounts", { accountnumber: "A" }), global, rec("accounts", { accountnumber: "B" }), global), sync, output);
    expect(output.states.map((s) => (s as { destinationStats: unknown }).destinationStats)).toEqual([{ recordCount: 2 }, { recordCount: 1 }]);
    expect(output.states[0]).toMatchObject({ type: "GLOBAL", id: 9 });
  });

  it("two writes of the same row are never in one request nor in flight together", async () => {
    const { sync, writer, output, resolved } = setup({ settings: { batchSize: 10 } });
    await sync.addStreams(resolved);
    writer.hold();
    await sync.record({ name: "contacts" }, { emailaddress1: "same@x.org", firstname: "one" }, 1);
    await sync.record({ name: "contacts" }, { emailaddress1: "other@x.org" }, 2);
    const second = sync.record({ name: "contacts" }, { emailaddress1: "SAME@x.org", firstname: "two" }, 3);
    await settle();
    expect(writer.calls.map((c) => c.length)).toEqual([2]);
    const finished = (async () => {
      await second;
      return sync.finish();
    })();
    await settle();
    // The second write of the row waits for the first request to finish.
    expect(writer.calls).toHaveLength(1);
    writer.release();
    await finished;
    expect(writer.calls.map((c) => c.map((o) => o.columns["firstname"] ?? null))).toEqual([["one", null], ["two"]]);
    expect(output.logs.some((l) => l.startsWith("summary:"))).toBe(true);
  });
});
