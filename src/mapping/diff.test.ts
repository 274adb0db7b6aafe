import { describe, expect, it } from "vitest";
import type { Operation } from "../model/operation.js";
import { diffRow } from "./diff.js";
import { contactTable } from "./test-fixtures.js";

const G1 = "11111111-1111-4111-8111-111111111111";
const G2 = "22222222-2222-4222-8222-222222222222";
const contact = contactTable();

function op(kind: Operation["kind"], columns: Operation["columns"] = {}, bindings: Operation["bindings"] = []): Operation {
  return { kind, table: "contact", entitySet: "contacts", ref: { kind: "id", id: G1 }, columns, bindings };
}
const parentBinding = (id: string | null, table = "account"): Operation["bindings"][number] => ({
  navigationProperty: `parentcustomerid_${table}`,
  column: "parentcustomerid",
  target: id === null ? null : { entitySet: `${table}s`, table, ref: { kind: "id", id } },
});

describe("diffRow: actions", () => {
  it.each<[string, Operation, Record<string, unknown> | undefined, string, string[]]>([
    ["an upsert of a new row creates", op("upsert", { firstname: "A" }, [parentBinding(G2)]), undefined, "create", ["firstname", "parentcustomerid"]],
    ["an upsert of an equal row is unchanged", op("upsert", { firstname: "A" }), { firstname: "A", lastname: "Z" }, "unchanged", []],
    ["an upsert of a different row updates", op("upsert", { firstname: "A", lastname: "B" }), { firstname: "A", lastname: "C" }, "update", ["lastname"]],
    ["a create of a new row creates", op("create", { firstname: "A" }), undefined, "create", ["firstname"]],
    ["a create of an existing id conflicts", op("create", { firstname: "A" }), { firstname: "A" }, "conflict", []],
    ["an update of a missing row is missing", op("update", { firstname: "A" }), undefined, "missing", []],
    ["a delete of an existing row deletes", op("delete"), { contactid: G1 }, "delete", []],
    ["a delete of a missing row is missing", op("delete"), undefined, "missing", []],
    ["a deactivation of an active row", op("deactivate", { statecode: 1, statuscode: 2 }), { statecode: 0, statuscode: 1 }, "delete", ["statecode", "statuscode"]],
    ["a deactivation of an inactive row", op("deactivate", { statecode: 1, statuscode: 2 }), { statecode: 1, statuscode: 2 }, "unchanged", []],
    ["a deactivation of a missing row", op("deactivate", { statecode: 1, statuscode: 2 }), undefined, "missing", []],
  ])("%s", (_l, o, row, action, changed) => {
    expect(diffRow(o, row, contact)).toEqual({ action, changedColumns: changed });
  });
});

describe("diffRow: comparing values as Dataverse returns them", () => {
  it.each<[string, Operation["columns"], Record<string, unknown>, string[]]>([
    ["numbers", { numberofchildren: 2, annualincome: 1234.5 }, { numberofchildren: 2, annualincome: 1234.5 }, []],
    ["a changed number", { numberofchildren: 2 }, { numberofchildren: 3 }, ["numberofchildren"]],
    ["a DateOnly value", { birthdate: "1990-05-17" }, { birthdate: "1990-05-17" }, []],
    ["a shifted DateOnly value", { birthdate: "1990-05-17" }, { birthdate: "1990-05-16" }, ["birthdate"]],
    ["the same instant written differently", { lastonholdtime: "2024-03-10T13:15:00Z" }, { lastonholdtime: "2024-03-10T13:15:00.000Z" }, []],
    ["a different instant", { lastonholdtime: "2024-03-10T13:15:00Z" }, { lastonholdtime: "2024-03-10T13:16:00Z" }, ["lastonholdtime"]],
    ["multi-select in another order", { contoso_hobbies: "3,1" }, { contoso_hobbies: "1,3" }, []],
    ["multi-select with another option", { contoso_hobbies: "3,1" }, { contoso_hobbies: "1,3,4" }, ["contoso_hobbies"]],
    ["null against null and absent", { firstname: null, lastname: null }, { firstname: null }, []],
    ["null against a value (a clear)", { firstname: null }, { firstname: "A" }, ["firstname"]],
    ["a value against null", { firstname: "A" }, { firstname: null }, ["firstname"]],
    ["booleans", { donotemail: true }, { donotemail: false }, ["donotemail"]],
    ["case matters in text", { firstname: "ann" }, { firstname: "Ann" }, ["firstname"]],
    ["GUID case does not", { stageid: G2 }, { stageid: G2.toUpperCase() }, []],
    ["a decimal beyond the column's precision, as Dataverse rounded it", { contoso_score: 1.234, annualincome: 10.004 }, { contoso_score: 1.23, annualincome: 10 }, []],
    ["a decimal that differs within the precision", { contoso_score: 1.25 }, { contoso_score: 1.24 }, ["contoso_score"]],
    ["an empty text against null (Dataverse keeps empty text as null)", { firstname: "" }, { firstname: null }, []],
    ["an empty text against a value", { firstname: "" }, { firstname: "A" }, ["firstname"]],
  ])("%s", (_l, columns, row, changed) => {
    expect(diffRow(op("update", columns), row, contact).changedColumns).toEqual(changed);
  });

  it("falls back to the value's shape without table metadata", () => {
    expect(diffRow(op("update", { contoso_hobbies: "3,1", lastonholdtime: "2024-03-10T13:15:00Z" }), { contoso_hobbies: "1,3", lastonholdtime: "2024-03-10T14:15:00+01:00" }).action).toBe("unchanged");
  });
});

describe("diffRow: lookups", () => {
  it.each<[string, Operation["bindings"][number], Record<string, unknown>, string[]]>([
    ["the same target", parentBinding(G2), { _parentcustomerid_value: G2.toUpperCase() }, []],
    ["another target id", parentBinding(G2), { _parentcustomerid_value: G1 }, ["parentcustomerid"]],
    ["the same id in another table", parentBinding(G2, "contact"), { _parentcustomerid_value: G2, "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account" }, ["parentcustomerid"]],
    ["a clear of an empty lookup", parentBinding(null), { _parentcustomerid_value: null }, []],
    ["a clear of a set lookup", parentBinding(null), { _parentcustomerid_value: G1 }, ["parentcustomerid"]],
    ["a binding by key (cannot be compared)", { navigationProperty: "parentcustomerid_account", column: "parentcustomerid", target: { entitySet: "accounts", table: "account", ref: { kind: "key", values: [["accountnumber", "A1"]] } } }, { _parentcustomerid_value: G1 }, ["parentcustomerid"]],
  ])("%s", (_l, b, row, changed) => {
    expect(diffRow(op("update", {}, [b]), row, contact).changedColumns).toEqual(changed);
  });
});
