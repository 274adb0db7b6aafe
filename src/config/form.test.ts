// The whole spec as an Airbyte user meets it: the connector acceptance test's spec rules
// (airbytehq/airbyte connector-acceptance-test tests/test_core.py, TestSpec), the webapp's form
// builder, and a configuration filled in through that form that the connector then accepts.
import { describe, expect, it } from "vitest";
import { createAjv } from "./ajv.js";
import { FormBuildError, formLayout, groupsOf, toFormBlock } from "./form.js";
import type { FormBlock, FormGroup } from "./form.js";
import { loadConfig } from "./load.js";
import { parseCatalog, resolveAirbyteStreams } from "./catalog.js";
import { loadSpec } from "./spec.js";
import { isJsonObject } from "../protocol/airbyte.js";
import type { JsonObject } from "../protocol/airbyte.js";
import { planStream } from "../mapping/plan.js";
import { mapRecord } from "../mapping/record.js";
import { accountTable, contactTable, fixtureTables } from "../mapping/test-fixtures.js";

const spec = loadSpec();
const connectionSpecification = spec["connectionSpecification"] as JsonObject;
const properties = connectionSpecification["properties"] as JsonObject;

/** Every (path, value) pair under a JSON value, paths as lists of keys (as dpath walks it). */
function* nodes(v: unknown, path: (string | number)[] = []): Generator<[(string | number)[], unknown]> {
  yield [path, v];
  if (Array.isArray(v)) for (const [i, x] of v.entries()) yield* nodes(x, [...path, i]);
  else if (isJsonObject(v)) for (const [k, x] of Object.entries(v)) yield* nodes(x, [...path, k]);
}

function at(root: unknown, path: readonly (string | number)[]): unknown {
  let cur = root;
  for (const p of path) cur = Array.isArray(cur) ? cur[p as number] : isJsonObject(cur) ? cur[p as string] : undefined;
  return cur;
}

const show = (p: readonly (string | number)[]): string => p.join("/");

// The acceptance test's list (secret_property_names_fixture), tenant_id and key included.
const SECRET_NAMES = ["client_token", "access_token", "api_token", "token", "secret", "client_secret", "password", "key", "service_account_info", "service_account", "tenant_id", "certificate", "jwt", "credentials", "app_id", "appid", "refresh_token"];

describe("the connector acceptance test's spec rules", () => {
  it("test_oneof_usage: each oneOf sits in a type object and its options share exactly one const property, without default or enum", () => {
    const problems: string[] = [];
    for (const [path, v] of nodes(connectionSpecification)) {
      const last = path.at(-1);
      if ((last !== "oneOf" && last !== "anyOf") || !Array.isArray(v)) continue;
      if (isJsonObject(at(connectionSpecification, path.slice(0, -2))) && path.at(-2) === "properties") continue; // a property named oneOf
      const parent = at(connectionSpecification, path.slice(0, -1));
      if (!isJsonObject(parent) || parent["type"] !== "object") problems.push(`${show(path)}: parent is not type object`);
      const variants = v.filter(isJsonObject);
      if (variants.some((x) => !isJsonObject(x["properties"]))) {
        problems.push(`${show(path)}: an option without properties`);
        continue;
      }
      const keys = variants.map((x) => Object.keys(x["properties"] as JsonObject));
      const shared = (keys[0] ?? []).filter((k) => keys.every((ks) => ks.includes(k)));
      const consts = shared.filter((k) => variants.every((x) => isJsonObject((x["properties"] as JsonObject)[k]) && "const" in ((x["properties"] as JsonObject)[k] as JsonObject)));
      if (consts.length !== 1) problems.push(`${show(path)}: ${consts.length} shared const properties`);
      for (const x of variants) {
        const p = (x["properties"] as JsonObject)[consts[0] ?? ""];
        if (isJsonObject(p) && ("default" in p || "enum" in p)) problems.push(`${show(path)}: const property with default or enum`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("test_object_not_empty: every object has properties or a oneOf", () => {
    const problems: string[] = [];
    for (const [path, v] of nodes(connectionSpecification)) {
      if (path.length <= 1 || path.at(-1) !== "type" || v !== "object") continue;
      const parent = at(connectionSpecification, path.slice(0, -1)) as JsonObject;
      if (!("oneOf" in parent) && (!isJsonObject(parent["properties"]) || Object.keys(parent["properties"]).length === 0)) problems.push(show(path));
    }
    expect(problems).toEqual([]);
  });

  it("test_secret_is_properly_marked: every secret-like name that can hold a secret is airbyte_secret, and nothing else is", () => {
    const reserved = new Set(["anyOf", "oneOf", "allOf", "not", "properties", "items", "type", "prefixItems"]);
    const exposed: string[] = [];
    const hidden: string[] = [];
    for (const [path] of nodes(properties)) {
      if (path.at(-1) !== "type") continue;
      const name = [...path.slice(0, -1)].reverse().find((p) => typeof p === "string" && !/^\d+$/.test(p) && !reserved.has(p));
      if (typeof name !== "string" || !SECRET_NAMES.includes(name.toLowerCase())) continue;
      const def = at(properties, path.slice(0, -1)) as JsonObject;
      const t = def["type"];
      const types = Array.isArray(t) ? t : [t];
      const canHold = types.some((x) => x === "string" || x === "integer" || x === "number") && !def["const"];
      const marked = def["airbyte_secret"] === true;
      if (marked && !canHold) hidden.push(show(path));
      if (!marked && canHold) exposed.push(show(path));
    }
    expect({ exposed, hidden }).toEqual({ exposed: [], hidden: [] });
    expect((properties["tenant_id"] as JsonObject)["airbyte_secret"]).toBe(true);
  });

  it("test_additional_properties_is_true: additionalProperties, where set, is true", () => {
    const values = [...nodes(connectionSpecification)].filter(([p]) => p.at(-1) === "additionalProperties").map(([, v]) => v);
    expect(values.length).toBeGreaterThan(0);
    expect(values.filter((v) => v !== true)).toEqual([]);
  });

  it("test_duplicate_order: no two fields of one object and group share an order", () => {
    const problems: string[] = [];
    for (const [path, v] of nodes(connectionSpecification)) {
      if (path.at(-1) !== "properties" || !isJsonObject(v)) continue;
      const owner = at(connectionSpecification, path.slice(0, -1));
      if (!isJsonObject(owner) || owner["type"] !== "object") continue;
      const used = new Set<string>();
      for (const p of Object.values(v)) {
        if (!isJsonObject(p) || !("order" in p)) continue;
        const id = `${String(p["group"] ?? "")}|${String(p["order"])}`;
        if (used.has(id)) problems.push(`${show(path)} order ${String(p["order"])}`);
        used.add(id);
      }
    }
    expect(problems).toEqual([]);
  });

  it("test_nested_group: only top-level fields carry a group", () => {
    const problems = [...nodes(properties)]
      .filter(([p]) => p.at(-1) === "group" && p.length > 2 && p.at(-2) !== "properties")
      .map(([p]) => show(p));
    expect(problems).toEqual([]);
  });

  it("test_forbidden_complex_types: no not, anyOf, patternProperties, prefixItems, allOf, if/then/else, dependentSchemas/Required; no $ref", () => {
    const forbidden = new Set(["not", "anyOf", "patternProperties", "prefixItems", "allOf", "if", "then", "else", "dependentSchemas", "dependentRequired", "$ref"]);
    const found = [...nodes(connectionSpecification)].filter(([p]) => typeof p.at(-1) === "string" && forbidden.has(p.at(-1) as string) && p.at(-2) !== "properties").map(([p]) => show(p));
    expect(found).toEqual([]);
  });

  it("test_property_type_is_not_array, test_array_type, test_enum_usage: one type a field, single-type items, distinct enum values", () => {
    const problems: string[] = [];
    for (const [path, v] of nodes(connectionSpecification)) {
      if (path.at(-1) === "type" && path.at(-3) === "properties" && Array.isArray(v) && !(v.length === 1 || (v.length === 2 && v[1] === "null"))) problems.push(show(path));
      if (path.at(-1) === "type" && v === "array") {
        const items = (at(connectionSpecification, path.slice(0, -1)) as JsonObject)["items"];
        if (isJsonObject(items) && !["object", "string", "number", "integer"].includes(String(items["type"])) && !("enum" in items)) problems.push(`${show(path)} items`);
      }
      if (path.at(-1) === "enum" && Array.isArray(v) && new Set(v).size !== v.length) problems.push(show(path));
    }
    expect(problems).toEqual([]);
  });
});

describe("the Airbyte webapp's form builder", () => {
  const root = toFormBlock(connectionSpecification);

  it("builds the whole form, and every field is a widget the form has (no object or null inputs)", () => {
    expect(root.kind).toBe("group");
    const odd: string[] = [];
    const walk = (b: FormBlock): void => {
      if (b.kind === "group") b.properties.forEach(walk);
      else if (b.kind === "condition") b.conditions.forEach(walk);
      else if (b.kind === "objectArray") {
        if (b.item.kind !== "group") odd.push(`${b.path}: list entries are not a group`);
        walk(b.item);
      } else if (!["string", "integer", "number", "boolean", "array"].includes(b.type)) odd.push(`${b.path}: ${b.type}`);
      else if (b.type === "array" && b.enum === undefined && !["string", "integer", "number"].includes(b.itemType ?? "")) odd.push(`${b.path}: list of ${String(b.itemType)}`);
    };
    walk(root);
    expect(odd).toEqual([]);
  });

  it("refuses what the webapp refuses: a map without properties cannot be set, a oneOf without a shared const fails the form", () => {
    expect(() => toFormBlock({ type: "object", properties: { k: { type: "object", oneOf: [{ type: "object", properties: { a: { type: "string" } } }] } } })).toThrow(FormBuildError);
    expect(() => toFormBlock({ type: "object", properties: { k: { oneOf: [{ type: "string" }] } } })).toThrow(FormBuildError);
    const map = toFormBlock({ type: "object", properties: { fields: { type: "object", additionalProperties: { type: "string" } } } }) as FormGroup;
    expect(map.properties[0]).toMatchObject({ kind: "group", properties: [] });
  });

  it("lays the top level out in the spec's groups, in their order, with nothing ungrouped", () => {
    const layout = formLayout((root as FormGroup).properties, groupsOf(connectionSpecification));
    expect(layout.map((g) => g.title)).toEqual(["Connection", "Stream mappings", "Write settings"]);
    const first = layout[0]?.sections[0];
    expect(first?.displayType).toBe("expanded");
    // The sign-in choices are not required (configurations saved with the older top-level
    // client_secret still validate), but the webapp always shows a oneOf expanded.
    expect(first?.blocks.map((b) => b.fieldKey)).toEqual(["web_api_endpoint", "tenant_id", "client_id", "credentials", "standby_credentials"]);
  });
});

// ---------------------------------------------------------------------------------------------
// Filling the form in, as the webapp's connector form does (airbyte-platform airbyte-webapp,
// ConnectorForm): the form starts from setDefaultValues (a const or default per field, a nested
// group as {} with its defaults, a oneOf at its first option, a required list as []); a new list
// entry starts with only its inputs' (truthy) defaults (VariableInputFieldForm); picking a oneOf
// option keeps the values that option shares, sets its const and fills its defaults
// (ConditionSection). The user can only type into fields the form shows, with the widget's type;
// a required field left empty blocks the submit, and the values of options not picked are dropped.

type Answers = { readonly [field: string]: unknown };

function startValues(g: FormGroup, values: JsonObject, respectExisting = false): JsonObject {
  for (const p of g.properties) {
    const keep = respectExisting && Boolean(values[p.fieldKey]);
    if (Boolean(p.const) && !keep) values[p.fieldKey] = p.const;
    if ("default" in p && p.default !== undefined && !keep) values[p.fieldKey] = p.default;
    if (p.kind === "group") values[p.fieldKey] = startValues(p, keep && isJsonObject(values[p.fieldKey]) ? (values[p.fieldKey] as JsonObject) : {}, respectExisting);
    else if (p.kind === "objectArray" && p.isRequired && !keep) values[p.fieldKey] = [];
    else if (p.kind === "condition") {
      const i = p.default !== undefined ? Math.max(0, p.selectionConstValues.indexOf(p.default)) : 0;
      values[p.fieldKey] = startValues(p.conditions[i] as FormGroup, {});
    }
  }
  return values;
}

function newEntry(item: FormBlock): JsonObject {
  const out: JsonObject = {};
  if (item.kind === "group") for (const p of item.properties) if (p.kind === "item" && Boolean(p.default)) out[p.fieldKey] = p.default;
  return out;
}

function typeInto(b: FormBlock, current: unknown, answer: unknown, where: string): unknown {
  if (answer === undefined) return current;
  switch (b.kind) {
    case "item": {
      if (b.const !== undefined) throw new Error(`${where}: a const is not shown in the form`);
      const ok =
        b.type === "string" ? typeof answer === "string" :
        b.type === "integer" ? Number.isInteger(answer) :
        b.type === "number" ? typeof answer === "number" :
        b.type === "boolean" ? typeof answer === "boolean" :
        Array.isArray(answer) && answer.every((x) => typeof x === (b.itemType === "integer" || b.itemType === "number" ? "number" : "string"));
      if (!ok) throw new Error(`${where}: a ${b.type} input cannot hold ${JSON.stringify(answer)}`);
      if (b.enum !== undefined && !(Array.isArray(answer) ? answer : [answer]).every((a) => b.enum?.includes(a))) throw new Error(`${where}: not in the dropdown`);
      return answer;
    }
    case "group":
      return typeIntoGroup(b, isJsonObject(current) ? current : {}, answer, where);
    case "condition": {
      if (!isJsonObject(answer)) throw new Error(`${where}: an option is picked from a list`);
      let value: JsonObject = isJsonObject(current) ? current : {};
      const picked = answer[b.selectionKey];
      if (picked !== undefined && picked !== value[b.selectionKey]) {
        const option = b.conditions[b.selectionConstValues.indexOf(picked)];
        if (option === undefined) throw new Error(`${where}: no option ${JSON.stringify(picked)}`);
        const kept: JsonObject = {};
        for (const p of option.properties) if (p.fieldKey in value) kept[p.fieldKey] = value[p.fieldKey];
        kept[b.selectionKey] = picked;
        value = startValues(option, kept, true);
      }
      const option = b.conditions[b.selectionConstValues.indexOf(value[b.selectionKey])];
      if (option === undefined) throw new Error(`${where}: no option picked`);
      const { [b.selectionKey]: _picked, ...fields } = answer;
      return typeIntoGroup(option, value, fields, where);
    }
    case "objectArray":
      if (!Array.isArray(answer)) throw new Error(`${where}: a list takes entries`);
      return answer.map((entry, i) => typeInto(b.item, newEntry(b.item), entry, `${where}[${i}]`));
  }
}

function typeIntoGroup(g: FormGroup, current: JsonObject, answers: unknown, where: string): JsonObject {
  if (!isJsonObject(answers)) throw new Error(`${where}: a group takes fields`);
  const shown = new Set(g.properties.map((p) => p.fieldKey));
  for (const k of Object.keys(answers)) if (!shown.has(k)) throw new Error(`${where}: the form shows no field ${k}`);
  const out: JsonObject = { ...current };
  for (const p of g.properties) {
    const v = typeInto(p, out[p.fieldKey], answers[p.fieldKey], where === "" ? p.fieldKey : `${where}.${p.fieldKey}`);
    if (v !== undefined) out[p.fieldKey] = v;
  }
  return out;
}

/** What the form submits: required fields filled (or the submit is blocked), only what it shows. */
function submitted(b: FormBlock, value: unknown, where: string): unknown {
  if (value === undefined) return undefined;
  switch (b.kind) {
    case "item":
      return value;
    case "objectArray":
      return Array.isArray(value) ? value.map((v, i) => submitted(b.item, v, `${where}[${i}]`)) : value;
    case "condition": {
      const option = isJsonObject(value) ? b.conditions[b.selectionConstValues.indexOf(value[b.selectionKey])] : undefined;
      if (option === undefined) throw new Error(`${where}: no option picked`);
      return submitted(option, value, where);
    }
    case "group": {
      const v = isJsonObject(value) ? value : {};
      const out: JsonObject = {};
      for (const p of b.properties) {
        const at = where === "" ? p.fieldKey : `${where}.${p.fieldKey}`;
        const x = submitted(p, v[p.fieldKey], at);
        if ((x === undefined || x === "") && p.isRequired) throw new Error(`${at} is required and was left empty`);
        if (x !== undefined) out[p.fieldKey] = x;
      }
      return out;
    }
  }
}

function fillForm(form: FormGroup, answers: Answers): JsonObject {
  return submitted(form, typeIntoGroup(form, startValues(form, {}), answers, ""), "") as JsonObject;
}

describe("a configuration filled in through the form", () => {
  const form = toFormBlock(connectionSpecification) as FormGroup;
  const config = fillForm(
    form,
    {
      web_api_endpoint: "https://contoso.crm.dynamics.com/api/data/v9.2/",
      tenant_id: "00000000-0000-0000-0000-000000000000",
      client_id: "11111111-1111-1111-1111-111111111111",
      credentials: { auth_type: "client_secret", client_secret: "typed-into-the-form" },
      streams: [
        {
          name: "accounts",
          table: "account",
          mode: "upsert",
          key: { key_type: "columns", columns: ["accountnumber"] },
          fields: [
            { source: "number", column: "accountnumber" },
            { source: "company", column: "name" },
            { source: "industry", column: "industrycode", value: { value_type: "choice" } },
          ],
        },
        {
          name: "contacts",
          table: "contact",
          key: { key_type: "alternate_key", alternate_key: "contoso_externalid_key" },
          fields: [
            { source: "external_id", column: "contoso_externalid" },
            { source: "account_number", column: "parentcustomerid", value: { value_type: "lookup", table: "account", by: "alternate_key", key_columns: ["accountnumber"] } },
            { source: "gender", column: "gendercode", value: { value_type: "choice", delimiter: ";" }, nulls: "write" },
          ],
        },
      ],
      batch_size: 500,
    },
  );

  it("is what the form submits: consts set by the options picked, defaults for what was left alone", () => {
    const streams = config["streams"] as JsonObject[];
    expect(streams[0]?.["key"]).toEqual({ key_type: "columns", columns: ["accountnumber"] });
    // A new list entry starts with its inputs' defaults only: no option picked, no nested group.
    expect((streams[0]?.["fields"] as JsonObject[])[0]).toEqual({ source: "number", column: "accountnumber" });
    expect(streams[1]).toEqual(expect.objectContaining({ name: "contacts", nulls: "ignore" }));
    expect(streams[1]).not.toHaveProperty("mirror");
    expect((streams[1]?.["fields"] as JsonObject[])[1]?.["value"]).toEqual({ value_type: "lookup", table: "account", by: "alternate_key", key_columns: ["accountnumber"] });
    expect(config).toMatchObject({ batch_size: 500, max_concurrency: 16, hard_delete: false, authority_host: "https://login.microsoftonline.com" });
  });

  it("an option picked in the form and changed again keeps only what the new option shows", () => {
    const again = fillForm(form, {
      web_api_endpoint: "https://contoso.crm.dynamics.com/api/data/v9.2/",
      tenant_id: "t",
      client_id: "c",
      credentials: { auth_type: "client_secret", client_secret: "s" },
      streams: [{ name: "s", key: { key_type: "id_field", id_field: "guid" } }],
    });
    expect((again["streams"] as JsonObject[])[0]?.["key"]).toEqual({ key_type: "id_field", id_field: "guid" });
    expect(loadConfig(again).entries[0]?.key).toEqual({ kind: "id_field", field: "guid" });
  });

  it("is valid against the spec as the platform validates it", () => {
    const validate = createAjv().compile(connectionSpecification);
    expect(validate(config), JSON.stringify(validate.errors)).toBe(true);
  });

  it("is accepted by the connector, without a warning, and plans and maps against the tables", () => {
    const loaded = loadConfig(config);
    expect(loaded.notices).toEqual([]);
    const [accounts, contacts] = loaded.config.streams;
    expect(accounts).toMatchObject({ name: "accounts", table: "account", mode: "upsert", key: { kind: "columns", columns: ["accountnumber"] } });
    expect(contacts).toMatchObject({ name: "contacts", table: "contact", mode: "upsert", key: { kind: "alternate_key", name: "contoso_externalid_key" } });
    expect(contacts?.fields.get("account_number")).toEqual({ column: "parentcustomerid", lookup: { table: "account", strategy: { by: "alternate_key", columns: ["accountnumber"] } } });
    expect(contacts?.fields.get("gender")).toEqual({ column: "gendercode", nulls: "write", delimiter: ";" });

    const tables = fixtureTables();
    const accountPlan = planStream(accounts ?? expect.fail("no accounts"), accountTable(), tables);
    const contactPlan = planStream(contacts ?? expect.fail("no contacts"), contactTable(), tables);
    expect(accountPlan.issues.filter((i) => i.severity === "error")).toEqual([]);
    expect(contactPlan.issues.filter((i) => i.severity === "error")).toEqual([]);
    const account = mapRecord(accountPlan.plan ?? expect.fail("no plan"), { number: "A-1", company: "Contoso", industry: "Wholesale" });
    expect(account.ok && account.operation).toMatchObject({ ref: { kind: "key", values: [["accountnumber", "A-1"]] }, columns: { name: "Contoso", industrycode: 33 } });
    const contact = mapRecord(contactPlan.plan ?? expect.fail("no plan"), { external_id: "C-1", account_number: "A-1", gender: "Female" });
    expect(contact.ok).toBe(true);
    if (contact.ok) {
      expect(contact.operation).toMatchObject({ ref: { kind: "key", values: [["contoso_externalid", "C-1"]] }, columns: { gendercode: 2 } });
      expect(contact.operation.bindings).toEqual([
        { navigationProperty: "parentcustomerid_account", column: "parentcustomerid", target: { entitySet: "accounts", table: "account", ref: { kind: "key", values: [["accountnumber", "A-1"]] } } },
      ]);
    }

    const catalog = parseCatalog({
      streams: ["accounts", "contacts"].map((name) => ({ stream: { name, json_schema: {} }, sync_mode: "incremental", destination_sync_mode: "append_dedup", primary_key: [] })),
    });
    expect(resolveAirbyteStreams(loaded, catalog).map((r) => [r.stream.name, r.mapping.table, r.mapping.mode])).toEqual([
      ["accounts", "account", "upsert"],
      ["contacts", "contact", "upsert"],
    ]);
  });

  it("cannot type into a field the form does not show, nor leave a required one empty", () => {
    const connection = { web_api_endpoint: "https://x.crm.dynamics.com/api/data/v9.2/", tenant_id: "t", client_id: "c", credentials: { auth_type: "client_secret", client_secret: "s" } };
    expect(() => fillForm(form, { ...connection, streams: [{ name: "s", fields: { a: "b" } }] })).toThrow(/list takes entries/);
    expect(() => fillForm(form, { tenant_id: "t", client_id: "c", credentials: { auth_type: "client_secret", client_secret: "s" } })).toThrow(/web_api_endpoint is required/);
    expect(() => fillForm(form, { ...connection, nope: 1 })).toThrow(/shows no field nope/);
    expect(() => fillForm(form, { ...connection, streams: [{ name: "s", fields: [{ source: "a", column: "b", value: { value_type: "lookup", table: "account" } }] }] })).toThrow(/value\.by is required/);
  });
});
