// Several records for one row in a sync: the row must end with the last one's values. So two
// requests holding the same row are never in flight together, and they go out in input order,
// whoever starts the flush (a full batch, the flush timer, a parent's flush).
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/load.js";
import { parseCatalog, resolveAirbyteStreams } from "../config/catalog.js";
import type { WriteOptions, WriteOutcome, Writer } from "../model/writer.js";
import type { Operation } from "../model/operation.js";
import { Sync } from "./sync.js";
import { rowIdentity } from "./batcher.js";
import { ManualTimers, MemoryOutput, settle, tableSource } from "./test-fixtures.js";

/** Each call stays pending until the test settles it; the table keeps the last value applied per row. */
class OrderWriter implements Writer {
  readonly calls: { ops: readonly Operation[]; done: () => void }[] = [];
  readonly table = new Map<string, unknown>();
  readonly outstanding = new Map<string, number>();
  overlaps = 0;
  /** firstname values refused once as a missing lookup target (Dataverse's 0x80060891). */
  readonly missingTargetOnce = new Set<string>();

  async write(operations: readonly Operation[], _options?: WriteOptions): Promise<readonly WriteOutcome[]> {
    const keys = operations.map((op) => rowIdentity(op) ?? "");
    for (const k of keys) {
      const n = (this.outstanding.get(k) ?? 0) + 1;
      if (n > 1) this.overlaps += 1;
      this.outstanding.set(k, n);
    }
    await new Promise<void>((r) => this.calls.push({ ops: operations, done: r }));
    return operations.map((op, i): WriteOutcome => {
      const k = keys[i] ?? "";
      this.outstanding.set(k, (this.outstanding.get(k) ?? 1) - 1);
      const name = op.columns["firstname"];
      if (typeof name === "string" && this.missingTargetOnce.delete(name)) return { ok: false, status: 404, code: "0x80060891", message: "" };
      this.table.set(k, name);
      return { ok: true, created: false };
    });
  }
  async close(): Promise<void> {}

  /** Answers the pending calls, newest first (the order that loses an update). */
  async answerNewestFirst(): Promise<void> {
    for (;;) {
      await settle();
      const pending = this.calls.splice(0);
      if (pending.length === 0) return;
      for (const c of pending.reverse()) {
        c.done();
        await settle();
      }
    }
  }
}

function setup() {
  const loaded = loadConfig({
    web_api_endpoint: "https://org.crm.dynamics.com/api/data/v9.2/",
    tenant_id: "t",
    client_id: "c",
    client_secret: "s",
    streams: [{ name: "contacts", fields: { acct: { column: "parentcustomerid", lookup: { table: "account", by: "alternate_key", key_columns: ["accountnumber"] } } } }],
  });
  const catalog = parseCatalog({
    streams: [
      { stream: { name: "contacts" }, destination_sync_mode: "append_dedup", primary_key: [["emailaddress1"]], destination_object_name: "contact" },
      { stream: { name: "accounts" }, destination_sync_mode: "append_dedup", primary_key: [["accountnumber"]], destination_object_name: "account" },
    ],
  });
  const writer = new OrderWriter();
  const timers = new ManualTimers();
  const sync = new Sync({
    output: new MemoryOutput(),
    writer,
    tables: tableSource(),
    settings: { ...loaded.config.write, batchSize: 2, maxConcurrency: 4, flushIntervalSeconds: 1 },
    timers,
  });
  return { sync, writer, timers, resolved: resolveAirbyteStreams(loaded, catalog) };
}

// rowIdentity of contact x@x.org (key values compare as the environment's collation does).
const ROW_X = rowIdentity({ kind: "upsert", table: "contact", entitySet: "contacts", ref: { kind: "key", values: [["emailaddress1", "x@x.org"]] }, columns: {}, bindings: [] }) ?? "";

describe("several records for one row", () => {
  it("a timer flush and a full batch waiting on the same earlier request go out one after the other, in input order", async () => {
    const { sync, writer, timers, resolved } = setup();
    await sync.addStreams(resolved);
    const c = { name: "contacts" };
    // Request 1 holds x (v1) and stays in flight.
    await sync.record(c, { emailaddress1: "x@x.org", firstname: "v1" }, 1);
    await sync.record(c, { emailaddress1: "y@x.org", firstname: "y" }, 2);
    await settle();
    expect(writer.calls).toHaveLength(1);
    // x (v2) is pending when the flush timer fires: that flush waits for request 1.
    await sync.record(c, { emailaddress1: "x@x.org", firstname: "v2" }, 3);
    timers.advance(1000);
    await settle();
    // x (v3) fills the next batch, whose flush also has to wait.
    await sync.record(c, { emailaddress1: "X@x.org", firstname: "v3" }, 4);
    const full = sync.record(c, { emailaddress1: "z@x.org", firstname: "z" }, 5);
    const done = (async () => {
      await full;
      await sync.finish();
    })();
    await writer.answerNewestFirst();
    await done;
    expect(writer.overlaps).toBe(0);
    expect(writer.table.get(ROW_X)).toBe("v3");
  });

  it("a later full batch waits for the timer's batch of the same row that is still waiting for a slot", async () => {
    const { sync, writer, timers, resolved } = setup();
    await sync.addStreams(resolved);
    const c = { name: "contacts" };
    // Four requests of other rows take every slot (max(2, maxConcurrency) = 4).
    for (let i = 0; i < 8; i++) await sync.record(c, { emailaddress1: `o${i}@x.org`, firstname: "o" }, i + 1);
    await settle();
    expect(writer.calls).toHaveLength(4);
    await sync.record(c, { emailaddress1: "x@x.org", firstname: "v1" }, 9);
    timers.advance(1000); // its flush waits for a slot
    await settle();
    await sync.record(c, { emailaddress1: "x@x.org", firstname: "v2" }, 10);
    const full = sync.record(c, { emailaddress1: "w@x.org", firstname: "w" }, 11);
    const done = (async () => {
      await full;
      await sync.finish();
    })();
    await writer.answerNewestFirst();
    await done;
    expect(writer.overlaps).toBe(0);
    expect(writer.table.get(ROW_X)).toBe("v2");
  });

  it("a resend after a missing lookup target still holds the row: a later record of the row waits for it", async () => {
    const { sync, writer, resolved } = setup();
    await sync.addStreams(resolved);
    const c = { name: "contacts" };
    writer.missingTargetOnce.add("v1");
    // x (v1) points at account A1, which arrives only after x was sent: refused once, then resent.
    await sync.record(c, { emailaddress1: "x@x.org", firstname: "v1", acct: "A1" }, 1);
    await sync.record(c, { emailaddress1: "y@x.org", firstname: "y" }, 2);
    await sync.record({ name: "accounts" }, { accountnumber: "A1" }, 3);
    await settle();
    writer.calls.splice(0).forEach((call) => call.done()); // x (v1) refused; its resend waits for A1
    await settle();
    await sync.record(c, { emailaddress1: "x@x.org", firstname: "v2" }, 4);
    const full = sync.record(c, { emailaddress1: "z@x.org", firstname: "z" }, 5);
    const done = (async () => {
      await full;
      await sync.finish();
    })();
    await writer.answerNewestFirst();
    await done;
    expect(writer.overlaps).toBe(0);
    expect(writer.table.get(ROW_X)).toBe("v2");
  });
});
