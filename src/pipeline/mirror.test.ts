import { describe, expect, it } from "vitest";
import type { MirrorConfig } from "../config/types.js";
import type { WriteOptions, WriteOutcome, Writer } from "../model/writer.js";
import type { Operation } from "../model/operation.js";
import { planStream, type StreamPlan } from "../mapping/plan.js";
import { mapRecord } from "../mapping/record.js";
import { accountTable, contactTable, fixtureTables, streamMapping } from "../mapping/test-fixtures.js";
import { MirrorError, MirrorTracker, mirrorIssues, mirrorSettingIssues, refKey, rowKey, runMirror } from "./mirror.js";
import type { MirrorReader } from "./mirror.js";

const ME = "aaaaaaaa-0000-4000-8000-000000000001";
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;

function plan(init: Parameters<typeof streamMapping>[0] = {}): StreamPlan {
  const m = streamMapping(init);
  const r = planStream(m, m.table === "account" ? accountTable() : contactTable(), fixtureTables());
  if (r.plan === undefined) throw new Error(JSON.stringify(r.issues));
  return r.plan;
}

type Row = Record<string, unknown>;

/** A reader over fixed rows that applies the scope filter the way Dataverse would, and records each query. */
class FakeReader implements MirrorReader {
  readonly queries: { entitySet: string; select?: readonly string[]; filter?: string }[] = [];
  constructor(
    private readonly rows: readonly Row[],
    private readonly pageSize = 2,
  ) {}
  async whoAmI(): Promise<{ userId: string }> {
    return { userId: ME.toUpperCase() };
  }
  async *query(entitySet: string, options: { select?: readonly string[]; filter?: string } = {}): AsyncIterable<Row[]> {
    this.queries.push({ entitySet, ...options });
    const m = /^(\w+) eq (.+)$/.exec(options.filter ?? "");
    if (m === null) throw new Error(`unexpected filter ${options.filter ?? ""}`);
    const [, column, literal] = m as unknown as [string, string, string];
    const want = literal.startsWith("'") ? literal.slice(1, -1).replace(/''/g, "'") : literal;
    const hits = this.rows.filter((r) => String(r[column]).toLowerCase() === want.toLowerCase());
    for (let i = 0; i < hits.length; i += this.pageSize) {
      await Promise.resolve();
      yield hits.slice(i, i + this.pageSize).map((r) => Object.fromEntries((options.select ?? Object.keys(r)).map((c) => [c, r[c] ?? null])));
    }
  }
}

class FakeWriter implements Writer {
  readonly calls: (readonly Operation[])[] = [];
  readonly options: (WriteOptions | undefined)[] = [];
  constructor(private readonly refuse: ReadonlySet<string> = new Set()) {}
  async write(ops: readonly Operation[], options?: WriteOptions): Promise<readonly WriteOutcome[]> {
    this.calls.push(ops);
    this.options.push(options);
    return ops.map((o) => (o.ref.kind === "id" && this.refuse.has(o.ref.id) ? { ok: false, status: 403, code: "0x80040220", message: "no" } : { ok: true }));
  }
  async close(): Promise<void> {}
  get ops(): Operation[] {
    return this.calls.flat();
  }
}

const owner = (over: Partial<MirrorConfig> = {}): MirrorConfig => ({ enabled: true, scope: { kind: "owner" }, maxDeleteShare: 0.5, action: "delete", ...over });

function contactRow(n: number, ext: string | null, extra: Row = {}): Row {
  return { contactid: id(n), contoso_externalid: ext, _ownerid_value: ME, statecode: 0, ...extra };
}

function trackerFor(p: StreamPlan, records: readonly Row[]): MirrorTracker {
  const t = new MirrorTracker(p);
  for (const r of records) {
    const m = mapRecord(p, r);
    if (m.ok) t.add(m.operation.ref);
    else t.noteUnkeyed();
  }
  return t;
}

describe("mirror keys", () => {
  it("a key ref and the row it addresses give the same key, whatever the case, trailing blanks or column order", () => {
    const p = plan({ key: { kind: "columns", columns: ["firstname", "emailaddress1"] } });
    const m = mapRecord(p, { firstname: "Zoë", emailaddress1: "Z@Example.org " });
    if (!m.ok) throw new Error("mapping failed");
    expect(refKey(p, m.operation.ref)).toBe(rowKey(p, { emailaddress1: "z@example.org", firstname: "ZOË", contactid: id(1) }));
    // Issue 14: accents count only where the environment's collation is accent-sensitive (_CI_AS).
    const sensitive: StreamPlan = { ...p, table: { ...p.table, keyCollation: { language: 1035, accentSensitive: true } } };
    expect(refKey(sensitive, m.operation.ref)).not.toBe(rowKey(sensitive, { emailaddress1: "z@example.org", firstname: "Zoe", contactid: id(1) }));
  });

  it("under the default collation (_CI_AI, English) accents do not count, and neither do trailing spaces; a tab does", () => {
    const p = plan({ key: { kind: "columns", columns: ["firstname", "emailaddress1"] } });
    const m = mapRecord(p, { firstname: "Zoë", emailaddress1: "Z@Example.org " });
    if (!m.ok) throw new Error("mapping failed");
    expect(refKey(p, m.operation.ref)).toBe(rowKey(p, { emailaddress1: "z@example.org", firstname: "Zoe", contactid: id(1) }));
    expect(refKey(p, m.operation.ref)).not.toBe(rowKey(p, { emailaddress1: "z@example.org\t", firstname: "Zoe", contactid: id(1) }));
  });

  it('composite values cannot run together: ["a,b"] is not ["a","b"]', () => {
    const p = plan({ key: { kind: "columns", columns: ["firstname", "emailaddress1"] } });
    expect(rowKey(p, { firstname: "a,b", emailaddress1: "c" })).not.toBe(rowKey(p, { firstname: "a", emailaddress1: "b,c" }));
  });

  it("GUID refs (id field, deterministic) compare by the primary id, case-insensitively", () => {
    const p = plan({ key: { kind: "id_field", field: "cid" } });
    const m = mapRecord(p, { cid: id(7).toUpperCase(), lastname: "X" });
    if (!m.ok) throw new Error("mapping failed");
    expect(refKey(p, m.operation.ref)).toBe(rowKey(p, { contactid: id(7) }));
  });

  it("numbers compare by value: 42 in the ref and \"42\" or 42 in the row are one key; empty keys match nothing", () => {
    const table = contactTable({ keys: [{ logicalName: "legacy", schemaName: "Legacy", columns: ["contoso_legacyid"], status: "Active" }] });
    const r = planStream(streamMapping({ key: { kind: "alternate_key", name: "legacy" } }), table, fixtureTables());
    if (r.plan === undefined) throw new Error(JSON.stringify(r.issues));
    const m = mapRecord(r.plan, { contoso_legacyid: "42" });
    if (!m.ok) throw new Error("mapping failed");
    expect(refKey(r.plan, m.operation.ref)).toBe(rowKey(r.plan, { contoso_legacyid: 42 }));
    expect(refKey(r.plan, m.operation.ref)).toBe(rowKey(r.plan, { contoso_legacyid: "42" }));
    expect(refKey(r.plan, m.operation.ref)).not.toBe(rowKey(r.plan, { contoso_legacyid: 420 }));
    const q = plan();
    expect(rowKey(q, { contoso_externalid: "  " })).toBeUndefined();
    expect(rowKey(q, { contoso_externalid: null })).toBeUndefined();
    expect(refKey(q, { kind: "none" })).toBeUndefined();
  });
});

describe("runMirror", () => {
  it("removes only the in-scope rows missing from the sync, in writer calls of batchSize, and leaves other owners' rows alone", async () => {
    const p = plan();
    const rows = [
      contactRow(1, "E1"),
      contactRow(2, "E2"),
      contactRow(3, "E3"),
      contactRow(4, "E4"),
      contactRow(5, "E5"),
      contactRow(6, "E6"),
      contactRow(7, "E7", { _ownerid_value: "bbbbbbbb-0000-4000-8000-000000000002" }),
    ];
    const reader = new FakeReader(rows);
    const writer = new FakeWriter();
    const tracker = trackerFor(p, [{ contoso_externalid: "e1" }, { contoso_externalid: "E2" }, { contoso_externalid: "E3" }, { contoso_externalid: "E4 " }]);
    const result = await runMirror({ reader, writer, batchSize: 1, writeOptions: { headers: { "x-test": "1" } } }, p, tracker, owner());
    expect(result).toEqual({ kind: "done", inScope: 6, removed: 2, failed: new Map(), unmatchable: 0 });
    expect(writer.ops.map((o) => [o.kind, o.entitySet, o.ref])).toEqual([
      ["delete", "contacts", { kind: "id", id: id(5) }],
      ["delete", "contacts", { kind: "id", id: id(6) }],
    ]);
    expect(writer.calls).toHaveLength(2);
    expect(writer.options[0]).toEqual({ headers: { "x-test": "1" } });
    expect(reader.queries).toEqual([{ entitySet: "contacts", select: ["contactid", "contoso_externalid"], filter: `_ownerid_value eq ${ME}`, maxPageSize: 5000 }]);
  });

  it("over max_delete_share removes nothing and fails with a config error naming the counts", async () => {
    const p = plan();
    const writer = new FakeWriter();
    const tracker = trackerFor(p, [{ contoso_externalid: "E1" }]);
    const run = runMirror({ reader: new FakeReader([contactRow(1, "E1"), contactRow(2, "E2"), contactRow(3, "E3")]), writer }, p, tracker, owner({ maxDeleteShare: 0.5 }));
    await expect(run).rejects.toBeInstanceOf(MirrorError);
    await expect(run).rejects.toMatchObject({ code: "mirror_cap_exceeded", failureType: "config_error", message: expect.stringMatching(/2 of 3 in-scope rows/) });
    expect(writer.calls).toEqual([]);
  });

  it("exactly at max_delete_share is allowed", async () => {
    const p = plan();
    const writer = new FakeWriter();
    const r = await runMirror({ reader: new FakeReader([contactRow(1, "E1"), contactRow(2, "E2")]), writer }, p, trackerFor(p, [{ contoso_externalid: "E1" }]), owner({ maxDeleteShare: 0.5 }));
    expect(r).toMatchObject({ kind: "done", removed: 1 });
  });

  it("skips, removing nothing, when mapping rejected a record of the stream (its row may be in the table)", async () => {
    const p = plan();
    const writer = new FakeWriter();
    const tracker = trackerFor(p, [{ contoso_externalid: "E1" }, { lastname: "no key" }]);
    const r = await runMirror({ reader: new FakeReader([contactRow(1, "E1"), contactRow(2, "E2")]), writer }, p, tracker, owner({ maxDeleteShare: 1 }));
    expect(r.kind).toBe("skipped");
    expect(writer.calls).toEqual([]);
  });

  it("deactivate: sends the inactive state pair, and leaves rows already inactive alone", async () => {
    const p = plan();
    const writer = new FakeWriter();
    const rows = [contactRow(1, "E1"), contactRow(2, "E2"), contactRow(3, "E3", { statecode: 1 })];
    const r = await runMirror({ reader: new FakeReader(rows), writer }, p, trackerFor(p, [{ contoso_externalid: "E1" }]), owner({ action: "deactivate", maxDeleteShare: 0.5 }));
    expect(r).toMatchObject({ kind: "done", inScope: 3, removed: 1 });
    expect(writer.ops).toEqual([{ kind: "deactivate", table: "contact", entitySet: "contacts", ref: { kind: "id", id: id(2) }, columns: { statecode: 1, statuscode: 2 }, bindings: [] }]);
  });

  it("marker scope filters on the marker column, and rows with an empty key are never removed", async () => {
    const p = plan();
    const writer = new FakeWriter();
    const rows = [
      contactRow(1, "E1", { description: "synced by d365" }),
      contactRow(2, "E2", { description: "synced by d365" }),
      contactRow(3, null, { description: "synced by d365" }),
      contactRow(4, "E4", { description: "hand made" }),
    ];
    const reader = new FakeReader(rows);
    const r = await runMirror({ reader, writer }, p, trackerFor(p, [{ contoso_externalid: "E1" }]), {
      enabled: true,
      scope: { kind: "marker", column: "description", value: "synced by d365" },
      maxDeleteShare: 0.5,
      action: "delete",
    });
    expect(r).toMatchObject({ kind: "done", inScope: 3, removed: 1, unmatchable: 1 });
    expect(writer.ops.map((o) => o.ref)).toEqual([{ kind: "id", id: id(2) }]);
    expect(reader.queries[0]?.filter).toBe("description eq 'synced by d365'");
  });

  it("counts refusals by code rather than failing the run", async () => {
    const p = plan();
    const writer = new FakeWriter(new Set([id(2)]));
    const rows = [contactRow(1, "E1"), contactRow(2, "E2"), contactRow(3, "E3")];
    const r = await runMirror({ reader: new FakeReader(rows), writer }, p, trackerFor(p, []), owner({ maxDeleteShare: 1 }));
    expect(r).toEqual({ kind: "done", inScope: 3, removed: 2, failed: new Map([["0x80040220", 1]]), unmatchable: 0 });
  });

  it("nothing missing: no writer call", async () => {
    const p = plan();
    const writer = new FakeWriter();
    const r = await runMirror({ reader: new FakeReader([contactRow(1, "E1")]), writer }, p, trackerFor(p, [{ contoso_externalid: "E1" }]), owner());
    expect(r).toMatchObject({ kind: "done", inScope: 1, removed: 0 });
    expect(writer.calls).toEqual([]);
  });
});

describe("mirrorIssues", () => {
  it("names what makes mirror unusable", () => {
    const keyless = plan({ key: { kind: "none" }, mode: "create" });
    expect(mirrorIssues(keyless, owner())).toEqual([expect.stringContaining("needs a key")]);
    const p = plan();
    expect(mirrorIssues(p, owner({ scope: { kind: "marker", column: "nosuch", value: "x" } }))).toEqual([expect.stringContaining("nosuch")]);
    expect(mirrorIssues(p, owner({ scope: { kind: "marker", column: "numberofchildren", value: "many" } }))).toEqual([expect.stringContaining("numberofchildren")]);
    expect(mirrorIssues(p, owner({ maxDeleteShare: 2 }))).toEqual([expect.stringContaining("max_delete_share")]);
    expect(mirrorIssues(p, owner({ enabled: false, maxDeleteShare: 2 }))).toEqual([]);
    expect(mirrorIssues(p, owner())).toEqual([]);
  });

  it("mirrorSettingIssues leaves out the key, which the catalog may still supply", () => {
    const keyless = plan({ key: { kind: "none" }, mode: "create" });
    expect(mirrorSettingIssues(keyless, owner())).toEqual([]);
    expect(mirrorSettingIssues(keyless, owner({ scope: { kind: "marker", column: "nosuch", value: "x" } }))).toEqual([expect.stringContaining("nosuch")]);
    expect(mirrorIssues(keyless, owner({ maxDeleteShare: 2 }))).toEqual([expect.stringContaining("needs a key"), expect.stringContaining("max_delete_share")]);
  });

  it("runMirror refuses an invalid mirror before reading anything", async () => {
    const reader = new FakeReader([]);
    await expect(runMirror({ reader, writer: new FakeWriter() }, plan(), new MirrorTracker(plan()), owner({ maxDeleteShare: -1 }))).rejects.toMatchObject({ code: "mirror_invalid" });
    expect(reader.queries).toEqual([]);
  });
});
