import { describe, expect, it } from "vitest";
import { ROOT, harness } from "./testing/service-harness.js";

function seeded(n: number) {
  const h = harness();
  for (let i = 0; i < n; i++) {
    h.call("POST", "accounts", { name: `Acc ${String(i).padStart(3, "0")}`, accountnumber: `N-${i}`, numberofemployees: i % 7, creditonhold: i % 2 === 0 });
  }
  return h;
}

describe("collection reads", () => {
  it("answers value with @odata.context naming the selection and an etag per row", () => {
    const h = seeded(3);
    const r = h.call("GET", "accounts?$select=name,accountnumber");
    expect(r.status).toBe(200);
    expect(r.json["@odata.context"]).toBe(`${ROOT}$metadata#accounts(name,accountnumber)`);
    expect(r.json.value).toHaveLength(3);
    const row = r.json.value?.[0] ?? {};
    expect(Object.keys(row).sort()).toEqual(["@odata.etag", "accountid", "accountnumber", "name"]);
    expect(String(row["@odata.etag"])).toMatch(/^W\/"\d+"$/);
  });

  it("$count counts every match while $top limits the rows", () => {
    const h = seeded(20);
    const r = h.call("GET", "accounts?$select=name&$filter=numberofemployees ge 5&$orderby=name desc&$count=true&$top=3");
    expect(r.json["@odata.count"]).toBe(5);
    expect(r.json.value?.map((v) => v["name"])).toEqual(["Acc 019", "Acc 013", "Acc 012"]);
    expect(r.json).not.toHaveProperty("@odata.nextLink");
  });

  it("and/or/not with booleans", () => {
    const h = seeded(20);
    const r = h.call("GET", "accounts?$select=name&$filter=numberofemployees ge 5 and creditonhold eq true&$orderby=numberofemployees desc");
    expect(r.json.value?.map((v) => v["name"])).toEqual(["Acc 006", "Acc 012"]);
    const n = h.call("GET", "accounts?$select=name&$filter=not (numberofemployees lt 6) or name eq 'Acc 000'&$orderby=name");
    expect(n.json.value?.map((v) => v["name"])).toEqual(["Acc 000", "Acc 006", "Acc 013"]);
  });

  it("$orderby puts the higher value first with desc and ties break by the next key", () => {
    const h = seeded(15);
    const r = h.call("GET", "accounts?$select=name,numberofemployees&$filter=numberofemployees ge 5&$orderby=numberofemployees desc,name asc");
    expect(r.json.value?.map((v) => `${String(v["numberofemployees"])}:${String(v["name"])}`)).toEqual(["6:Acc 006", "6:Acc 013", "5:Acc 005", "5:Acc 012"]);
  });

  it("contains/startswith are case-insensitive", () => {
    const h = seeded(12);
    const r = h.call("GET", "accounts?$select=name&$filter=startswith(name,'acc 01') and contains(name,'1')");
    expect(r.json.value?.map((v) => v["name"]).sort()).toEqual(["Acc 010", "Acc 011"]);
  });

  it("ignores $top when odata.maxpagesize is sent too (page-results)", () => {
    const h = harness();
    for (let i = 0; i < 12; i++) h.call("POST", "accounts", { name: `top ${String(i).padStart(2, "0")}` });
    const all = h.call("GET", "accounts?$select=name&$filter=startswith(name,'top ')").json.value?.length ?? 0;
    expect(all).toBe(12);
    let url: string | undefined = "accounts?$select=name&$filter=startswith(name,'top ')&$top=7";
    let seen = 0;
    while (url !== undefined) {
      const r = h.call("GET", url, undefined, { prefer: "odata.maxpagesize=5" });
      seen += r.json.value?.length ?? 0;
      const next = r.json["@odata.nextLink"];
      url = typeof next === "string" ? next.slice(next.indexOf("/v9.2/") + "/v9.2/".length) : undefined;
    }
    expect(seen).toBe(12);
    expect(h.call("GET", "accounts?$select=name&$filter=startswith(name,'top ')&$top=7").json.value).toHaveLength(7);
  });

  it("pages with odata.maxpagesize and an opaque @odata.nextLink until the end", () => {
    const h = seeded(12);
    const seen: string[] = [];
    let url: string | undefined = "accounts?$select=name&$orderby=name";
    let pages = 0;
    while (url !== undefined) {
      const r = h.call("GET", url, undefined, { prefer: "odata.maxpagesize=5" });
      expect(r.headers["preference-applied"]).toBe("odata.maxpagesize=5");
      for (const v of r.json.value ?? []) seen.push(String(v["name"]));
      const next = r.json["@odata.nextLink"];
      url = typeof next === "string" ? next.slice(ROOT.length) : undefined;
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen).toHaveLength(12);
    expect(new Set(seen).size).toBe(12);
    expect(seen[0]).toBe("Acc 000");
  });

  it("an unknown property in $select or $filter is 400 'Could not find a property named'", () => {
    const h = seeded(1);
    for (const url of ["accounts?$select=Name", "accounts?$filter=Name eq 'x'", "accounts?$select=primarycontactid"]) {
      const r = h.call("GET", url);
      expect(r.status).toBe(400);
      expect(r.json.error?.message).toMatch(/^Could not find a property named '\w+' on type 'Microsoft.Dynamics.CRM.account'.$/);
    }
  });

  it("a literal of the wrong type is 400 with OData's incompatible-types message", () => {
    const r = seeded(1).call("GET", "accounts?$filter=numberofemployees eq 'x'");
    expect(r.status).toBe(400);
    expect(r.json.error?.message).toContain("incompatible types");
  });

  it("filters lookups by _x_value and GUID literal", () => {
    const h = harness();
    const acc = h.call("POST", "accounts", { name: "A" }, { prefer: "return=representation" });
    const id = String(acc.json["accountid"]);
    h.call("POST", "contacts", { lastname: "in", "parentcustomerid_account@odata.bind": `/accounts(${id})` });
    h.call("POST", "contacts", { lastname: "out" });
    const r = h.call("GET", `contacts?$select=lastname&$filter=_parentcustomerid_value eq ${id}`);
    expect(r.json.value?.map((v) => v["lastname"])).toEqual(["in"]);
    const n = h.call("GET", "contacts?$select=lastname&$filter=_parentcustomerid_value eq null");
    expect(n.json.value?.map((v) => v["lastname"])).toEqual(["out"]);
  });

  it("include-annotations filters by pattern", () => {
    const h = harness();
    const acc = h.call("POST", "accounts", { name: "Parent", industrycode: 7 }, { prefer: "return=representation" });
    h.call("POST", "contacts", { lastname: "x", "parentcustomerid_account@odata.bind": `/accounts(${String(acc.json["accountid"])})` });
    const only = h.call("GET", "contacts?$select=_parentcustomerid_value", undefined, { prefer: 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"' }).json.value?.[0] ?? {};
    expect(Object.keys(only).sort()).toEqual(["@odata.etag", "_parentcustomerid_value", "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname", "contactid"]);
    const two = h.call("GET", "contacts?$select=_parentcustomerid_value", undefined, { prefer: 'odata.maxpagesize=10,odata.include-annotations="Microsoft.Dynamics.CRM.*,OData.Community.Display.V1.FormattedValue"' });
    const row = two.json.value?.[0] ?? {};
    expect(row["_parentcustomerid_value@OData.Community.Display.V1.FormattedValue"]).toBe("Parent");
    expect(row["_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"]).toBe("parentcustomerid_account");
    expect(two.headers["preference-applied"]).toContain("odata.maxpagesize=10");
  });

  it("formatted values with include-annotations", () => {
    const h = harness();
    h.call("POST", "accounts", { name: "A", industrycode: 7 });
    const r = h.call("GET", "accounts?$select=industrycode", undefined, { prefer: 'odata.include-annotations="*"' });
    expect(r.json.value?.[0]?.["industrycode@OData.Community.Display.V1.FormattedValue"]).toBe("Consulting");
  });
});

describe("navigation property values (retrieve-entity-using-web-api)", () => {
  it("a single-valued navigation property answers the related row, or 204 when the lookup is empty", () => {
    const h = harness();
    const c = h.call("POST", "contacts", { firstname: "Yvonne", lastname: "McKay" }, { prefer: "return=representation" });
    const contactId = String(c.json["contactid"]);
    const a = h.call("POST", "accounts", { name: "A", "primarycontactid@odata.bind": `/contacts(${contactId})` }, { prefer: "return=representation" });
    const r = h.call("GET", `accounts(${String(a.json["accountid"])})/primarycontactid?$select=fullname`);
    expect(r.status).toBe(200);
    expect(r.json["@odata.context"]).toBe(`${ROOT}$metadata#contacts(fullname)/$entity`);
    expect(r.json).toMatchObject({ fullname: "Yvonne McKay", contactid: contactId });
    const empty = h.call("POST", "accounts", { name: "B" }, { prefer: "return=representation" });
    expect(h.call("GET", `accounts(${String(empty.json["accountid"])})/primarycontactid`).status).toBe(204);
  });

  it("binding rows through a collection-valued one on create is reported as not emulated (501), not as an undeclared property", () => {
    const h = harness();
    expect(h.call("POST", "accounts", { name: "B", "contact_customer_accounts@odata.bind": ["/contacts(00000000-0000-0000-0000-000000000001)"] }).status).toBe(501);
  });
});

describe("conditional and unsupported options", () => {
  it("If-None-Match with the current etag answers 304; DELETE with a stale If-Match answers 412", () => {
    const h = harness();
    const a = h.call("POST", "accounts", { name: "A" }, { prefer: "return=representation" });
    const id = String(a.json["accountid"]);
    const etag = String(a.json["@odata.etag"]);
    expect(h.call("GET", `accounts(${id})`, undefined, { "if-none-match": etag }).status).toBe(304);
    expect(h.call("GET", `accounts(${id})`, undefined, { "if-none-match": "null" }).status).toBe(200);
    // Learn: "If the query includes $expand it will never return 304", nor with include-annotations.
    expect(h.call("GET", `accounts(${id})?$select=name&$expand=primarycontactid($select=fullname)`, undefined, { "if-none-match": etag }).status).toBe(200);
    expect(h.call("GET", `accounts(${id})`, undefined, { "if-none-match": etag, prefer: 'odata.include-annotations="*"' }).status).toBe(200);
    h.call("PATCH", `accounts(${id})`, { name: "B" }, { "if-match": "*" });
    expect(h.call("DELETE", `accounts(${id})`, undefined, { "if-match": etag }).status).toBe(412);
    expect(h.call("DELETE", `accounts(${id})`).status).toBe(204);
  });

  it("$skip is refused as Dataverse does", () => {
    const h = harness();
    expect(h.call("GET", "accounts?$skip=5").status).toBe(400);
    expect(h.call("GET", "accounts?$expand=primarycontactid").status).toBe(200);
  });
});

describe("$filter by key values (read from the key index)", () => {
  it("an or of alternate-key and primary-key equalities answers exactly the rows the scan would, case-insensitively", () => {
    const h = seeded(30);
    const id = String(h.call("GET", "accounts?$select=accountid&$filter=accountnumber eq 'N-7'").json.value?.[0]?.["accountid"]);
    const r = h.call("GET", `accounts?$select=accountnumber&$filter=accountnumber eq 'n-3' or accountnumber eq 'N-12' or accountid eq ${id} or accountnumber eq 'none'&$orderby=accountnumber`);
    expect(r.json.value?.map((v) => v["accountnumber"])).toEqual(["N-12", "N-3", "N-7"]);
    const mixed = h.call("GET", "accounts?$select=accountnumber&$filter=(accountnumber eq 'N-3' and numberofemployees eq 3) or accountnumber eq 'N-4'&$orderby=accountnumber");
    expect(mixed.json.value?.map((v) => v["accountnumber"])).toEqual(["N-3", "N-4"]);
  });
});

describe("filters that seek rows by key answer as a scan does", () => {
  // A `contactid eq null` term cannot be sought (no row has a null id), so a filter `or`-ed with it
  // is answered by scanning the table: the reference answer for the same filter without it.
  const scanOf = (filter: string): string => `(${filter}) or contactid eq null`;
  const names = (h: ReturnType<typeof harness>, filter: string): string[] =>
    (h.call("GET", `contacts?$select=lastname&$filter=${filter}`).json.value ?? []).map((v) => String(v["lastname"])).sort();

  function contacts() {
    const h = harness();
    const ids: string[] = [];
    const emails = ["Zoë@example.com", "anna@example.com", "BOB@example.com", "carl@example.com ", "dora@example.com"];
    emails.forEach((email, i) => {
      const r = h.call("POST", "contacts", { lastname: `c${i}`, emailaddress1: email, jobtitle: i % 2 === 0 ? "even" : "odd" }, { prefer: "return=representation" });
      ids.push(String(r.json["contactid"]));
    });
    h.call("POST", "contacts", { lastname: "nokey" });
    return { h, ids };
  }

  it.each([
    // In over the text key, under the collation: case, accents and trailing spaces do not count.
    `Microsoft.Dynamics.CRM.In(PropertyName='emailaddress1',PropertyValues=["zoe@EXAMPLE.com","bob@example.com","carl@example.com","nobody@example.com"])`,
    `Microsoft.Dynamics.CRM.In(PropertyName='emailaddress1',PropertyValues=["anna@example.com","dora@example.com"]) and jobtitle eq 'even'`,
    `jobtitle eq 'odd' and Microsoft.Dynamics.CRM.In(PropertyName='emailaddress1',PropertyValues=["anna@example.com","BOB@EXAMPLE.COM","dora@example.com"])`,
    `emailaddress1 eq 'ANNA@example.com' or Microsoft.Dynamics.CRM.In(PropertyName='emailaddress1',PropertyValues=["zoe@example.com"])`,
    `emailaddress1 eq 'DORA@example.com' and lastname eq 'c4'`,
  ])("%s", (filter) => {
    const { h } = contacts();
    const sought = names(h, filter);
    expect(sought).toEqual(names(h, scanOf(filter)));
    expect(sought.length).toBeGreaterThan(0);
  });

  it("In over the primary id, with an id in upper case and one of no row", () => {
    const { h, ids } = contacts();
    const values = [ids[1]?.toUpperCase(), ids[3], "00000000-0000-0000-0000-000000000001"].map((v) => `"${String(v)}"`).join(",");
    const filter = `Microsoft.Dynamics.CRM.In(PropertyName='contactid',PropertyValues=[${values}])`;
    expect(names(h, filter)).toEqual(["c1", "c3"]);
    expect(names(h, scanOf(filter))).toEqual(["c1", "c3"]);
  });
});

describe("one-to-many navigation properties (retrieve-related-entities-query, join-tables)", () => {
  function family() {
    const h = harness();
    const a = String(h.call("POST", "accounts", { name: "Alpha" }, { prefer: "return=representation" }).json["accountid"]);
    const b = String(h.call("POST", "accounts", { name: "Beta" }, { prefer: "return=representation" }).json["accountid"]);
    const one = String(h.call("POST", "contacts", { lastname: "One", "parentcustomerid_account@odata.bind": `/accounts(${a})` }, { prefer: "return=representation" }).json["contactid"]);
    h.call("POST", "contacts", { lastname: "Two", "parentcustomerid_account@odata.bind": `/accounts(${a})` });
    h.call("POST", "contacts", { lastname: "Three", "parentcustomerid_account@odata.bind": `/accounts(${b})` });
    // The same lookup pointing at a contact is not one of Alpha's.
    h.call("POST", "contacts", { lastname: "Four", "parentcustomerid_contact@odata.bind": `/contacts(${one})` });
    return { h, a, b };
  }

  it("answers the rows whose lookup points at the row, as a collection of the child table with $filter, $orderby and $count", () => {
    const { h, a } = family();
    const r = h.call("GET", `accounts(${a})/contact_customer_accounts?$select=lastname&$orderby=lastname`);
    expect(r.status).toBe(200);
    expect(r.json["@odata.context"]).toBe(`${ROOT}$metadata#contacts(lastname)`);
    expect(r.json.value?.map((v) => v["lastname"])).toEqual(["One", "Two"]);
    expect(h.call("GET", `accounts(${a})/contact_customer_accounts?$select=lastname&$filter=lastname eq 'two'`).json.value?.map((v) => v["lastname"])).toEqual(["Two"]);
    const count = h.call("GET", `accounts(${a})/contact_customer_accounts/$count`);
    expect(count.status).toBe(200);
    expect(count.raw.body).toBe("2");
    expect(h.call("GET", "accounts(00000000-0000-0000-0000-0000000000ff)/contact_customer_accounts").status).toBe(404);
  });

  it("$expand on a retrieve: the related rows with their etag and their lookup back, $filter/$orderby/$top applied, and the collection's own URL", () => {
    const { h, a } = family();
    const r = h.call("GET", `accounts(${a})?$select=name&$expand=contact_customer_accounts($select=lastname;$orderby=lastname desc;$top=1)`);
    expect(r.status).toBe(200);
    expect(r.json["@odata.context"]).toBe(`${ROOT}$metadata#accounts(name,contact_customer_accounts(lastname))/$entity`);
    const related = r.json["contact_customer_accounts"] as Record<string, unknown>[];
    expect(related).toHaveLength(1);
    expect(Object.keys(related[0] ?? {}).sort()).toEqual(["@odata.etag", "_parentcustomerid_value", "contactid", "lastname"]);
    expect(related[0]).toMatchObject({ lastname: "Two", _parentcustomerid_value: a });
    expect(r.json["contact_customer_accounts@odata.nextLink"]).toBe(`${ROOT}accounts(${a})/contact_customer_accounts?$select=lastname&$orderby=lastname desc&$top=1`);
    const filtered = h.call("GET", `accounts(${a})?$select=name&$expand=contact_customer_accounts($select=lastname;$filter=startswith(lastname,'O'))`);
    expect((filtered.json["contact_customer_accounts"] as Record<string, unknown>[]).map((v) => v["lastname"])).toEqual(["One"]);
  });

  it("$expand on a collection gives each row its own related rows (none: an empty array)", () => {
    const { h } = family();
    h.call("POST", "accounts", { name: "Gamma" });
    const r = h.call("GET", "accounts?$select=name&$orderby=name&$expand=contact_customer_accounts($select=lastname;$orderby=lastname)");
    expect(r.status).toBe(200);
    expect(r.json.value?.map((v) => [v["name"], (v["contact_customer_accounts"] as Record<string, unknown>[]).map((c) => c["lastname"])])).toEqual([
      ["Alpha", ["One", "Two"]],
      ["Beta", ["Three"]],
      ["Gamma", []],
    ]);
  });

  it("a nested $expand takes $select and $filter only, and /$ref is for lookups only (0x80060888); unknown options are refused", () => {
    const { h, a } = family();
    const nested = h.call("GET", `accounts(${a})?$select=name&$expand=contact_customer_accounts($select=lastname;$filter=lastname eq 'One';$expand=parentcustomerid_account($select=name))`);
    expect(nested.status).toBe(200);
    // Learn's example with a nested $expand shows the expanded rows bare: no etag, no lookup back.
    const rows = nested.json["contact_customer_accounts"] as Record<string, unknown>[];
    expect(rows).toEqual([{ lastname: "One", contactid: expect.any(String), parentcustomerid_account: { name: "Alpha", accountid: a } }]);
    const topped = h.call("GET", `accounts(${a})?$expand=contact_customer_accounts($top=1;$expand=parentcustomerid_account($select=name))`);
    expect(topped.status).toBe(400);
    expect(topped.json.error?.code).toBe("0x80060888");
    const ref = h.call("GET", "accounts?$expand=contact_customer_accounts/$ref");
    expect(ref.status).toBe(400);
    expect(ref.json.error).toEqual({ code: "0x80060888", message: "Expand with $ref is only supported on lookup type navigation property." });
    expect(h.call("GET", "accounts?$expand=contact_customer_accounts($skip=1)").status).toBe(400);
    expect(h.call("GET", "accounts?$expand=no_such_relationship").status).toBe(400);
  });

  it("expands a many-to-many one too: the rows related through the intersect table, from either side", () => {
    const h = harness();
    const list = "5a1c0f00-0000-4000-8000-0000000000aa";
    expect(h.call("POST", "lists", { listid: list, listname: "VIP", createdfromcode: 2 }).status).toBe(204);
    const member = String(h.call("POST", "contacts", { lastname: "Member" }, { prefer: "return=representation" }).json["contactid"]);
    h.call("POST", "contacts", { lastname: "Outsider" });
    expect(h.call("POST", `lists(${list})/listcontact_association/$ref`, { "@odata.id": `${ROOT}contacts(${member})` }).status).toBe(204);
    const fromList = h.call("GET", `lists(${list})?$select=listname&$expand=listcontact_association($select=lastname)`);
    expect(fromList.status).toBe(200);
    expect((fromList.json["listcontact_association"] as Record<string, unknown>[]).map((c) => c["lastname"])).toEqual(["Member"]);
    expect(fromList.json["listcontact_association@odata.nextLink"]).toBe(`${ROOT}lists(${list})/listcontact_association?$select=lastname`);
    const fromContacts = h.call("GET", "contacts?$select=lastname&$orderby=lastname&$expand=listcontact_association($select=listname)");
    expect(fromContacts.json.value?.map((v) => [v["lastname"], (v["listcontact_association"] as Record<string, unknown>[]).map((l) => l["listname"])])).toEqual([
      ["Member", ["VIP"]],
      ["Outsider", []],
    ]);
    expect(h.call("GET", "accounts?$expand=contact_customer_accounts($select=nosuchcolumn)").status).toBe(400);
  });
});
