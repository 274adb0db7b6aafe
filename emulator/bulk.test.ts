import { describe, expect, it } from "vitest";
import { ROOT, harness } from "./testing/service-harness.js";
import { defaultEnvironment } from "./environment.js";

const T = "Microsoft.Dynamics.CRM.new_membership";

describe("bulk actions", () => {
  it("CreateMultiple answers 200 with Ids in target order and a bulk cost", () => {
    const h = harness();
    const r = h.call("POST", "new_memberships/Microsoft.Dynamics.CRM.CreateMultiple", {
      Targets: [
        { "@odata.type": T, new_name: "a", new_externalid: "E-1" },
        { "@odata.type": T, new_name: "b", new_membershipid: "0b6f4a1e-1111-4222-8333-444455556699" },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.json["@odata.context"]).toBe(`${ROOT}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse`);
    const ids = r.json["Ids"] as string[];
    expect(ids).toHaveLength(2);
    expect(ids[1]).toBe("0b6f4a1e-1111-4222-8333-444455556699");
    expect(r.raw.cost).toEqual({ records: 2, bulk: true });
  });

  it("UpsertMultiple by @odata.id key, by primary id, and plain create; 204", () => {
    const h = harness();
    h.call("POST", "new_memberships", { new_name: "old", new_externalid: "U-1" });
    const r = h.call("POST", "new_memberships/Microsoft.Dynamics.CRM.UpsertMultiple", {
      Targets: [
        { "@odata.type": T, "@odata.id": "new_memberships(new_externalid='U-1')", new_name: "updated" },
        { "@odata.type": T, "@odata.id": "new_memberships(new_externalid='U-2')", new_name: "created" },
        { "@odata.type": T, new_membershipid: "0b6f4a1e-1111-4222-8333-4444555566aa", new_name: "by id" },
        { "@odata.type": T, new_name: "plain" },
      ],
    });
    expect(r.status).toBe(204);
    expect(r.raw.cost).toEqual({ records: 4, bulk: true });
    expect(h.service.rowCount("new_membership")).toBe(4);
    expect(h.call("GET", "new_memberships(new_externalid='U-1')").json["new_name"]).toBe("updated");
    expect(h.call("GET", "new_memberships(new_externalid='U-2')").json["new_name"]).toBe("created");
  });

  it("the documented gotcha: create path with the key in @odata.id and in the body → 400 0x80040216", () => {
    const h = harness();
    const r = h.call("POST", "new_memberships/Microsoft.Dynamics.CRM.UpsertMultiple", {
      Targets: [{ "@odata.type": T, "@odata.id": "new_memberships(new_externalid='G-1')", new_externalid: "G-1", new_name: "x" }],
    });
    expect(r.status).toBe(400);
    expect(r.json.error).toEqual({ code: "0x80040216", message: "An unexpected error occurred." });
    // On the update path the same shape works.
    h.call("POST", "new_memberships", { new_name: "x", new_externalid: "G-2" });
    const u = h.call("POST", "new_memberships/Microsoft.Dynamics.CRM.UpsertMultiple", {
      Targets: [{ "@odata.type": T, "@odata.id": "new_memberships(new_externalid='G-2')", new_externalid: "G-2", new_name: "y" }],
    });
    expect(u.status).toBe(204);
  });

  it("all-or-nothing: one failing target rolls back the whole request", () => {
    const h = harness();
    const r = h.call("POST", "new_memberships/Microsoft.Dynamics.CRM.CreateMultiple", {
      Targets: [
        { "@odata.type": T, new_name: "ok 1" },
        { "@odata.type": T, new_name: "ok 2" },
        { "@odata.type": T, new_name: "x".repeat(101) },
      ],
    });
    expect(r.status).toBe(400);
    expect(r.json.error?.code).toBe("0x80044331");
    expect(h.service.rowCount("new_membership")).toBe(0);
    // The two targets before the refused one ran (then rolled back): the cost model charges them.
    expect(r.raw.cost).toEqual({ records: 2, bulk: true });
  });

  it("UpdateMultiple needs existing rows: 404 for a missing one, 204 otherwise", () => {
    const h = harness();
    const c = h.call("POST", "new_memberships", { new_name: "a" }, { prefer: "return=representation" });
    const id = String(c.json["new_membershipid"]);
    const ok = h.call("POST", "new_memberships/Microsoft.Dynamics.CRM.UpdateMultiple", { Targets: [{ "@odata.type": T, new_membershipid: id, new_points: 5 }] });
    expect(ok.status).toBe(204);
    expect(h.call("GET", `new_memberships(${id})`).json["new_points"]).toBe(5);
    const missing = h.call("POST", "new_memberships/Microsoft.Dynamics.CRM.UpdateMultiple", {
      Targets: [{ "@odata.type": T, new_membershipid: "0b6f4a1e-1111-4222-8333-4444555566bb", new_points: 5 }],
    });
    expect(missing.status).toBe(404);
    expect(missing.json.error?.message).toBe("new_Membership With Ids = 0b6f4a1e-1111-4222-8333-4444555566bb Do Not Exist");
  });

  it.each([[{ new_name: "x" }], [{ "@odata.type": "Microsoft.Dynamics.CRM.contact", new_name: "x" }]])("a target without the table's @odata.type is 400 (%j)", (target) => {
    const r = harness().call("POST", "new_memberships/Microsoft.Dynamics.CRM.CreateMultiple", { Targets: [target] });
    expect(r.status).toBe(400);
  });

  it("a table without the message answers 400", () => {
    const env = defaultEnvironment();
    const h = harness({ ...env, tables: env.tables.map((t) => (t.logicalName === "lead" ? { ...t, bulk: { createMultiple: false, updateMultiple: false, upsertMultiple: false } } : t)) });
    const r = h.call("POST", "leads/Microsoft.Dynamics.CRM.CreateMultiple", { Targets: [{ "@odata.type": "Microsoft.Dynamics.CRM.lead", lastname: "x" }] });
    expect(r.status).toBe(400);
    expect(r.json.error?.message).toContain("'CreateMultiple' method does not support entities of type 'lead'");
  });

  it("DeleteMultiple on a standard table answers as documented", () => {
    const r = harness().call("POST", "new_memberships/Microsoft.Dynamics.CRM.DeleteMultiple", { Targets: [] });
    expect(r.json.error?.message).toBe("DeleteMultiple has not yet been implemented.");
  });

  it("GET on an action is 404", () => {
    expect(harness().call("GET", "new_memberships/Microsoft.Dynamics.CRM.CreateMultiple").status).toBe(404);
  });
});
