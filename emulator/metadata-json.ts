// Table definitions as the Web API's metadata answers show them (EntityMetadata, AttributeMetadata
// and its derived types, EntityKeyMetadata, OneToManyRelationshipMetadata, option sets), and the
// `$select`/`$filter`/`$expand` helpers the metadata and sdkmessage answers share (Learn:
// query-metadata-web-api, retrieve-metadata-name-metadataid, define-alternate-keys-entity).
import type { ColumnDefinition, OptionDefinition } from "./schema.js";
import { type TableModel, columnSchemaName, stableGuid } from "./model.js";
import { errors } from "./errors.js";
import { evaluate, filterProperties, type Scalar } from "./odata/filter.js";
import type { QueryOptions } from "./query.js";

/** What the metadata answers read of the service: the compiled tables and the base language. */
export interface MetadataSource {
  readonly models: ReadonlyMap<string, TableModel>;
  readonly baseLanguage: number;
}

export type Json = Record<string, unknown>;

export const NS = "Microsoft.Dynamics.CRM.";

export const TYPE_NAMES: Record<ColumnDefinition["type"], { attributeType: string; typeName: string; metadataType: string }> = {
  String: { attributeType: "String", typeName: "StringType", metadataType: "StringAttributeMetadata" },
  Memo: { attributeType: "Memo", typeName: "MemoType", metadataType: "MemoAttributeMetadata" },
  Integer: { attributeType: "Integer", typeName: "IntegerType", metadataType: "IntegerAttributeMetadata" },
  BigInt: { attributeType: "BigInt", typeName: "BigIntType", metadataType: "BigIntAttributeMetadata" },
  Decimal: { attributeType: "Decimal", typeName: "DecimalType", metadataType: "DecimalAttributeMetadata" },
  Double: { attributeType: "Double", typeName: "DoubleType", metadataType: "DoubleAttributeMetadata" },
  Money: { attributeType: "Money", typeName: "MoneyType", metadataType: "MoneyAttributeMetadata" },
  Boolean: { attributeType: "Boolean", typeName: "BooleanType", metadataType: "BooleanAttributeMetadata" },
  DateTime: { attributeType: "DateTime", typeName: "DateTimeType", metadataType: "DateTimeAttributeMetadata" },
  Picklist: { attributeType: "Picklist", typeName: "PicklistType", metadataType: "PicklistAttributeMetadata" },
  // Multi-select choices have AttributeType Virtual; AttributeTypeName tells them apart.
  MultiSelectPicklist: { attributeType: "Virtual", typeName: "MultiSelectPicklistType", metadataType: "MultiSelectPicklistAttributeMetadata" },
  State: { attributeType: "State", typeName: "StateType", metadataType: "StateAttributeMetadata" },
  Status: { attributeType: "Status", typeName: "StatusType", metadataType: "StatusAttributeMetadata" },
  Lookup: { attributeType: "Lookup", typeName: "LookupType", metadataType: "LookupAttributeMetadata" },
  Customer: { attributeType: "Customer", typeName: "CustomerType", metadataType: "LookupAttributeMetadata" },
  Owner: { attributeType: "Owner", typeName: "OwnerType", metadataType: "LookupAttributeMetadata" },
  Uniqueidentifier: { attributeType: "Uniqueidentifier", typeName: "UniqueidentifierType", metadataType: "UniqueIdentifierAttributeMetadata" },
  EntityName: { attributeType: "EntityName", typeName: "EntityNameType", metadataType: "EntityNameAttributeMetadata" },
};

export const BASE_ATTRIBUTE_PROPS = [
  "MetadataId", "LogicalName", "SchemaName", "EntityLogicalName", "AttributeType", "AttributeTypeName",
  "IsValidForCreate", "IsValidForUpdate", "IsValidForRead", "IsPrimaryId", "IsPrimaryName", "IsCustomAttribute",
  "AttributeOf", "RequiredLevel", "DisplayName", "IsLogical", "ColumnNumber",
];

export const TYPE_PROPS: Record<string, readonly string[]> = {
  StringAttributeMetadata: ["MaxLength", "Format", "FormatName", "DatabaseLength"],
  MemoAttributeMetadata: ["MaxLength", "Format"],
  IntegerAttributeMetadata: ["MinValue", "MaxValue", "Format"],
  BigIntAttributeMetadata: ["MinValue", "MaxValue"],
  DecimalAttributeMetadata: ["MinValue", "MaxValue", "Precision"],
  DoubleAttributeMetadata: ["MinValue", "MaxValue", "Precision"],
  MoneyAttributeMetadata: ["MinValue", "MaxValue", "Precision", "PrecisionSource"],
  BooleanAttributeMetadata: ["DefaultValue", "OptionSet"],
  DateTimeAttributeMetadata: ["Format", "DateTimeBehavior", "MinSupportedValue", "MaxSupportedValue"],
  PicklistAttributeMetadata: ["DefaultFormValue", "OptionSet", "GlobalOptionSet"],
  MultiSelectPicklistAttributeMetadata: ["DefaultFormValue", "OptionSet", "GlobalOptionSet", "MaxValue"],
  StateAttributeMetadata: ["DefaultFormValue", "OptionSet", "GlobalOptionSet"],
  StatusAttributeMetadata: ["DefaultFormValue", "OptionSet", "GlobalOptionSet"],
  LookupAttributeMetadata: ["Targets", "Format"],
  UniqueIdentifierAttributeMetadata: [],
  EntityNameAttributeMetadata: ["OptionSet"],
};

// Abstract bases Learn says can't be used as a cast (query-metadata-web-api).
export const ABSTRACT_CASTS = new Set(["EnumAttributeMetadata"]);

export const ENTITY_PROPS = [
  "MetadataId", "LogicalName", "SchemaName", "EntitySetName", "LogicalCollectionName", "PrimaryIdAttribute",
  "PrimaryNameAttribute", "ObjectTypeCode", "OwnershipType", "TableType", "IsCustomEntity", "DisplayName",
  "DisplayCollectionName", "IsActivity", "IsValidForAdvancedFind", "CanCreateAttributes", "IsManaged", "IsIntersect",
  "IsPrivate",
];

export const KEY_PROPS = ["MetadataId", "LogicalName", "SchemaName", "KeyAttributes", "EntityKeyIndexStatus", "EntityLogicalName", "DisplayName"];
export const M2O_PROPS = [
  "MetadataId", "SchemaName", "ReferencingAttribute", "ReferencingEntity", "ReferencedAttribute", "ReferencedEntity",
  "ReferencingEntityNavigationPropertyName", "ReferencedEntityNavigationPropertyName", "RelationshipType", "IsCustomRelationship",
];

/** ManyToManyRelationshipMetadata (query-metadata-web-api; the list table reference shows these). */
export const M2M_PROPS = [
  "MetadataId", "SchemaName", "Entity1LogicalName", "Entity2LogicalName", "IntersectEntityName", "Entity1IntersectAttribute",
  "Entity2IntersectAttribute", "Entity1NavigationPropertyName", "Entity2NavigationPropertyName", "RelationshipType", "IsCustomRelationship",
];

function label(text: string, lcid: number): Json {
  const l = { Label: text, LanguageCode: lcid, IsManaged: true, MetadataId: stableGuid(`label:${text}:${lcid}`), HasChanged: null };
  return { LocalizedLabels: [l], UserLocalizedLabel: l };
}

function displayName(logicalName: string): string {
  const base = logicalName.replace(/^new_/, "").replace(/code$|id$/, "");
  return base.charAt(0).toUpperCase() + base.slice(1);
}

export function entityJson(m: TableModel, lcid: number): Json {
  return {
    MetadataId: m.metadataId,
    LogicalName: m.logicalName,
    SchemaName: m.schemaName,
    EntitySetName: m.entitySetName,
    LogicalCollectionName: m.entitySetName,
    PrimaryIdAttribute: m.primaryId,
    PrimaryNameAttribute: m.def.primaryNameAttribute ?? null,
    ObjectTypeCode: m.objectTypeCode,
    OwnershipType: m.def.ownershipType ?? "UserOwned",
    TableType: m.def.tableType ?? "Standard",
    IsCustomEntity: m.logicalName.includes("_"),
    // Standard tables come with the platform's managed solutions; a custom table made in the
    // environment is unmanaged. No emulated table is an intersect (N:N) or private table.
    IsManaged: !m.logicalName.includes("_"),
    IsIntersect: false,
    IsPrivate: false,
    IsActivity: false,
    IsValidForAdvancedFind: true,
    CanCreateAttributes: { Value: true, CanBeChanged: false, ManagedPropertyLogicalName: "cancreateattributes" },
    DisplayName: label(displayName(m.logicalName), lcid),
    DisplayCollectionName: label(displayName(m.entitySetName), lcid),
  };
}

function options(c: ColumnDefinition, lcid: number): Json {
  const opts = (c.options ?? []).map((o: OptionDefinition) => {
    const out: Json = { Value: o.value, Label: label(o.label, lcid), Description: label("", lcid), Color: null, IsManaged: true, ExternalValue: null, MetadataId: null, HasChanged: null };
    if (c.type === "Status") out["State"] = o.state ?? 0;
    if (c.type === "State") {
      out["DefaultStatus"] = o.defaultStatus ?? null;
      out["InvariantName"] = o.label.replace(/\s+/g, "");
    }
    return out;
  });
  const typeName = c.type === "MultiSelectPicklist" ? "Picklist" : c.type;
  return {
    MetadataId: stableGuid(`optionset:${c.logicalName}`),
    Name: c.logicalName,
    IsGlobal: false,
    OptionSetType: typeName,
    Options: opts,
  };
}

export function attributeJson(m: TableModel, c: ColumnDefinition, lcid: number): Json {
  const t = TYPE_NAMES[c.type];
  const system = ["createdon", "modifiedon", "createdby", "modifiedby", "versionnumber", "owningbusinessunit"].includes(c.logicalName);
  const out: Json = {
    "@odata.type": `#${NS}${t.metadataType}`,
    MetadataId: stableGuid(`attribute:${m.logicalName}.${c.logicalName}`),
    LogicalName: c.logicalName,
    SchemaName: columnSchemaName(c),
    EntityLogicalName: m.logicalName,
    AttributeType: t.attributeType,
    AttributeTypeName: { Value: t.typeName },
    IsValidForCreate: c.validForCreate ?? true,
    IsValidForUpdate: c.validForUpdate ?? c.logicalName !== m.primaryId,
    IsValidForRead: true,
    IsPrimaryId: c.logicalName === m.primaryId,
    IsPrimaryName: c.logicalName === m.def.primaryNameAttribute,
    IsCustomAttribute: c.logicalName.includes("_"),
    IsLogical: false,
    AttributeOf: c.attributeOf ?? null,
    ColumnNumber: m.columnList.indexOf(c) + 1,
    RequiredLevel: {
      Value: c.requiredLevel ?? (c.logicalName === m.primaryId ? "SystemRequired" : "None"),
      CanBeChanged: !system && c.logicalName !== m.primaryId,
      ManagedPropertyLogicalName: "canmodifyrequirementlevelsettings",
    },
    DisplayName: label(displayName(c.logicalName), lcid),
  };
  switch (c.type) {
    case "String":
      out["MaxLength"] = c.maxLength ?? 100;
      out["DatabaseLength"] = (c.maxLength ?? 100) * 2;
      out["Format"] = c.format ?? "Text";
      out["FormatName"] = { Value: c.format ?? "Text" };
      break;
    case "Memo":
      out["MaxLength"] = c.maxLength ?? 2000;
      out["Format"] = c.format ?? "TextArea";
      break;
    case "Integer":
      out["MinValue"] = c.minValue ?? -2147483648;
      out["MaxValue"] = c.maxValue ?? 2147483647;
      out["Format"] = c.format ?? "None";
      break;
    case "BigInt":
      // As bigints, so the answer carries Edm.Int64's bounds digit for digit (int64.ts).
      out["MinValue"] = c.minValue ?? -(2n ** 63n);
      out["MaxValue"] = c.maxValue ?? 2n ** 63n - 1n;
      break;
    case "Decimal":
    case "Double":
      out["MinValue"] = c.minValue ?? -100000000000;
      out["MaxValue"] = c.maxValue ?? 100000000000;
      out["Precision"] = c.precision ?? 2;
      break;
    case "Money":
      out["MinValue"] = c.minValue ?? -922337203685477;
      out["MaxValue"] = c.maxValue ?? 922337203685477;
      out["Precision"] = c.precision ?? 2;
      out["PrecisionSource"] = 2;
      break;
    case "Boolean":
      out["DefaultValue"] = false;
      break;
    case "DateTime":
      out["Format"] = c.dateTimeBehavior === "DateOnly" ? "DateOnly" : (c.format ?? "DateAndTime");
      out["DateTimeBehavior"] = { Value: c.dateTimeBehavior ?? "UserLocal" };
      out["MinSupportedValue"] = "1753-01-01T00:00:00Z";
      out["MaxSupportedValue"] = "9999-12-30T23:59:59Z";
      break;
    case "Picklist":
    case "MultiSelectPicklist":
    case "State":
    case "Status":
      out["DefaultFormValue"] = c.type === "Picklist" || c.type === "MultiSelectPicklist" ? -1 : null;
      if (c.type === "MultiSelectPicklist") out["MaxValue"] = 150;
      break;
    case "Lookup":
    case "Customer":
    case "Owner":
      out["Targets"] = [...(c.targets ?? [])];
      out["Format"] = "None";
      break;
    default:
      break;
  }
  return out;
}

export function keysJson(model: TableModel, lcid: number): Json[] {
  return model.keys.map((k) => ({
    MetadataId: stableGuid(`key:${model.logicalName}.${k.logicalName}`),
    LogicalName: k.logicalName,
    SchemaName: k.schemaName ?? k.logicalName,
    EntityLogicalName: model.logicalName,
    KeyAttributes: [...k.attributes],
    EntityKeyIndexStatus: k.status ?? "Active",
    DisplayName: label(k.logicalName, lcid),
  }));
}

export function manyToOneJson(models: ReadonlyMap<string, TableModel>, model: TableModel): Json[] {
  return [...model.navs.values()].map((n) => ({
    MetadataId: stableGuid(`rel:${model.logicalName}:${n.relationship.schemaName}`),
    SchemaName: n.relationship.schemaName,
    ReferencingAttribute: n.relationship.referencingAttribute,
    ReferencingEntity: model.logicalName,
    // Owner lookups point at the virtual "owner" entity (relationship owner_<set>), as Dataverse lists them.
    ReferencedAttribute: n.relationship.referencedAttribute ?? models.get(n.relationship.referencedEntity)?.primaryId ?? "",
    ReferencedEntity: n.relationship.referencedEntity,
    ReferencingEntityNavigationPropertyName: n.name,
    ReferencedEntityNavigationPropertyName: n.relationship.schemaName,
    RelationshipType: "OneToManyRelationship",
    IsCustomRelationship: n.relationship.schemaName.startsWith("new_"),
  }));
}

/** The many-to-many relationships a table takes part in, on either side. */
export function manyToManyJson(model: TableModel): Json[] {
  const seen = new Set<string>();
  const out: Json[] = [];
  for (const side of model.manyToMany.values()) {
    const r = side.relationship;
    if (seen.has(r.schemaName)) continue;
    seen.add(r.schemaName);
    out.push({
      MetadataId: r.metadataId,
      SchemaName: r.schemaName,
      Entity1LogicalName: r.entity1,
      Entity2LogicalName: r.entity2,
      IntersectEntityName: r.intersectEntityName,
      Entity1IntersectAttribute: r.entity1IntersectAttribute,
      Entity2IntersectAttribute: r.entity2IntersectAttribute,
      Entity1NavigationPropertyName: r.entity1Nav,
      Entity2NavigationPropertyName: r.entity2Nav,
      RelationshipType: "ManyToManyRelationship",
      IsCustomRelationship: r.custom,
    });
  }
  return out;
}

export function project(obj: Json, select: readonly string[] | undefined, always: readonly string[]): Json {
  if (select === undefined) return obj;
  const out: Json = {};
  if ("@odata.type" in obj) out["@odata.type"] = obj["@odata.type"];
  for (const k of [...always, ...select]) if (k in obj) out[k] = obj[k];
  return out;
}

export function checkSelect(select: readonly string[] | undefined, allowed: readonly string[], typeName: string): void {
  for (const p of select ?? []) if (!allowed.includes(p)) throw errors.propertyNotFound(p, typeName);
}

/** Top-level scalar reader for $filter over metadata objects (RequiredLevel/Value etc. too). */
export function reader(obj: Json): (p: string) => Scalar {
  return (p) => {
    let cur: unknown = obj;
    for (const part of p.split("/")) {
      if (typeof cur !== "object" || cur === null) return null;
      cur = (cur as Json)[part];
    }
    return typeof cur === "string" || typeof cur === "number" || typeof cur === "boolean" ? cur : null;
  };
}

export function filterList(items: Json[], filterText: string | undefined, query: QueryOptions, allowed: readonly string[], typeName: string): Json[] {
  if (filterText === undefined || !query.filter) return items;
  const filter = query.filter;
  for (const p of filterProperties(filter)) {
    const head = p.split("/")[0] ?? p;
    if (!allowed.includes(head)) throw errors.propertyNotFound(head, typeName);
  }
  return items.filter((i) => evaluate(filter, reader(i)));
}

export function expandOptionSets(attr: Json, c: ColumnDefinition, expand: string | undefined, lcid: number): void {
  if (expand === undefined) return;
  const enumLike = ["Picklist", "MultiSelectPicklist", "State", "Status", "Boolean"].includes(c.type);
  for (const item of splitTop(expand)) {
    const name = item.replace(/\(.*$/, "").trim();
    if (name !== "OptionSet" && name !== "GlobalOptionSet") {
      throw errors.propertyNotFound(name, "AttributeMetadata");
    }
    if (!enumLike) continue;
    const inner = /\(\s*\$select=([^)]*)\)/.exec(item)?.[1];
    const os = name === "GlobalOptionSet" ? null : booleanAware(c, lcid);
    if (os && inner !== undefined) {
      const fields = inner.split(",").map((s) => s.trim());
      attr[name] = project(os, fields, ["MetadataId"]);
    } else {
      attr[name] = os;
    }
  }
}

function booleanAware(c: ColumnDefinition, lcid: number): Json {
  if (c.type !== "Boolean") return options(c, lcid);
  return {
    MetadataId: stableGuid(`optionset:${c.logicalName}`),
    Name: c.logicalName,
    OptionSetType: "Boolean",
    TrueOption: { Value: 1, Label: label("Yes", lcid) },
    FalseOption: { Value: 0, Label: label("No", lcid) },
  };
}

export function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (cur.trim() !== "") out.push(cur);
  return out;
}

/** The `;`-separated options inside `Attributes(...)` (outside quotes), by name. */
export function expandItemOptions(item: string): Map<string, string> {
  const out = new Map<string, string>();
  const open = item.indexOf("(");
  if (open < 0) return out;
  const inner = item.slice(open + 1, item.lastIndexOf(")") > open ? item.lastIndexOf(")") : item.length);
  for (const part of inner.match(/(?:[^;']|'[^']*')+/g) ?? []) {
    const eq = part.indexOf("=");
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

export function selectSuffix(select: readonly string[] | undefined): string {
  return select && select.length > 0 ? `(${select.join(",")})` : "";
}
