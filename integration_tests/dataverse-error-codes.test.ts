// Five Dataverse error codes the connector branches on (issue 18 item 4), produced by the emulator
// in the situation Learn describes, not by hand-written answers: the writer must reject the one row
// (0x80040333, 0x80040265, 0x80061005) or fail the whole write as a privilege error (0x80040231).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_IDS } from "../emulator/default-environment.js";
import type { Environment } from "../emulator/index.js";
import { systemClock } from "../src/http/clock.js";
import { DataverseError } from "../src/dataverse/errors.js";
import { MetadataLoader } from "../src/dataverse/metadata.js";
import { createWriter, writeHeaders, type WriterSettings } from "../src/dataverse/writer.js";
import type { Operation } from "../src/model/operation.js";
import { startHarness, testEnvironment, type Harness } from "./dataverse-env.js";

const PLUGIN_MESSAGE = "Accounts in the Blocked region are refused by policy.";

function environment(): Environment {
  const base = testEnvironment();
  return {
    ...base,
    tables: base.tables.map((t) =>
      t.logicalName !== "contact"
        ? t
        : {
            ...t,
            columns: [
              ...t.columns,
              {
                logicalName: "new_channels",
                type: "MultiSelectPicklist" as const,
                options: [
                  { value: 1, label: "Email" },
                  { value: 2, label: "Phone" },
                ],
              },
            ],
          },
    ),
    plugins: [{ table: "account", message: "Create", column: "name", equals: "Blocked Ltd", error: PLUGIN_MESSAGE }],
  };
}

let h: Harness;
let meta: MetadataLoader;
beforeAll(async () => {
  h = await startHarness({ environment: environment() });
  meta = new MetadataLoader(h.client());
  await Promise.all([meta.loadTable("contact"), meta.loadTable("account")]);
});
afterAll(async () => {
  await h?.close();
});

const settings: WriterSettings = { batchSize: 1000, maxBatchBytes: 8 * 1024 * 1024, retryBudgetSeconds: 30, useBulkActions: true };

function writer(headers: Record<string, string> = {}) {
  return createWriter({ clients: [h.client()], tables: meta.lookup, settings, clock: systemClock, headers });
}

function account(number: string, name: string, kind: Operation["kind"] = "upsert"): Operation {
  return { kind, table: "account", entitySet: "accounts", ref: { kind: "key", values: [["accountnumber", number]] }, columns: { name }, bindings: [] };
}

async function accountNumbers(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const page of h.client().query("accounts", { select: ["accountnumber"], filter: `startswith(accountnumber,'${prefix}')` })) {
    for (const row of page) out.push(String(row["accountnumber"]));
  }
  return out.sort();
}

describe("0x80040333 DuplicateRecordsFound", () => {
  it("given duplicate detection on, rejects only the account whose name a published rule finds again, through a bulk request that is split", async () => {
    await writer().write([account("DD-0", "Northwind Traders")]);
    const ops = Array.from({ length: 12 }, (_, i) => account(`DD-${i + 1}`, i === 7 ? "northwind traders" : `Unique ${i}`));
    const w = writer(writeHeaders({ duplicateDetection: true }));
    const out = await w.write(ops);
    expect(out[7]).toMatchObject({ ok: false, status: 412, code: "0x80040333" });
    expect(out.filter((o) => !o.ok)).toHaveLength(1);
    expect(w.stats().bulkSplits).toBeGreaterThan(0);
    expect(await accountNumbers("DD-")).toHaveLength(12);
  });

  it("given a create-only write (a row with its own id) that a rule finds a duplicate of, rejects it: a 412 that is not the row itself is not 'already done'", async () => {
    await writer().write([account("DDC-0", "Adventure Works")]);
    const op: Operation = { kind: "create", table: "account", entitySet: "accounts", ref: { kind: "id", id: "5f0c8a1e-2b7d-4c3e-9a10-0123456789ab" }, columns: { name: "Adventure Works", accountnumber: "DDC-1" }, bindings: [] };
    const out = await writer(writeHeaders({ duplicateDetection: true })).write([op]);
    expect(out).toEqual([expect.objectContaining({ ok: false, status: 412, code: "0x80040333" })]);
    expect(await accountNumbers("DDC-")).toEqual(["DDC-0"]);
  });

  it("given duplicate detection off (the default), writes the duplicate", async () => {
    await writer().write([account("DDO-0", "Tailspin Toys")]);
    expect(await writer().write([account("DDO-1", "Tailspin Toys")])).toEqual([{ ok: true }]);
  });
});

describe("0x80040265 a plug-in refused the row", () => {
  it("rejects that row with the plug-in's message and writes the rest", async () => {
    const ops = Array.from({ length: 10 }, (_, i) => account(`PL-${i}`, i === 3 ? "Blocked Ltd" : `Open ${i}`));
    const out = await writer().write(ops);
    expect(out[3]).toEqual({ ok: false, status: 400, code: "0x80040265", message: PLUGIN_MESSAGE });
    expect(out.filter((o) => o.ok)).toHaveLength(9);
    expect(await accountNumbers("PL-")).toHaveLength(9);
  });
});

describe("0x80061005 OptionSetValidationFailed", () => {
  it("rejects the contact whose multi-select value is not an option, and writes the rest", async () => {
    const ops: Operation[] = ["1", "1,2", "1,9", "2"].map((channels, i) => ({
      kind: "upsert",
      table: "contact",
      entitySet: "contacts",
      ref: { kind: "key", values: [["emailaddress1", `ms${i}@example.com`]] },
      columns: { lastname: "M", new_channels: channels },
      bindings: [],
    }));
    const out = await writer().write(ops);
    expect(out[2]).toEqual({ ok: false, status: 400, code: "0x80061005", message: "The value is out of range." });
    expect([out[0], out[1], out[3]].every((o) => o?.ok === true)).toBe(true);
  });
});

describe("0x80040231 PrincipalPrivilegeDenied", () => {
  it("fails the whole write as a privilege error when rows are assigned to a user who may not read the table", async () => {
    const ops: Operation[] = Array.from({ length: 3 }, (_, i) => ({
      kind: "upsert",
      table: "contact",
      entitySet: "contacts",
      ref: { kind: "key", values: [["emailaddress1", `owned${i}@example.com`]] },
      columns: { lastname: "Owned" },
      bindings: [{ navigationProperty: "ownerid", target: { table: "systemuser", entitySet: "systemusers", ref: { kind: "id", id: DEFAULT_IDS.readOnlyApp.systemUserId } } }],
    }));
    const err = await writer().write(ops).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataverseError);
    expect(err).toMatchObject({ kind: "forbidden", status: 403, code: "0x80040231" });
    expect((err as Error).message).not.toContain("owned0@example.com");
  });
});
