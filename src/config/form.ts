// The connector specification as the Airbyte webapp's form builder reads it: the same blocks
// (airbyte-webapp core/form/schemaToFormBlock), the same failures, and the same layout into groups
// and sections (ConnectorForm useGroupsAndSections). docs/configuration.md is written from this
// model, and tests fill the form through it, so a setting that the UI cannot show or set fails there.
import { isJsonObject } from "../protocol/airbyte.js";
import type { JsonObject } from "../protocol/airbyte.js";

interface BlockBase {
  /** The property's own name ("" for the root). */
  readonly fieldKey: string;
  /** Dotted path of the value in the configuration (array items share their array's path). */
  readonly path: string;
  readonly isRequired: boolean;
  readonly title?: string;
  readonly description?: string;
  readonly default?: unknown;
  readonly examples?: unknown;
  readonly order?: number;
  readonly const?: unknown;
  readonly enum?: readonly unknown[];
  readonly group?: string;
  readonly alwaysShow?: boolean;
  readonly hidden?: boolean;
  readonly pattern?: string;
  /** The schema the block was built from (constraints such as minimum, for the docs). */
  readonly schema: JsonObject;
}

/** A single input: text, number, checkbox, dropdown (enum) or a list of strings. */
export interface FormItem extends BlockBase {
  readonly kind: "item";
  readonly type: string;
  /** For `type: "array"`: the type of its entries. */
  readonly itemType?: string;
  readonly isSecret: boolean;
  readonly format?: string;
}

/** An object: its properties, shown together. */
export interface FormGroup extends BlockBase {
  readonly kind: "group";
  readonly properties: readonly FormBlock[];
}

/** A oneOf: a dropdown of options picked by one shared const property, each option a group. */
export interface FormCondition extends BlockBase {
  readonly kind: "condition";
  readonly selectionKey: string;
  readonly selectionConstValues: readonly unknown[];
  readonly conditions: readonly FormGroup[];
}

/** An array of objects: a list of entries, each edited as the item's group. */
export interface FormObjectArray extends BlockBase {
  readonly kind: "objectArray";
  readonly item: FormBlock;
}

export type FormBlock = FormItem | FormGroup | FormCondition | FormObjectArray;

/** The webapp refuses to render the whole form on these (its connectorForm.error.* messages). */
export class FormBuildError extends Error {
  readonly code: "oneOfWithNonObjects" | "oneOfWithoutConst";
  readonly path: string;
  constructor(code: "oneOfWithNonObjects" | "oneOfWithoutConst", path: string) {
    super(`${code} at ${path === "" ? "(root)" : path}`);
    this.code = code;
    this.path = path;
  }
}

function common(schema: JsonObject, key: string, path: string, isRequired: boolean): BlockBase {
  const str = (k: string): string | undefined => (typeof schema[k] === "string" ? (schema[k] as string) : undefined);
  const title = str("title");
  const description = str("description");
  const group = str("group");
  const pattern = str("pattern");
  const order = schema["order"];
  let constValue = schema["const"];
  let enumValues = Array.isArray(schema["enum"]) ? (schema["enum"] as unknown[]) : undefined;
  const items = schema["items"];
  if (isJsonObject(items) && Array.isArray(items["enum"])) enumValues = items["enum"];
  else if (enumValues?.length === 1 && schema["default"] !== undefined) {
    // A one-value enum with a default is the webapp's other way of writing a const.
    constValue = schema["default"];
    enumValues = undefined;
  }
  return {
    fieldKey: key,
    path,
    isRequired,
    schema,
    ...(title !== undefined ? { title } : {}),
    ...(description !== undefined ? { description } : {}),
    ...("default" in schema ? { default: schema["default"] } : {}),
    ...("examples" in schema ? { examples: schema["examples"] } : {}),
    ...(typeof order === "number" ? { order } : {}),
    ...(constValue !== undefined ? { const: constValue } : {}),
    ...(enumValues !== undefined ? { enum: enumValues } : {}),
    ...(group !== undefined ? { group } : {}),
    ...(schema["always_show"] === true ? { alwaysShow: true } : {}),
    ...(schema["airbyte_hidden"] === true ? { hidden: true } : {}),
    ...(pattern !== undefined ? { pattern } : isJsonObject(items) && typeof items["pattern"] === "string" ? { pattern: items["pattern"] } : {}),
  };
}

/** Builds the block tree of a schema, as jsonSchemaToFormBlock does; throws FormBuildError where the webapp does. */
export function toFormBlock(schema: unknown, key = "", path = key, parent?: JsonObject): FormBlock {
  const isRequired = parent === undefined ? true : Array.isArray(parent["required"]) && parent["required"].includes(key);
  if (!isJsonObject(schema)) return { fieldKey: key, path: key, isRequired, schema: {}, kind: "item", type: "null", isSecret: false };
  const variants = schema["oneOf"];
  if (Array.isArray(variants) && variants.length > 0) {
    let shared: string[] | undefined;
    const conditions = variants.map((v) => {
      if (!isJsonObject(v)) throw new FormBuildError("oneOfWithNonObjects", path);
      // Each option is built with the parent's type, so only a parent of type object gives groups.
      const block = toFormBlock({ ...v, type: schema["type"] ?? null }, key, path);
      if (block.kind !== "group") throw new FormBuildError("oneOfWithNonObjects", path);
      // Like the webapp, a falsy const (0, "", false) does not count.
      const consts = block.properties.filter((p) => Boolean(p.const)).map((p) => p.fieldKey);
      shared = shared === undefined ? consts : shared.filter((k) => consts.includes(k));
      return block;
    });
    const selectionKey = shared?.[0];
    if (selectionKey === undefined) throw new FormBuildError("oneOfWithoutConst", path);
    const selectionPath = `${path}.${selectionKey}`;
    return {
      ...common(schema, key, path || key, isRequired),
      kind: "condition",
      selectionKey,
      selectionConstValues: conditions.map((c) => c.properties.find((p) => p.path === selectionPath)?.const),
      conditions,
    };
  }
  const items = schema["items"];
  if (schema["type"] === "array" && isJsonObject(items) && items["type"] === "object") {
    return { ...common(schema, key, path || key, isRequired), kind: "objectArray", item: toFormBlock(items, key, path) };
  }
  if (schema["type"] === "object") {
    const props = isJsonObject(schema["properties"]) ? schema["properties"] : {};
    const properties = Object.entries(props).map(([k, s]) => toFormBlock(s, k, path ? `${path}.${k}` : k, schema));
    return { ...common(schema, key, path || key, isRequired), kind: "group", properties };
  }
  const t = schema["type"];
  const type = (Array.isArray(t) ? t[0] : t) ?? "null";
  const itemType = type === "array" && isJsonObject(items) && typeof items["type"] === "string" ? items["type"] : undefined;
  const format = typeof schema["format"] === "string" ? schema["format"] : undefined;
  return {
    ...common(schema, key, path || key, isRequired),
    kind: "item",
    type: String(type),
    ...(itemType !== undefined ? { itemType } : {}),
    isSecret: schema["airbyte_secret"] === true,
    ...(format !== undefined ? { format } : {}),
  };
}

/** Required (or always shown) first, then by `order`, then by name: the order fields appear in. */
export function compareBlocks(a: FormBlock, b: FormBlock): number {
  const ra = a.isRequired || a.alwaysShow === true;
  const rb = b.isRequired || b.alwaysShow === true;
  if (ra !== rb) return ra ? -1 : 1;
  if (a.order !== undefined && b.order !== undefined) return a.order - b.order;
  if (a.order !== undefined) return -1;
  if (b.order !== undefined) return 1;
  return a.fieldKey.localeCompare(b.fieldKey, "en", { numeric: true });
}

export type DisplayType = "expanded" | "collapsed-inline" | "collapsed-footer" | "collapsed-group";

/** Consecutive blocks shown the same way: open, or folded under "Optional fields". */
export interface FormSection {
  readonly displayType: DisplayType;
  readonly blocks: readonly FormBlock[];
}

export interface FormSectionGroup {
  readonly title?: string;
  readonly sections: readonly FormSection[];
}

export interface GroupDetails {
  readonly id: string;
  readonly title?: string;
}

function displayTypeOf(block: FormBlock, rootLevel: boolean): DisplayType {
  if (block.const !== undefined) return "expanded";
  if (block.isRequired || block.alwaysShow === true || block.kind === "condition" || block.kind === "group") return "expanded";
  return block.order !== undefined || !rootLevel ? "collapsed-inline" : "collapsed-footer";
}

function splitSections(blocks: readonly FormBlock[], rootLevel: boolean): FormSection[] {
  const sorted = blocks.filter((b) => b.hidden !== true).sort(compareBlocks);
  const sections: { displayType: DisplayType; blocks: FormBlock[] }[] = [];
  for (const block of sorted) {
    const type = displayTypeOf(block, rootLevel);
    const current = sections.at(-1);
    if (current !== undefined && (current.displayType === type || (current.displayType === "collapsed-inline" && type === "collapsed-footer"))) current.blocks.push(block);
    else sections.push({ displayType: type, blocks: [block] });
  }
  const only = sections.length === 1 ? sections[0] : undefined;
  if (only !== undefined && only.displayType !== "expanded") only.displayType = "collapsed-group";
  const last = sections.at(-1);
  if (rootLevel && sections.length > 1 && last?.displayType === "collapsed-inline") last.displayType = "collapsed-footer";
  return sections;
}

/**
 * The form's layout: at the root, one group per `group` id in the order of the spec's `groups`
 * (ungrouped settings last); inside each, sections of consecutive required or optional fields.
 */
export function formLayout(blocks: readonly FormBlock[], groups: readonly GroupDetails[], rootLevel = true): FormSectionGroup[] {
  if (!rootLevel || blocks.length === 0) return [{ sections: splitSections(blocks, rootLevel) }];
  const byGroup = new Map<string | undefined, FormBlock[]>();
  for (const b of blocks) {
    if (b.hidden === true) continue;
    const list = byGroup.get(b.group) ?? [];
    list.push(b);
    byGroup.set(b.group, list);
  }
  const index = new Map(groups.map((g, i) => [g.id, i]));
  const ids = [...byGroup.keys()].sort((a, b) => {
    if (a === undefined) return 1;
    if (b === undefined) return -1;
    const ia = index.get(a);
    const ib = index.get(b);
    if (ia !== undefined && ib !== undefined) return ia - ib;
    if (ia !== undefined) return -1;
    if (ib !== undefined) return 1;
    return a.localeCompare(b, "en", { numeric: true });
  });
  return ids.map((id) => {
    const title = id === undefined ? undefined : groups.find((g) => g.id === id)?.title;
    return { ...(title !== undefined ? { title } : {}), sections: splitSections(byGroup.get(id) ?? [], true) };
  });
}

/** The spec's `groups`, as the webapp reads them. */
export function groupsOf(connectionSpecification: JsonObject): GroupDetails[] {
  const raw = connectionSpecification["groups"];
  if (!Array.isArray(raw)) return [];
  return raw.filter(isJsonObject).flatMap((g) => (typeof g["id"] === "string" ? [{ id: g["id"], ...(typeof g["title"] === "string" ? { title: g["title"] } : {}) }] : []));
}
