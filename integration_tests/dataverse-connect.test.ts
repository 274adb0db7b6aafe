// connectDataverse from a ConnectorConfig, and the write kinds other than upsert.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConnectorConfig } from "../src/config/types.js";
import { connectDataverse, type DataverseConnection } from "../src/dataverse/connect.js";
import { AuthError } from "../src/dataverse/auth.js";
import type { Operation } from "../src/model/operation.js";
import { POOL_APPS, startHarness, type Harness } from "./dataverse-env.js";

let h: Harness;
let conn: DataverseConnection;

function configFor(over: Partial<ConnectorConfig> = {}): ConnectorConfig {
  const c = h.emulator.config;
  return {
    webApiEndpoint: new URL(c.web_api_endpoint),
    tenantId: c.tenant_id,
    clientId: c.client_id,
    clientSecret: c.client_secret,
    authorityHost: new URL(c.authority_host),
    caFile: c.ca_file,
    additionalUsers: POOL_APPS.map((a) => ({ clientId: a.clientId, clientSecret: a.secret })),
    streams: [],
    write: {
      batchSize: 1000,
      maxBatchBytes: 8 * 1024 * 1024,
      maxConcurrency: 16,
      retryBudgetSeconds: 30,
      useBulkActions: true,
      writeOnlyChanges: false,
      suppressFlows: true,
      duplicateDetection: false,
      deadLetterIncludeRecord: false,
      maxRejectedShare: 0.1,
      flushIntervalSeconds: 60,
    },
    ...over,
  };
}

beforeAll(async () => {
  h = await startHarness();
  conn = await connectDataverse(configFor());
  await conn.metadata.loadTable("contact");
});
afterAll(async () => {
  await conn?.close();
  await h?.close();
});

const id = (n: number): string => `cccccccc-0000-4000-8000-${String(n).padStart(12, "0")}`;

function op(kind: Operation["kind"], n: number, columns: Operation["columns"] = {}): Operation {
  return { kind, table: "contact", entitySet: "contacts", ref: { kind: "id", id: id(n) }, columns, bindings: [] };
}

async function row(n: number): Promise<Record<string, unknown> | undefined> {
  for await (const page of conn.clients[0]!.query("contacts", { select: ["contactid", "lastname", "statecode", "statuscode"], filter: `contactid eq ${id(n)}` })) return page[0];
  return undefined;
}

describe("connectDataverse", () => {
  it("connects every user and starts them at the dop hint", async () => {
    expect(conn.clients.map((c) => c.clientId)).toEqual([h.emulator.config.client_id, ...POOL_APPS.map((a) => a.clientId)]);
    expect(conn.whoAmI.dopHint).toBeGreaterThan(0);
    for (const c of conn.clients) expect(c.throttle.limit).toBeGreaterThanOrEqual(conn.whoAmI.dopHint ?? 1);
  });

  it("a wrong secret fails at connect time with an AuthError", async () => {
    const err = await connectDataverse(configFor({ clientSecret: "wrong-secret-for-test", additionalUsers: [] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
  });
});

describe("write kinds", () => {
  it("create with a GUID, replayed after a crash, is done once (bulk and $batch)", async () => {
    const first = await conn.writer.write([op("create", 1, { lastname: "Created" }), op("create", 2, { lastname: "Created" })]);
    expect(first).toEqual([{ ok: true, created: true }, { ok: true, created: true }]);
    // A replay through CreateMultiple fails as a whole (duplicate id) and falls back to $batch,
    // where the If-None-Match: * answer 412 means "already there".
    const replay = await conn.writer.write([op("create", 1, { lastname: "Created" }), op("create", 3, { lastname: "Created" })]);
    expect(replay[0]).toMatchObject({ ok: true });
    expect(replay[1]).toEqual({ ok: true, created: true });
    expect((await row(1))?.lastname).toBe("Created");
  });

  it("update by id changes the row; deactivate sets state and status; delete removes it, twice is fine", async () => {
    await conn.writer.write([op("create", 10, { lastname: "Before" })]);
    expect(await conn.writer.write([op("update", 10, { lastname: "After" })])).toEqual([{ ok: true }]);
    expect((await row(10))?.lastname).toBe("After");
    expect(await conn.writer.write([op("deactivate", 10, { statecode: 1, statuscode: 2 })])).toEqual([{ ok: true }]);
    expect(await row(10)).toMatchObject({ statecode: 1, statuscode: 2 });
    expect(await conn.writer.write([op("delete", 10)])).toEqual([{ ok: true }]);
    expect(await row(10)).toBeUndefined();
    // Deleting a row that is already gone is done, and reported as a no-op.
    expect(await conn.writer.write([op("delete", 10)])).toEqual([{ ok: true, unchanged: true }]);
  });

  it("operations that cannot be addressed are rejected before anything is sent", async () => {
    const before = conn.writer.stats().requests;
    const out = await conn.writer.write([
      { kind: "update", table: "contact", entitySet: "contacts", ref: { kind: "none" }, columns: { lastname: "x" }, bindings: [] },
      { kind: "upsert", table: "contact", entitySet: "contacts", ref: { kind: "id", id: "not-a-guid" }, columns: {}, bindings: [] },
    ]);
    expect(out.map((o) => o.ok)).toEqual([false, false]);
    expect(conn.writer.stats().requests).toBe(before);
  });

  it("reports stats per user", () => {
    const s = conn.writer.stats();
    expect(s.users.map((u) => u.label)).toEqual(["main", "user2", "user3"]);
    expect(s.requests).toBeGreaterThan(0);
  });
});
