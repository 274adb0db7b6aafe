import { describe, expect, it } from "vitest";
import type { FieldMapping, StreamMapping } from "../config/types.js";
import type { TableMeta } from "../model/table-meta.js";
import type { MapResult, Operation, RecordIssue } from "../model/operation.js";
import { planStream, type StreamPlan } from "./plan.js";
import { fieldPath, isUnknownField, lookupTargets, mapRecord } from "./record.js";
import { accountTable, contactTable, fixtureTables, streamMapping } from "./test-fixtures.js";
import { deterministicId } from "./uuid.js";

const tables = fixtureTables();
const NS = "9e2a5b1c-3f4d-4e5f-8a6b-7c8d9e0f1a2b";
const G1 = "11111111-1111-4111-8111-111111111111";
const G2 = "22222222-2222-4222-8222-222222222222";

function planOf(m: StreamMapping, table: TableMeta = m.table === "account" ? accountTable() : contactTable()): StreamPlan {
  const r = planStream(m, table, tables);
  if (r.plan === undefined) throw new Error(`plan failed: ${JSON.stringify(r.issues)}`);
  return r.plan;
}
function op(r: MapResult): Operation {
  if (!r.ok) throw new Error(`expected an operation, got ${JSON.stringify(r.issues)}`);
  return r.operation;
}
function issues(r: MapResult): readonly RecordIssue[] {
  if (r.ok) throw new Error(`expected issues, got ${JSON.stringify(r.operation)}`);
  return r.issues;
}

const byExternalId = (fields: Record<string, FieldMapping> = {}, extra: Partial<Parameters<typeof streamMapping>[0]> = {}) =>
  planOf(streamMapping({ fields, ...extra }));

describe("mapRecord: keys", () => {
  it("addresses a row by a composite key and keeps the key columns out of the body", () => {
    const p = planOf(streamMapping({ key: { kind: "columns", columns: ["firstname", "emailaddress1"] } }));
    const o = op(mapRecord(p, { firstname: "Joe", emailaddress1: "joe@example.com", lastname: "Smith" }));
    expect(o).toEqual({
      kind: "upsert", table: "contact", entitySet: "contacts",
      ref: { kind: "key", values: [["firstname", "Joe"], ["emailaddress1", "joe@example.com"]] },
      columns: { lastname: "Smith" }, bindings: [],
    });
  });

  it.each([
    ["an apostrophe", "O'Bryan"],
    ["a slash", "ACME/EU-1"],
    ["non-ASCII text", "Zoë Ångström 東京"],
    ["all three and a percent", "d'Été/50%"],
  ])("keeps a key value with %s raw (the writer formats it)", (_l, value) => {
    const o = op(mapRecord(byExternalId(), { contoso_externalid: value, lastname: "x" }));
    expect(o.ref).toEqual({ kind: "key", values: [["contoso_externalid", value]] });
  });

  it("coerces a key value to its column type: integers become numbers", () => {
    const t = contactTable({ keys: [{ logicalName: "legacy", schemaName: "Legacy", columns: ["contoso_legacyid"], status: "Active" }] });
    const p = planOf(streamMapping({ key: { kind: "alternate_key", name: "legacy" }, fields: { legacy: { column: "contoso_legacyid" } } }), t);
    expect(op(mapRecord(p, { legacy: "0042" })).ref).toEqual({ kind: "key", values: [["contoso_legacyid", 42]] });
    expect(issues(mapRecord(p, { legacy: "4.2" }))).toEqual([expect.objectContaining({ field: "/legacy", code: "not_an_integer" })]);
  });

  it("addresses a key that contains a lookup column by its _value property and the related GUID", () => {
    const t = accountTable({ keys: [{ logicalName: "k", schemaName: "K", columns: ["name", "primarycontactid"], status: "Active" }] });
    const p = planOf(streamMapping({ name: "accounts", table: "account", key: { kind: "alternate_key", name: "k" } }), t);
    const o = op(mapRecord(p, { name: "Acme", primarycontactid: G1.toUpperCase(), address1_city: "Lyon" }));
    expect(o.ref).toEqual({ kind: "key", values: [["name", "Acme"], ["_primarycontactid_value", G1]] });
    expect(o.bindings).toEqual([]);
    expect(o.columns).toEqual({ address1_city: "Lyon" });
    expect(issues(mapRecord(p, { name: "Acme", primarycontactid: "bob" }))[0]).toMatchObject({ field: "/primarycontactid", code: "invalid_guid" });
  });

  it.each([
    ["absent", {}],
    ["null", { contoso_externalid: null }],
    ["blank", { contoso_externalid: "  " }],
  ])("rejects a record whose key value is %s", (_l, data) => {
    expect(issues(mapRecord(byExternalId(), data))).toEqual([expect.objectContaining({ field: "/contoso_externalid", code: "missing_key" })]);
  });

  it("never truncates a key value, even with truncateStrings on", () => {
    const p = byExternalId({}, { truncateStrings: true });
    expect(issues(mapRecord(p, { contoso_externalid: "k".repeat(101) }))[0]?.code).toBe("too_long");
  });

  it("takes the row GUID from a source field and leaves the primary id out of the body", () => {
    const p = planOf(streamMapping({ mode: "update", key: { kind: "id_field", field: "contactid" } }));
    const o = op(mapRecord(p, { contactid: `{${G1.toUpperCase()}}`, firstname: "Ann" }));
    expect(o.ref).toEqual({ kind: "id", id: G1 });
    expect(o.columns).toEqual({ firstname: "Ann" });
    expect(o.kind).toBe("update");
    expect(issues(mapRecord(p, { contactid: "123" }))).toEqual([expect.objectContaining({ field: "/contactid", code: "invalid_guid" })]);
    expect(issues(mapRecord(p, { firstname: "x" }))[0]?.code).toBe("missing_key");
  });

  it("derives a deterministic GUID from the key fields, the same on every run", () => {
    const p = planOf(streamMapping({ key: { kind: "deterministic", namespace: NS, fields: ["src", "emailaddress1"] } }));
    const data = { src: "crm", emailaddress1: "a@b.c", lastname: "L" };
    const o = op(mapRecord(p, data));
    expect(o.ref).toEqual({ kind: "id", id: deterministicId(["crm", "a@b.c"], NS) });
    expect(op(mapRecord(p, { ...data })).ref).toEqual(o.ref);
    expect(o.columns).toEqual({ emailaddress1: "a@b.c", lastname: "L" });
    expect(issues(mapRecord(p, { src: "crm" }))[0]).toMatchObject({ field: "/emailaddress1", code: "missing_key" });
    expect(issues(mapRecord(p, { src: { a: 1 }, emailaddress1: "x" }))[0]?.code).toBe("not_a_scalar");
  });

  it("creates without a ref when the stream has no key", () => {
    const p = planOf(streamMapping({ mode: "create", key: { kind: "none" } }));
    expect(op(mapRecord(p, { lastname: "L", contactid: G1 }))).toMatchObject({ kind: "create", ref: { kind: "none" }, columns: { lastname: "L", contactid: G1 } });
  });
});

describe("mapRecord: a refused record keeps its key when the key fields were fine", () => {
  it("gives the alternate-key values, the GUID, or a deterministic id's source fields; nothing when the key itself is bad", () => {
    const r = mapRecord(byExternalId(), { contoso_externalid: "C1", firstname: "x".repeat(60) });
    expect(r).toMatchObject({ ok: false, key: { contoso_externalid: "C1" } });
    const byId = planOf(streamMapping({ mode: "update", key: { kind: "id_field", field: "contactid" } }));
    expect(mapRecord(byId, { contactid: G1.toUpperCase(), firstname: "x".repeat(60) })).toMatchObject({ ok: false, key: G1 });
    const det = planOf(streamMapping({ key: { kind: "deterministic", namespace: NS, fields: ["src", "n"] } }));
    expect(mapRecord(det, { src: "crm", n: 7, firstname: "x".repeat(60) })).toMatchObject({ ok: false, key: { src: "crm", n: 7 } });
    const bad = mapRecord(byExternalId(), { contoso_externalid: "k".repeat(500), firstname: "x".repeat(60) });
    expect(bad.ok).toBe(false);
    expect("key" in bad).toBe(false);
    expect("key" in mapRecord(byExternalId(), { firstname: "x" })).toBe(false);
  });
});

describe("mapRecord: lone surrogates (no UTF-8 form, so no URL or body can carry them)", () => {
  it("rejects them in an alternate-key value, a lookup key value and a deterministic id, naming the field", () => {
    const byKey = byExternalId();
    expect(issues(mapRecord(byKey, { contoso_externalid: "a\ud800b@example.com" }))).toEqual([expect.objectContaining({ field: "/contoso_externalid", code: "invalid_text" })]);
    const lookup = byExternalId({ account_number: { column: "parentcustomerid", lookup: { table: "account", strategy: { by: "alternate_key", name: "contoso_accountnumber_key" } } } });
    expect(issues(mapRecord(lookup, { contoso_externalid: "C1", account_number: "a\udc00" }))).toEqual([expect.objectContaining({ field: "/account_number", code: "invalid_text" })]);
    const det = planOf(streamMapping({ key: { kind: "deterministic", namespace: NS, fields: ["src"] } }));
    expect(issues(mapRecord(det, { src: "\ud800" }))).toEqual([expect.objectContaining({ field: "/src", code: "invalid_text" })]);
    expect(op(mapRecord(det, { src: "😀" })).ref.kind).toBe("id");
  });
});

describe("mapRecord: lookups", () => {
  it("binds a contact to its account by account number", () => {
    const p = byExternalId({ account_number: { column: "parentcustomerid", lookup: { table: "account", strategy: { by: "alternate_key", name: "contoso_accountnumber_key" } } } });
    const o = op(mapRecord(p, { contoso_externalid: "C1", account_number: "ACC-1" }));
    expect(o.bindings).toEqual([{
      navigationProperty: "parentcustomerid_account", column: "parentcustomerid",
      target: { entitySet: "accounts", table: "account", ref: { kind: "key", values: [["accountnumber", "ACC-1"]] } },
    }]);
    expect(o.columns).toEqual({});
  });

  it("points a polymorphic customer at an account in one row and a contact in the next", () => {
    const p = byExternalId({ parent: { column: "parentcustomerid", lookup: { tableField: "parent_type", strategy: { by: "id" } } } });
    const a = op(mapRecord(p, { contoso_externalid: "C1", parent: G1, parent_type: "account" }));
    const c = op(mapRecord(p, { contoso_externalid: "C2", parent: G2, parent_type: " Contact " }));
    const bySet = op(mapRecord(p, { contoso_externalid: "C3", parent: G2, parent_type: "accounts" }));
    expect(bySet.bindings[0]?.navigationProperty).toBe("parentcustomerid_account");
    expect(a.bindings[0]).toMatchObject({ navigationProperty: "parentcustomerid_account", target: { entitySet: "accounts", ref: { kind: "id", id: G1 } } });
    expect(c.bindings[0]).toMatchObject({ navigationProperty: "parentcustomerid_contact", target: { entitySet: "contacts", ref: { kind: "id", id: G2 } } });
    expect(a.columns).toEqual({});
  });

  it.each([
    ["a table the lookup cannot take", { parent_type: "systemuser" }, "/parent_type", "lookup_target_invalid"],
    ["no table", {}, "/parent_type", "missing_lookup_table"],
  ])("rejects a per-row lookup naming %s", (_l, extra, field, code) => {
    const p = byExternalId({ parent: { column: "parentcustomerid", lookup: { tableField: "parent_type", strategy: { by: "id" } } } });
    expect(issues(mapRecord(p, { contoso_externalid: "C", parent: G1, ...extra }))).toEqual([expect.objectContaining({ field, code })]);
  });

  it("assigns an owner to a user or a team", () => {
    const p = byExternalId({ owner: { column: "ownerid", lookup: { tableField: "owner_type", strategy: { by: "id" } } } });
    expect(op(mapRecord(p, { contoso_externalid: "C", owner: G1, owner_type: "team" })).bindings[0]).toMatchObject({ navigationProperty: "ownerid", target: { entitySet: "teams", table: "team" } });
    expect(op(mapRecord(p, { contoso_externalid: "C", owner: G1, owner_type: "systemuser" })).bindings[0]).toMatchObject({ navigationProperty: "ownerid", target: { entitySet: "systemusers" } });
  });

  it("binds by a composite key given as an object of column → value", () => {
    const p = byExternalId({ acct: { column: "parentcustomerid", lookup: { table: "account", strategy: { by: "alternate_key", columns: ["accountnumber", "contoso_region"] } } } });
    const o = op(mapRecord(p, { contoso_externalid: "C", acct: { contoso_region: "EU", accountnumber: "A'1/é" } }));
    expect(o.bindings[0]?.target?.ref).toEqual({ kind: "key", values: [["contoso_region", "EU"], ["accountnumber", "A'1/é"]] });
    expect(issues(mapRecord(p, { contoso_externalid: "C", acct: "A1" }))[0]?.code).toBe("lookup_key_mismatch");
    expect(issues(mapRecord(p, { contoso_externalid: "C", acct: { accountnumber: "A1" } }))[0]?.code).toBe("missing_key");
    expect(issues(mapRecord(p, { contoso_externalid: "C", acct: { accountnumber: "A1", contoso_region: "EU", x: 1 } }))[0]?.code).toBe("lookup_key_mismatch");
    expect(issues(mapRecord(p, { contoso_externalid: "C", acct: { accountnumber: "A1", contoso_region: "EUROPE-WEST-1" } }))[0]).toMatchObject({ field: "/acct", code: "too_long" });
  });

  it("binds by deterministic GUID, matching the parent stream's deterministic key", () => {
    const accounts = planOf(streamMapping({ name: "accounts", table: "account", key: { kind: "deterministic", namespace: NS, fields: ["accountnumber"] } }));
    const parent = op(mapRecord(accounts, { accountnumber: "ACC-9", name: "Acme" }));
    const p = byExternalId({ acct: { column: "parentcustomerid", lookup: { table: "account", strategy: { by: "deterministic", namespace: NS } } } });
    const child = op(mapRecord(p, { contoso_externalid: "C", acct: "ACC-9" }));
    expect(child.bindings[0]?.target?.ref).toEqual(parent.ref);
  });

  it("rejects a lookup GUID that is not a GUID", () => {
    const p = byExternalId({ parent: { column: "parentcustomerid", lookup: { table: "account", strategy: { by: "id" } } } });
    expect(issues(mapRecord(p, { contoso_externalid: "C", parent: "acme" }))).toEqual([expect.objectContaining({ field: "/parent", code: "invalid_guid" })]);
  });

  it("clears a lookup with null only when nulls are written", () => {
    const fm: FieldMapping = { column: "parentcustomerid", lookup: { table: "account", strategy: { by: "id" } } };
    const write = byExternalId({ parent: { ...fm, nulls: "write" } });
    const ignore = byExternalId({ parent: fm }, { nulls: "ignore" });
    expect(op(mapRecord(write, { contoso_externalid: "C", parent: null })).bindings).toEqual([{ navigationProperty: "parentcustomerid_account", column: "parentcustomerid", target: null }]);
    expect(op(mapRecord(ignore, { contoso_externalid: "C", parent: null })).bindings).toEqual([]);
  });

  it("passes a single-target lookup through by GUID under its own name", () => {
    const p = planOf(streamMapping({ name: "accounts", table: "account", key: { kind: "alternate_key", name: "contoso_accountnumber_key" } }));
    const o = op(mapRecord(p, { accountnumber: "A1", name: "Acme", primarycontactid: G2 }));
    expect(o.bindings).toEqual([{ navigationProperty: "primarycontactid", column: "primarycontactid", target: { entitySet: "contacts", table: "contact", ref: { kind: "id", id: G2 } } }]);
    expect(o.columns).toEqual({ name: "Acme" });
    expect(o.ref).toEqual({ kind: "key", values: [["accountnumber", "A1"]] });
  });

  it("lists lookup target tables for parent-first ordering, without self-references", () => {
    const accounts = planOf(streamMapping({ name: "accounts", table: "account", key: { kind: "alternate_key", name: "contoso_accountnumber_key" } }));
    expect([...lookupTargets(accounts)].sort()).toEqual(["contact"]);
    const contacts = byExternalId({ parent: { column: "parentcustomerid", lookup: { tableField: "t", strategy: { by: "id" } } } });
    expect([...lookupTargets(contacts)].sort()).toEqual(["account"]);
    expect(lookupTargets(byExternalId())).toEqual([]);
  });

  it("counts a lookup column inside the alternate key as a parent: its row must exist first", () => {
    const t = contactTable({ keys: [{ logicalName: "k", schemaName: "K", columns: ["emailaddress1", "parentcustomerid"], status: "Active" }] });
    const p = planOf(streamMapping({ key: { kind: "alternate_key", name: "k" } }), t);
    expect([...lookupTargets(p)]).toEqual(["account"]);
  });
});

describe("mapRecord: values", () => {
  const p = byExternalId({ gender: { column: "gendercode" }, hobbies: { column: "contoso_hobbies" }, dob: { column: "birthdate" } });
  const base = { contoso_externalid: "C" };

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ["a choice by label", { gender: "Female" }, { gendercode: 2 }],
    ["a choice by value", { gender: 1 }, { gendercode: 1 }],
    ["a multi-select from an array", { hobbies: ["Chess", "reading"] }, { contoso_hobbies: "3,1" }],
    ["a multi-select from a delimited string", { hobbies: "Hiking;Cooking" }, { contoso_hobbies: "2,4" }],
    ["a DateOnly birthday that keeps its day", { dob: "1990-05-17T00:00:00-05:00" }, { birthdate: "1990-05-17" }],
    ["booleans by spelling", { donotemail: "yes" }, { donotemail: true }],
    ["passthrough by column name", { firstname: "Ann", numberofchildren: "2" }, { firstname: "Ann", numberofchildren: 2 }],
  ])("maps %s", (_l, data, columns) => {
    expect(op(mapRecord(p, { ...base, ...data })).columns).toEqual(columns);
  });

  it("rejects a string one character over its limit, naming the field and column but not the value", () => {
    const r = issues(mapRecord(p, { ...base, firstname: "x".repeat(51) }));
    expect(r).toEqual([{ field: "/firstname", code: "too_long", message: expect.stringContaining("firstname") as unknown as string }]);
    expect(r[0]?.message).not.toContain("xxxxx");
  });

  it("truncates when configured and reports the field", () => {
    const t = byExternalId({ first: { column: "firstname" } }, { truncateStrings: true });
    const r = mapRecord(t, { ...base, first: "y".repeat(60), lastname: "ok" });
    expect(r).toEqual({ ok: true, operation: expect.objectContaining({ columns: { firstname: "y".repeat(50), lastname: "ok" } }) as unknown as Operation, truncated: ["first"] });
  });

  it("collects every bad value of a record, each with its path", () => {
    const r = issues(mapRecord(p, { ...base, numberofchildren: -1, gender: "Other", dob: "1700-01-01", donotemail: "perhaps", hobbies: ["x"] }));
    expect(r.map((i) => [i.field, i.code]).sort()).toEqual([
      ["/dob", "date_out_of_range"], ["/donotemail", "not_a_boolean"], ["/gender", "unknown_choice"], ["/hobbies", "unknown_choice"], ["/numberofchildren", "out_of_range"],
    ]);
  });

  it("escapes field names in issue paths (RFC 6901)", () => {
    expect(fieldPath("a/b~c")).toBe("/a~1b~0c");
  });

  it("does not read inherited properties as fields", () => {
    const q = byExternalId({ constructor: { column: "firstname" } });
    expect(op(mapRecord(q, { ...base })).columns).toEqual({});
  });
});

describe("mapRecord: nulls", () => {
  it.each<[string, "ignore" | "write", FieldMapping["nulls"], Record<string, unknown>]>([
    ["stream ignore", "ignore", undefined, {}],
    ["stream write", "write", undefined, { firstname: null }],
    ["field write over stream ignore", "ignore", "write", { firstname: null }],
    ["field ignore over stream write", "write", "ignore", {}],
  ])("%s", (_l, streamNulls, fieldNulls, expected) => {
    const fm: FieldMapping = fieldNulls === undefined ? { column: "firstname" } : { column: "firstname", nulls: fieldNulls };
    const p = byExternalId({ first: fm }, { nulls: streamNulls });
    expect(op(mapRecord(p, { contoso_externalid: "C", first: null })).columns).toEqual(expected);
  });

  it("a null for a SystemRequired column or lookup is refused by field when nulls are written (Dataverse cannot clear it)", () => {
    const p = byExternalId({ owner: { column: "ownerid", nulls: "write", lookup: { tableField: "owner_type", strategy: { by: "id" } } } }, { mode: "update", nulls: "write" });
    expect(issues(mapRecord(p, { contoso_externalid: "C", owner: null, owner_type: "team" }))).toEqual([expect.objectContaining({ field: "/owner", code: "required_null" })]);
    const s = planOf(streamMapping({ mode: "update", nulls: "write", fields: { s: { column: "statecode" } } }));
    expect(issues(mapRecord(s, { contoso_externalid: "C", s: null }))).toEqual([expect.objectContaining({ field: "/s", code: "required_null" })]);
    // An ApplicationRequired column can be cleared through the Web API (its level is not enforced there).
    expect(op(mapRecord(byExternalId({}, { nulls: "write" }), { contoso_externalid: "C", lastname: null })).columns).toEqual({ lastname: null });
  });

  it("applies stream nulls to passthrough columns and leaves absent fields alone", () => {
    const p = byExternalId({}, { nulls: "write" });
    expect(op(mapRecord(p, { contoso_externalid: "C", lastname: null })).columns).toEqual({ lastname: null });
  });
});

describe("mapRecord: state and status", () => {
  const p = byExternalId({ st: { column: "statuscode" } }, { mode: "update" });
  it("adds the default status when only a state is given", () => {
    const q = planOf(streamMapping({ mode: "update", fields: { s: { column: "statecode" } } }));
    expect(op(mapRecord(q, { contoso_externalid: "C", s: "Inactive" })).columns).toEqual({ statecode: 1, statuscode: 2 });
  });
  it("accepts a status alone", () => {
    expect(op(mapRecord(p, { contoso_externalid: "C", st: "Inactive" })).columns).toEqual({ statuscode: 2 });
  });
  it("rejects a status that does not belong to the state", () => {
    const q = planOf(streamMapping({ mode: "update", fields: { s: { column: "statecode" }, st: { column: "statuscode" } } }));
    expect(issues(mapRecord(q, { contoso_externalid: "C", s: 0, st: 2 }))).toEqual([expect.objectContaining({ field: "/st", code: "status_state_mismatch" })]);
    expect(op(mapRecord(q, { contoso_externalid: "C", s: 1, st: 2 })).columns).toEqual({ statecode: 1, statuscode: 2 });
  });
});

describe("mapRecord: deletes", () => {
  it.each<[string, Partial<Parameters<typeof streamMapping>[0]>, boolean, Operation["kind"], Record<string, unknown>]>([
    ["a CDC delete on an upsert stream, hard", { deleteAction: "delete" }, true, "delete", {}],
    ["a CDC delete on an upsert stream, soft", { deleteAction: "deactivate" }, true, "deactivate", { statecode: 1, statuscode: 2 }],
    ["delete mode", { mode: "delete" }, false, "delete", {}],
    ["deactivate mode", { mode: "deactivate", deleteAction: "delete" }, false, "deactivate", { statecode: 1, statuscode: 2 }],
    ["deactivate mode with a CDC delete", { mode: "deactivate", deleteAction: "delete" }, true, "deactivate", { statecode: 1, statuscode: 2 }],
  ])("%s", (_l, extra, deleted, kind, columns) => {
    const p = byExternalId({ parent: { column: "parentcustomerid", lookup: { table: "account", strategy: { by: "id" } } } }, extra);
    const o = op(mapRecord(p, { contoso_externalid: "C", firstname: "x".repeat(99), parent: G1 }, { deleted }));
    expect(o).toEqual({ kind, table: "contact", entitySet: "contacts", ref: { kind: "key", values: [["contoso_externalid", "C"]] }, columns, bindings: [] });
  });

  it("rejects a delete it cannot match to a row", () => {
    const p = planOf(streamMapping({ mode: "create", key: { kind: "none" }, deleteAction: "delete" }));
    expect(issues(mapRecord(p, { lastname: "L" }, { deleted: true }))[0]?.code).toBe("missing_key");
    expect(issues(mapRecord(byExternalId({}, { deleteAction: "delete" }), {}, { deleted: true }))[0]?.code).toBe("missing_key");
  });
});

describe("isUnknownField", () => {
  it("lists fields that are neither mapped, keys, table fields nor writable columns; skips bookkeeping fields", () => {
    const p = byExternalId({ first: { column: "firstname" }, parent: { column: "parentcustomerid", lookup: { tableField: "ptype", strategy: { by: "id" } } } });
    const data = {
      contoso_externalid: "C", first: "A", parent: G1, ptype: "account", lastname: "B",
      fullname: "read only", shoe_size: 44, _ab_cdc_deleted_at: null, _airbyte_extracted_at: 1, _sdc_batched_at: "x",
    };
    expect(Object.keys(data).filter((f) => isUnknownField(p, f)).sort()).toEqual(["fullname", "shoe_size"]);
    const o = op(mapRecord(p, data));
    expect(Object.keys(o.columns).sort()).toEqual(["firstname", "lastname"]);
  });
});
