import { describe, expect, it } from "vitest";
import { DataverseError } from "../errors.js";
import { assertUsableKeyValues, parsePath } from "./path.js";

describe("parsePath", () => {
  it("percent-decodes each segment before reading the key", () => {
    const [seg] = parsePath("contacts(emailaddress1='a%40b.com')");
    expect(seg).toEqual({ name: "contacts", keys: [{ name: "emailaddress1", value: { kind: "string", value: "a@b.com" } }], keyText: "emailaddress1='a@b.com'" });
  });

  it("splits segments and keeps bound action names whole", () => {
    expect(parsePath("/contacts/Microsoft.Dynamics.CRM.UpsertMultiple").map((s) => s.name)).toEqual([
      "contacts",
      "Microsoft.Dynamics.CRM.UpsertMultiple",
    ]);
  });

  it("an encoded quote pair decodes to one quote in the value", () => {
    const [seg] = parsePath("accounts(accountnumber='O%27%27Brien')");
    expect(seg?.keys?.[0]?.value).toEqual({ kind: "string", value: "O'Brien" });
  });

  it("a malformed key predicate is a 400", () => {
    try {
      parsePath("accounts(accountnumber='x)");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DataverseError);
      expect((e as DataverseError).status).toBe(400);
    }
  });
});

describe("assertUsableKeyValues", () => {
  it.each(["<", ">", "*", "%", "&", ":", "\\", "?"])("'%s' answers 400 like ASP.NET's request filter", (ch) => {
    const keys = [{ name: "k", value: { kind: "string" as const, value: `a${ch}b` } }];
    expect(() => assertUsableKeyValues(keys)).toThrow(/potentially dangerous Request.Path/);
  });

  it("plain values pass", () => {
    expect(() => assertUsableKeyValues([{ name: "k", value: { kind: "string", value: "A-1 b.c@d" } }])).not.toThrow();
  });
});
