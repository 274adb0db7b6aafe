// Write only what changed (issue 13), through the writer against the emulator over HTTPS: the
// emulator's own counts say how many rows were written and how, and `modifiedon` says which rows
// were touched.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../src/http/clock.js";
import { MetadataLoader } from "../src/dataverse/metadata.js";
import { createWriter, type WriterSettings } from "../src/dataverse/writer.js";
import type { DataverseClient } from "../src/dataverse/client.js";
import type { Operation } from "../src/model/operation.js";
import { startHarness, type Harness } from "./dataverse-env.js";

let h: Harness;
let meta: MetadataLoader;
beforeAll(async () => {
  h = await startHarness();
  meta = new MetadataLoader(h.client());
  await Promise.all([meta.loadTable("contact"), meta.loadTable("account")]);
});
afterAll(async () => {
  await h?.close();
});
beforeEach(() => {
  h.emulator.faults.clear();
});

const settings: WriterSettings = { batchSize: 1000, maxBatchBytes: 8 * 1024 * 1024, retryBudgetSeconds: 30, useBulkActions: true, writeOnlyChanges: true };

function writerFor(clients: DataverseClient[], over: Partial<WriterSettings> = {}) {
  return createWriter({ clients, tables: meta.lookup, settings: { ...settings, ...over }, clock: systemClock });
}

function contact(email: string, columns: Record<string, string | number | null> = {}, kind: Operation["kind"] = "upsert"): Operation {
  return { kind, table: "contact", entitySet: "contacts", ref: { kind: "key", values: [["emailaddress1", email]] }, columns: { lastname: "Doe", ...columns }, bindings: [] };
}

async function rowsWhere(filter: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const page of h.client().query("contacts", { select: ["contactid", "emailaddress1", "lastname", "firstname", "modifiedon"], filter, maxPageSize: 5000 })) out.push(...page);
  return out;
}

function bulkRecords(): number {
  return h.emulator.stats().records.bulk;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("write only what changed", () => {
  it("creates new rows through CreateMultiple, skips rows already as sent, and updates only the changed ones", async () => {
    // 1,200 keys of ~30 characters: the read's URL is too long for a GET line, so it goes inside a $batch.
    const ops = Array.from({ length: 1200 }, (_, i) => contact(`changes-${String(i).padStart(5, "0")}@example.com`, { firstname: `F${i}` }));
    const w = writerFor([h.client()]);
    const before = bulkRecords();
    const first = await w.write(ops);
    expect(first.filter((o) => !o.ok)).toEqual([]);
    expect(first.every((o) => o.ok && o.created === true)).toBe(true);
    expect(bulkRecords() - before).toBe(1200);
    expect(w.stats()).toMatchObject({ bulkRequests: 2, changeReads: 2, skippedUnchanged: 0 });
    const written = await rowsWhere("startswith(emailaddress1,'changes-')");
    expect(written).toHaveLength(1200);
    const modified = new Map(written.map((r) => [r.emailaddress1, r.modifiedon]));

    await sleep(1100); // modifiedon has whole seconds: a later write would carry a later one
    const again = await w.write(ops);
    expect(again.every((o) => o.ok && o.unchanged === true)).toBe(true);
    expect(bulkRecords() - before).toBe(1200); // nothing written
    expect(w.stats()).toMatchObject({ bulkRequests: 2, changeReads: 4, skippedUnchanged: 1200 });
    for (const r of await rowsWhere("startswith(emailaddress1,'changes-')")) expect(r.modifiedon).toBe(modified.get(r.emailaddress1));

    // One row in ten changes its first name.
    const changed = ops.map((op, i) => (i % 10 === 0 ? { ...op, columns: { ...op.columns, firstname: `G${i}` } } : op));
    const third = await w.write(changed);
    expect(third.filter((o) => o.ok && o.unchanged === true)).toHaveLength(1080);
    expect(third.filter((o) => o.ok && o.created === false && o.unchanged !== true)).toHaveLength(120);
    expect(bulkRecords() - before).toBe(1320);
    expect(w.stats().bulkRequests).toBe(3);
    for (const r of await rowsWhere("startswith(emailaddress1,'changes-')")) {
      const i = Number(String(r.emailaddress1).slice("changes-".length, "changes-".length + 5));
      expect(r.firstname).toBe(i % 10 === 0 ? `G${i}` : `F${i}`);
      if (i % 10 === 0) expect(r.modifiedon).not.toBe(modified.get(r.emailaddress1));
      else expect(r.modifiedon).toBe(modified.get(r.emailaddress1));
    }
  });

  it("finds a row stored under another spelling of its key (the collation's match), beside rows found as spelled", async () => {
    const w = writerFor([h.client()]);
    const created = await w.write([contact("Spelled-1@Example.com", { firstname: "A" }), contact("spelled-plain-1@example.com", { firstname: "B" })]);
    expect(created.every((o) => o.ok && o.created === true)).toBe(true);
    const before = bulkRecords();
    // The first key reads back as stored ("Spelled-1@Example.com"), not as sent: still that row.
    const same = await w.write([contact("spelled-1@example.com", { firstname: "A" }), contact("spelled-plain-1@example.com", { firstname: "B" })]);
    expect(same.every((o) => o.ok && o.unchanged === true)).toBe(true);
    expect(bulkRecords()).toBe(before);
    const changed = await w.write([contact("SPELLED-1@EXAMPLE.COM", { firstname: "C" }), contact("spelled-plain-1@example.com", { firstname: "B" })]);
    expect(changed[0]).toMatchObject({ ok: true, created: false });
    expect(changed[1]).toMatchObject({ ok: true, unchanged: true });
    const rows = await rowsWhere("startswith(emailaddress1,'spelled-')");
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => String(r.emailaddress1).toLowerCase() === "spelled-1@example.com")?.firstname).toBe("C");
  });

  it("compares as Dataverse stores: an empty text is null, numbers by value", async () => {
    const w = writerFor([h.client()]);
    const op = contact("changes-null@example.com", { firstname: "", lastname: "Null" });
    expect((await w.write([op]))[0]).toMatchObject({ ok: true, created: true });
    expect((await w.write([op]))[0]).toMatchObject({ ok: true, unchanged: true });
  });

  it("a lookup bound by the target's alternate key is unchanged when the row already points there, changed when not", async () => {
    const w = writerFor([h.client()]);
    const account = (n: string): Operation => ({ kind: "upsert", table: "account", entitySet: "accounts", ref: { kind: "key", values: [["accountnumber", n]] }, columns: { name: n }, bindings: [] });
    expect((await w.write([account("CHG-A"), account("CHG-B")])).every((o) => o.ok)).toBe(true);
    const linked = (n: string): Operation => ({
      ...contact("changes-linked@example.com"),
      bindings: [{ navigationProperty: "parentcustomerid_account", column: "parentcustomerid", target: { entitySet: "accounts", table: "account", ref: { kind: "key", values: [["accountnumber", n]] } } }],
    });
    expect((await w.write([linked("CHG-A")]))[0]).toMatchObject({ ok: true, created: true });
    expect((await w.write([linked("CHG-A")]))[0]).toMatchObject({ ok: true, unchanged: true });
    expect((await w.write([linked("CHG-B")]))[0]).toMatchObject({ ok: true, created: false });
    const [row] = await (async () => {
      const out: Record<string, unknown>[] = [];
      for await (const page of h.client().query("contacts", { select: ["_parentcustomerid_value"], filter: "emailaddress1 eq 'changes-linked@example.com'" })) out.push(...page);
      return out;
    })();
    const [b] = await (async () => {
      const out: Record<string, unknown>[] = [];
      for await (const page of h.client().query("accounts", { select: ["accountid"], filter: "accountnumber eq 'CHG-B'" })) out.push(...page);
      return out;
    })();
    expect(row?._parentcustomerid_value).toBe(b?.accountid);
  });

  it("reads a few keys with a plain GET and leaves an update of a missing row to be refused as before", async () => {
    const w = writerFor([h.client()]);
    const out = await w.write([contact("changes-missing@example.com", {}, "update"), contact("changes-small@example.com")]);
    expect(out[0]).toMatchObject({ ok: false, status: 404 });
    expect(out[1]).toMatchObject({ ok: true, created: true });
    expect(w.stats().changeReads).toBe(1);
  });

  it("turned off, sends every row as it comes", async () => {
    const ops = Array.from({ length: 50 }, (_, i) => contact(`changes-off-${i}@example.com`));
    const w = writerFor([h.client()], { writeOnlyChanges: false });
    await w.write(ops);
    const before = bulkRecords();
    const again = await w.write(ops);
    expect(again.every((o) => o.ok && o.unchanged !== true)).toBe(true);
    expect(bulkRecords() - before).toBe(50);
    expect(w.stats().changeReads).toBe(0);
  });

  it("a row created between the read and the CreateMultiple is upserted, not lost or doubled", async () => {
    const ops = Array.from({ length: 30 }, (_, i) => contact(`changes-race-${i}@example.com`, { firstname: "Ours" }));
    // Our CreateMultiple waits 800 ms before it runs; meanwhile another writer upserts the same keys.
    h.emulator.faults.add({ fault: "delay", delayMs: 800, path: "CreateMultiple", count: 1 });
    const ours = writerFor([h.client()]);
    const theirs = writerFor([h.client()], { writeOnlyChanges: false });
    const pending = ours.write(ops);
    await sleep(300);
    const other = await theirs.write(ops.map((o) => ({ ...o, columns: { ...o.columns, firstname: "Theirs" } })));
    expect(other.every((o) => o.ok)).toBe(true);
    const out = await pending;
    expect(out.filter((o) => !o.ok)).toEqual([]);
    const rows = await rowsWhere("startswith(emailaddress1,'changes-race-')");
    expect(rows).toHaveLength(30);
    expect(new Set(rows.map((r) => r.firstname))).toEqual(new Set(["Ours"]));
    // The CreateMultiple refused for the duplicate keys, then the same rows as UpsertMultiple.
    expect(ours.stats().bulkRequests).toBe(2);
  });
  it("once reads of 2,000 rows have found none, the next upserts go as creates without a read", async () => {
    const w = writerFor([h.client()]);
    const before = bulkRecords();
    for (let b = 0; b < 5; b++) {
      const ops = Array.from({ length: 1000 }, (_, i) => contact(`unread-${b}-${String(i).padStart(4, "0")}@example.com`, { firstname: `F${i}` }));
      const out = await w.write(ops);
      expect(out.every((o) => o.ok && o.created === true)).toBe(true);
    }
    expect(bulkRecords() - before).toBe(5000);
    expect(w.stats()).toMatchObject({ bulkRequests: 5, changeReads: 2, unreadCreates: 3000, unreadMisses: 0, bulkSplits: 0 });
    expect(await rowsWhere("startswith(emailaddress1,'unread-')")).toHaveLength(5000);
  });

  it("an unread create that meets a row (under another spelling) has its batch read and narrowed: that row updated, the rest created, none doubled", async () => {
    // The row is there before the writer starts, stored as "Unread-Miss@Example.com".
    const seed = writerFor([h.client()], { writeOnlyChanges: false });
    expect((await seed.write([contact("Unread-Miss@Example.com", { firstname: "Before" })]))[0]).toMatchObject({ ok: true });
    const w = writerFor([h.client()]);
    for (let b = 0; b < 2; b++) {
      const out = await w.write(Array.from({ length: 1000 }, (_, i) => contact(`miss-${b}-${i}@example.com`)));
      expect(out.every((o) => o.ok && o.created === true)).toBe(true);
    }
    expect(w.stats()).toMatchObject({ changeReads: 2, unreadCreates: 0 });
    const before = bulkRecords();
    const third = Array.from({ length: 1000 }, (_, i) => contact(i === 500 ? "unread-miss@example.com" : `miss-2-${i}@example.com`, { firstname: "After" }));
    const out = await w.write(third);
    expect(out.filter((o) => !o.ok)).toEqual([]);
    expect(out[500]).toMatchObject({ ok: true, created: false });
    expect(out.filter((o) => o.ok && o.created === true)).toHaveLength(999);
    // The refused CreateMultiple wrote nothing (all-or-nothing): 999 creates and one update after the read.
    expect(bulkRecords() - before).toBe(1000);
    expect(w.stats()).toMatchObject({ changeReads: 3, unreadCreates: 1000, unreadMisses: 1000, bulkSplits: 0 });
    const rows = await rowsWhere("emailaddress1 eq 'unread-miss@example.com'");
    expect(rows).toHaveLength(1);
    expect(rows[0]?.firstname).toBe("After");
    expect(await rowsWhere("startswith(emailaddress1,'miss-2-')")).toHaveLength(999);
    // After the miss the table needs four times the evidence: the next batch is read again.
    await w.write(Array.from({ length: 1000 }, (_, i) => contact(`miss-3-${i}@example.com`)));
    expect(w.stats()).toMatchObject({ changeReads: 4, unreadCreates: 1000 });
  });
  it("through $batch (bulk actions off) an unread create that meets a row is read and narrowed on its own", async () => {
    const seed = writerFor([h.client()], { writeOnlyChanges: false });
    expect((await seed.write([contact("unread-part@example.com", { firstname: "Before" })]))[0]).toMatchObject({ ok: true });
    const w = writerFor([h.client()], { useBulkActions: false, batchSize: 500 });
    for (let b = 0; b < 4; b++) await w.write(Array.from({ length: 500 }, (_, i) => contact(`part-${b}-${i}@example.com`)));
    expect(w.stats()).toMatchObject({ changeReads: 4, unreadCreates: 0 });
    const out = await w.write([contact("part-4-0@example.com"), contact("unread-part@example.com", { firstname: "After" }), contact("part-4-1@example.com")]);
    expect(out).toMatchObject([
      { ok: true, created: true },
      { ok: true, created: false },
      { ok: true, created: true },
    ]);
    // Only the part that met its row was read again.
    expect(w.stats()).toMatchObject({ changeReads: 5, unreadCreates: 3, unreadMisses: 1 });
    const rows = await rowsWhere("emailaddress1 eq 'unread-part@example.com'");
    expect(rows.map((r) => r.firstname)).toEqual(["After"]);
  });
});
