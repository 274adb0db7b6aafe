import { describe, expect, it } from "vitest";
import { RetryBudget } from "../http/retry.js";
import { contactTable } from "../mapping/test-fixtures.js";
import type { Operation, OperationKind, RowRef } from "../model/operation.js";
import { batchPart, bodyJson, bulkAssemblerFor, bulkRequest, chunks } from "./assemble.js";
import { newItem, type Item } from "./write-item.js";

const GUID = "00000000-0000-0000-0000-0000000000a1";
const op = (kind: OperationKind, ref: RowRef, columns: Operation["columns"] = { lastname: "L" }): Operation => ({ kind, table: "contact", entitySet: "contacts", ref, columns, bindings: [] });
const item = (o: Operation): Item => newItem(0, o, new RetryBudget(1000));
const byKey: RowRef = { kind: "key", values: [["emailaddress1", "a@x.com"]] };

describe("$batch parts, one assembler per kind", () => {
  it.each([
    ["create", { kind: "none" }, "POST", "/api/data/v9.2/contacts", {}],
    ["create", byKey, "PATCH", "/api/data/v9.2/contacts(emailaddress1='a@x.com')", { "If-None-Match": "*" }],
    ["upsert", { kind: "none" }, "POST", "/api/data/v9.2/contacts", {}],
    ["upsert", byKey, "PATCH", "/api/data/v9.2/contacts(emailaddress1='a@x.com')", {}],
    ["update", { kind: "id", id: GUID }, "PATCH", `/api/data/v9.2/contacts(${GUID})`, { "If-Match": "*" }],
    ["deactivate", byKey, "PATCH", "/api/data/v9.2/contacts(emailaddress1='a@x.com')", { "If-Match": "*" }],
    ["delete", byKey, "DELETE", "/api/data/v9.2/contacts(emailaddress1='a@x.com')", {}],
  ] as const)("%s by %o is %s %s", (kind, ref, method, url, headers) => {
    const part = batchPart(item(op(kind, ref)), "/api/data/v9.2/", { CallerObjectId: "u" });
    expect(part).toMatchObject({ method, url, headers: { CallerObjectId: "u", ...headers } });
    if (kind === "delete") expect(part.body).toBeUndefined();
    else expect(JSON.parse(part.body ?? "")).toEqual({ lastname: "L" });
  });
});

describe("bulk actions", () => {
  const meta = contactTable();
  it("picks the action of the operation's kind, none for deletes, elastic tables or when bulk is off", () => {
    expect(bulkAssemblerFor(op("create", byKey), meta, true)?.message).toBe("CreateMultiple");
    expect(bulkAssemblerFor(op("update", byKey), meta, true)?.message).toBe("UpdateMultiple");
    expect(bulkAssemblerFor(op("upsert", byKey), meta, true)?.message).toBe("UpsertMultiple");
    expect(bulkAssemblerFor(op("update", { kind: "none" }), meta, true)).toBeUndefined();
    expect(bulkAssemblerFor(op("delete", byKey), meta, true)).toBeUndefined();
    expect(bulkAssemblerFor(op("upsert", byKey), { ...meta, tableType: "Elastic" }, true)).toBeUndefined();
    expect(bulkAssemblerFor(op("upsert", byKey), meta, false)).toBeUndefined();
  });
  it("a create whose key has a lookup part goes through $batch", () => {
    expect(bulkAssemblerFor(op("create", { kind: "key", values: [["_parentcustomerid_value", GUID]] }), meta, true)).toBeUndefined();
  });
  it("a create target holds its key columns, an upsert target names its row in @odata.id", () => {
    const create = bulkAssemblerFor(op("create", byKey), meta, true);
    const upsert = bulkAssemblerFor(op("upsert", byKey), meta, true);
    if (create === undefined || upsert === undefined) throw new Error("no assembler");
    const c = bulkRequest([item(op("create", byKey))], meta, create);
    expect(c.path).toBe("contacts/Microsoft.Dynamics.CRM.CreateMultiple");
    expect(JSON.parse(c.body.toString())).toEqual({ Targets: [{ "@odata.type": "Microsoft.Dynamics.CRM.contact", lastname: "L", emailaddress1: "a@x.com" }] });
    const u = bulkRequest([item(op("upsert", byKey))], meta, upsert);
    expect(JSON.parse(u.body.toString())).toEqual({ Targets: [{ "@odata.type": "Microsoft.Dynamics.CRM.contact", lastname: "L", "@odata.id": "contacts(emailaddress1='a@x.com')" }] });
  });
  it("chunks by rows and by bytes", () => {
    const many = Array.from({ length: 5 }, () => item(op("upsert", byKey)));
    expect([...chunks(many, meta, undefined, { rows: 2, bytes: 1e6 })].map((c) => c.length)).toEqual([2, 2, 1]);
    expect([...chunks(many, meta, undefined, { rows: 100, bytes: 500 })].map((c) => c.length)).toEqual([2, 2, 1]);
  });
});

describe("bodyJson", () => {
  it("writes a bigint (Edm.Int64 beyond 2^53) as its digits, a body without one as JSON.stringify does", () => {
    expect(bodyJson({ "@odata.type": "Microsoft.Dynamics.CRM.account", new_big: 9223372036854775807n, name: "x", n: null })).toBe(
      '{"@odata.type":"Microsoft.Dynamics.CRM.account","new_big":9223372036854775807,"name":"x","n":null}',
    );
    expect(bodyJson({ a: 1, b: "t" })).toBe('{"a":1,"b":"t"}');
  });
});
