import { describe, expect, it } from "vitest";
import { ROOT, harness } from "./testing/service-harness.js";
import { defaultEnvironment } from "./environment.js";
import { parseEnvironment } from "./environment-file.js";
import type { Environment } from "./types.js";
import { workOf } from "./cost.js";

const LIST = "5a1c0f00-0000-4000-8000-000000000001";

function withContacts(n: number) {
  const h = harness();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `c0000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
    expect(h.call("POST", "contacts", { contactid: id, lastname: `L${i}`, emailaddress1: `p${i}@example.com` }).status).toBe(204);
    ids.push(id);
  }
  expect(h.call("POST", "lists", { listid: LIST, listname: "VIP customers", createdfromcode: 2 }).status).toBe(204);
  return { h, ids };
}

describe("the list table", () => {
  it("a new list is static, unlocked, active and empty, its member type taken from createdfromcode", () => {
    const { h } = withContacts(0);
    const r = h.call("GET", `lists(${LIST})?$select=listname,type,lockstatus,createdfromcode,membertype,membercount,statecode,statuscode`);
    expect(r.json).toMatchObject({ listname: "VIP customers", type: false, lockstatus: false, createdfromcode: 2, membertype: 2, membercount: 0, statecode: 0, statuscode: 0 });
  });

  it("createdfromcode is required and limited to Account (1), Contact (2) and Lead (4)", () => {
    const { h } = withContacts(0);
    expect(h.call("POST", "lists", { listname: "no type" }).json.error?.code).toBe("0x80040203");
    expect(h.call("POST", "lists", { listname: "bad type", createdfromcode: 3 }).json.error?.code).toBe("0x8004431a");
  });
});

describe("collection-valued $ref on a many-to-many relationship", () => {
  it("associates by id and by alternate key, reads the members back paged, and disassociates both ways", () => {
    const { h, ids } = withContacts(3);
    const [a, b, c] = ids as [string, string, string];
    expect(h.call("POST", `lists(${LIST})/listcontact_association/$ref`, { "@odata.id": `${ROOT}contacts(${a})` }).status).toBe(204);
    expect(h.call("POST", `lists(${LIST})/listcontact_association/$ref`, { "@odata.id": "contacts(emailaddress1='p1@example.com')" }).status).toBe(204);
    // The other side of the relationship is the same relationship (navigation property of the same name).
    expect(h.call("POST", `contacts(${c})/listcontact_association/$ref`, { "@odata.id": `lists(${LIST})` }).status).toBe(204);
    const page = h.call("GET", `lists(${LIST})/listcontact_association?$select=contactid,emailaddress1&$orderby=emailaddress1`, undefined, { prefer: "odata.maxpagesize=2" });
    expect(page.json["@odata.context"]).toBe(`${ROOT}$metadata#contacts(contactid,emailaddress1)`);
    expect(page.json.value?.map((v) => v["contactid"])).toEqual([a, b]);
    const next = String(page.json["@odata.nextLink"]).slice(ROOT.length);
    expect(h.call("GET", next, undefined, { prefer: "odata.maxpagesize=2" }).json.value?.map((v) => v["contactid"])).toEqual([c]);
    expect(h.call("GET", `lists(${LIST})?$select=membercount`).json["membercount"]).toBe(3);

    expect(h.call("DELETE", `lists(${LIST})/listcontact_association(${a})/$ref`).status).toBe(204);
    expect(h.call("DELETE", `lists(${LIST})/listcontact_association/$ref?$id=${ROOT}contacts(${b})`).status).toBe(204);
    expect(h.call("GET", `lists(${LIST})/listcontact_association?$select=contactid`).json.value?.map((v) => v["contactid"])).toEqual([c]);
    expect(h.call("GET", `contacts(${c})/listcontact_association?$select=listname`).json.value?.map((v) => v["listname"])).toEqual(["VIP customers"]);
    expect(h.call("GET", `lists(${LIST})?$select=membercount`).json["membercount"]).toBe(1);
  });

  it("a pair that is already associated answers 412 0x80040237, a missing row 404 by id or by key", () => {
    const { h, ids } = withContacts(1);
    const body = { "@odata.id": `contacts(${ids[0] ?? ""})` };
    expect(h.call("POST", `lists(${LIST})/listcontact_association/$ref`, body).status).toBe(204);
    const dup = h.call("POST", `lists(${LIST})/listcontact_association/$ref`, body);
    expect(dup.status).toBe(412);
    expect(dup.json.error).toEqual({ code: "0x80040237", message: "Cannot insert duplicate key." });
    const missing = h.call("POST", `lists(${LIST})/listcontact_association/$ref`, { "@odata.id": "contacts(00000000-0000-4000-8000-0000000000ff)" });
    expect(missing.status).toBe(404);
    expect(missing.json.error?.code).toBe("0x80040217");
    const byKey = h.call("POST", `lists(${LIST})/listcontact_association/$ref`, { "@odata.id": "contacts(emailaddress1='nobody@example.com')" });
    expect(byKey.status).toBe(404);
    expect(byKey.json.error?.code).toBe("0x80060891");
    expect(h.call("POST", `lists(00000000-0000-4000-8000-0000000000ee)/listcontact_association/$ref`, body).status).toBe(404);
    expect(h.call("DELETE", `lists(${LIST})/listcontact_association(00000000-0000-4000-8000-0000000000ff)/$ref`).status).toBe(404);
  });

  it("a member of another table, a locked list and a dynamic list are refused", () => {
    const { h, ids } = withContacts(1);
    const ref = { "@odata.id": `contacts(${ids[0] ?? ""})` };
    expect(h.call("POST", "accounts", { accountid: "a0000000-0000-4000-8000-000000000001", name: "Contoso" }).status).toBe(204);
    const wrongType = h.call("POST", `lists(${LIST})/listaccount_association/$ref`, { "@odata.id": "accounts(a0000000-0000-4000-8000-000000000001)" });
    expect([wrongType.status, wrongType.json.error?.code]).toEqual([400, "0x80040203"]);
    expect(h.call("PATCH", `lists(${LIST})`, { lockstatus: true }).status).toBe(204);
    expect(h.call("POST", `lists(${LIST})/listcontact_association/$ref`, ref).json.error?.message).toMatch(/locked/);
    const dynamic = "5a1c0f00-0000-4000-8000-000000000002";
    expect(h.call("POST", "lists", { listid: dynamic, listname: "Dynamic", createdfromcode: 2, type: true, query: "<fetch/>" }).status).toBe(204);
    expect(h.call("POST", `lists(${dynamic})/listcontact_association/$ref`, ref).json.error?.message).toMatch(/dynamic/);
  });

  it("deleting a member removes it from every list", () => {
    const { h, ids } = withContacts(2);
    for (const id of ids) h.call("POST", `lists(${LIST})/listcontact_association/$ref`, { "@odata.id": `contacts(${id})` });
    expect(h.call("DELETE", `contacts(${ids[0] ?? ""})`).status).toBe(204);
    expect(h.call("GET", `lists(${LIST})/listcontact_association?$select=contactid`).json.value?.map((v) => v["contactid"])).toEqual([ids[1]]);
  });

  it("a failing changeset part rolls its associations back", () => {
    const { h, ids } = withContacts(1);
    let r = { status: 0 };
    h.service.transaction(() => {
      h.call("POST", `lists(${LIST})/listcontact_association/$ref`, { "@odata.id": `contacts(${ids[0] ?? ""})` });
      r = h.call("POST", `lists(${LIST})/listcontact_association/$ref`, { "@odata.id": "contacts(00000000-0000-4000-8000-0000000000ff)" });
      return r.status < 400;
    });
    expect(r.status).toBe(404);
    expect(h.call("GET", `lists(${LIST})/listcontact_association?$select=contactid`).json.value).toEqual([]);
  });
});

describe("list actions", () => {
  it("AddListMembersList adds many members in one request, skips those already there, and costs one created intersect row per member, as CreateMultiple", () => {
    const { h, ids } = withContacts(4);
    h.call("POST", `lists(${LIST})/listcontact_association/$ref`, { "@odata.id": `contacts(${ids[0] ?? ""})` });
    const r = h.call("POST", "AddListMembersList", {
      List: { listid: LIST, "@odata.type": "Microsoft.Dynamics.CRM.list" },
      Members: ids.map((id) => ({ "@odata.type": "Microsoft.Dynamics.CRM.contact", contactid: id })),
    });
    expect(r.status).toBe(204);
    expect(workOf({ method: "POST", path: "AddListMembersList", headers: {}, response: r.raw })).toEqual({ kind: "createMultiple", rows: 4 });
    expect(h.call("GET", `lists(${LIST})?$select=membercount`).json["membercount"]).toBe(4);
  });

  it("AddListMembersList with a missing member adds nothing (the request is one transaction)", () => {
    const { h, ids } = withContacts(2);
    const r = h.call("POST", "AddListMembersList", {
      List: { listid: LIST },
      Members: [...ids, "00000000-0000-4000-8000-0000000000ff"].map((id) => ({ "@odata.type": "Microsoft.Dynamics.CRM.contact", contactid: id })),
    });
    expect([r.status, r.json.error?.code]).toEqual([404, "0x80040217"]);
    expect(h.call("GET", `lists(${LIST})?$select=membercount`).json["membercount"]).toBe(0);
    const untyped = h.call("POST", "AddListMembersList", { List: { listid: LIST }, Members: [{ contactid: ids[0] }] });
    expect([untyped.status, untyped.json.error?.code]).toEqual([400, "0x80048d19"]);
  });

  it("AddMemberList and RemoveMemberList are bound to the list and take the member's id", () => {
    const { h, ids } = withContacts(1);
    const add = h.call("POST", `lists(${LIST})/Microsoft.Dynamics.CRM.AddMemberList`, { EntityId: ids[0] });
    expect(add.status).toBe(200);
    expect(add.json["@odata.context"]).toBe(`${ROOT}$metadata#Microsoft.Dynamics.CRM.AddMemberListResponse`);
    expect(typeof add.json["Id"]).toBe("string");
    const remove = h.call("POST", `lists(${LIST})/Microsoft.Dynamics.CRM.RemoveMemberList`, { EntityId: ids[0] });
    expect(remove.status).toBe(204);
    expect(workOf({ method: "POST", path: `lists(${LIST})/Microsoft.Dynamics.CRM.RemoveMemberList`, headers: {}, response: remove.raw })).toEqual({ kind: "delete", rows: 1 });
    expect(h.call("GET", `lists(${LIST})?$select=membercount`).json["membercount"]).toBe(0);
    expect(h.call("POST", `lists(${LIST})/Microsoft.Dynamics.CRM.RemoveMemberList`, { EntityId: "00000000-0000-4000-8000-0000000000ff" }).status).toBe(404);
  });
});

describe("ManyToManyRelationships metadata", () => {
  it("lists the relationships a table takes part in, as ManyToManyRelationshipMetadata", () => {
    const h = harness();
    const r = h.call("GET", "EntityDefinitions(LogicalName='contact')/ManyToManyRelationships?$select=SchemaName,Entity1LogicalName,Entity2LogicalName,IntersectEntityName,Entity1IntersectAttribute,Entity2IntersectAttribute,Entity1NavigationPropertyName,Entity2NavigationPropertyName,IsCustomRelationship");
    expect(r.status).toBe(200);
    expect(r.json.value).toEqual([
      expect.objectContaining({
        SchemaName: "listcontact_association",
        Entity1LogicalName: "list",
        Entity2LogicalName: "contact",
        IntersectEntityName: "listmember",
        Entity1IntersectAttribute: "listid",
        Entity2IntersectAttribute: "entityid",
        Entity1NavigationPropertyName: "listcontact_association",
        Entity2NavigationPropertyName: "listcontact_association",
        IsCustomRelationship: false,
      }),
    ]);
    const expanded = h.call("GET", "EntityDefinitions(LogicalName='list')?$select=LogicalName&$expand=ManyToManyRelationships($select=SchemaName)");
    expect((expanded.json["ManyToManyRelationships"] as { SchemaName: string }[]).map((x) => x.SchemaName).sort()).toEqual([
      "listaccount_association",
      "listcontact_association",
      "listlead_association",
    ]);
  });
});

describe("a custom many-to-many relationship from the environment file", () => {
  function customEnv(): Environment {
    const base = defaultEnvironment();
    const json = JSON.parse(JSON.stringify(base)) as Record<string, unknown> & { tables: unknown[]; manyToManyRelationships: unknown[] };
    json.tables.push({
      logicalName: "new_interest",
      entitySetName: "new_interests",
      primaryIdAttribute: "new_interestid",
      primaryNameAttribute: "new_name",
      columns: [
        { logicalName: "new_interestid", type: "Uniqueidentifier" },
        { logicalName: "new_name", type: "String", maxLength: 100 },
        { logicalName: "new_code", type: "String", maxLength: 20 },
      ],
      keys: [{ logicalName: "new_interest_code", attributes: ["new_code"] }],
    });
    json.manyToManyRelationships.push({ schemaName: "new_contact_new_interest", entity1LogicalName: "contact", entity2LogicalName: "new_interest" });
    return parseEnvironment(json);
  }

  it("is served by metadata and by $ref, with the defaults filled in", () => {
    const env = customEnv();
    const apps = env.apps.map((a) => (a.applicationUser ? { ...a, applicationUser: { ...a.applicationUser, privileges: { ...a.applicationUser.privileges, new_interest: ["create", "read", "write", "delete", "append", "appendto"] as const } } } : a));
    const h = harness({ ...env, apps });
    const meta = h.call("GET", "EntityDefinitions(LogicalName='new_interest')/ManyToManyRelationships");
    expect(meta.json.value?.[0]).toMatchObject({
      SchemaName: "new_contact_new_interest",
      IntersectEntityName: "new_contact_new_interest",
      Entity1IntersectAttribute: "contactid",
      Entity2IntersectAttribute: "new_interestid",
      Entity1NavigationPropertyName: "new_contact_new_interest",
      IsCustomRelationship: true,
    });
    expect(h.call("POST", "contacts", { contactid: "c0000000-0000-4000-8000-000000000001", lastname: "X" }).status).toBe(204);
    expect(h.call("POST", "new_interests", { new_name: "Sailing", new_code: "SAIL" }).status).toBe(204);
    expect(h.call("POST", "contacts(c0000000-0000-4000-8000-000000000001)/new_contact_new_interest/$ref", { "@odata.id": "new_interests(new_code='SAIL')" }).status).toBe(204);
    expect(h.call("GET", "contacts(c0000000-0000-4000-8000-000000000001)/new_contact_new_interest?$select=new_code").json.value?.map((v) => v["new_code"])).toEqual(["SAIL"]);
  });

  it("a relationship naming an unknown table is refused with its JSON path", () => {
    const json = JSON.parse(JSON.stringify(defaultEnvironment())) as Record<string, unknown>;
    json["manyToManyRelationships"] = [{ schemaName: "x_y", entity1LogicalName: "contact", entity2LogicalName: "nope" }];
    expect(() => parseEnvironment(json)).toThrow(/\$\.manyToManyRelationships\[0\]\.entity2LogicalName: names no table/);
  });
});
