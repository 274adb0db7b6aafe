// EntityDefinitions and the sdkmessagefilters probe (Learn: query-metadata-web-api,
// retrieve-metadata-name-metadataid, define-alternate-keys-entity, bulk-operations).
import type { ServiceRequest, ServiceResponse } from "./types.js";
import type { ColumnDefinition, OptionDefinition } from "./schema.js";
import { type TableModel, columnSchemaName, stableGuid } from "./model.js";
import { errors } from "./errors.js";
import type { PathSegment } from "./odata/path.js";
import { evaluate, filterProperties, type FilterNode, FilterSyntaxError, parseFilter, type Scalar } from "./odata/filter.js";
import { parseQuery } from "./query.js";
import { json } from "./responses.js";

/** What the metadata answers read of the service: the compiled tables and the base language. */
export interface MetadataSource {
  readonly models: ReadonlyMap<string, TableModel>;
  readonly baseLanguage: number;
}

type Json = Record<string, unknown>;

const NS = "Microsoft.Dynamics.CRM.";

const TYPE_NAMES: Record<ColumnDefinition["type"], { attributeType: string; typeName: string; metadataType: string }> = {
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

const BASE_ATTRIBUTE_PROPS = [
  "MetadataId", "LogicalName", "SchemaName", "EntityLogicalName", "AttributeType", "AttributeTypeName",
  "IsValidForCreate", "IsValidForUpdate", "IsValidForRead", "IsPrimaryId", "IsPrimaryName", "IsCustomAttribute",
  "AttributeOf", "RequiredLevel", "DisplayName", "IsLogical", "ColumnNumber",
];

const TYPE_PROPS: Record<string, readonly string[]> = {
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
const ABSTRACT_CASTS = new Set(["EnumAttributeMetadata"]);

const ENTITY_PROPS = [
  "MetadataId", "LogicalName", "SchemaName", "EntitySetName", "LogicalCollectionName", "PrimaryIdAttribute",
  "PrimaryNameAttribute", "ObjectTypeCode", "OwnershipType", "TableType", "IsCustomEntity", "DisplayName",
  "DisplayCollectionName", "IsActivity", "IsValidForAdvancedFind", "CanCreateAttributes", "IsManaged", "IsIntersect",
  "IsPrivate",
];

const KEY_PROPS = ["MetadataId", "LogicalName", "SchemaName", "KeyAttributes", "EntityKeyIndexStatus", "EntityLogicalName", "DisplayName"];
const M2O_PROPS = [
  "MetadataId", "SchemaName", "ReferencingAttribute", "ReferencingEntity", "ReferencedAttribute", "ReferencedEntity",
  "ReferencingEntityNavigationPropertyName", "ReferencedEntityNavigationPropertyName", "RelationshipType", "IsCustomRelationship",
];

function label(text: string, lcid: number): Json {
  const l = { Label: text, LanguageCode: lcid, IsManaged: true, MetadataId: stableGuid(`label:${text}:${lcid}`), HasChanged: null };
  return { LocalizedLabels: [l], UserLocalizedLabel: l };
}

function displayName(logicalName: string): string {
  const base = logicalName.replace(/^new_/, "").replace(/code$|id$/, "");
  return base.charAt(0).toUpperCase() + base.slice(1);
}

function entityJson(m: TableModel, lcid: number): Json {
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

function attributeJson(m: TableModel, c: ColumnDefinition, lcid: number): Json {
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
      out["MinValue"] = c.minValue ?? -9223372036854775808;
      out["MaxValue"] = c.maxValue ?? 9223372036854775807;
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

function project(obj: Json, select: readonly string[] | undefined, always: readonly string[]): Json {
  if (select === undefined) return obj;
  const out: Json = {};
  if ("@odata.type" in obj) out["@odata.type"] = obj["@odata.type"];
  for (const k of [...always, ...select]) if (k in obj) out[k] = obj[k];
  return out;
}

function checkSelect(select: readonly string[] | undefined, allowed: readonly string[], typeName: string): void {
  for (const p of select ?? []) if (!allowed.includes(p)) throw errors.propertyNotFound(p, typeName);
}

/** Top-level scalar reader for $filter over metadata objects (RequiredLevel/Value etc. too). */
function reader(obj: Json): (p: string) => Scalar {
  return (p) => {
    let cur: unknown = obj;
    for (const part of p.split("/")) {
      if (typeof cur !== "object" || cur === null) return null;
      cur = (cur as Json)[part];
    }
    return typeof cur === "string" || typeof cur === "number" || typeof cur === "boolean" ? cur : null;
  };
}

function filterList(items: Json[], filterText: string | undefined, query: ReturnType<typeof parseQuery>, allowed: readonly string[], typeName: string): Json[] {
  if (filterText === undefined || !query.filter) return items;
  const filter = query.filter;
  for (const p of filterProperties(filter)) {
    const head = p.split("/")[0] ?? p;
    if (!allowed.includes(head)) throw errors.propertyNotFound(head, typeName);
  }
  return items.filter((i) => evaluate(filter, reader(i)));
}

function expandOptionSets(attr: Json, c: ColumnDefinition, expand: string | undefined, lcid: number): void {
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

function splitTop(s: string): string[] {
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

function findTable(source: MetadataSource, seg: PathSegment): TableModel {
  const keys = seg.keys ?? [];
  const k = keys[0];
  if (keys.length !== 1 || !k) throw errors.badRequest("Bad Request - Error in query syntax.");
  let model: TableModel | undefined;
  if (k.name === undefined && k.value.kind === "guid") {
    const id = k.value.value;
    model = [...source.models.values()].find((m) => m.metadataId === id);
  } else if (k.name === "LogicalName" && k.value.kind === "string") {
    const name = k.value.value;
    model = source.models.get(name);
  } else {
    throw errors.badRequest("Bad Request - Error in query syntax.");
  }
  // Undocumented for the Web API; the platform's message for a missing table is this one.
  if (!model) throw errors.entityDefinitionNotFound(k.value.kind === "string" ? k.value.value : "?");
  return model;
}

export function handleMetadata(source: MetadataSource, req: ServiceRequest, segments: readonly PathSegment[]): ServiceResponse {
  if (req.method !== "GET") throw errors.noHttpResource(req.serviceRoot + req.path);
  const q = parseQuery(req.query);
  const lcid = source.baseLanguage;
  const root = req.serviceRoot;
  const [first, second, third, fourth] = segments;
  if (!first) throw errors.resourceNotFound("EntityDefinitions");
  if (first.keys === undefined) {
    if (second) throw errors.resourceNotFound(second.name);
    // Metadata queries have no paging (query-metadata-web-api).
    checkSelect(q.select, ENTITY_PROPS, "EntityMetadata");
    const expand = entityExpand(q.other.get("$expand"));
    const models = [...source.models.values()];
    const all = models.map((m) => entityJson(m, lcid));
    const kept = new Set(filterList(all, q.filterText, q, ENTITY_PROPS, "EntityMetadata").map((e) => e["LogicalName"]));
    const value = models
      .filter((m) => kept.has(m.logicalName))
      .map((m) => ({ ...project(entityJson(m, lcid), q.select, ["MetadataId"]), ...expandEntity(source, m, expand, lcid) }));
    return json(200, { "@odata.context": `${root}$metadata#EntityDefinitions${selectSuffix(q.select)}`, value });
  }
  const model = findTable(source, first);
  const entityCtx = `${root}$metadata#EntityDefinitions('${model.logicalName}')`;
  if (!second) {
    checkSelect(q.select, ENTITY_PROPS, "EntityMetadata");
    const expand = entityExpand(q.other.get("$expand"));
    return json(200, {
      "@odata.context": `${root}$metadata#EntityDefinitions${selectSuffix(q.select)}/$entity`,
      ...project(entityJson(model, lcid), q.select, ["MetadataId"]),
      ...expandEntity(source, model, expand, lcid),
    });
  }
  switch (second.name) {
    case "Attributes":
      return attributes(model, req, q, lcid, entityCtx, second, third, fourth);
    case "Keys": {
      if (third) throw errors.resourceNotFound(third.name);
      checkSelect(q.select, KEY_PROPS, "EntityKeyMetadata");
      const all = keysJson(model, lcid);
      let value: Json[] = all;
      if (second.keys !== undefined) value = value.filter((k) => matchesKey(k, second));
      value = filterList(value, q.filterText, q, KEY_PROPS, "EntityKeyMetadata").map((k) => project(k, q.select, ["MetadataId"]));
      return json(200, { "@odata.context": `${entityCtx}/Keys${selectSuffix(q.select)}`, value });
    }
    case "ManyToOneRelationships": {
      if (third) throw errors.resourceNotFound(third.name);
      checkSelect(q.select, M2O_PROPS, "OneToManyRelationshipMetadata");
      const value = filterList(
        manyToOneJson(source.models, model),
        q.filterText,
        q,
        M2O_PROPS,
        "OneToManyRelationshipMetadata",
      ).map((r) => project(r, q.select, ["MetadataId"]));
      return json(200, { "@odata.context": `${entityCtx}/ManyToOneRelationships${selectSuffix(q.select)}`, value });
    }
    case "OneToManyRelationships":
    case "ManyToManyRelationships":
      return json(200, { "@odata.context": `${entityCtx}/${second.name}`, value: [] });
    default:
      throw errors.resourceNotFound(second.name);
  }
}

function keysJson(model: TableModel, lcid: number): Json[] {
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

function manyToOneJson(models: ReadonlyMap<string, TableModel>, model: TableModel): Json[] {
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

type EntityExpansion = {
  readonly name: "Attributes" | "Keys" | "ManyToOneRelationships";
  readonly select?: readonly string[];
  readonly filter?: FilterNode;
};

/** The `;`-separated options inside `Attributes(...)` (outside quotes), by name. */
function expandItemOptions(item: string): Map<string, string> {
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

/** `$expand=Keys($select=KeyAttributes),Attributes` on EntityDefinitions (define-alternate-keys-entity shows one). */
function entityExpand(expand: string | undefined): EntityExpansion[] {
  if (expand === undefined) return [];
  return splitTop(expand).map((item) => {
    const name = item.replace(/\(.*$/s, "").trim();
    if (name !== "Attributes" && name !== "Keys" && name !== "ManyToOneRelationships") {
      throw errors.propertyNotFound(name, "EntityMetadata");
    }
    // query-metadata-web-api: `$expand=Attributes($select=LogicalName;$filter=AttributeType eq
    // Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist')`.
    const options = expandItemOptions(item);
    const select = options.get("$select")?.split(",").map((s) => s.trim());
    const allowed = name === "Attributes" ? BASE_ATTRIBUTE_PROPS : name === "Keys" ? KEY_PROPS : M2O_PROPS;
    const typeName = name === "Attributes" ? "AttributeMetadata" : name === "Keys" ? "EntityKeyMetadata" : "OneToManyRelationshipMetadata";
    checkSelect(select, allowed, typeName);
    const filterText = options.get("$filter");
    let filter: FilterNode | undefined;
    if (filterText !== undefined) {
      try {
        filter = parseFilter(filterText);
      } catch (cause) {
        if (cause instanceof FilterSyntaxError) throw errors.badRequest(cause.message);
        throw cause;
      }
      for (const p of filterProperties(filter)) {
        const head = p.split("/")[0] ?? p;
        if (!allowed.includes(head)) throw errors.propertyNotFound(head, typeName);
      }
    }
    return { name, ...(select === undefined ? {} : { select }), ...(filter === undefined ? {} : { filter }) };
  });
}

function expandEntity(source: MetadataSource, model: TableModel, expand: readonly EntityExpansion[], lcid: number): Json {
  const out: Json = {};
  for (const e of expand) {
    const items =
      e.name === "Attributes"
        ? model.columnList.map((c) => attributeJson(model, c, lcid))
        : e.name === "Keys"
          ? keysJson(model, lcid)
          : manyToOneJson(source.models, model);
    const filter = e.filter;
    const kept = filter === undefined ? items : items.filter((i) => evaluate(filter, reader(i)));
    out[e.name] = kept.map((i) => project(i, e.select, ["MetadataId"]));
  }
  return out;
}

function matchesKey(k: Json, seg: PathSegment): boolean {
  const part = seg.keys?.[0];
  if (!part) return true;
  if (part.name === "LogicalName" && part.value.kind === "string") return k["LogicalName"] === part.value.value;
  if (part.value.kind === "guid") return k["MetadataId"] === part.value.value;
  return false;
}

function selectSuffix(select: readonly string[] | undefined): string {
  return select && select.length > 0 ? `(${select.join(",")})` : "";
}

function castOf(seg: PathSegment | undefined): string | undefined {
  if (!seg) return undefined;
  if (!seg.name.startsWith(NS)) throw errors.resourceNotFound(seg.name);
  const type = seg.name.slice(NS.length);
  if (ABSTRACT_CASTS.has(type)) {
    // Learn: casting to the abstract EnumAttributeMetadata isn't supported; the exact answer isn't
    // documented, OData's for an invalid type segment is this 400.
    throw errors.badRequest(`The type '${seg.name}' is not a valid cast for the segment 'Attributes'; cast to a derived type such as PicklistAttributeMetadata.`);
  }
  if (!(type in TYPE_PROPS)) throw errors.resourceNotFound(seg.name);
  return type;
}

function attributes(
  model: TableModel,
  req: ServiceRequest,
  q: ReturnType<typeof parseQuery>,
  lcid: number,
  entityCtx: string,
  seg: PathSegment,
  third: PathSegment | undefined,
  fourth: PathSegment | undefined,
): ServiceResponse {
  void req;
  const cast = castOf(third);
  if (fourth) return optionSetOf(model, q, lcid, entityCtx, seg, cast, fourth);
  const allowed = cast ? [...BASE_ATTRIBUTE_PROPS, ...(TYPE_PROPS[cast] ?? [])] : BASE_ATTRIBUTE_PROPS;
  const typeName = cast ?? "AttributeMetadata";
  checkSelect(q.select, allowed, typeName);
  const expand = q.other.get("$expand");
  if (expand !== undefined && cast === undefined) {
    throw errors.propertyNotFound((splitTop(expand)[0] ?? "").replace(/\(.*$/, ""), "AttributeMetadata");
  }
  let columns = model.columnList;
  if (cast) columns = columns.filter((c) => TYPE_NAMES[c.type].metadataType === cast);
  const build = (c: ColumnDefinition): Json => {
    const full = attributeJson(model, c, lcid);
    const out = project(full, q.select, ["MetadataId"]);
    expandOptionSets(out, c, expand, lcid);
    return out;
  };
  const castSuffix = cast ? `/${NS}${cast}` : "";
  if (seg.keys !== undefined) {
    const lit = seg.keys[0]?.value;
    const byName = seg.keys[0]?.name === "LogicalName";
    let c: ColumnDefinition | undefined;
    if (byName && lit?.kind === "string") c = model.columns.get(lit.value);
    else if (!byName && lit?.kind === "guid") {
      const id = lit.value;
      c = model.columnList.find((x) => stableGuid(`attribute:${model.logicalName}.${x.logicalName}`) === id);
    }
    if (!c || (cast && TYPE_NAMES[c.type].metadataType !== cast)) {
      throw errors.attributeDefinitionNotFound(model.logicalName);
    }
    return json(200, { "@odata.context": `${entityCtx}/Attributes${castSuffix}${selectSuffix(q.select)}/$entity`, ...build(c) });
  }
  const full = columns.map((c) => attributeJson(model, c, lcid));
  const kept = filterList(full, q.filterText, q, allowed, typeName);
  const names = new Set(kept.map((a) => a["LogicalName"]));
  const value = columns.filter((c) => names.has(c.logicalName)).map(build);
  return json(200, { "@odata.context": `${entityCtx}/Attributes${castSuffix}${selectSuffix(q.select)}`, value });
}

/**
 * query-metadata-web-api, "Retrieving attributes": `Attributes(<id>)/Microsoft.Dynamics.CRM.
 * PicklistAttributeMetadata/OptionSet?$select=Options` answers the option set alone.
 */
function optionSetOf(
  model: TableModel,
  q: ReturnType<typeof parseQuery>,
  lcid: number,
  entityCtx: string,
  seg: PathSegment,
  cast: string | undefined,
  fourth: PathSegment,
): ServiceResponse {
  if ((fourth.name !== "OptionSet" && fourth.name !== "GlobalOptionSet") || cast === undefined || seg.keys === undefined) {
    throw errors.resourceNotFound(fourth.name);
  }
  const lit = seg.keys[0]?.value;
  const byName = seg.keys[0]?.name === "LogicalName";
  const c =
    byName && lit?.kind === "string"
      ? model.columns.get(lit.value)
      : lit?.kind === "guid"
        ? model.columnList.find((x) => stableGuid(`attribute:${model.logicalName}.${x.logicalName}`) === lit.value)
        : undefined;
  if (!c || TYPE_NAMES[c.type].metadataType !== cast) {
    throw errors.attributeDefinitionNotFound(model.logicalName);
  }
  const holder: Json = {};
  expandOptionSets(holder, c, fourth.name, lcid);
  const os = holder[fourth.name];
  // The emulator has no global option sets; Learn is silent on reading a local set's GlobalOptionSet.
  if (os === null || os === undefined || typeof os !== "object") throw errors.resourceNotFound(fourth.name);
  const id = stableGuid(`attribute:${model.logicalName}.${c.logicalName}`);
  return json(200, {
    "@odata.context": `${entityCtx}/Attributes(${id})/${NS}${cast}/${fourth.name}${selectSuffix(q.select)}/$entity`,
    ...project(os as Json, q.select, ["MetadataId"]),
  });
}

/**
 * `sdkmessagefilters?$select=sdkmessagefilterid&$filter=sdkmessageid/name eq 'CreateMultiple' and
 * primaryobjecttypecode eq 'account'`: one row when the table has the message (bulk-operations).
 */
export function handleSdkMessageFilters(source: MetadataSource, req: ServiceRequest, segments: readonly PathSegment[]): ServiceResponse {
  if (req.method !== "GET" || segments.length !== 1) throw errors.noHttpResource(req.serviceRoot + req.path);
  const q = parseQuery(req.query);
  const allowed = ["sdkmessagefilterid", "primaryobjecttypecode", "sdkmessageid/name", "_sdkmessageid_value", "iscustomprocessingstepallowed"];
  for (const p of q.select ?? []) if (!allowed.includes(p)) throw errors.propertyNotFound(p, "sdkmessagefilter");
  const rows: Json[] = [];
  for (const m of source.models.values()) {
    for (const message of ["CreateMultiple", "UpdateMultiple", "UpsertMultiple"] as const) {
      const has =
        message === "CreateMultiple" ? m.bulk.createMultiple : message === "UpdateMultiple" ? m.bulk.updateMultiple : m.bulk.upsertMultiple;
      if (!has) continue;
      rows.push({
        sdkmessagefilterid: stableGuid(`sdkmessagefilter:${message}:${m.logicalName}`),
        primaryobjecttypecode: m.logicalName,
        sdkmessageid: { name: message },
        _sdkmessageid_value: stableGuid(`sdkmessage:${message}`),
        iscustomprocessingstepallowed: true,
      });
    }
  }
  let value = rows;
  if (q.filter) {
    const f = q.filter;
    for (const p of filterProperties(f)) if (!allowed.includes(p)) throw errors.propertyNotFound(p, "sdkmessagefilter");
    value = rows.filter((r) => evaluate(f, reader(r)));
  }
  // `$expand=sdkmessageid($select=name)` names each filter's message in the row, the form a client
  // uses when it asks for every bulk message of a table in one query.
  const expand = sdkMessageExpand(q.other.get("$expand"));
  const out = value.map((r) => {
    const o: Json = { "@odata.etag": `W/"1"` };
    const fields = q.select ?? ["sdkmessagefilterid", "primaryobjecttypecode", "_sdkmessageid_value", "iscustomprocessingstepallowed"];
    for (const f of fields) if (!f.includes("/")) o[f] = r[f];
    o["sdkmessagefilterid"] = r["sdkmessagefilterid"];
    if (expand !== undefined) {
      const message = (r["sdkmessageid"] as { name: string }).name;
      o["sdkmessageid"] = sdkMessageRow(message, expand);
    }
    return o;
  });
  const context = `${req.serviceRoot}$metadata#sdkmessagefilters${selectSuffix(expand === undefined ? q.select : [...(q.select ?? []), `sdkmessageid(${(expand.length === 0 ? SDK_MESSAGE_PROPS : expand).join(",")})`])}`;
  return json(200, { "@odata.context": context, value: out });
}

const BULK_MESSAGES = ["CreateMultiple", "UpdateMultiple", "UpsertMultiple"] as const;
const SDK_MESSAGE_PROPS = ["sdkmessageid", "name"];

function sdkMessageRow(name: string, select: readonly string[]): Json {
  const row: Json = { sdkmessageid: stableGuid(`sdkmessage:${name}`), name };
  if (select.length === 0) return row;
  const o: Json = {};
  for (const f of select) o[f] = row[f];
  o["sdkmessageid"] = row["sdkmessageid"];
  return o;
}

/** The select list of `$expand=sdkmessageid(...)`: undefined without the expand, empty for all. */
function sdkMessageExpand(expand: string | undefined): string[] | undefined {
  if (expand === undefined) return undefined;
  const items = splitTop(expand);
  const item = items[0];
  if (items.length !== 1 || item === undefined) throw errors.propertyNotFound(items[1] ?? expand, "sdkmessagefilter");
  const name = item.replace(/\(.*$/s, "").trim();
  if (name !== "sdkmessageid") throw errors.propertyNotFound(name, "sdkmessagefilter");
  const select = expandItemOptions(item).get("$select")?.split(",").map((s) => s.trim());
  for (const p of select ?? []) if (!SDK_MESSAGE_PROPS.includes(p)) throw errors.propertyNotFound(p, "sdkmessage");
  return select ?? [];
}

/**
 * `sdkmessages`, for clients that look a message's id up first and then filter
 * `sdkmessagefilters` on `_sdkmessageid_value` (Microsoft's plug-in registration samples do).
 * Only the bulk messages exist here: they are the only ones the emulator has filters for.
 */
export function handleSdkMessages(req: ServiceRequest, segments: readonly PathSegment[]): ServiceResponse {
  if (req.method !== "GET" || segments.length !== 1 || segments[0]?.keys !== undefined) throw errors.noHttpResource(req.serviceRoot + req.path);
  const q = parseQuery(req.query);
  for (const p of q.select ?? []) if (!SDK_MESSAGE_PROPS.includes(p)) throw errors.propertyNotFound(p, "sdkmessage");
  let rows = BULK_MESSAGES.map((name) => sdkMessageRow(name, []));
  if (q.filter) {
    const f = q.filter;
    for (const p of filterProperties(f)) if (!SDK_MESSAGE_PROPS.includes(p)) throw errors.propertyNotFound(p, "sdkmessage");
    rows = rows.filter((r) => evaluate(f, reader(r)));
  }
  const value = rows.map((r) => ({ "@odata.etag": `W/"1"`, ...sdkMessageRow(String(r["name"]), q.select ?? []) }));
  return json(200, { "@odata.context": `${req.serviceRoot}$metadata#sdkmessages${selectSuffix(q.select)}`, value });
}
