import { describe, expect, it } from "vitest";
import { harness } from "./testing/service-harness.js";

// Hostile requests must get a Dataverse-shaped 4xx, never a 500 (an emulator bug) or a throw.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PATHS = [
  "contacts", "contacts(", "contacts()", "contacts(x)", "contacts('a')", "contacts(emailaddress1=)", "contacts(emailaddress1='a'",
  "contacts(emailaddress1='a',emailaddress1='b')", "contacts(00000000-0000-0000-0000-000000000001)/", "contacts/Microsoft.Dynamics.CRM.",
  "contacts/Microsoft.Dynamics.CRM.UpsertMultiple", "EntityDefinitions(", "EntityDefinitions(LogicalName=1)", "EntityDefinitions(LogicalName='contact')/Attributes(", 
  "EntityDefinitions(LogicalName='contact')/Attributes/Microsoft.Dynamics.CRM.X", "EntityDefinitions(LogicalName='contact')/Nope", "%", "%E0%A4%A", "accounts(accountnumber='%ZZ')",
  "accounts(accountnumber=''''')", "accounts(1)", "accounts(accountid=1)", "WhoAmI()", "WhoAmI(x)", "$metadata", "sdkmessagefilters(1)", "accounts(00000000-0000-0000-0000-000000000001)/name/$ref",
];
const QUERIES = [
  "", "$select=", "$select=,", "$filter=", "$filter=(", "$filter=name eq", "$filter=name eq 'a' and", "$filter=contains(name)", "$filter=name eq 1",
  "$top=-1", "$top=x", "$orderby=name sideways", "$count=maybe", "$skiptoken=zzz", "$filter=@a eq 1", "$filter=name eq @a&@a=", "%ZZ", "$select=name&$select=name",
  "$expand=OptionSet(", "$filter=not", "$filter=name eq 'a' or (", "$filter=createdon gt 2024-13-45T00:00:00Z",
];
const BODIES = [
  "", "{", "[]", "null", "1", '"x"', "{}", '{"name":{}}', '{"name":[1]}', '{"Targets":{}}', '{"Targets":[null]}', '{"Targets":[{"@odata.type":1}]}',
  '{"Targets":[{"@odata.type":"Microsoft.Dynamics.CRM.contact","@odata.id":5}]}', '{"Targets":[{"@odata.type":"Microsoft.Dynamics.CRM.contact","@odata.id":"contacts("}]}',
  '{"parentcustomerid_account@odata.bind":5}', '{"parentcustomerid_account@odata.bind":"/accounts("}', '{"parentcustomerid_account@odata.bind":"$9"}',
  '{"parentcustomerid_account@odata.bind":"https://elsewhere/x"}', '{"birthdate":"9999-99-99"}', '{"statecode":"x"}', '{"contactid":"nope"}', '{"__proto__":{"x":1}}',
  '{"value":1}', '{"@odata.id":"accounts(1)"}',
];
const METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"];
const HEADERS = [{}, { "if-match": "garbage" }, { "if-none-match": "*" }, { prefer: "odata.maxpagesize=0" }, { prefer: "return=representation,odata.include-annotations=\"*\"" }, { "if-match": "*" }];

describe("robustness", () => {
  it("2,000 hostile requests: never a throw, never a 500, always an error body in Dataverse's shape", () => {
    const h = harness();
    const next = rng(12345);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
    const failures: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const method = pick(METHODS);
      const path = pick(PATHS);
      const query = pick(QUERIES);
      const body = pick(BODIES);
      const headers = pick(HEADERS);
      const url = query === "" ? path : `${path}?${query}`;
      const r = h.call(method, url, body, headers);
      if (r.status >= 500 && r.status !== 501) failures.push(`${method} ${url} ${body} → ${r.status} ${r.raw.body ?? ""}`);
      if (r.status >= 400) {
        const e = r.json.error;
        if (typeof e?.code !== "string" || typeof e.message !== "string") failures.push(`${method} ${url} → ${r.status} without error shape`);
      }
    }
    expect(failures.slice(0, 10)).toEqual([]);
  });
});
