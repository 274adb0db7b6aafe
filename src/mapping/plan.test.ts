import { describe, expect, it } from "vitest";
import type { FieldMapping, KeyStrategy, StreamMapping } from "../config/types.js";
import type { TableMeta } from "../model/table-meta.js";
import { planStream, type PlanIssue, type StreamPlan } from "./plan.js";
import { accountTable, col, contactTable, fixtureTables, streamMapping, systemuserTable } from "./test-fixtures.js";

const tables = fixtureTables();
const NS = "9e2a5b1c-3f4d-4e5f-8a6b-7c8d9e0f1a2b";

function plan(m: StreamMapping, table: TableMeta = contactTable()): { plan?: StreamPlan; issues: readonly PlanIssue[] } {
  return planStream(m, table, tables);
}
function mustPlan(m: StreamMapping, table?: TableMeta): StreamPlan {
  const r = plan(m, table);
  if (r.plan === undefined) throw new Error(`expected a plan, got ${JSON.stringify(r.issues)}`);
  return r.plan;
}
const errorCodes = (issues: readonly PlanIssue[]) => issues.filter((i) => i.severity === "error").map((i) => i.code);

describe("planStream: keys", () => {
  it("uses an Active alternate key named by logical or schema name", () => {
    for (const name of ["contoso_externalid_key", "contoso_ExternalIdKey"]) {
      const p = mustPlan(streamMapping({ key: { kind: "alternate_key", name } }));
      expect(p.key).toMatchObject({ kind: "key", keyName: "contoso_externalid_key", parts: [{ field: "contoso_externalid" }] });
    }
  });

  it("finds a composite key from its columns in any order", () => {
    const p = mustPlan(streamMapping({ key: { kind: "columns", columns: ["emailaddress1", "firstname"] } }));
    expect(p.key.kind === "key" && p.key.keyName).toBe("contoso_name_email_key");
    expect(p.key.kind === "key" && p.key.parts.map((x) => x.column.logicalName)).toEqual(["firstname", "emailaddress1"]);
    expect([...p.excludedColumns].sort()).toEqual(["emailaddress1", "firstname"]);
  });

  it("a key of the primary id column alone addresses rows by id, read from the field mapped to it", () => {
    expect(mustPlan(streamMapping({ mode: "update", key: { kind: "columns", columns: ["contactid"] } })).key).toEqual({ kind: "id", field: "contactid" });
    const p = mustPlan(streamMapping({ mode: "update", key: { kind: "columns", columns: ["contactid"] }, fields: { id: { column: "contactid" } } }));
    expect(p.key).toEqual({ kind: "id", field: "id" });
    expect(p.excludedColumns.has("contactid")).toBe(true);
  });

  it("reads a key column from the source field mapped to it", () => {
    const p = mustPlan(streamMapping({ fields: { ext_id: { column: "contoso_externalid" } } }));
    expect(p.key.kind === "key" && p.key.parts[0]?.field).toBe("ext_id");
    expect(p.columns.map((c) => c.column.logicalName)).not.toContain("contoso_externalid");
  });

  it.each<[string, KeyStrategy, string, readonly string[]]>([
    ["columns that are no key", { kind: "columns", columns: ["lastname"] }, "no_matching_key", ["contoso_externalid_key (contoso_externalid; Active)", "contoso_legacy_key"]],
    ["a subset of a composite key", { kind: "columns", columns: ["firstname"] }, "no_matching_key", ["contoso_name_email_key"]],
    ["an unknown key name", { kind: "alternate_key", name: "nope" }, "unknown_key", ["contoso_externalid_key"]],
    ["a Pending key", { kind: "alternate_key", name: "contoso_legacy_key" }, "key_not_active", ["contoso_legacy_key", "Pending"]],
    ["a Pending key by columns", { kind: "columns", columns: ["contoso_legacyid"] }, "key_not_active", ["Pending"]],
    ["a bad namespace", { kind: "deterministic", namespace: "zzz", fields: ["email"] }, "invalid_namespace", []],
    ["a deterministic key without fields", { kind: "deterministic", namespace: NS, fields: [] }, "key_required", []],
    ["no key on upsert", { kind: "none" }, "key_required", ["upsert"]],
  ])("refuses %s", (_label, key, code, mentions) => {
    const r = plan(streamMapping({ key }));
    expect(r.plan).toBeUndefined();
    expect(errorCodes(r.issues)).toContain(code);
    const msg = r.issues.find((i) => i.code === code)?.message ?? "";
    for (const m of mentions) expect(msg).toContain(m);
  });

  it.each(["update", "delete", "deactivate"] as const)("needs a key for %s", (mode) => {
    expect(errorCodes(plan(streamMapping({ mode, key: { kind: "none" } })).issues)).toContain("key_required");
  });

  it("allows a plain create without a key", () => {
    expect(mustPlan(streamMapping({ mode: "create", key: { kind: "none" } })).key).toEqual({ kind: "none" });
  });

  it("refuses a key over a Failed index on another table too", () => {
    const t = accountTable({ keys: [{ logicalName: "k", schemaName: "K", columns: ["accountnumber"], status: "Failed" }] });
    const r = plan(streamMapping({ name: "accounts", table: "account", key: { kind: "alternate_key", name: "k" } }), t);
    expect(r.issues[0]).toMatchObject({ stream: "accounts", code: "key_not_active", severity: "error" });
    expect(r.issues[0]?.message).toContain("Failed");
  });

  it("refuses a key over a date column, whose literal the writer cannot type yet", () => {
    const t = contactTable({ keys: [{ logicalName: "k", schemaName: "K", columns: ["lastname", "birthdate"], status: "Active" }] });
    const r = plan(streamMapping({ key: { kind: "alternate_key", name: "k" } }), t);
    expect(errorCodes(r.issues)).toEqual(["unsupported_key_column"]);
    expect(r.issues[0]?.message).toContain("birthdate");
  });

  it("keeps a deterministic key's fields writable as columns", () => {
    const p = mustPlan(streamMapping({ key: { kind: "deterministic", namespace: NS.toUpperCase(), fields: ["emailaddress1"] } }));
    expect(p.key).toEqual({ kind: "deterministic", namespace: NS, fields: ["emailaddress1"] });
    expect(p.passthrough.has("emailaddress1")).toBe(true);
    expect(p.excludedColumns.has("contactid")).toBe(true);
  });
});

describe("planStream: mapped fields", () => {
  const m = (fields: Record<string, FieldMapping>, mode: StreamMapping["mode"] = "upsert") => plan(streamMapping({ mode, fields }));

  it.each<[string, Record<string, FieldMapping>, StreamMapping["mode"], string]>([
    ["an unknown column", { x: { column: "nosuchcolumn" } }, "upsert", "unknown_column"],
    ["a read-only column", { name: { column: "fullname" } }, "upsert", "column_not_writable"],
    ["a create-only column on upsert", { c: { column: "contoso_createonly" } }, "upsert", "column_not_writable"],
    ["a create-only column on update", { c: { column: "contoso_createonly" } }, "update", "column_not_writable"],
    ["statecode on create (not valid for create)", { s: { column: "statecode" } }, "create", "column_not_writable"],
    ["two fields on one column", { a: { column: "firstname" }, b: { column: "firstname" } }, "upsert", "duplicate_column"],
    ["a lookup setting on a text column", { a: { column: "firstname", lookup: { table: "account", strategy: { by: "id" } } } }, "upsert", "not_a_lookup"],
    ["an image column", { img: { column: "entityimage" } }, "upsert", "unsupported_column"],
    ["a computed name column", { n: { column: "parentcustomeridname" } }, "upsert", "column_not_writable"],
  ])("refuses %s", (_l, fields, mode, code) => {
    const r = m(fields, mode);
    expect(r.plan).toBeUndefined();
    const i = r.issues.find((x) => x.code === code);
    expect(i).toBeDefined();
    expect(i?.field).toBe(Object.keys(fields).at(-1));
  });

  it("allows a create-only column on create", () => {
    const r = m({ c: { column: "contoso_createonly" } }, "create");
    expect(r.issues).toEqual([]);
    expect(r.plan?.columns.map((c) => [c.field, c.column.logicalName])).toEqual([["c", "contoso_createonly"]]);
  });

  it("applies field nulls over stream nulls", () => {
    const p = mustPlan(streamMapping({ nulls: "ignore", fields: { a: { column: "firstname", nulls: "write" }, b: { column: "lastname" } } }));
    expect(p.columns.map((c) => [c.field, c.nulls])).toEqual([["a", "write"], ["b", "ignore"]]);
  });
});

describe("planStream: lookups", () => {
  const lookupPlan = (fm: FieldMapping) => plan(streamMapping({ fields: { parent: fm } }));

  it("finds the case-sensitive navigation property of a polymorphic lookup for the chosen table", () => {
    const r = lookupPlan({ column: "parentcustomerid", lookup: { table: "account", strategy: { by: "alternate_key", name: "contoso_accountnumber_key" } } });
    const lp = r.plan?.lookups[0];
    expect(lp?.table).toBe("account");
    expect(lp?.targets.get("account")).toMatchObject({ entitySet: "accounts", navigationProperty: "parentcustomerid_account", strategy: { by: "key", keyName: "contoso_accountnumber_key" } });
  });

  it("resolves every target when the table comes per row", () => {
    const r = lookupPlan({ column: "parentcustomerid", lookup: { tableField: "parent_type", strategy: { by: "id" } } });
    const lp = r.plan?.lookups[0];
    expect([...(lp?.targets.keys() ?? [])]).toEqual(["account", "contact"]);
    expect(lp?.targets.get("contact")?.navigationProperty).toBe("parentcustomerid_contact");
    expect(r.plan?.knownFields.has("parent_type")).toBe(true);
  });

  it("binds owners through the owner relationship to systemusers or teams", () => {
    const r = plan(streamMapping({ fields: { owner: { column: "ownerid", lookup: { tableField: "owner_type", strategy: { by: "id" } } } } }));
    const lp = r.plan?.lookups[0];
    expect(lp?.targets.get("systemuser")).toMatchObject({ entitySet: "systemusers", navigationProperty: "ownerid" });
    expect(lp?.targets.get("team")).toMatchObject({ entitySet: "teams", navigationProperty: "ownerid" });
  });

  it("plans an owner fixed to systemuser or to team through owner_contacts (ReferencedEntity 'owner'), as Dataverse lists it", () => {
    for (const [table, entitySet] of [["systemuser", "systemusers"], ["team", "teams"]] as const) {
      const r = plan(streamMapping({ fields: { owner: { column: "ownerid", lookup: { table, strategy: { by: "id" } } } } }));
      expect(r.issues.filter((i) => i.severity === "error")).toEqual([]);
      expect(r.plan?.lookups[0]?.targets.get(table)).toMatchObject({ entitySet, navigationProperty: "ownerid" });
    }
    const notOwner = plan(streamMapping({ fields: { owner: { column: "ownerid", lookup: { table: "account", strategy: { by: "id" } } } } }));
    expect(notOwner.issues).toContainEqual(expect.objectContaining({ code: "lookup_target_invalid" }));
  });

  it("uses the single Active key of the target when the lookup names none", () => {
    const t = accountTable({ keys: [{ logicalName: "only", schemaName: "Only", columns: ["accountnumber"], status: "Active" }] });
    const r = planStream(streamMapping({ fields: { acct: { column: "parentcustomerid", lookup: { table: "account", strategy: { by: "alternate_key" } } } } }), contactTable(), fixtureTables(t));
    expect(r.plan?.lookups[0]?.targets.get("account")?.strategy).toMatchObject({ by: "key", keyName: "only" });
  });

  it.each<[string, FieldMapping, string]>([
    ["a polymorphic lookup without a table", { column: "parentcustomerid" }, "lookup_target_required"],
    ["a table the lookup cannot point at", { column: "parentcustomerid", lookup: { table: "systemuser", strategy: { by: "id" } } }, "lookup_target_invalid"],
    ["a target without metadata", { column: "transactioncurrencyid" }, "unknown_table"],
    ["a target key that is not Active", { column: "parentcustomerid", lookup: { table: "contact", strategy: { by: "alternate_key", name: "contoso_legacy_key" } } }, "key_not_active"],
    ["target key columns that are no key", { column: "parentcustomerid", lookup: { table: "account", strategy: { by: "alternate_key", columns: ["name"] } } }, "no_matching_key"],
    ["an ambiguous target key", { column: "parentcustomerid", lookup: { table: "account", strategy: { by: "alternate_key" } } }, "key_ambiguous"],
    ["a bad deterministic namespace", { column: "parentcustomerid", lookup: { table: "account", strategy: { by: "deterministic", namespace: "x" } } }, "invalid_namespace"],
    ["a lookup that is not writable", { column: "modifiedby" }, "column_not_writable"],
  ])("refuses %s", (_l, fm, code) => {
    const r = lookupPlan(fm);
    expect(r.plan).toBeUndefined();
    expect(errorCodes(r.issues)).toContain(code);
  });

  it("refuses a lookup column with no relationship metadata", () => {
    const t = contactTable();
    const noRel: TableMeta = { ...t, manyToOne: t.manyToOne.filter((r) => r.referencingAttribute !== "parentcustomerid") };
    const r = plan(streamMapping({ fields: { p: { column: "parentcustomerid", lookup: { table: "account", strategy: { by: "id" } } } } }), noRel);
    expect(errorCodes(r.issues)).toEqual(["no_navigation_property"]);
  });
});

describe("planStream: passthrough, required columns, deactivation", () => {
  it("passes through writable columns only, never keys, computed or read-only ones", () => {
    const p = mustPlan(streamMapping({}));
    for (const c of ["firstname", "birthdate", "statuscode", "contoso_hobbies"]) expect(p.passthrough.has(c)).toBe(true);
    for (const c of ["contoso_externalid", "fullname", "parentcustomeridname", "contactid", "createdon", "entityimage", "contoso_createonly"]) {
      expect(p.passthrough.has(c)).toBe(false);
    }
    expect(p.passthroughLookups.has("transactioncurrencyid")).toBe(false); // target metadata absent
  });

  it("lets single-target lookups pass through by GUID", () => {
    const p = mustPlan(streamMapping({ name: "accounts", table: "account", key: { kind: "alternate_key", name: "contoso_accountnumber_key" } }), accountTable());
    expect(p.passthroughLookups.get("primarycontactid")?.targets.get("contact")).toMatchObject({ navigationProperty: "primarycontactid", strategy: { by: "id" } });
    expect(p.passthroughLookups.has("ownerid")).toBe(false); // polymorphic: needs a mapping
  });

  it("lets the primary id pass through on a keyless create only", () => {
    expect(mustPlan(streamMapping({ mode: "create", key: { kind: "none" } })).passthrough.has("contactid")).toBe(true);
    expect(mustPlan(streamMapping({ mode: "create" })).passthrough.has("contactid")).toBe(false);
  });

  it("warns about SystemRequired columns missing from a create mapping, and still plans", () => {
    const r = planStream(streamMapping({ name: "users", table: "systemuser", mode: "create", key: { kind: "none" }, deleteAction: "delete" }), systemuserTable(), tables);
    expect(r.plan).toMatchObject({ stream: "users", mode: "create", key: { kind: "none" } });
    expect(r.issues).toEqual([expect.objectContaining({ code: "required_column_unmapped", severity: "warning" })]);
    expect(r.issues[0]?.message).toContain("domainname");
  });

  it("finds the inactive state and its default status", () => {
    expect(mustPlan(streamMapping({ mode: "deactivate" })).inactive).toEqual({ statecode: 1, statuscode: 2 });
  });

  it("finds the inactive state by label when it is not value 1", () => {
    const t = contactTable();
    const columns = new Map(t.columns);
    columns.set("statecode", col({ logicalName: "statecode", type: "State", options: [{ value: 0, label: "Open" }, { value: 1, label: "Won" }, { value: 2, label: "INACTIVE", defaultStatus: 7 }] }));
    const p = mustPlan(streamMapping({ mode: "deactivate" }), { ...t, columns });
    expect(p.inactive).toEqual({ statecode: 2, statuscode: 7 });
  });

  it("refuses deactivate mode on a table without states, and warns when only CDC deletes would deactivate", () => {
    const t = contactTable();
    const columns = new Map([...t.columns].filter(([n]) => n !== "statecode"));
    const stateless = { ...t, columns };
    expect(errorCodes(plan(streamMapping({ mode: "deactivate" }), stateless).issues)).toEqual(["cannot_deactivate"]);
    const r = plan(streamMapping({ mode: "upsert", deleteAction: "deactivate" }), stateless);
    // Planned for its upserts; nothing to deactivate with on this table.
    expect(r.plan).toMatchObject({ mode: "upsert", deleteAction: "deactivate" });
    expect(r.plan?.inactive).toBeUndefined();
    expect(r.issues.map((i) => [i.code, i.severity])).toEqual([["cannot_deactivate", "warning"]]);
    expect(plan(streamMapping({ mode: "upsert", deleteAction: "delete" }), stateless).issues).toEqual([]);
  });

  it("reports every error at once, each with the stream name", () => {
    const r = plan(streamMapping({ name: "s1", key: { kind: "alternate_key", name: "nope" }, fields: { a: { column: "zz" }, b: { column: "fullname" } } }));
    expect(errorCodes(r.issues)).toEqual(["unknown_key", "unknown_column", "column_not_writable"]);
    expect(r.issues.every((i) => i.stream === "s1")).toBe(true);
  });
});
