import { describe, expect, it } from "vitest";
import { loadConfig } from "./load.js";
import { ConfigError } from "./errors.js";
import { parseCatalog, resolveAirbyteStreams, resolveSingerStream } from "./catalog.js";

const base = {
  web_api_endpoint: "https://org.crm.dynamics.com/api/data/v9.2/",
  tenant_id: "t",
  client_id: "c",
  client_secret: "super-secret-value",
};

function violationsOf(raw: unknown, env: Record<string, string> = {}) {
  try {
    loadConfig(raw, env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("no error");
}

describe("loadConfig", () => {
  it("applies defaults", () => {
    const { config } = loadConfig(base);
    expect(config.webApiEndpoint.href).toBe(base.web_api_endpoint);
    expect(config.authorityHost.href).toBe("https://login.microsoftonline.com/");
    expect(config.write).toMatchObject({ batchSize: 1000, maxBatchBytes: 8388608, flushIntervalSeconds: 60, maxRejectedShare: 0.1 });
  });
  it("reports every violation with its JSON path and never a value", () => {
    const err = violationsOf({
      web_api_endpoint: "http://org.crm.dynamics.com/api/data/v9.2/",
      client_id: "c",
      client_secret: "super-secret-value",
      batch_size: 5000,
      bogus: 1,
      streams: [{ name: "s", table: "contact", key: { nope: 1 } }],
    });
    const paths = err.violations.map((v) => v.path);
    // An unknown setting (bogus) is a warning now, not a violation: see "unknown settings" below.
    expect(paths).toEqual(expect.arrayContaining(["/web_api_endpoint", "/tenant_id", "/batch_size", "/streams/0/key"]));
    expect(paths).not.toContain("/bogus");
    expect(err.message).not.toContain("super-secret-value");
    expect(err.message).not.toContain("http://org");
  });
  it("tenant_id is a GUID or a domain: a pasted authority URL or a stray space is named as tenant_id", () => {
    for (const ok of ["4f1c6a2e-8b3d-4e5f-9a7b-0c1d2e3f4a5b", "contoso.onmicrosoft.com"]) {
      expect(loadConfig({ ...base, tenant_id: ok }).config.tenantId).toBe(ok);
    }
    for (const bad of ["https://login.microsoftonline.com/4f1c6a2e-8b3d-4e5f-9a7b-0c1d2e3f4a5b", " 4f1c6a2e-8b3d-4e5f-9a7b-0c1d2e3f4a5b", "contoso/x"]) {
      const e = violationsOf({ ...base, tenant_id: bad });
      expect(e.message).toMatch(/\/tenant_id must be the Directory \(tenant\) ID/);
      expect(e.message).not.toContain(bad.trim());
    }
  });

  it("web_api_endpoint without its final slash is taken with it; another path still fails", () => {
    expect(loadConfig({ ...base, web_api_endpoint: "https://org.crm.dynamics.com/api/data/v9.2" }).config.webApiEndpoint.href).toBe("https://org.crm.dynamics.com/api/data/v9.2/");
    for (const bad of ["https://org.crm.dynamics.com/api/data/v9.2/contacts", "https://org.crm.dynamics.com/", "http://org.crm.dynamics.com/api/data/v9.2"]) {
      expect(violationsOf({ ...base, web_api_endpoint: bad }).message).toMatch(/\/web_api_endpoint must be an https URL/);
    }
  });

  it("merges TARGET_DYNAMICS365_* settings under the file", () => {
    const { config } = loadConfig(
      { ...base, batch_size: 200 },
      { TARGET_DYNAMICS365_BATCH_SIZE: "10", TARGET_DYNAMICS365_MAX_CONCURRENCY: "3", TARGET_DYNAMICS365_DEAD_LETTER_PATH: "/tmp/x" },
    );
    expect(config.write.batchSize).toBe(200);
    expect(config.write.maxConcurrency).toBe(3);
    expect(config.write.deadLetterPath).toBe("/tmp/x");
  });
  it("a key as the Airbyte UI sends it (with key_type) means the same as without", () => {
    const keyOf = (key: unknown) => loadConfig({ ...base, streams: [{ name: "s", table: "contact", key }] }).entries[0]?.key;
    expect(keyOf({ key_type: "columns", columns: ["emailaddress1"] })).toEqual({ kind: "columns", columns: ["emailaddress1"] });
    expect(keyOf({ key_type: "alternate_key", alternate_key: "k1" })).toEqual({ kind: "alternate_key", name: "k1" });
    expect(keyOf({ key_type: "id_field", id_field: "guid" })).toEqual({ kind: "id_field", field: "guid" });
    expect(() => keyOf({ key_type: "id_field", columns: ["emailaddress1"] })).toThrow(/key/);
  });
  it("builds stream mappings with lookups", () => {
    const { config } = loadConfig({
      ...base,
      streams: [
        {
          name: "contacts",
          table: "contact",
          key: { columns: ["emailaddress1"] },
          fields: { email: "emailaddress1", account: { column: "parentcustomerid", lookup: { table: "account", by: "alternate_key", key_columns: ["accountnumber"] } } },
        },
      ],
    });
    const s = config.streams[0];
    expect(s).toMatchObject({ name: "contacts", table: "contact", mode: "upsert", key: { kind: "columns", columns: ["emailaddress1"] }, nulls: "ignore" });
    expect(s?.fields.get("account")).toEqual({ column: "parentcustomerid", lookup: { table: "account", strategy: { by: "alternate_key", columns: ["accountnumber"] } } });
  });
});

describe("loadConfig: settings the spec does not know, earlier forms, defaults", () => {
  it("names unknown settings in a warning, at any depth, and never their values", () => {
    const { notices } = loadConfig({
      ...base,
      bacth_size: 5,
      streams: [{ name: "s", table: "contact", tabel: "x", key: { key_type: "columns", columns: ["a"], colums: ["b"] }, fields: [{ source: "a", column: "a", colum: "b" }] }],
    });
    expect(notices).toEqual([
      "Unknown setting bacth_size is ignored: the specification has no setting of that name (check its spelling)",
      "Unknown setting streams[0].tabel is ignored: the specification has no setting of that name (check its spelling)",
      "Unknown setting streams[0].key.colums is ignored: the specification has no setting of that name (check its spelling)",
      "Unknown setting streams[0].fields[0].colum is ignored: the specification has no setting of that name (check its spelling)",
    ]);
    expect(loadConfig(base).notices).toEqual([]);
  });

  it("reads fields written as a map (earlier versions) as the list, and says how to write it", () => {
    const old = loadConfig({
      ...base,
      streams: [
        {
          name: "contacts",
          table: "contact",
          fields: { email: "emailaddress1", tags: { column: "new_tags", delimiter: ";" }, acct: { column: "parentcustomerid", lookup: { table: "account", by: "id" }, nulls: "write" } },
        },
      ],
    });
    const current = loadConfig({
      ...base,
      streams: [
        {
          name: "contacts",
          table: "contact",
          fields: [
            { source: "email", column: "emailaddress1" },
            { source: "tags", column: "new_tags", value: { value_type: "choice", delimiter: ";" } },
            { source: "acct", column: "parentcustomerid", value: { value_type: "lookup", table: "account", by: "id" }, nulls: "write" },
          ],
        },
      ],
    });
    expect([...(old.entries[0]?.fields ?? [])]).toEqual([...(current.entries[0]?.fields ?? [])]);
    expect(current.notices).toEqual([]);
    expect(old.notices).toHaveLength(1);
    const notice = old.notices[0] ?? "";
    expect(notice).toMatch(/^streams\[0\] \(stream "contacts"\): "fields" is a map of source field to column, the form of earlier versions; .* Write it as "fields": \[/);
    // The list it proposes is itself a valid configuration that means the same.
    const proposed: unknown = JSON.parse(notice.slice(notice.indexOf('"fields": ') + '"fields": '.length));
    const again = loadConfig({ ...base, streams: [{ name: "contacts", table: "contact", fields: proposed }] });
    expect([...(again.entries[0]?.fields ?? [])]).toEqual([...(current.entries[0]?.fields ?? [])]);
  });

  it("reads the earlier form from the environment too", () => {
    const { entries, notices } = loadConfig(base, { TARGET_DYNAMICS365_STREAMS: JSON.stringify([{ name: "s", table: "contact", fields: { a: "emailaddress1" } }]) });
    expect(entries[0]?.fields.get("a")).toEqual({ column: "emailaddress1" });
    expect(notices).toHaveLength(1);
  });

  it("a lookup names exactly one of table and table_field (said by the loader, since the form cannot)", () => {
    const lookup = (value: object) => ({ ...base, streams: [{ name: "s", table: "contact", fields: [{ source: "a", column: "parentcustomerid", value: { value_type: "lookup", by: "id", ...value } }] }] });
    expect(violationsOf(lookup({})).violations).toEqual([{ path: "/streams/0/fields/0/value", message: "a lookup needs exactly one of table and table_field" }]);
    expect(violationsOf(lookup({ table: "account", table_field: "t" })).violations).toHaveLength(1);
    expect(loadConfig(lookup({ table_field: "t" })).entries[0]?.fields.get("a")).toEqual({ column: "parentcustomerid", lookup: { tableField: "t", strategy: { by: "id" } } });
  });

  it("takes every default from spec/spec.json", async () => {
    const { connectionSpecification } = await import("./spec.js");
    const props = connectionSpecification()["properties"] as Record<string, { default?: unknown }>;
    const { config, entries } = loadConfig({ ...base, streams: [{ name: "s" }] });
    const w = config.write;
    expect([w.batchSize, w.maxBatchBytes, w.maxConcurrency, w.retryBudgetSeconds, w.useBulkActions, w.suppressFlows, w.duplicateDetection, w.deadLetterIncludeRecord, w.maxRejectedShare, w.flushIntervalSeconds]).toEqual(
      ["batch_size", "max_batch_bytes", "max_concurrency", "retry_budget_seconds", "use_bulk_actions", "suppress_power_automate_flows", "duplicate_detection", "dead_letter_include_record", "max_rejected_share", "flush_interval_seconds"].map((k) => props[k]?.default),
    );
    expect(config.authorityHost.href).toBe(`${String(props["authority_host"]?.default)}/`);
    expect(entries[0]).toMatchObject({ nulls: "ignore", truncateStrings: false, deleteAction: "deactivate", mirror: { enabled: false, scope: { kind: "owner" }, maxDeleteShare: 0.1, action: "deactivate" } });
  });

  it("hard_delete makes delete the default delete action; a stream's own delete_action wins", () => {
    const loaded = loadConfig({ ...base, hard_delete: true, streams: [{ name: "a", table: "contact" }, { name: "b", table: "contact", delete_action: "deactivate" }] });
    expect(loaded.entries.map((e) => e.deleteAction)).toEqual(["delete", "deactivate"]);
    const r = resolveAirbyteStreams(loaded, parseCatalog({ streams: [{ stream: { name: "c", json_schema: {} }, destination_sync_mode: "soft_delete", primary_key: [["contactid"]], destination_object_name: "contact" }] }));
    expect(r[0]?.mapping.mode).toBe("delete");
  });

  it("mirror.enabled of earlier versions: true still asks for mirror, false is dropped; both say how to write it now", () => {
    const loaded = loadConfig({ ...base, streams: [{ name: "a", table: "contact", mirror: { enabled: true, scope: "owner" } }, { name: "b", table: "contact", mirror: { enabled: false } }] });
    expect(loaded.entries.map((e) => e.mirror?.enabled)).toEqual([true, false]);
    expect(loaded.notices).toEqual([expect.stringMatching(/^streams\[0\] \(stream "a"\): "mirror.enabled" is no longer needed/), expect.stringMatching(/^streams\[1\] \(stream "b"\): "mirror.enabled": false is no longer read: .*append_dedup/)]);
  });
});

describe("catalog", () => {
  const catalog = (streams: unknown[]) => parseCatalog({ streams });
  const stream = (name: string, extra: object) => ({ stream: { name, json_schema: {}, supported_sync_modes: ["full_refresh"] }, sync_mode: "full_refresh", ...extra });

  it("data activation: table from destination_object_name, key from primary_key, mode from sync mode", () => {
    const loaded = loadConfig(base);
    const r = resolveAirbyteStreams(loaded, catalog([stream("c", { destination_sync_mode: "append_dedup", primary_key: [["emailaddress1"]], destination_object_name: "contact" })]));
    expect(r[0]?.mapping).toMatchObject({ table: "contact", mode: "upsert", key: { kind: "columns", columns: ["emailaddress1"] } });
  });
  it.each([
    ["append", "create"],
    ["update", "update"],
    ["soft_delete", "deactivate"],
    ["overwrite", "upsert"],
  ])("%s → %s", (dsm, mode) => {
    const r = resolveAirbyteStreams(loadConfig(base), catalog([stream("c", { destination_sync_mode: dsm, primary_key: [["contactid"]], destination_object_name: "contact" })]));
    expect(r[0]?.mapping.mode).toBe(mode);
  });
  it("overwrite replaces: the stream gets mirror, with the stream's settings or the spec's defaults; not in a dry run", () => {
    const cat = catalog([stream("c", { destination_sync_mode: "overwrite", primary_key: [["emailaddress1"]], destination_object_name: "contact" }), stream("d", { destination_sync_mode: "append_dedup", primary_key: [["emailaddress1"]], destination_object_name: "contact" })]);
    const loaded = loadConfig({ ...base, streams: [{ name: "c", mirror: { scope: "marker", marker_column: "description", marker_value: "x" } }] });
    const [c, d] = resolveAirbyteStreams(loaded, cat);
    expect(c?.mapping.mirror).toEqual({ enabled: true, scope: { kind: "marker", column: "description", value: "x" }, maxDeleteShare: 0.1, action: "deactivate" });
    expect(d?.mapping.mirror?.enabled).toBe(false);
    expect(resolveAirbyteStreams(loadConfig(base), cat)[0]?.mapping.mirror).toEqual({ enabled: true, scope: { kind: "owner" }, maxDeleteShare: 0.1, action: "deactivate" });
    expect(resolveAirbyteStreams(loaded, cat, { overwriteReplaces: false })[0]?.mapping.mirror?.enabled).toBe(false);
  });
  it("append ignores primary_key, as the protocol says outside *_dedup: a source's own key, even a nested or empty one, is no error", () => {
    for (const pk of [[["id"]], [["a", "b"]], [[]]]) {
      const r = resolveAirbyteStreams(loadConfig(base), catalog([stream("c", { destination_sync_mode: "append", primary_key: pk, destination_object_name: "contact" })]));
      expect(r[0]?.mapping).toMatchObject({ mode: "create", key: { kind: "none" } });
    }
    // A key configured for the stream still makes its creates create-only by that key.
    const keyed = loadConfig({ ...base, streams: [{ name: "c", table: "contact", key: { columns: ["emailaddress1"] } }] });
    expect(resolveAirbyteStreams(keyed, catalog([stream("c", { destination_sync_mode: "append", primary_key: [["id"]] })]))[0]?.mapping).toMatchObject({ mode: "create", key: { kind: "columns", columns: ["emailaddress1"] } });
  });
  it("config entries override the catalog and rename key columns", () => {
    const loaded = loadConfig({ ...base, streams: [{ name: "c", table: "account", fields: { num: "accountnumber" } }] });
    const r = resolveAirbyteStreams(loaded, catalog([stream("c", { destination_sync_mode: "append_dedup", primary_key: [["num"]] })]));
    expect(r[0]?.mapping).toMatchObject({ table: "account", mode: "upsert", key: { kind: "columns", columns: ["accountnumber"] } });
  });
  it("a stream with neither a config entry nor a destination object is a config error naming it", () => {
    expect(() => resolveAirbyteStreams(loadConfig(base), catalog([stream("orphan", { destination_sync_mode: "append" })]))).toThrow(/orphan/);
  });
  it("Singer: key properties become key columns; unmapped stream fails", () => {
    const loaded = loadConfig({ ...base, streams: [{ name: "s", table: "contact" }] });
    expect(resolveSingerStream(loaded, "s", ["emailaddress1"], 1).mapping).toMatchObject({ mode: "upsert", key: { kind: "columns", columns: ["emailaddress1"] } });
    expect(() => resolveSingerStream(loaded, "t", [], 9)).toThrow(/line 9/);
  });
});
