import { describe, expect, it } from "vitest";
import { loadConfig } from "./load.js";
import { ConfigError } from "./errors.js";
import { parseCatalog, resolveAirbyteStreams, resolveRelationStreams } from "./catalog.js";

const base = {
  web_api_endpoint: "https://org.crm.dynamics.com/api/data/v9.2/",
  tenant_id: "t",
  client_id: "c",
  client_secret: "super-secret-value",
};

const catalog = (streams: { name: string; object?: string; pk?: string[][] }[]) =>
  parseCatalog({
    streams: streams.map((s) => ({
      stream: { name: s.name, json_schema: {}, supported_sync_modes: ["full_refresh"] },
      sync_mode: "full_refresh",
      destination_sync_mode: "overwrite",
      ...(s.pk !== undefined ? { primary_key: s.pk } : {}),
      ...(s.object !== undefined ? { destination_object_name: s.object } : {}),
    })),
  });

describe("membership and relationship streams", () => {
  it("reads the issue's membership entry as users write it", () => {
    const loaded = loadConfig({
      ...base,
      streams: [{ name: "vip_customers", membership: { list: "VIP customers", member_table: "contact", key: { columns: ["emailaddress1"] }, remove_missing: true } }],
    });
    expect(loaded.config.streams).toEqual([]);
    expect(loaded.entries[0]?.relation).toEqual({
      kind: "membership",
      list: { kind: "name", name: "VIP customers" },
      memberTable: "contact",
      member: { key: { kind: "columns", columns: ["emailaddress1"] } },
      removeMissing: true,
      maxRemoveShare: 0.1,
    });
  });

  it("reads a relationship entry with both sides", () => {
    const loaded = loadConfig({
      ...base,
      streams: [
        {
          name: "interests",
          relationship: {
            name: "new_contact_new_interest",
            from: { table: "contact", key: { key_type: "columns", columns: ["emailaddress1"] }, source_fields: ["email"] },
            to: { table: "new_interest", key: { key_type: "id_field", id_field: "interest_id" } },
          },
        },
      ],
    });
    expect(loaded.entries[0]?.relation).toMatchObject({
      kind: "relationship",
      from: { table: "contact", key: { kind: "columns", columns: ["emailaddress1"] }, sourceFields: ["email"] },
      to: { table: "new_interest", key: { kind: "id_field", field: "interest_id" } },
      removeMissing: false,
    });
  });

  it("a list named both by name and by id, or by neither, is refused with its path", () => {
    for (const membership of [
      { list: "A", list_id: "0b5c8e1f-1d2e-4c3b-9a8f-7e6d5c4b3a21", key: { columns: ["emailaddress1"] } },
      { key: { columns: ["emailaddress1"] } },
    ]) {
      expect(() => loadConfig({ ...base, streams: [{ name: "s", membership }] })).toThrow(ConfigError);
    }
  });

  it("the catalog hands relation streams and list:<name> objects to the relation sinks, the rest to the row sinks", () => {
    const loaded = loadConfig({ ...base, streams: [{ name: "vip", membership: { list: "VIP", key: { columns: ["emailaddress1"] } } }] });
    const c = catalog([{ name: "vip" }, { name: "segment", object: "list:Newsletter", pk: [["emailaddress1"]] }, { name: "contacts", object: "contact", pk: [["emailaddress1"]] }]);
    expect(resolveRelationStreams(loaded, c).map((r) => [r.stream.name, r.relation.kind, r.relation.kind === "membership" ? r.relation.list : undefined])).toEqual([
      ["vip", "membership", { kind: "name", name: "VIP" }],
      ["segment", "membership", { kind: "name", name: "Newsletter" }],
    ]);
    expect(resolveAirbyteStreams(loaded, c).map((r) => r.stream.name)).toEqual(["contacts"]);
  });

  it("a list object without a matching key is refused", () => {
    const loaded = loadConfig(base);
    expect(() => resolveRelationStreams(loaded, catalog([{ name: "segment", object: "list:Newsletter" }]))).toThrow(/needs a matching key/);
  });
});

describe("a list named by { id }", () => {
  it("is read as list_id, with a notice", () => {
    const loaded = loadConfig({ ...base, streams: [{ name: "s", membership: { list: { id: "0B5C8E1F-1D2E-4C3B-9A8F-7E6D5C4B3A21" }, key: { columns: ["emailaddress1"] } } }] });
    expect(loaded.entries[0]?.relation).toMatchObject({ kind: "membership", list: { kind: "id", id: "0b5c8e1f-1d2e-4c3b-9a8f-7e6d5c4b3a21" } });
  });
});
