import { describe, expect, it } from "vitest";
import { ROOT, callerFor, harness } from "./testing/service-harness.js";
import { DEFAULT_IDS } from "./default-environment.js";
import { defaultEnvironment } from "./environment.js";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("WhoAmI", () => {
  it("answers GET with the caller's ids", () => {
    const h = harness();
    const r = h.call("GET", "WhoAmI");
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      "@odata.context": `${ROOT}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
      BusinessUnitId: DEFAULT_IDS.businessUnitId,
      UserId: DEFAULT_IDS.mainApp.systemUserId,
      OrganizationId: DEFAULT_IDS.organizationId,
    });
  });

  it("answers POST with 404 No HTTP resource, as the troubleshooting page shows", () => {
    const r = harness().call("POST", "WhoAmI");
    expect(r.status).toBe(404);
    expect(r.json.error?.message).toBe(`No HTTP resource was found that matches the request URI '${ROOT}WhoAmI'.`);
  });
});

describe("create", () => {
  it("POST answers 204 with OData-EntityId and stores system columns", () => {
    const h = harness();
    const r = h.call("POST", "contacts", { firstname: "Ada", lastname: "Lovelace" });
    expect(r.status).toBe(204);
    const m = /contacts\(([^)]+)\)$/.exec(r.headers["odata-entityid"] ?? "");
    expect(m?.[1]).toMatch(GUID);
    const got = h.call("GET", `contacts(${m?.[1]})`);
    expect(got.status).toBe(200);
    expect(got.json["fullname"]).toBe("Ada Lovelace");
    expect(got.json["statecode"]).toBe(0);
    expect(got.json["statuscode"]).toBe(1);
    expect(got.json["_ownerid_value"]).toBe(DEFAULT_IDS.mainApp.systemUserId);
    expect(got.json["_createdby_value"]).toBe(DEFAULT_IDS.mainApp.systemUserId);
    expect(got.json["@odata.etag"]).toBe(`W/"${String(got.json["versionnumber"])}"`);
    expect(typeof got.json["createdon"]).toBe("string");
  });

  it("return=representation answers 201 with the selected columns", () => {
    const h = harness();
    const r = h.call("POST", "accounts?$select=name,accountnumber", { name: "Contoso", accountnumber: "A-1" }, { prefer: "return=representation" });
    expect(r.status).toBe(201);
    expect(r.headers["preference-applied"]).toBe("return=representation");
    expect(r.json["@odata.context"]).toBe(`${ROOT}$metadata#accounts(name,accountnumber)/$entity`);
    expect(r.json["name"]).toBe("Contoso");
    expect(r.json["accountid"]).toMatch(GUID);
    expect(r.json).not.toHaveProperty("revenue");
  });

  it("honours a client-supplied primary id and refuses it twice with 412 0x80040237", () => {
    const h = harness();
    const id = "0b6f4a1e-1111-4222-8333-444455556666";
    expect(h.call("POST", "contacts", { contactid: id, lastname: "A" }).status).toBe(204);
    const again = h.call("POST", "contacts", { contactid: id, lastname: "B" });
    expect(again.status).toBe(412);
    expect(again.json.error?.code).toBe("0x80040237");
  });

  it("an unknown set is 404 0x8006088a naming the segment, case-sensitively", () => {
    const r = harness().call("GET", "Contacts");
    expect(r.status).toBe(404);
    expect(r.json.error).toEqual({ code: "0x8006088a", message: "Resource not found for the segment 'Contacts'." });
  });
});

describe("update, upsert and delete", () => {
  it("PATCH with If-Match * on a missing row is 404 0x80040217", () => {
    const r = harness().call("PATCH", "contacts(00000000-0000-0000-0000-000000000009)", { lastname: "x" }, { "if-match": "*" });
    expect(r.status).toBe(404);
    expect(r.json.error?.code).toBe("0x80040217");
  });

  it("upsert creates (201) then updates (200) with return=representation", () => {
    const h = harness();
    const url = "contacts(emailaddress1='ada%40example.com')";
    const a = h.call("PATCH", url, { lastname: "Lovelace" }, { prefer: "return=representation" });
    expect(a.status).toBe(201);
    expect(a.json["emailaddress1"]).toBe("ada@example.com");
    const b = h.call("PATCH", url, { lastname: "Byron" }, { prefer: "return=representation" });
    expect(b.status).toBe(200);
    expect(b.json["contactid"]).toBe(a.json["contactid"]);
    expect(h.service.rowCount("contact")).toBe(1);
  });

  it("upsert without return=representation answers 204 echoing the key form in OData-EntityId", () => {
    const h = harness();
    const r = h.call("PATCH", "accounts(accountnumber='A-9')", { name: "X" });
    expect(r.status).toBe(204);
    expect(r.headers["odata-entityid"]).toBe(`${ROOT}accounts(accountnumber='A-9')`);
  });

  it("key values with an apostrophe use the doubled quote", () => {
    const h = harness();
    const r = h.call("PATCH", "accounts(accountnumber='O''Brien-1')", { name: "O'Brien" }, { prefer: "return=representation" });
    expect(r.status).toBe(201);
    expect(r.json["accountnumber"]).toBe("O'Brien-1");
    expect(h.call("GET", "accounts(accountnumber='O%27%27Brien-1')").status).toBe(200);
  });

  it("on the update path key columns in the body are stripped; on create the body wins", () => {
    const h = harness();
    const created = h.call("PATCH", "accounts(accountnumber='K-1')", { name: "A", accountnumber: "K-BODY" }, { prefer: "return=representation" });
    expect(created.json["accountnumber"]).toBe("K-BODY");
    h.call("PATCH", "accounts(accountnumber='K-2')", { name: "B" });
    const updated = h.call("PATCH", "accounts(accountnumber='K-2')", { name: "C", accountnumber: "K-OTHER" }, { prefer: "return=representation" });
    expect(updated.status).toBe(200);
    expect(updated.json["accountnumber"]).toBe("K-2");
    expect(updated.json["name"]).toBe("C");
  });

  it("on the update path a bind to a lookup key column is stripped too", () => {
    const h = harness();
    const c1 = String(h.call("POST", "contacts", { lastname: "one" }, { prefer: "return=representation" }).json["contactid"]);
    const c2 = String(h.call("POST", "contacts", { lastname: "two" }, { prefer: "return=representation" }).json["contactid"]);
    const url = `new_memberships(_new_contactid_value=${c1},new_tier=100000001)`;
    h.call("PATCH", url, { new_name: "m" });
    const r = h.call("PATCH", url, { new_name: "n", "new_ContactId@odata.bind": `/contacts(${c2})` }, { prefer: "return=representation" });
    expect(r.status).toBe(200);
    expect(r.json["_new_contactid_value"]).toBe(c1);
    expect(r.json["new_name"]).toBe("n");
  });

  it("If-None-Match * on an existing row is 412", () => {
    const h = harness();
    h.call("PATCH", "accounts(accountnumber='N-1')", { name: "A" });
    const r = h.call("PATCH", "accounts(accountnumber='N-1')", { name: "B" }, { "if-none-match": "*" });
    expect(r.status).toBe(412);
    expect(r.json.error?.message).toBe("A record with matching key values already exists.");
  });

  it("If-Match with a stale etag is 412; with the current one it updates", () => {
    const h = harness();
    const a = h.call("POST", "accounts", { name: "A" }, { prefer: "return=representation" });
    const id = String(a.json["accountid"]);
    const etag = String(a.json["@odata.etag"]);
    expect(h.call("PATCH", `accounts(${id})`, { name: "B" }, { "if-match": etag }).status).toBe(204);
    const stale = h.call("PATCH", `accounts(${id})`, { name: "C" }, { "if-match": etag });
    expect(stale.status).toBe(412);
    expect(stale.json.error?.message).toBe("The version of the existing record doesn't match the RowVersion property provided.");
  });

  it("an alternate-key duplicate on create or update is 412 0x80060892", () => {
    const h = harness();
    h.call("POST", "accounts", { name: "A", accountnumber: "D-1" });
    const dup = h.call("POST", "accounts", { name: "B", accountnumber: "d-1" });
    expect(dup.status).toBe(412);
    expect(dup.json.error?.code).toBe("0x80060892");
    const b = h.call("POST", "accounts", { name: "B", accountnumber: "D-2" }, { prefer: "return=representation" });
    const upd = h.call("PATCH", `accounts(${String(b.json["accountid"])})`, { accountnumber: "D-1" }, { "if-match": "*" });
    expect(upd.json.error?.code).toBe("0x80060892");
  });

  it("DELETE answers 204, then 404", () => {
    const h = harness();
    h.call("PATCH", "accounts(accountnumber='X-1')", { name: "A" });
    expect(h.call("DELETE", "accounts(accountnumber='X-1')").status).toBe(204);
    const again = h.call("DELETE", "accounts(accountnumber='X-1')");
    expect(again.status).toBe(404);
    expect(again.json.error?.code).toBe("0x80060891");
  });

  it("contacts(contactid=<guid>) addresses by primary key", () => {
    const h = harness();
    const id = "0b6f4a1e-1111-4222-8333-444455556667";
    h.call("POST", "contacts", { contactid: id, lastname: "A" });
    expect(h.call("GET", `contacts(contactid=${id})`).json["contactid"]).toBe(id);
  });
});

describe("uniqueness of a key over several text columns", () => {
  // The lead's name-and-company key, made usable: three text columns in one key.
  function leadKeyHarness() {
    const env = defaultEnvironment();
    const tables = env.tables.map((t) =>
      t.logicalName !== "lead" ? t : { ...t, keys: (t.keys ?? []).map((k) => (k.logicalName === "new_lead_name_company" ? { ...k, status: "Active" as const } : k)) },
    );
    return harness({ ...env, tables });
  }

  it("values that only run together differently are different keys; case and trailing spaces are not", () => {
    const h = leadKeyHarness();
    expect(h.call("POST", "leads", { firstname: "ab", lastname: "c", companyname: "x" }).status).toBe(204);
    expect(h.call("POST", "leads", { firstname: "a", lastname: "bc", companyname: "x" }).status).toBe(204);
    expect(h.call("POST", "leads", { firstname: "a|b", lastname: "c", companyname: "x" }).status).toBe(204);
    const again = h.call("POST", "leads", { firstname: "AB", lastname: "c ", companyname: "X" });
    expect(again.status).toBe(412);
    expect(h.service.rowCount("lead")).toBe(3);
  });
});

describe("alternate keys in the URL", () => {
  it("an undefined key combination is 400 'The key in the request URI is not valid'", () => {
    const r = harness().call("GET", "contacts(firstname='A')");
    expect(r.status).toBe(400);
    expect(r.json.error?.message).toMatch(/^The key in the request URI is not valid for resource 'Microsoft.Dynamics.CRM.contact'/);
  });

  it("a key that is Pending is not usable", () => {
    const r = harness().call("PATCH", "accounts(emailaddress1='a%40b.com')", { name: "A" });
    expect(r.status).toBe(400);
  });

  it("composite key with a lookup column addresses one row", () => {
    const h = harness();
    const c = h.call("POST", "contacts", { lastname: "A" }, { prefer: "return=representation" });
    const cid = String(c.json["contactid"]);
    const url = `new_memberships(_new_contactid_value=${cid},new_tier=100000000)`;
    const r = h.call("PATCH", url, { new_name: "m" }, { prefer: "return=representation" });
    expect(r.status).toBe(201);
    expect(r.json["_new_contactid_value"]).toBe(cid);
    expect(h.call("GET", `new_memberships(new_tier=100000000,_new_contactid_value=${cid})`).status).toBe(200);
  });

  it.each([
    ["a%26b", 400],
    ["a%3Ab", 400],
    ["a%2Ab", 400],
    ["a%25b", 400],
    ["a%2Bb", 404],
    ["a%2Fb", 404],
  ])("key value %s fails for GET/PATCH/DELETE by key with %i", (value, status) => {
    const h = harness();
    for (const method of ["GET", "PATCH", "DELETE"]) {
      const r = h.call(method, `accounts(accountnumber='${value}')`, method === "PATCH" ? { name: "x" } : undefined);
      expect(r.status).toBe(status);
    }
  });

  it("such a value is still fine in the body and for uniqueness", () => {
    const h = harness();
    expect(h.call("POST", "accounts", { name: "A", accountnumber: "R&D/1" }).status).toBe(204);
    expect(h.call("POST", "accounts", { name: "B", accountnumber: "R&D/1" }).status).toBe(412);
  });
});

describe("lookups", () => {
  it("binds by id and by key, relative with or without slash and absolute; reads _x_value", () => {
    const h = harness();
    const acc = h.call("POST", "accounts", { name: "A", accountnumber: "A-1" }, { prefer: "return=representation" });
    const accId = String(acc.json["accountid"]);
    for (const bind of [`/accounts(${accId})`, `accounts(${accId})`, `${ROOT}accounts(${accId})`, "/accounts(accountnumber='A-1')"]) {
      const c = h.call("POST", "contacts?$select=_parentcustomerid_value", { lastname: "x", "parentcustomerid_account@odata.bind": bind }, { prefer: "return=representation" });
      expect(c.status).toBe(201);
      expect(c.json["_parentcustomerid_value"]).toBe(accId);
    }
  });

  it("polymorphic: setting the contact nav replaces the account value; null clears", () => {
    const h = harness();
    const acc = h.call("POST", "accounts", { name: "A" }, { prefer: "return=representation" });
    const other = h.call("POST", "contacts", { lastname: "P" }, { prefer: "return=representation" });
    const c = h.call("POST", "contacts", { lastname: "x", "parentcustomerid_account@odata.bind": `/accounts(${String(acc.json["accountid"])})` }, { prefer: "return=representation" });
    const id = String(c.json["contactid"]);
    h.call("PATCH", `contacts(${id})`, { "parentcustomerid_contact@odata.bind": `/contacts(${String(other.json["contactid"])})` }, { "if-match": "*" });
    const r = h.call("GET", `contacts(${id})?$select=_parentcustomerid_value`, undefined, { prefer: 'odata.include-annotations="*"' });
    expect(r.json["_parentcustomerid_value"]).toBe(other.json["contactid"]);
    expect(r.json["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"]).toBe("contact");
    h.call("PATCH", `contacts(${id})`, { parentcustomerid_contact: null }, { "if-match": "*" });
    expect(h.call("GET", `contacts(${id})`).json["_parentcustomerid_value"]).toBeNull();
  });

  it("PUT and DELETE <nav>/$ref set and clear a single-valued navigation property", () => {
    const h = harness();
    const acc = h.call("POST", "accounts", { name: "A" }, { prefer: "return=representation" });
    const con = h.call("POST", "contacts", { lastname: "C" }, { prefer: "return=representation" });
    const id = String(acc.json["accountid"]);
    expect(h.call("PUT", `accounts(${id})/primarycontactid/$ref`, { "@odata.id": `${ROOT}contacts(${String(con.json["contactid"])})` }).status).toBe(204);
    expect(h.call("GET", `accounts(${id})?$select=_primarycontactid_value`).json["_primarycontactid_value"]).toBe(con.json["contactid"]);
    expect(h.call("DELETE", `accounts(${id})/primarycontactid/$ref`).status).toBe(204);
    expect(h.call("GET", `accounts(${id})?$select=_primarycontactid_value`).json["_primarycontactid_value"]).toBeNull();
    expect(h.call("DELETE", `accounts(${id})/Primarycontactid/$ref`).status).toBe(404);
  });

  it("ownerid binds to a team", () => {
    const h = harness();
    const r = h.call("POST", "accounts", { name: "A", "ownerid@odata.bind": `/teams(${DEFAULT_IDS.teamId})` }, { prefer: "return=representation" });
    expect(r.status).toBe(201);
    expect(r.json["_ownerid_value"]).toBe(DEFAULT_IDS.teamId);
  });

  it("an undeclared nav (lookup logical name) is 400 0x80048d19 with the documented shape", () => {
    const r = harness().call("POST", "contacts", { lastname: "x", "parentcustomerid@odata.bind": "accounts(a779956b-d748-ed11-bb44-6045bd01152a)" });
    expect(r.status).toBe(400);
    expect(r.json.error?.code).toBe("0x80048d19");
    expect(r.json.error?.message).toMatch(/^Error identified in Payload provided by the user for Entity :'contacts'.*An undeclared property 'parentcustomerid' which only has property annotations/);
  });

  it("nav names are case-sensitive", () => {
    const r = harness().call("POST", "new_memberships", { new_name: "x", "new_contactid@odata.bind": "/contacts(00000000-0000-0000-0000-000000000001)" });
    expect(r.json.error?.code).toBe("0x80048d19");
  });

  it("a missing target is 404 0x80040217 by id and 0x80060891 by key", () => {
    const h = harness();
    expect(h.call("POST", "contacts", { lastname: "x", "parentcustomerid_account@odata.bind": "/accounts(00000000-0000-0000-0000-000000000001)" }).json.error?.code).toBe("0x80040217");
    expect(h.call("POST", "contacts", { lastname: "x", "parentcustomerid_account@odata.bind": "/accounts(accountnumber='none')" }).json.error?.code).toBe("0x80060891");
  });

  it("$n Content-ID references resolve through contentIdRefs", () => {
    const h = harness();
    const acc = h.call("POST", "accounts", { name: "A" }, { prefer: "return=representation" });
    const main = callerFor(h.env, DEFAULT_IDS.mainApp.clientId);
    const raw = h.service.handle({
      method: "POST",
      path: "contacts",
      query: "",
      headers: { prefer: "return=representation" },
      body: JSON.stringify({ lastname: "x", "parentcustomerid_account@odata.bind": "$1" }),
      caller: main,
      serviceRoot: ROOT,
      contentIdRefs: new Map([["$1", `${ROOT}accounts(${String(acc.json["accountid"])})`]]),
    });
    expect(raw.status).toBe(201);
    expect((JSON.parse(raw.body ?? "{}") as Record<string, unknown>)["_parentcustomerid_value"]).toBe(acc.json["accountid"]);
  });
});

describe("privileges", () => {
  it("the read-only app can read accounts but not create them (403 0x80040220 naming the privilege)", () => {
    const h = harness();
    const ro = callerFor(h.env, DEFAULT_IDS.readOnlyApp.clientId);
    expect(h.call("GET", "accounts", undefined, {}, ro).status).toBe(200);
    const r = h.call("POST", "accounts", { name: "A" }, {}, ro);
    expect(r.status).toBe(403);
    expect(r.json.error?.code).toBe("0x80040220");
    expect(r.json.error?.message).toContain("prvCreateAccount");
    expect(h.call("GET", "contacts", undefined, {}, ro).json.error?.message).toContain("prvReadContact");
  });
});

describe("transactions", () => {
  it("rolls back every change when fn returns false, keeps them when true", () => {
    const h = harness();
    h.service.transaction(() => {
      h.call("POST", "accounts", { name: "A", accountnumber: "T-1" });
      h.call("POST", "accounts", { name: "B" });
      return false;
    });
    expect(h.service.rowCount("account")).toBe(0);
    expect(h.call("POST", "accounts", { name: "C", accountnumber: "T-1" }).status).toBe(204);
    h.service.transaction(() => {
      h.call("PATCH", "accounts(accountnumber='T-1')", { name: "D" });
      return true;
    });
    expect(h.call("GET", "accounts(accountnumber='T-1')").json["name"]).toBe("D");
  });

  it("rolls back an update and a delete, restoring the key index", () => {
    const h = harness();
    h.call("POST", "accounts", { name: "A", accountnumber: "U-1" });
    h.service.transaction(() => {
      h.call("PATCH", "accounts(accountnumber='U-1')", { accountnumber: "U-2" }, { "if-match": "*" });
      h.call("DELETE", "accounts(accountnumber='U-1')");
      return false;
    });
    const r = h.call("GET", "accounts(accountnumber='U-1')");
    expect(r.status).toBe(200);
    expect(r.json["name"]).toBe("A");
  });

  it("a throwing fn rolls back too", () => {
    const h = harness();
    expect(() =>
      h.service.transaction(() => {
        h.call("POST", "accounts", { name: "A" });
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(h.service.rowCount("account")).toBe(0);
  });
});
