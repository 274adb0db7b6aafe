import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createAjv } from "../config/ajv.js";
import { parse } from "yaml";
import { buildDestinationCatalog, type DestinationOperation } from "./discover.js";
import { planStream } from "./plan.js";
import { mapRecord } from "./record.js";
import { accountTable, contactTable, fixtureTables, streamMapping, systemuserTable, teamTable } from "./test-fixtures.js";


const tables = [contactTable(), accountTable(), systemuserTable(), teamTable()];
const catalog = buildDestinationCatalog(tables);
const opOf = (object: string, mode: DestinationOperation["sync_mode"]) => catalog.operations.find((o) => o.object_name === object && o.sync_mode === mode);
const props = (o: DestinationOperation | undefined): Record<string, Record<string, unknown>> =>
  (o?.json_schema["properties"] ?? {}) as Record<string, Record<string, unknown>>;

describe("buildDestinationCatalog", () => {
  it("validates as a DESTINATION_CATALOG message against the Airbyte protocol schema", () => {
    const protocolPath = fileURLToPath(new URL("../../integration_tests/fixtures/airbyte_protocol.yaml", import.meta.url));
    const protocol = parse(readFileSync(protocolPath, "utf8")) as { definitions: Record<string, unknown> };
    const ajv = createAjv();
    const validate = ajv.compile({ $ref: "#/definitions/AirbyteMessage", definitions: protocol.definitions });
    const message = JSON.parse(JSON.stringify({ type: "DESTINATION_CATALOG", destination_catalog: catalog })) as unknown;
    expect(validate(message), JSON.stringify(validate.errors)).toBe(true);
    // and the check can fail: a bad sync mode is refused
    const bad = { type: "DESTINATION_CATALOG", destination_catalog: { operations: [{ ...catalog.operations[0], sync_mode: "merge" }] } };
    expect(validate(bad)).toBe(false);
  });

  it("offers append, update and soft_delete for every table, and append_dedup only with an Active key", () => {
    const modes = (t: string) => catalog.operations.filter((o) => o.object_name === t).map((o) => o.sync_mode);
    expect(modes("contact")).toEqual(["append", "append_dedup", "update", "soft_delete"]);
    expect(modes("systemuser")).toEqual(["append", "update", "soft_delete"]);
  });

  it("offers no key with a column a stream cannot key by (a date): append_dedup would fail every stream using it", () => {
    const base = contactTable();
    const dated = { ...base, keys: [{ logicalName: "k_birth", schemaName: "k_birth", columns: ["birthdate"], status: "Active" as const }] };
    const ops = buildDestinationCatalog([dated]).operations.filter((o) => o.object_name === "contact").map((o) => o.sync_mode);
    expect(ops).toEqual(["append", "update", "soft_delete"]);
  });

  it("gives matching keys: each Active one-column key for upsert (a composite key is no single path), the primary id for update and soft_delete", () => {
    expect(opOf("contact", "append_dedup")?.matching_keys).toEqual([["contoso_externalid"]]);
    expect(opOf("account", "append_dedup")?.matching_keys).toEqual([["accountnumber"]]);
    // Only composite keys: upsert by the row GUID is offered; the composite key goes in the stream's key setting.
    const base = contactTable();
    const compositeOnly = { ...base, keys: base.keys.filter((k) => k.columns.length > 1) };
    expect(buildDestinationCatalog([compositeOnly]).operations.find((o) => o.sync_mode === "append_dedup")?.matching_keys).toEqual([["contactid"]]);
    expect(opOf("contact", "update")?.matching_keys).toEqual([["contactid"]]);
    expect(opOf("contact", "soft_delete")?.matching_keys).toEqual([["contactid"]]);
    expect(opOf("contact", "append")?.matching_keys).toBeUndefined();
  });

  it.each<[string, Record<string, unknown>]>([
    ["firstname", { type: ["string", "null"], maxLength: 50 }],
    ["numberofchildren", { type: ["integer", "null"], minimum: 0, maximum: 1_000_000_000 }],
    ["annualincome", { type: ["number", "null"], minimum: 0, maximum: 100_000_000_000_000 }],
    ["donotemail", { type: ["boolean", "null"] }],
    ["birthdate", { type: ["string", "null"], format: "date", airbyte_type: "date" }],
    ["lastonholdtime", { type: ["string", "null"], format: "date-time", airbyte_type: "timestamp_with_timezone" }],
    ["contoso_lastcontacted", { type: ["string", "null"], format: "date-time", airbyte_type: "timestamp_without_timezone" }],
    ["gendercode", { type: ["string", "integer", "null"], enum: ["Male", "Female", 1, 2, null] }],
    ["contoso_hobbies", { type: ["array", "null"], items: { type: ["string", "integer"], enum: ["Reading", "Hiking", "Chess", "Cooking", 1, 2, 3, 4] } }],
    ["stageid", { type: ["string", "null"], format: "uuid" }],
    // No bounds in the metadata: the ones the writer applies, Edm.Int64's (BigInt takes up to 2^63-1).
    ["contoso_views", { type: ["integer", "null"], minimum: -9223372036854775808, maximum: 9223372036854775807 }],
    ["contactid", { type: ["string", "null"], format: "uuid" }],
  ])("maps contact.%s on create to %j", (column, schema) => {
    expect(props(opOf("contact", "append"))[column]).toEqual(schema);
  });

  it("leaves out read-only, computed, image and polymorphic lookup columns", () => {
    const p = props(opOf("contact", "append"));
    for (const c of ["fullname", "parentcustomeridname", "createdon", "entityimage", "parentcustomerid", "ownerid", "statecode", "versionnumber"]) {
      expect(p[c], c).toBeUndefined();
    }
  });

  it("offers single-target lookups as GUID strings when the target table is known", () => {
    expect(props(opOf("account", "append"))["primarycontactid"]).toEqual({ type: ["string", "null"], format: "uuid" });
    expect(props(opOf("account", "append"))["transactioncurrencyid"]).toBeUndefined();
  });

  it("requires SystemRequired create columns only on append, and the primary id on update and soft_delete", () => {
    expect(opOf("systemuser", "append")?.json_schema["required"]).toEqual(["domainname"]);
    expect(opOf("contact", "append")?.json_schema["required"]).toBeUndefined();
    expect(opOf("contact", "update")?.json_schema["required"]).toEqual(["contactid"]);
    expect(props(opOf("contact", "update"))["contactid"]).toEqual({ type: "string", format: "uuid" });
    expect(opOf("contact", "soft_delete")?.json_schema).toEqual({
      $schema: "http://json-schema.org/draft-07/schema#", type: "object", additionalProperties: true,
      properties: { contactid: { type: "string", format: "uuid" } }, required: ["contactid"],
    });
  });

  it("uses each mode's validity: create-only columns on append only, statecode on update only", () => {
    expect(props(opOf("contact", "append"))["contoso_createonly"]).toBeDefined();
    expect(props(opOf("contact", "append_dedup"))["contoso_createonly"]).toBeUndefined();
    expect(props(opOf("contact", "update"))["contoso_createonly"]).toBeUndefined();
    expect(props(opOf("contact", "update"))["statecode"]).toBeDefined();
  });

  it("produces schemas a draft-07 validator compiles, and that accept labels and values", () => {
    const ajv = createAjv();
    for (const o of catalog.operations) ajv.compile(o.json_schema as object);
    const validate = ajv.compile(opOf("contact", "append")?.json_schema as object);
    expect(validate({ firstname: "Ann", gendercode: "Female", contoso_hobbies: ["Chess", 1], birthdate: "1990-05-17" })).toBe(true);
    expect(validate({ firstname: "x".repeat(51) })).toBe(false);
    expect(validate({ gendercode: "Other" })).toBe(false);
  });

  it("offers on upsert exactly the fields an upsert stream passes through by name", () => {
    const op = opOf("contact", "append_dedup");
    const plan = planStream(streamMapping({ key: { kind: "columns", columns: ["contoso_externalid"] } }), contactTable(), fixtureTables()).plan;
    if (plan === undefined) throw new Error("plan");
    const offered = Object.keys(props(op));
    const accepted = [...plan.passthrough.keys(), ...plan.passthroughLookups.keys(), "contoso_externalid"];
    expect(offered.sort()).toEqual(accepted.sort());
  });

  it("lets a data-activation update stream match on the primary id it advertises", () => {
    const plan = planStream(streamMapping({ mode: "update", key: { kind: "columns", columns: ["contactid"] } }), contactTable(), fixtureTables()).plan;
    if (plan === undefined) throw new Error("plan");
    const r = mapRecord(plan, { contactid: "11111111-1111-4111-8111-111111111111", firstname: "A" });
    expect(r).toMatchObject({ ok: true, operation: { ref: { kind: "id", id: "11111111-1111-4111-8111-111111111111" }, columns: { firstname: "A" } } });
  });
});
