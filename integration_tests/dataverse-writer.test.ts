import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../src/http/clock.js";
import { DataverseError } from "../src/dataverse/errors.js";
import { MetadataLoader } from "../src/dataverse/metadata.js";
import { createWriter, type WriterSettings } from "../src/dataverse/writer.js";
import type { DataverseClient } from "../src/dataverse/client.js";
import type { Operation } from "../src/model/operation.js";
import { POOL_APPS, startHarness, type Harness } from "./dataverse-env.js";

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

const settings: WriterSettings = { batchSize: 1000, maxBatchBytes: 8 * 1024 * 1024, retryBudgetSeconds: 30, useBulkActions: true };

function writerFor(clients: DataverseClient[], over: Partial<WriterSettings> = {}) {
  return createWriter({ clients, tables: meta.lookup, settings: { ...settings, ...over }, clock: systemClock });
}

function contact(email: string, columns: Record<string, string | number | null> = {}, kind: Operation["kind"] = "upsert"): Operation {
  return {
    kind,
    table: "contact",
    entitySet: "contacts",
    ref: { kind: "key", values: [["emailaddress1", email]] },
    columns: { lastname: "Doe", ...columns },
    bindings: [],
  };
}

async function rowsWhere(filter: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const page of h.client().query("contacts", { select: ["contactid", "emailaddress1", "lastname", "firstname"], filter, maxPageSize: 5000 })) {
    out.push(...page);
  }
  return out;
}

describe("writer: upserts by alternate key", () => {
  it("writes 2000 contacts through UpsertMultiple at ~1000 rows per request, and a rerun leaves the same rows", async () => {
    const ops = Array.from({ length: 2000 }, (_, i) => contact(`bulk${i}@example.com`, { firstname: `F${i}` }));
    const w = writerFor([h.client()]);
    const out = await w.write(ops);
    expect(out.every((o) => o.ok)).toBe(true);
    const s = w.stats();
    expect(s.bulkRequests).toBe(2);
    expect(s.batchRequests).toBe(0);
    expect(s.recordsPerRequest).toBe(1000);
    expect(await rowsWhere("startswith(emailaddress1,'bulk')")).toHaveLength(2000);

    const again = await w.write(ops.map((o) => ({ ...o, columns: { ...o.columns, lastname: "Again" } })));
    expect(again.every((o) => o.ok)).toBe(true);
    const rows = await rowsWhere("startswith(emailaddress1,'bulk')");
    expect(rows).toHaveLength(2000);
    expect(new Set(rows.map((r) => r.lastname))).toEqual(new Set(["Again"]));
  });

  it("writes through $batch when bulk actions are off, with the same result", async () => {
    const ops = Array.from({ length: 300 }, (_, i) => contact(`batch${i}@example.com`));
    const w = writerFor([h.client()], { useBulkActions: false, batchSize: 100 });
    const out = await w.write(ops);
    expect(out.filter((o) => !o.ok)).toEqual([]);
    expect(w.stats()).toMatchObject({ bulkRequests: 0, batchRequests: 3 });
    expect(await rowsWhere("startswith(emailaddress1,'batch')")).toHaveLength(300);
  });

  it("caps a request by bytes as well as rows", async () => {
    const ops = Array.from({ length: 40 }, (_, i) => contact(`bytes${i}@example.com`, { firstname: "x".repeat(40) }));
    const w = writerFor([h.client()], { maxBatchBytes: 2048 });
    expect((await w.write(ops)).every((o) => o.ok)).toBe(true);
    expect(w.stats().bulkRequests).toBeGreaterThanOrEqual(4);
  });
});

describe("writer: one bad row costs only its own rejection", () => {
  it("isolates one too-long value among 1000 by bisection and reports its code", async () => {
    const ops = Array.from({ length: 1000 }, (_, i) => contact(`bisect${i}@example.com`, i === 637 ? { lastname: "L".repeat(51) } : {}));
    const w = writerFor([h.client()]);
    const out = await w.write(ops);
    const failed = out.map((o, i) => [i, o] as const).filter(([, o]) => !o.ok);
    expect(failed.map(([i]) => i)).toEqual([637]);
    const bad = failed[0]?.[1];
    expect(bad).toMatchObject({ ok: false, status: 400 });
    expect(bad !== undefined && !bad.ok ? bad.code : "").toMatch(/^0x/);
    expect(await rowsWhere("startswith(emailaddress1,'bisect')")).toHaveLength(999);
    // 1 + about 2·log2(1000/8) bulk requests plus one small $batch, not 1000 single requests.
    const s = w.stats();
    expect(s.bulkRequests + s.batchRequests).toBeLessThan(30);
    expect(s.batchRequests).toBe(1);
    expect(s.bulkSplits).toBeGreaterThan(0);
  });

  it("update of a missing row is a rejection, delete of a missing row is done", async () => {
    const w = writerFor([h.client()]);
    const out = await w.write([
      contact("missing-update@example.com", {}, "update"),
      { ...contact("missing-delete@example.com", {}, "delete"), columns: {} },
    ]);
    expect(out[0]).toMatchObject({ ok: false, status: 404 });
    expect(out[1]).toEqual({ ok: true, unchanged: true });
    expect(await rowsWhere("emailaddress1 eq 'missing-update@example.com'")).toHaveLength(0);
  });
});

describe("writer: keys Dataverse cannot take in a URL", () => {
  it("upserts a row whose key holds / + ? & by resolving its GUID, without duplicating on rerun", async () => {
    const email = "o'neil/a+b?c&d@example.com";
    for (const useBulkActions of [true, false]) {
      const w = writerFor([h.client()], { useBulkActions });
      const out = await w.write([contact(email, { firstname: useBulkActions ? "One" : "Two" })]);
      expect(out).toEqual([expect.objectContaining({ ok: true })]);
    }
    const rows = await rowsWhere(`emailaddress1 eq 'o''neil/a+b?c&d@example.com'`);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.firstname).toBe("Two");
  });

  it("binds a lookup by alternate key, and by a key that needs resolution", async () => {
    const w = writerFor([h.client()]);
    const accounts: Operation[] = ["ACC-1", "ACC/2"].map((n) => ({
      kind: "upsert",
      table: "account",
      entitySet: "accounts",
      ref: { kind: "key", values: [["accountnumber", n]] },
      columns: { name: `Account ${n}` },
      bindings: [],
    }));
    expect((await w.write(accounts)).every((o) => o.ok)).toBe(true);
    const linked = ["ACC-1", "ACC/2"].map((n, i) => ({
      ...contact(`linked${i}@example.com`),
      bindings: [{ navigationProperty: "parentcustomerid_account", target: { entitySet: "accounts", table: "account", ref: { kind: "key" as const, values: [["accountnumber", n] as const] } } }],
    }));
    const out = await w.write(linked);
    expect(out.every((o) => o.ok)).toBe(true);
    const missing = await w.write([
      {
        ...contact("linked-missing@example.com"),
        bindings: [{ navigationProperty: "parentcustomerid_account", target: { entitySet: "accounts", table: "account", ref: { kind: "key", values: [["accountnumber", "NOPE-1"]] } } }],
      },
    ]);
    expect(missing[0]).toMatchObject({ ok: false, status: 404 });
  });

  it("resolves such keys with one $filter query per 50 keys, not one per row, matching case-insensitively", async () => {
    const n = 200;
    const key = (i: number, upper: boolean): string => `${upper ? "GROUPED" : "grouped"}/${i}+x@example.com`;
    const w = writerFor([h.client()], { useBulkActions: false, batchSize: 100 });
    const first = await w.write(Array.from({ length: n }, (_, i) => contact(key(i, false), { firstname: "First" })));
    expect(first.filter((o) => !o.ok)).toEqual([]);
    const s1 = w.stats();
    // Every request that is not a write is a lookup: ceil(200 / 50) of them, where it used to be 200.
    expect(s1.requests - s1.batchRequests).toBe(Math.ceil(n / 50));
    expect(await rowsWhere("startswith(emailaddress1,'grouped/')")).toHaveLength(n);

    // The same keys in another case are the same rows (Dataverse's key index ignores case).
    const again = await w.write(Array.from({ length: n }, (_, i) => contact(key(i, true), { firstname: "Second" })));
    expect(again.filter((o) => !o.ok)).toEqual([]);
    const s2 = w.stats();
    expect(s2.requests - s2.batchRequests - (s1.requests - s1.batchRequests)).toBe(Math.ceil(n / 50));
    const rows = await rowsWhere("startswith(emailaddress1,'grouped/')");
    expect(rows).toHaveLength(n);
    expect(new Set(rows.map((r) => r.firstname))).toEqual(new Set(["Second"]));

    // A lookup target by such a key that does not exist is still a rejection of its row only.
    const missing = await w.write([
      contact(key(0, false)),
      { ...contact(key(1, false)), bindings: [{ navigationProperty: "parentcustomerid_account", target: { entitySet: "accounts", table: "account", ref: { kind: "key", values: [["accountnumber", "NOPE/2"]] } } }] },
    ]);
    expect(missing[0]).toMatchObject({ ok: true });
    expect(missing[1]).toMatchObject({ ok: false, status: 404 });
  });
});

describe("writer: application-user pool", () => {
  it("spreads work over the users of the pool", async () => {
    const clients = [h.client({ initial: 2, max: 2 }), ...POOL_APPS.map((a) => h.client({ clientId: a.clientId, secret: a.secret, initial: 2, max: 2 }))];
    const before = h.emulator.stats().requests.byClient;
    const w = writerFor(clients, { batchSize: 50 });
    const out = await w.write(Array.from({ length: 1200 }, (_, i) => contact(`pool${i}@example.com`)));
    expect(out.every((o) => o.ok)).toBe(true);
    const after = h.emulator.stats().requests.byClient;
    for (const id of [h.emulator.config.client_id, ...POOL_APPS.map((a) => a.clientId)]) {
      expect((after[id] ?? 0) - (before[id] ?? 0)).toBeGreaterThan(3);
    }
    expect(w.stats().users).toHaveLength(3);
  });
});

describe("writer: run-level failures throw", () => {
  it("a user without write privilege fails the whole write, not record by record", async () => {
    const readOnly = h.emulator.apps.find((a) => a.displayName.startsWith("read-only"));
    expect(readOnly).toBeDefined();
    const w = writerFor([h.client({ clientId: readOnly?.clientId, secret: readOnly?.clientSecret })]);
    const err = await w.write([contact("priv@example.com")]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataverseError);
    expect((err as DataverseError).status).toBe(403);
  });
});
