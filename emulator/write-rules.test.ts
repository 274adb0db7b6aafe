// The write rules of write-rules.ts through the service: each error code in the
// situation Learn's error-code list and duplicate-detection page describe, and not outside it.
import { describe, expect, it } from "vitest";
import { defaultEnvironment, type Environment } from "./environment.js";
import { DEFAULT_IDS } from "./default-environment.js";
import { harness } from "./testing/service-harness.js";

const DETECT = { "mscrm.suppressduplicatedetection": "false" };

describe("duplicate detection (0x80040333)", () => {
  it("given detection asked for, refuses a second account with the same name, case and blanks aside", () => {
    const h = harness();
    expect(h.call("POST", "accounts", { name: "Fabrikam" }, DETECT).status).toBe(204);
    const dup = h.call("POST", "accounts", { name: "  fabrikam " }, DETECT);
    expect(dup.status).toBe(412);
    expect(dup.json.error).toEqual({ code: "0x80040333", message: "A record was not created or updated because a duplicate of the current record already exists." });
  });

  it("given no header (Web API default) or SuppressDuplicateDetection: true, writes the duplicate", () => {
    const h = harness();
    h.call("POST", "accounts", { name: "Contoso" });
    expect(h.call("POST", "accounts", { name: "Contoso" }).status).toBe(204);
    expect(h.call("POST", "accounts", { name: "Contoso" }, { "mscrm.suppressduplicatedetection": "true" }).status).toBe(204);
  });

  it("given an update of the row itself, or a duplicate on update, checks against the other rows only", () => {
    const h = harness();
    const a = h.call("POST", "accounts", { name: "Alpha" }, { prefer: "return=representation" }).json["accountid"] as string;
    h.call("POST", "accounts", { name: "Beta" });
    expect(h.call("PATCH", `accounts(${a})`, { name: "Alpha", telephone1: "1" }, DETECT).status).toBe(204);
    expect(h.call("PATCH", `accounts(${a})`, { name: "Beta" }, DETECT).json.error?.code).toBe("0x80040333");
  });
});

describe("owner without privileges (0x80040231)", () => {
  const owner = (id: string) => ({ "ownerid@odata.bind": `/systemusers(${id})` });

  it("given a contact assigned to a user who may not read contacts, refuses it with 403", () => {
    const r = harness().call("POST", "contacts", { lastname: "L", ...owner(DEFAULT_IDS.readOnlyApp.systemUserId) });
    expect(r.status).toBe(403);
    expect(r.json.error).toEqual({ code: "0x80040231", message: "Target user or team does not hold required privileges." });
  });

  it("given an account assigned to the same user, who may read accounts, writes it", () => {
    expect(harness().call("POST", "accounts", { name: "Owned", ...owner(DEFAULT_IDS.readOnlyApp.systemUserId) }).status).toBe(204);
  });
});

describe("plug-in refusal (0x80040265)", () => {
  const env: Environment = {
    ...defaultEnvironment(),
    plugins: [{ table: "account", message: "Create", column: "name", equals: "Blocked", error: "Accounts named Blocked are refused by policy." }],
  };

  it("given a registered step on Create, refuses the matching row with the plug-in's message", () => {
    const r = harness(env).call("POST", "accounts", { name: "Blocked" });
    expect(r.status).toBe(400);
    expect(r.json.error).toEqual({ code: "0x80040265", message: "Accounts named Blocked are refused by policy." });
  });

  it("given a row the step does not match, or an update (the step is on Create only), writes it", () => {
    const h = harness(env);
    const id = h.call("POST", "accounts", { name: "Fine" }, { prefer: "return=representation" }).json["accountid"] as string;
    expect(h.call("PATCH", `accounts(${id})`, { name: "Blocked" }).status).toBe(204);
  });
});
