// The key collation comes from the organization's base language, read once per connection.
import { describe, expect, it } from "vitest";
import { systemClock } from "../http/clock.js";
import { Throttle } from "../http/throttle.js";
import type { HttpRequest, HttpResponse, Transport } from "../http/transport.js";
import { DataverseClient } from "./client.js";
import { MetadataLoader } from "./metadata.js";

const ROOT = "https://org.example/api/data/v9.2/";
const json = (status: number, value: unknown): HttpResponse => ({ status, headers: { "content-type": "application/json" }, body: JSON.stringify(value) });

function loader(organizations: HttpResponse): { loader: MetadataLoader; urls: string[] } {
  const urls: string[] = [];
  const transport: Transport = {
    async request(req: HttpRequest) {
      urls.push(req.url);
      if (req.url.includes("organizations")) return organizations;
      if (/EntityDefinitions\(LogicalName='account'\)\?/.test(req.url)) {
        return json(200, { LogicalName: "account", SchemaName: "Account", EntitySetName: "accounts", PrimaryIdAttribute: "accountid", PrimaryNameAttribute: "name" });
      }
      return json(200, { value: [] });
    },
  };
  const client = new DataverseClient({
    endpoint: new URL(ROOT),
    transport,
    tokens: { clientId: "c", getToken: async () => "token" },
    clock: systemClock,
    throttle: new Throttle({ clock: systemClock, initial: 4, max: 4 }),
    retryBudgetMs: 1000,
  });
  return { loader: new MetadataLoader(client), urls };
}

describe("the key collation of a table's metadata", () => {
  it("is the one the organization's languagecode chose, read once for every table", async () => {
    const { loader: l, urls } = loader(json(200, { value: [{ languagecode: 1035, organizationid: "00000000-0000-0000-0000-000000000001" }] }));
    const table = await l.loadTable("account");
    expect(table.keyCollation).toEqual({ language: 1035, accentSensitive: true });
    await l.keyCollation();
    expect(urls.filter((u) => u.includes("organizations"))).toEqual([`${ROOT}organizations?$select=languagecode`]);
  });

  it("is the default, _CI_AI, when the application user may not read the organization", async () => {
    const { loader: l } = loader(json(403, { error: { code: "0x80040220", message: "no read privilege" } }));
    expect((await l.loadTable("account")).keyCollation).toEqual({ language: undefined, accentSensitive: false });
  });
});
