import { describe, expect, it } from "vitest";
import { PluginTimes, workOf, type OperationSeen } from "./cost.js";
import type { ServiceResponse } from "./types.js";

const ok = (extra: Partial<ServiceResponse> = {}): ServiceResponse => ({ status: 204, headers: {}, ...extra });
const op = (method: string, path: string, response: ServiceResponse = ok(), headers: Record<string, string> = {}): OperationSeen => ({
  method,
  path,
  headers,
  response,
});

describe("workOf", () => {
  it.each([
    ["a CreateMultiple of 1000", op("POST", "contacts/Microsoft.Dynamics.CRM.CreateMultiple", ok({ status: 200, cost: { records: 1000, bulk: true } })), { kind: "createMultiple", rows: 1000 }],
    ["an UpdateMultiple of 3", op("POST", "contacts/Microsoft.Dynamics.CRM.UpdateMultiple", ok({ cost: { records: 3, bulk: true } })), { kind: "updateMultiple", rows: 3 }],
    ["an UpsertMultiple of 10", op("POST", "contacts/Microsoft.Dynamics.CRM.UpsertMultiple", ok({ status: 200, cost: { records: 10, bulk: true } })), { kind: "upsertMultiple", rows: 10 }],
    ["a create", op("POST", "accounts", ok({ cost: { records: 1, bulk: false } })), { kind: "create", rows: 1 }],
    ["a deep insert of 3 rows", op("POST", "accounts", ok({ cost: { records: 3, bulk: false } })), { kind: "create", rows: 3 }],
    ["an update (If-Match: *)", op("PATCH", "accounts(1)", ok(), { "if-match": "*" }), { kind: "update", rows: 1 }],
    ["a create-only upsert (If-None-Match: *)", op("PATCH", "accounts(1)", ok(), { "if-none-match": "*" }), { kind: "create", rows: 1 }],
    ["an upsert", op("PATCH", "contacts(emailaddress1='a%40b.c')"), { kind: "upsert", rows: 1 }],
    ["a column set with PUT", op("PUT", "accounts(1)/name"), { kind: "update", rows: 1 }],
    ["a delete", op("DELETE", "accounts(1)"), { kind: "delete", rows: 1 }],
    ["a column cleared with DELETE", op("DELETE", "accounts(1)/description"), { kind: "update", rows: 1 }],
    ["an association", op("POST", "accounts(1)/contact_customer_accounts/$ref"), { kind: "update", rows: 1 }],
    ["a read of 3 rows", op("GET", "accounts?$top=3", ok({ status: 200, body: '{"@odata.context":"x","value":[{},{},{}]}' })), { kind: "read", rows: 3 }],
    ["a single-row read", op("GET", "accounts(1)", ok({ status: 200, body: '{"@odata.etag":"W/\\"1\\"","name":"a"}' })), { kind: "read", rows: 1 }],
    ["a metadata read", op("GET", "EntityDefinitions(LogicalName='account')/Attributes", ok({ status: 200, body: '{"value":[{},{}]}' })), { kind: "metadata", rows: 1 }],
    ["the CSDL document", op("GET", "$metadata", ok({ status: 200 })), { kind: "metadata", rows: 1 }],
    ["WhoAmI", op("GET", "WhoAmI", ok({ status: 200 })), { kind: "other", rows: 0 }],
    ["a refused write", op("POST", "contacts/Microsoft.Dynamics.CRM.UpsertMultiple", ok({ status: 400 })), { kind: "other", rows: 0 }],
    [
      "a CreateMultiple refused at its third target (two rows ran, then rolled back)",
      op("POST", "contacts/Microsoft.Dynamics.CRM.CreateMultiple", ok({ status: 412, cost: { records: 2, bulk: true } })),
      { kind: "createMultiple", rows: 2 },
    ],
    ["a refused single create", op("POST", "contacts", ok({ status: 412, cost: { records: 1, bulk: false } })), { kind: "other", rows: 0 }],
  ] as const)("classifies %s", (_name, seen, expected) => {
    expect(workOf(seen)).toEqual(expected);
  });
});

describe("synchronous plug-in time", () => {
  const plugins = new PluginTimes(
    [{ logicalName: "contact", entitySetName: "contacts" }],
    [
      { table: "contact", message: "Create", milliseconds: 30 },
      { table: "contact", message: "CreateMultiple", milliseconds: 200 },
    ],
  );

  it("runs a step on Create per record of a CreateMultiple and a step on CreateMultiple once per request (pipelines merged)", () => {
    const bulk = op("POST", "contacts/Microsoft.Dynamics.CRM.CreateMultiple", ok({ status: 200, cost: { records: 1000, bulk: true } }));
    expect(workOf(bulk, plugins)).toEqual({ kind: "createMultiple", rows: 1000, pluginMs: 1000 * 30 + 200 });
    expect(workOf(op("POST", "contacts"), plugins)).toEqual({ kind: "create", rows: 1, pluginMs: 230 });
    expect(workOf(op("POST", "accounts"), plugins)).toEqual({ kind: "create", rows: 1 });
    expect(workOf(op("PATCH", "contacts(1)", ok(), { "if-match": "*" }), plugins)).toEqual({ kind: "update", rows: 1 });
  });

  it("drops it when the request bypasses custom synchronous logic (MSCRM.BypassBusinessLogicExecution: CustomSync)", () => {
    const bulk = op("POST", "contacts/Microsoft.Dynamics.CRM.CreateMultiple", ok({ cost: { records: 10, bulk: true } }), {
      "mscrm.bypassbusinesslogicexecution": "CustomSync,CustomAsync",
    });
    expect(workOf(bulk, plugins)).toEqual({ kind: "createMultiple", rows: 10 });
    const asyncOnly = { ...bulk, headers: { "mscrm.bypassbusinesslogicexecution": "CustomAsync" } };
    expect(workOf(asyncOnly, plugins).pluginMs).toBe(10 * 30 + 200);
  });
});
