import { describe, expect, it } from "vitest";
import { harness } from "./testing/service-harness.js";

// Validation through the service, so each case pins status, code and message shape together.
function create(body: Record<string, unknown>, set = "new_memberships") {
  return harness().call("POST", set, body);
}

describe("column validation on write", () => {
  it("unknown column: 400 0x0 'Invalid property ... was found in entity'", () => {
    const r = create({ lastname: "x", Name: "y" }, "contacts");
    expect(r.status).toBe(400);
    expect(r.json.error?.code).toBe("0x0");
    expect(r.json.error?.message).toContain("Invalid property 'Name' was found in entity 'Microsoft.Dynamics.CRM.contact'");
  });

  it("string over MaxLength: 0x80044331 with the documented message", () => {
    const r = create({ lastname: "x".repeat(51) }, "contacts");
    expect(r.status).toBe(400);
    expect(r.json.error).toEqual({
      code: "0x80044331",
      message: "A validation error occurred. The length of the 'lastname' attribute of the 'contact' entity exceeded the maximum allowed length of '50'.",
    });
  });

  it("a character XML cannot hold: 0x80040278 InvalidCharactersInField (invalidcharactersinfield)", () => {
    for (const bad of ["a\u0000b", "tab\u000bvertical", "\u001f", "x\uffff", "lone \ud800 high"]) {
      const r = create({ lastname: bad }, "contacts");
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.json.error).toEqual({ code: "0x80040278", message: "The field 'lastname' contains one or more invalid characters." });
    }
    for (const good of ["tab\tnew\nline\r", "\u007f\u00a0é日本語👩‍👩‍👧\ufeff\ufffd"]) {
      expect(create({ lastname: good.slice(0, 50) }, "contacts").status, JSON.stringify(good)).toBe(204);
    }
    expect(create({ new_name: "m", new_notes: "memo \u0007" }).json.error?.code).toBe("0x80040278");
  });

  it("a string at MaxLength is fine", () => {
    expect(create({ lastname: "x".repeat(50) }, "contacts").status).toBe(204);
  });

  it("choice out of range: 0x8004431a", () => {
    const r = create({ new_name: "x", new_tier: 7 });
    expect(r.status).toBe(400);
    expect(r.json.error?.code).toBe("0x8004431a");
  });

  it("multi-select: comma-separated option values; an unknown one is out of range", () => {
    const h = harness();
    const ok = h.call("POST", "new_memberships", { new_name: "x", new_channels: "100000001,100000000" }, { prefer: "return=representation" });
    expect(ok.status).toBe(201);
    expect(ok.json["new_channels"]).toBe("100000001,100000000");
    // OptionSetValidationFailed for a multi-select choice; a single choice gives PicklistValueOutOfRange (above).
    expect(h.call("POST", "new_memberships", { new_name: "x", new_channels: "100000001,5" }).json.error).toEqual({ code: "0x80061005", message: "The value is out of range." });
    expect(h.call("POST", "new_memberships", { new_name: "x", new_channels: [100000001] }).json.error?.code).toBe("0x80048d19");
  });

  it.each([
    [{ new_startdate: "1752-12-31" }, "0x80040239"],
    [{ new_startdate: "2024-02-30" }, "0x80040239"],
    [{ new_lastvisit: "1700-01-01T00:00:00Z" }, "0x80040239"],
    [{ new_lastvisit: "not a date" }, "0x80040239"],
    [{ new_startdate: "2024-05-01T00:00:00Z" }, "0x80048d19"], // Edm.Date takes a date only
  ])("dates: %j → %s", (body, code) => {
    const r = create({ new_name: "x", ...body });
    expect(r.status).toBe(400);
    expect(r.json.error?.code).toBe(code);
  });

  it("DateOnly accepts YYYY-MM-DD; DateTime without offset is UTC", () => {
    const h = harness();
    const r = h.call("POST", "new_memberships", { new_name: "x", new_startdate: "2024-05-01", new_lastvisit: "2024-05-01T10:30:00" }, { prefer: "return=representation" });
    expect(r.json["new_startdate"]).toBe("2024-05-01");
    expect(r.json["new_lastvisit"]).toBe("2024-05-01T10:30:00Z");
    const off = h.call("POST", "new_memberships", { new_name: "x", new_lastvisit: "2024-05-01T10:30:00-02:00" }, { prefer: "return=representation" });
    expect(off.json["new_lastvisit"]).toBe("2024-05-01T12:30:00Z");
  });

  it.each([
    [{ new_points: 1_000_001 }, 400],
    [{ new_points: -1 }, 400],
    [{ new_points: 1.5 }, 400],
    // An integer literal in a JSON string converts (create-entity-web-api's InitializeFrom sample
    // posts "numberofemployees":"200"); other text does not ("Cannot convert the literal …").
    [{ new_points: "5" }, 204],
    [{ new_points: "five" }, 400],
    [{ new_points: "5.5" }, 400],
    [{ new_fee: -0.01 }, 400],
    [{ new_discount: 100.01 }, 400],
    [{ new_points: 1_000_000 }, 204],
    [{ new_discount: 100 }, 204],
  ])("numbers: %j → %i", (body, status) => {
    expect(create({ new_name: "x", ...body }).status).toBe(status);
  });

  it("range errors carry 0x80044331 and name the accepted range", () => {
    const r = create({ new_name: "x", new_points: 2_000_000 });
    expect(r.json.error?.code).toBe("0x80044331");
    expect(r.json.error?.message).toContain("Accepted range: 0 to 1000000");
  });

  it("extra decimals are rounded to the column precision", () => {
    const r = harness().call("POST", "new_memberships", { new_name: "x", new_fee: 10.129, new_score: 1.23456 }, { prefer: "return=representation" });
    expect(r.json["new_fee"]).toBe(10.13);
    expect(r.json["new_score"]).toBe(1.235);
  });

  it("booleans only true/false", () => {
    expect(create({ new_name: "x", new_active: 1 }).json.error?.code).toBe("0x80048d19");
    expect(create({ new_name: "x", new_active: "true" }).status).toBe(400);
    expect(create({ new_name: "x", new_active: true }).status).toBe(204);
  });

  it("ApplicationRequired is not enforced by the Web API", () => {
    expect(create({}, "accounts").status).toBe(204);
  });

  it("a SystemRequired column cannot be set to null", () => {
    const r = create({ new_name: "x", "ownerid@odata.bind": null });
    expect(r.status).toBe(400);
    expect(r.json.error?.message).toBe("Attribute 'ownerid' cannot be set to NULL");
  });

  it("a column not valid for create or update is ignored, not refused", () => {
    const h = harness();
    const c = h.call("POST", "contacts", { lastname: "x", fullname: "y", createdon: "2001-01-01T00:00:00Z" }, { prefer: "return=representation" });
    expect(c.status).toBe(201);
    expect(c.json["fullname"]).toBe("x");
    expect(c.json["createdon"]).not.toBe("2001-01-01T00:00:00Z");
    const u = h.call("PATCH", `contacts(${String(c.json["contactid"])})`, { createdon: "2001-01-01T00:00:00Z" }, { "if-match": "*", prefer: "return=representation" });
    expect(u.status).toBe(200);
    expect(u.json["createdon"]).toBe(c.json["createdon"]);
  });

  it("statecode on create is ignored (IsValidForCreate False); a statuscode of another state is 0x80048408", () => {
    const h = harness();
    const c = h.call("POST", "accounts", { name: "x", statecode: 1 }, { prefer: "return=representation" });
    expect(c.status).toBe(201);
    expect([c.json["statecode"], c.json["statuscode"]]).toEqual([0, 1]);
    const bad = h.call("POST", "accounts", { name: "x", statecode: 1, statuscode: 2 });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.code).toBe("0x80048408");
    expect(bad.json.error?.message).toMatch(/^The statuscode is not a valid status code for state code AccountState\.Active on account with Id [0-9a-f-]{36}\.$/);
  });

  it("statecode/statuscode: the pair must match; a state alone takes its default status", () => {
    const h = harness();
    const c = h.call("POST", "leads", { lastname: "x" }, { prefer: "return=representation" });
    const id = String(c.json["leadid"]);
    const bad = h.call("PATCH", `leads(${id})`, { statecode: 2, statuscode: 3 }, { "if-match": "*" });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.message).toMatch(/^The statuscode is not a valid status code for state code LeadState.Disqualified on lead with Id /);
    h.call("PATCH", `leads(${id})`, { statecode: 2 }, { "if-match": "*" });
    const got = h.call("GET", `leads(${id})?$select=statecode,statuscode`);
    expect([got.json["statecode"], got.json["statuscode"]]).toEqual([2, 4]);
    expect(h.call("PATCH", `leads(${id})`, { statecode: 0, statuscode: 2 }, { "if-match": "*" }).status).toBe(204);
  });

  it("writing _x_value directly is refused", () => {
    const r = create({ lastname: "x", _parentcustomerid_value: "00000000-0000-0000-0000-000000000001" }, "contacts");
    expect(r.status).toBe(400);
    expect(r.json.error?.message).toContain("CRM do not support direct update of Entity Reference properties");
  });

  it("a body that is not a JSON object is a payload error", () => {
    expect(create([] as unknown as Record<string, unknown>).json.error?.code).toBe("0x80048d19");
    expect(harness().call("POST", "accounts", "{not json").json.error?.code).toBe("0x80048d19");
  });
});
