// EntityDefinitions: tables, their attributes (with type casts and option sets), keys and
// many-to-one and many-to-many relationships (Learn: query-metadata-web-api, retrieve-metadata-name-metadataid,
// define-alternate-keys-entity).
import type { ServiceRequest, ServiceResponse } from "./types.js";
import type { ColumnDefinition } from "./schema.js";
import { type TableModel, stableGuid } from "./model.js";
import { errors } from "./errors.js";
import type { PathSegment } from "./odata/path.js";
import { evaluate, filterProperties, type FilterNode, FilterSyntaxError, parseFilter } from "./odata/filter.js";
import { type QueryOptions, parseQuery } from "./query.js";
import { json } from "./responses.js";
import {
  ABSTRACT_CASTS,
  attributeJson,
  BASE_ATTRIBUTE_PROPS,
  checkSelect,
  ENTITY_PROPS,
  entityJson,
  expandItemOptions,
  expandOptionSets,
  filterList,
  type Json,
  KEY_PROPS,
  keysJson,
  M2M_PROPS,
  M2O_PROPS,
  manyToManyJson,
  manyToOneJson,
  type MetadataSource,
  NS,
  project,
  reader,
  selectSuffix,
  splitTop,
  TYPE_NAMES,
  TYPE_PROPS,
} from "./metadata-json.js";

function findTable(source: MetadataSource, seg: PathSegment): TableModel {
  const keys = seg.keys ?? [];
  const k = keys[0];
  if (keys.length !== 1 || !k) throw errors.querySyntax();
  let model: TableModel | undefined;
  if (k.name === undefined && k.value.kind === "guid") {
    const id = k.value.value;
    model = [...source.models.values()].find((m) => m.metadataId === id);
  } else if (k.name === "LogicalName" && k.value.kind === "string") {
    const name = k.value.value;
    model = source.models.get(name);
  } else {
    throw errors.querySyntax();
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
      return attributes(model, q, lcid, entityCtx, second, third, fourth);
    case "Keys": {
      if (third) throw errors.resourceNotFound(third.name);
      checkSelect(q.select, KEY_PROPS, "EntityKeyMetadata");
      const all = keysJson(model, lcid);
      let value: Json[] = all;
      if (second.keys !== undefined) value = value.filter((k) => matchesKey(k, second));
      value = filterList(value, q.filterText, q, KEY_PROPS, "EntityKeyMetadata").map((k) => project(k, q.select, ["MetadataId"]));
      return json(200, { "@odata.context": `${entityCtx}/Keys${selectSuffix(q.select)}`, value });
    }
    case "ManyToOneRelationships":
    case "OneToManyRelationships": {
      if (third) throw errors.resourceNotFound(third.name);
      checkSelect(q.select, M2O_PROPS, "OneToManyRelationshipMetadata");
      // The same relationships seen from the referenced table: every lookup of any table that points
      // here (query-metadata-web-api); the ones $ref and deep insert accept as collection-valued
      // navigation properties (ReferencedEntityNavigationPropertyName).
      const relationships =
        second.name === "ManyToOneRelationships"
          ? manyToOneJson(source.models, model)
          : [...source.models.values()].flatMap((m) => manyToOneJson(source.models, m)).filter((r) => r["ReferencedEntity"] === model.logicalName);
      const value = filterList(relationships, q.filterText, q, M2O_PROPS, "OneToManyRelationshipMetadata").map((r) => project(r, q.select, ["MetadataId"]));
      return json(200, { "@odata.context": `${entityCtx}/${second.name}${selectSuffix(q.select)}`, value });
    }
    case "ManyToManyRelationships": {
      if (third) throw errors.resourceNotFound(third.name);
      checkSelect(q.select, M2M_PROPS, "ManyToManyRelationshipMetadata");
      let items = manyToManyJson(model);
      if (second.keys !== undefined) items = items.filter((k) => matchesKey(k, second));
      const value = filterList(items, q.filterText, q, M2M_PROPS, "ManyToManyRelationshipMetadata").map((r) => project(r, q.select, ["MetadataId"]));
      return json(200, { "@odata.context": `${entityCtx}/ManyToManyRelationships${selectSuffix(q.select)}`, value });
    }
    default:
      throw errors.resourceNotFound(second.name);
  }
}

type ExpandableName = "Attributes" | "Keys" | "ManyToOneRelationships" | "ManyToManyRelationships";
const EXPANDABLE: Readonly<Record<ExpandableName, { props: readonly string[]; typeName: string }>> = {
  Attributes: { props: BASE_ATTRIBUTE_PROPS, typeName: "AttributeMetadata" },
  Keys: { props: KEY_PROPS, typeName: "EntityKeyMetadata" },
  ManyToOneRelationships: { props: M2O_PROPS, typeName: "OneToManyRelationshipMetadata" },
  ManyToManyRelationships: { props: M2M_PROPS, typeName: "ManyToManyRelationshipMetadata" },
};

type EntityExpansion = {
  readonly name: ExpandableName;
  readonly select?: readonly string[];
  readonly filter?: FilterNode;
};

/** `$expand=Keys($select=KeyAttributes),Attributes` on EntityDefinitions (define-alternate-keys-entity shows one). */
function entityExpand(expand: string | undefined): EntityExpansion[] {
  if (expand === undefined) return [];
  return splitTop(expand).map((item) => {
    const name = item.replace(/\(.*$/s, "").trim();
    if (!(name in EXPANDABLE)) throw errors.propertyNotFound(name, "EntityMetadata");
    const { props: allowed, typeName } = EXPANDABLE[name as ExpandableName];
    // query-metadata-web-api: `$expand=Attributes($select=LogicalName;$filter=AttributeType eq
    // Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist')`.
    const options = expandItemOptions(item);
    const select = options.get("$select")?.split(",").map((s) => s.trim());
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
    return { name: name as ExpandableName, ...(select === undefined ? {} : { select }), ...(filter === undefined ? {} : { filter }) };
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
          : e.name === "ManyToManyRelationships"
            ? manyToManyJson(model)
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
  q: QueryOptions,
  lcid: number,
  entityCtx: string,
  seg: PathSegment,
  third: PathSegment | undefined,
  fourth: PathSegment | undefined,
): ServiceResponse {
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
  q: QueryOptions,
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
