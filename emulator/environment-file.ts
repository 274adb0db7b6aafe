// Parsing and validation of --environment JSON files (format: docs/emulator-environment.md).
// Every problem names its JSON path, e.g. `$.tables[2].columns[4].type`.
import { createPublicKey, X509Certificate, type JsonWebKey } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Environment } from "./types.js";
import type { AppCertificate, AppRegistration, AppSecret, FederatedCredential, PluginMessage, PluginStep, Privilege } from "./types.js";
import type { FederationIssuer } from "./federation.js";
import type {
  AttributeType,
  BulkAvailability,
  ColumnDefinition,
  KeyDefinition,
  ManyToManyDefinition,
  OptionDefinition,
  RelationshipDefinition,
  TableDefinition,
} from "./schema.js";

export class EnvironmentFileError extends Error {
  readonly code = "EMULATOR_ENVIRONMENT_INVALID";
  constructor(
    readonly file: string,
    readonly jsonPath: string,
    readonly problem: string,
  ) {
    super(`${file}: ${jsonPath}: ${problem}`);
    this.name = "EnvironmentFileError";
  }
}

const ATTRIBUTE_TYPES: readonly AttributeType[] = [
  "String", "Memo", "Integer", "BigInt", "Decimal", "Double", "Money", "Boolean", "DateTime", "Picklist",
  "MultiSelectPicklist", "State", "Status", "Lookup", "Customer", "Owner", "Uniqueidentifier", "EntityName",
];
const PLUGIN_MESSAGES: readonly PluginMessage[] = ["Create", "Update", "Upsert", "Delete", "CreateMultiple", "UpdateMultiple", "UpsertMultiple"];
const PRIVILEGES: readonly Privilege[] = ["create", "read", "write", "delete", "append", "appendto"];
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const NAME = /^[a-z][a-z0-9_]*$/;
// Key column types allowed by define-alternate-keys-entity.
const KEY_TYPES: readonly AttributeType[] = ["Decimal", "Integer", "String", "DateTime", "Lookup", "Customer", "Owner", "Picklist"];

class Reader {
  constructor(readonly file: string) {}

  fail(path: string, problem: string): never {
    throw new EnvironmentFileError(this.file, path, problem);
  }

  object(v: unknown, path: string): Record<string, unknown> {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(path, "must be an object");
    return v as Record<string, unknown>;
  }

  array(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) this.fail(path, "must be an array");
    return v;
  }

  string(v: unknown, path: string, pattern?: RegExp, hint?: string): string {
    if (typeof v !== "string" || v === "") this.fail(path, "must be a non-empty string");
    if (pattern && !pattern.test(v)) this.fail(path, `must be ${hint ?? `like ${pattern.source}`}`);
    return v;
  }

  number(v: unknown, path: string, integer = false): number {
    if (typeof v !== "number" || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
      this.fail(path, integer ? "must be an integer" : "must be a number");
    }
    return v;
  }

  boolean(v: unknown, path: string): boolean {
    if (typeof v !== "boolean") this.fail(path, "must be true or false");
    return v;
  }

  oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T {
    if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
      this.fail(path, `must be one of ${allowed.join(", ")}`);
    }
    return v as T;
  }

  known(obj: Record<string, unknown>, path: string, allowed: readonly string[]): void {
    for (const k of Object.keys(obj)) if (!allowed.includes(k)) this.fail(`${path}.${k}`, "is not a known property");
  }
}

export function parseEnvironmentFile(file: string): Environment {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (cause) {
    const code = cause instanceof Error && "code" in cause ? String((cause as { code: unknown }).code) : "error";
    throw new EnvironmentFileError(file, "$", `cannot read the file (${code})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new EnvironmentFileError(file, "$", "is not valid JSON");
  }
  return parseEnvironment(json, file);
}

/** Validates an environment given as parsed JSON; `source` names it in errors. */
export function parseEnvironment(json: unknown, source = "environment"): Environment {
  const r = new Reader(source);
  const root = r.object(json, "$");
  r.known(root, "$", ["tenantId", "organizationId", "businessUnitId", "baseLanguage", "apps", "federationIssuers", "tables", "manyToManyRelationships", "rows", "plugins"]);
  const tables = r.array(root["tables"], "$.tables").map((t, i) => table(r, t, `$.tables[${i}]`));
  const names = new Set<string>();
  const sets = new Set<string>();
  tables.forEach((t, i) => {
    if (names.has(t.logicalName)) r.fail(`$.tables[${i}].logicalName`, `duplicates table '${t.logicalName}'`);
    if (sets.has(t.entitySetName)) r.fail(`$.tables[${i}].entitySetName`, `duplicates entity set '${t.entitySetName}'`);
    names.add(t.logicalName);
    sets.add(t.entitySetName);
  });
  tables.forEach((t, i) => {
    (t.relationships ?? []).forEach((rel, j) => {
      if (!names.has(rel.referencedEntity)) {
        r.fail(`$.tables[${i}].relationships[${j}].referencedEntity`, `names no table of this environment ('${rel.referencedEntity}')`);
      }
    });
  });
  const manyToMany =
    root["manyToManyRelationships"] === undefined
      ? undefined
      : r.array(root["manyToManyRelationships"], "$.manyToManyRelationships").map((x, i) => manyToManyRelationship(r, x, `$.manyToManyRelationships[${i}]`, tables));
  const apps = r.array(root["apps"], "$.apps").map((a, i) => app(r, a, `$.apps[${i}]`));
  const federationIssuers =
    root["federationIssuers"] === undefined
      ? undefined
      : r.array(root["federationIssuers"], "$.federationIssuers").map((x, i) => federationIssuer(r, x, `$.federationIssuers[${i}]`));
  let rows: Record<string, Record<string, unknown>[]> | undefined;
  if (root["rows"] !== undefined) {
    rows = {};
    const obj = r.object(root["rows"], "$.rows");
    for (const [tableName, list] of Object.entries(obj)) {
      if (!names.has(tableName)) r.fail(`$.rows.${tableName}`, "names no table of this environment");
      rows[tableName] = r.array(list, `$.rows.${tableName}`).map((row, i) => r.object(row, `$.rows.${tableName}[${i}]`));
    }
  }
  const plugins: PluginStep[] | undefined =
    root["plugins"] === undefined
      ? undefined
      : r.array(root["plugins"], "$.plugins").map((v, i) => {
          const p = `$.plugins[${i}]`;
          const o = r.object(v, p);
          r.known(o, p, ["table", "message", "milliseconds"]);
          const tableName = r.string(o["table"], `${p}.table`);
          if (!names.has(tableName)) r.fail(`${p}.table`, "names no table of this environment");
          const milliseconds = r.number(o["milliseconds"], `${p}.milliseconds`);
          if (milliseconds < 0) r.fail(`${p}.milliseconds`, "must not be negative");
          return { table: tableName, message: r.oneOf(o["message"], `${p}.message`, PLUGIN_MESSAGES), milliseconds };
        });
  return {
    tenantId: r.string(root["tenantId"], "$.tenantId", GUID, "a GUID"),
    organizationId: r.string(root["organizationId"], "$.organizationId", GUID, "a GUID"),
    businessUnitId: r.string(root["businessUnitId"], "$.businessUnitId", GUID, "a GUID"),
    baseLanguage: root["baseLanguage"] === undefined ? 1033 : r.number(root["baseLanguage"], "$.baseLanguage", true),
    apps,
    ...(federationIssuers !== undefined ? { federationIssuers } : {}),
    tables,
    ...(manyToMany !== undefined ? { manyToManyRelationships: manyToMany } : {}),
    ...(rows !== undefined ? { rows } : {}),
    ...(plugins !== undefined ? { plugins } : {}),
  };
}

function federationIssuer(r: Reader, v: unknown, path: string): FederationIssuer {
  const o = r.object(v, path);
  r.known(o, path, ["issuer", "jwks"]);
  const issuer = r.string(o["issuer"], `${path}.issuer`, /^https:\/\/\S+$/, "an https URL, exactly as the tokens' iss claim");
  const jwks = r.object(o["jwks"], `${path}.jwks`);
  r.known(jwks, `${path}.jwks`, ["keys"]);
  const keys = r.array(jwks["keys"], `${path}.jwks.keys`).map((k, i) => {
    const kp = `${path}.jwks.keys[${i}]`;
    const key = r.object(k, kp) as JsonWebKey;
    try {
      createPublicKey({ key, format: "jwk" });
    } catch {
      r.fail(kp, "must be a public JWK (RFC 7517) Node can read, e.g. { kty: RSA, n, e, kid }");
    }
    return key;
  });
  return { issuer, jwks: { keys } };
}

function certificate(r: Reader, v: unknown, path: string): AppCertificate {
  const o = r.object(v, path);
  r.known(o, path, ["pem", "endDateTime"]);
  const pem = r.string(o["pem"], `${path}.pem`);
  try {
    new X509Certificate(pem);
  } catch {
    r.fail(`${path}.pem`, "must be a PEM certificate (-----BEGIN CERTIFICATE-----), the public part only");
  }
  if (/PRIVATE KEY-----/.test(pem)) r.fail(`${path}.pem`, "holds a private key; register the public certificate only, as Entra ID does");
  const end = o["endDateTime"] === undefined ? undefined : r.string(o["endDateTime"], `${path}.endDateTime`);
  if (end !== undefined && Number.isNaN(Date.parse(end))) r.fail(`${path}.endDateTime`, "must be an ISO date-time");
  return { pem, ...(end !== undefined ? { endDateTime: end } : {}) };
}

function federatedCredential(r: Reader, v: unknown, path: string): FederatedCredential {
  const o = r.object(v, path);
  r.known(o, path, ["name", "issuer", "subject", "audiences"]);
  const audiences = r.array(o["audiences"], `${path}.audiences`).map((a, i) => r.string(a, `${path}.audiences[${i}]`));
  // Learn (federated identity credential considerations): exactly one audience.
  if (audiences.length !== 1) r.fail(`${path}.audiences`, "must hold exactly one audience (Learn recommends api://AzureADTokenExchange)");
  return {
    name: r.string(o["name"], `${path}.name`, /^[A-Za-z0-9][A-Za-z0-9_-]{2,119}$/, "3 to 120 letters, digits, dashes or underscores, starting with a letter or digit"),
    issuer: r.string(o["issuer"], `${path}.issuer`),
    subject: r.string(o["subject"], `${path}.subject`),
    audiences,
  };
}

/** A many-to-many relationship between two tables of the file; navigation names must not clash. */
function manyToManyRelationship(r: Reader, v: unknown, path: string, tables: readonly TableDefinition[]): ManyToManyDefinition {
  const o = r.object(v, path);
  r.known(o, path, [
    "schemaName", "entity1LogicalName", "entity2LogicalName", "intersectEntityName", "entity1IntersectAttribute",
    "entity2IntersectAttribute", "entity1NavigationPropertyName", "entity2NavigationPropertyName", "isCustomRelationship", "metadataId",
  ]);
  const ident = /^[A-Za-z_][A-Za-z0-9_]*$/;
  const tableName = (key: string): string => {
    const name = r.string(o[key], `${path}.${key}`, NAME, "a lower-case logical name");
    if (!tables.some((t) => t.logicalName === name)) r.fail(`${path}.${key}`, `names no table of this environment ('${name}')`);
    return name;
  };
  const optional = (key: string, pattern?: RegExp): Record<string, string> =>
    o[key] === undefined ? {} : { [key]: r.string(o[key], `${path}.${key}`, pattern, pattern ? "an identifier" : undefined) };
  const def: ManyToManyDefinition = {
    schemaName: r.string(o["schemaName"], `${path}.schemaName`, ident, "an identifier"),
    entity1LogicalName: tableName("entity1LogicalName"),
    entity2LogicalName: tableName("entity2LogicalName"),
    ...optional("intersectEntityName", ident),
    ...optional("entity1IntersectAttribute", ident),
    ...optional("entity2IntersectAttribute", ident),
    ...optional("entity1NavigationPropertyName", ident),
    ...optional("entity2NavigationPropertyName", ident),
    ...(o["isCustomRelationship"] !== undefined ? { isCustomRelationship: r.boolean(o["isCustomRelationship"], `${path}.isCustomRelationship`) } : {}),
    ...(o["metadataId"] !== undefined ? { metadataId: r.string(o["metadataId"], `${path}.metadataId`, GUID, "a GUID") } : {}),
  };
  if (def.entity1LogicalName === def.entity2LogicalName) r.fail(`${path}.entity2LogicalName`, "a relationship of a table with itself is not emulated");
  return def;
}

function app(r: Reader, v: unknown, path: string): AppRegistration {
  const o = r.object(v, path);
  r.known(o, path, ["clientId", "displayName", "secrets", "certificates", "federatedCredentials", "objectId", "applicationUser"]);
  const secrets: AppSecret[] = r.array(o["secrets"], `${path}.secrets`).map((s, i) => {
    const p = `${path}.secrets[${i}]`;
    const so = r.object(s, p);
    r.known(so, p, ["value", "expiresAt"]);
    const expiresAt = r.string(so["expiresAt"], `${p}.expiresAt`);
    if (Number.isNaN(Date.parse(expiresAt))) r.fail(`${p}.expiresAt`, "must be an ISO date-time");
    return { value: r.string(so["value"], `${p}.value`), expiresAt };
  });
  const certificates = o["certificates"] === undefined ? undefined : r.array(o["certificates"], `${path}.certificates`).map((c, i) => certificate(r, c, `${path}.certificates[${i}]`));
  const federated =
    o["federatedCredentials"] === undefined
      ? undefined
      : r.array(o["federatedCredentials"], `${path}.federatedCredentials`).map((f, i) => federatedCredential(r, f, `${path}.federatedCredentials[${i}]`));
  const base = {
    clientId: r.string(o["clientId"], `${path}.clientId`, GUID, "a GUID"),
    displayName: o["displayName"] === undefined ? "" : r.string(o["displayName"], `${path}.displayName`),
    secrets,
    ...(certificates !== undefined ? { certificates } : {}),
    ...(federated !== undefined ? { federatedCredentials: federated } : {}),
    objectId: r.string(o["objectId"], `${path}.objectId`, GUID, "a GUID"),
  };
  if (o["applicationUser"] === undefined) return base;
  const up = `${path}.applicationUser`;
  const u = r.object(o["applicationUser"], up);
  r.known(u, up, ["systemUserId", "privileges", "specialPrivileges"]);
  const privs = r.object(u["privileges"], `${up}.privileges`);
  const privileges: Record<string, Privilege[]> = {};
  for (const [t, list] of Object.entries(privs)) {
    privileges[t] = r.array(list, `${up}.privileges.${t}`).map((p, i) => r.oneOf(p, `${up}.privileges.${t}[${i}]`, PRIVILEGES));
  }
  const special =
    u["specialPrivileges"] === undefined
      ? undefined
      : r.array(u["specialPrivileges"], `${up}.specialPrivileges`).map((s, i) => r.string(s, `${up}.specialPrivileges[${i}]`));
  return {
    ...base,
    applicationUser: {
      systemUserId: r.string(u["systemUserId"], `${up}.systemUserId`, GUID, "a GUID"),
      privileges,
      ...(special !== undefined ? { specialPrivileges: special } : {}),
    },
  };
}

function table(r: Reader, v: unknown, path: string): TableDefinition {
  const o = r.object(v, path);
  r.known(o, path, [
    "logicalName", "schemaName", "entitySetName", "primaryIdAttribute", "primaryNameAttribute", "objectTypeCode",
    "ownershipType", "tableType", "bulk", "columns", "keys", "relationships", "metadataId",
  ]);
  const logicalName = r.string(o["logicalName"], `${path}.logicalName`, NAME, "a lower-case logical name");
  const columns = r.array(o["columns"], `${path}.columns`).map((c, i) => column(r, c, `${path}.columns[${i}]`));
  const byName = new Map<string, ColumnDefinition>();
  columns.forEach((c, i) => {
    if (byName.has(c.logicalName)) r.fail(`${path}.columns[${i}].logicalName`, `duplicates column '${c.logicalName}'`);
    byName.set(c.logicalName, c);
  });
  const primaryIdAttribute = r.string(o["primaryIdAttribute"], `${path}.primaryIdAttribute`);
  const pk = byName.get(primaryIdAttribute);
  if (!pk || pk.type !== "Uniqueidentifier") r.fail(`${path}.primaryIdAttribute`, "must name a Uniqueidentifier column of the table");
  const keys: KeyDefinition[] | undefined =
    o["keys"] === undefined
      ? undefined
      : r.array(o["keys"], `${path}.keys`).map((k, i) => {
          const p = `${path}.keys[${i}]`;
          const ko = r.object(k, p);
          r.known(ko, p, ["logicalName", "schemaName", "attributes", "status"]);
          const attributes = r.array(ko["attributes"], `${p}.attributes`).map((a, j) => {
            const name = r.string(a, `${p}.attributes[${j}]`);
            const col = byName.get(name);
            if (!col) r.fail(`${p}.attributes[${j}]`, `names no column of the table ('${name}')`);
            if (!KEY_TYPES.includes(col.type)) r.fail(`${p}.attributes[${j}]`, `a ${col.type} column can't be part of a key`);
            return name;
          });
          // define-alternate-keys-entity: at most 16 columns per key.
          if (attributes.length === 0 || attributes.length > 16) r.fail(`${p}.attributes`, "must list 1 to 16 columns");
          return {
            logicalName: r.string(ko["logicalName"], `${p}.logicalName`),
            ...(ko["schemaName"] !== undefined ? { schemaName: r.string(ko["schemaName"], `${p}.schemaName`) } : {}),
            attributes,
            ...(ko["status"] !== undefined ? { status: r.oneOf(ko["status"], `${p}.status`, ["Pending", "InProgress", "Active", "Failed"] as const) } : {}),
          };
        });
  if (keys && keys.length > 10) r.fail(`${path}.keys`, "at most 10 keys per table (define-alternate-keys-entity)");
  const relationships: RelationshipDefinition[] | undefined =
    o["relationships"] === undefined
      ? undefined
      : r.array(o["relationships"], `${path}.relationships`).map((x, i) => {
          const p = `${path}.relationships[${i}]`;
          const ro = r.object(x, p);
          r.known(ro, p, ["schemaName", "referencingAttribute", "referencedEntity", "referencedAttribute", "navigationProperty"]);
          const referencingAttribute = r.string(ro["referencingAttribute"], `${p}.referencingAttribute`);
          const col = byName.get(referencingAttribute);
          if (!col || !(col.type === "Lookup" || col.type === "Customer" || col.type === "Owner")) {
            r.fail(`${p}.referencingAttribute`, "must name a Lookup, Customer or Owner column of the table");
          }
          return {
            schemaName: r.string(ro["schemaName"], `${p}.schemaName`),
            referencingAttribute,
            referencedEntity: r.string(ro["referencedEntity"], `${p}.referencedEntity`),
            ...(ro["referencedAttribute"] !== undefined ? { referencedAttribute: r.string(ro["referencedAttribute"], `${p}.referencedAttribute`) } : {}),
            navigationProperty: r.string(ro["navigationProperty"], `${p}.navigationProperty`, /^[A-Za-z_][A-Za-z0-9_]*$/, "an identifier"),
          };
        });
  let bulk: BulkAvailability | undefined;
  if (o["bulk"] !== undefined) {
    const b = r.object(o["bulk"], `${path}.bulk`);
    r.known(b, `${path}.bulk`, ["createMultiple", "updateMultiple", "upsertMultiple"]);
    bulk = {
      createMultiple: r.boolean(b["createMultiple"], `${path}.bulk.createMultiple`),
      updateMultiple: r.boolean(b["updateMultiple"], `${path}.bulk.updateMultiple`),
      upsertMultiple: r.boolean(b["upsertMultiple"], `${path}.bulk.upsertMultiple`),
    };
  }
  return {
    logicalName,
    ...(o["schemaName"] !== undefined ? { schemaName: r.string(o["schemaName"], `${path}.schemaName`) } : {}),
    entitySetName: r.string(o["entitySetName"], `${path}.entitySetName`, /^[A-Za-z_][A-Za-z0-9_]*$/, "an identifier"),
    primaryIdAttribute,
    ...(o["primaryNameAttribute"] !== undefined ? { primaryNameAttribute: r.string(o["primaryNameAttribute"], `${path}.primaryNameAttribute`) } : {}),
    ...(o["objectTypeCode"] !== undefined ? { objectTypeCode: r.number(o["objectTypeCode"], `${path}.objectTypeCode`, true) } : {}),
    ...(o["ownershipType"] !== undefined ? { ownershipType: r.oneOf(o["ownershipType"], `${path}.ownershipType`, ["UserOwned", "OrganizationOwned", "None"] as const) } : {}),
    ...(o["tableType"] !== undefined ? { tableType: r.oneOf(o["tableType"], `${path}.tableType`, ["Standard", "Elastic"] as const) } : {}),
    ...(bulk !== undefined ? { bulk } : {}),
    columns,
    ...(keys !== undefined ? { keys } : {}),
    ...(relationships !== undefined ? { relationships } : {}),
    ...(o["metadataId"] !== undefined ? { metadataId: r.string(o["metadataId"], `${path}.metadataId`, GUID, "a GUID") } : {}),
  };
}

function column(r: Reader, v: unknown, path: string): ColumnDefinition {
  const o = r.object(v, path);
  r.known(o, path, [
    "logicalName", "schemaName", "type", "requiredLevel", "validForCreate", "validForUpdate", "maxLength", "minValue",
    "maxValue", "precision", "format", "dateTimeBehavior", "options", "targets", "attributeOf", "defaultValue",
  ]);
  const type = r.oneOf(o["type"], `${path}.type`, ATTRIBUTE_TYPES);
  const enumLike = type === "Picklist" || type === "MultiSelectPicklist" || type === "State" || type === "Status";
  const options: OptionDefinition[] | undefined =
    o["options"] === undefined
      ? undefined
      : r.array(o["options"], `${path}.options`).map((x, i) => {
          const p = `${path}.options[${i}]`;
          const oo = r.object(x, p);
          r.known(oo, p, ["value", "label", "state", "defaultStatus"]);
          return {
            value: r.number(oo["value"], `${p}.value`, true),
            label: r.string(oo["label"], `${p}.label`),
            ...(oo["state"] !== undefined ? { state: r.number(oo["state"], `${p}.state`, true) } : {}),
            ...(oo["defaultStatus"] !== undefined ? { defaultStatus: r.number(oo["defaultStatus"], `${p}.defaultStatus`, true) } : {}),
          };
        });
  if (enumLike && (options === undefined || options.length === 0)) r.fail(`${path}.options`, `a ${type} column needs options`);
  const isLookup = type === "Lookup" || type === "Customer" || type === "Owner";
  const targets = o["targets"] === undefined ? undefined : r.array(o["targets"], `${path}.targets`).map((t, i) => r.string(t, `${path}.targets[${i}]`));
  if (isLookup && (targets === undefined || targets.length === 0)) r.fail(`${path}.targets`, `a ${type} column needs targets`);
  const opt = <K extends string, T>(key: K, read: (x: unknown, p: string) => T): Partial<Record<K, T>> =>
    o[key] === undefined ? {} : ({ [key]: read(o[key], `${path}.${key}`) } as Partial<Record<K, T>>);
  const maxLength = o["maxLength"] === undefined ? undefined : r.number(o["maxLength"], `${path}.maxLength`, true);
  // StringAttributeMetadata.MaxSupportedLength is 4000; Memo's is 1,048,576.
  if (maxLength !== undefined && (maxLength < 1 || maxLength > (type === "Memo" ? 1_048_576 : 4000))) {
    r.fail(`${path}.maxLength`, "is outside the range Dataverse supports for the type");
  }
  return {
    logicalName: r.string(o["logicalName"], `${path}.logicalName`, NAME, "a lower-case logical name"),
    type,
    ...opt("schemaName", (x, p) => r.string(x, p)),
    ...opt("requiredLevel", (x, p) => r.oneOf(x, p, ["None", "SystemRequired", "ApplicationRequired", "Recommended"] as const)),
    ...opt("validForCreate", (x, p) => r.boolean(x, p)),
    ...opt("validForUpdate", (x, p) => r.boolean(x, p)),
    ...(maxLength !== undefined ? { maxLength } : {}),
    ...opt("minValue", (x, p) => r.number(x, p)),
    ...opt("maxValue", (x, p) => r.number(x, p)),
    ...opt("precision", (x, p) => r.number(x, p, true)),
    ...opt("format", (x, p) => r.string(x, p)),
    ...opt("dateTimeBehavior", (x, p) => r.oneOf(x, p, ["UserLocal", "DateOnly", "TimeZoneIndependent"] as const)),
    ...(options !== undefined ? { options } : {}),
    ...(targets !== undefined ? { targets } : {}),
    ...opt("attributeOf", (x, p) => r.string(x, p)),
    ...opt("defaultValue", (x, p) => (type === "Boolean" ? r.boolean(x, p) : r.number(x, p, true))),
  };
}
