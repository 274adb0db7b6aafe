// The DESTINATION_CATALOG for Airbyte data activation: per table, one operation per write mode it
// supports, with a draft-07 json_schema of the columns that mode writes. The same column rules as
// planStream, so every field discover offers is one a record may carry under its own name.
import type { ColumnMeta, TableLookup, TableMeta } from "../model/table-meta.js";
import { isLookupColumn } from "../model/lookup.js";
import { DEFAULT_RANGE, SCALAR_TYPES } from "./coerce.js";
import { KEY_VALUE_TYPES, requiredOnCreate, writableFor } from "./plan.js";

export type DestinationSyncMode = "append" | "overwrite" | "append_dedup" | "update" | "soft_delete";

export type JsonSchema = { readonly [keyword: string]: unknown };

/** The protocol's DestinationOperation (airbyte_protocol.yaml v0.18). */
export interface DestinationOperation {
  readonly object_name: string;
  readonly sync_mode: DestinationSyncMode;
  readonly json_schema: JsonSchema;
  /** Each inner array is a path into the record; here always one top-level column. */
  readonly matching_keys?: readonly (readonly string[])[];
}

type Op = "create" | "upsert" | "update";

function choiceSchema(column: ColumnMeta): { type: string[]; enum: (string | number)[] } {
  const options = column.options ?? [];
  // Labels for people, values for machines: mapRecord accepts both, so the schema does too.
  // Two options may share a label; draft-07 wants the enum's values unique.
  return { type: ["string", "integer"], enum: [...new Set([...options.map((o) => o.label), ...options.map((o) => o.value)])] };
}

function baseSchema(column: ColumnMeta): Record<string, unknown> | undefined {
  switch (column.type) {
    case "String":
    case "Memo":
      return column.maxLength === undefined ? { type: "string" } : { type: "string", maxLength: column.maxLength };
    case "Integer":
    case "BigInt":
    case "Decimal":
    case "Double":
    case "Money": {
      // The bounds the writer checks: the column's, else the platform's defaults (as coerce applies them).
      const [dmin, dmax] = DEFAULT_RANGE[column.type] ?? [undefined, undefined];
      const minimum = column.minValue ?? dmin;
      const maximum = column.maxValue ?? dmax;
      const type = column.type === "Integer" || column.type === "BigInt" ? "integer" : "number";
      return { type, ...(minimum === undefined ? {} : { minimum }), ...(maximum === undefined ? {} : { maximum }) };
    }
    case "Boolean":
      return { type: "boolean" };
    case "DateTime":
      if (column.dateTimeBehavior === "DateOnly") return { type: "string", format: "date", airbyte_type: "date" };
      return {
        type: "string",
        format: "date-time",
        airbyte_type: column.dateTimeBehavior === "TimeZoneIndependent" ? "timestamp_without_timezone" : "timestamp_with_timezone",
      };
    case "Picklist":
    case "State":
    case "Status":
      return choiceSchema(column);
    case "MultiSelectPicklist":
      return { type: "array", items: choiceSchema(column) };
    case "Uniqueidentifier":
    case "Lookup":
    case "Customer":
    case "Owner":
      return { type: "string", format: "uuid" };
    case "Other":
      return undefined;
  }
}

function nullable(schema: Record<string, unknown>): Record<string, unknown> {
  const t = schema["type"];
  const types = Array.isArray(t) ? [...(t as unknown[]), "null"] : [t, "null"];
  const out: Record<string, unknown> = { ...schema, type: types };
  if (Array.isArray(schema["enum"])) out["enum"] = [...(schema["enum"] as unknown[]), null];
  return out;
}

/** Whether a column can be sent under its own name in this operation (mirrors planStream's passthrough). */
function offered(column: ColumnMeta, table: TableMeta, op: Op, lookup: TableLookup): boolean {
  if (column.attributeOf !== undefined || !writableFor(column, op)) return false;
  if (column.isPrimaryId) return op === "create";
  if (SCALAR_TYPES.has(column.type)) return true;
  if (!isLookupColumn(column) || column.targets?.length !== 1) return false;
  const target = column.targets[0];
  return target !== undefined && lookup(target) !== undefined &&
    table.manyToOne.some((r) => r.referencingAttribute === column.logicalName && r.referencedEntity === target);
}

function objectSchema(properties: Record<string, unknown>, required: readonly string[]): JsonSchema {
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    type: "object",
    additionalProperties: true,
    properties,
    ...(required.length > 0 ? { required: [...required] } : {}),
  };
}

function sortedColumns(table: TableMeta): ColumnMeta[] {
  return [...table.columns.values()].sort((a, b) => (a.logicalName < b.logicalName ? -1 : a.logicalName > b.logicalName ? 1 : 0));
}

function schemaFor(table: TableMeta, op: Op, lookup: TableLookup, required: ReadonlySet<string>, alsoInclude: ReadonlySet<string>): JsonSchema {
  const properties: Record<string, unknown> = {};
  for (const column of sortedColumns(table)) {
    if (!offered(column, table, op, lookup) && !alsoInclude.has(column.logicalName)) continue;
    const s = baseSchema(column);
    if (s === undefined) continue;
    // A SystemRequired column "cannot be set to a null value" (update-delete-entities-using-web-api).
    // The primary id stays nullable: a null one is left out and the server makes the id.
    const notNull = required.has(column.logicalName) || (column.requiredLevel === "SystemRequired" && column.isPrimaryId !== true);
    properties[column.logicalName] = notNull ? s : nullable(s);
  }
  return objectSchema(properties, [...required].filter((r) => r in properties).sort());
}

/**
 * Operations per table:
 * - append (create): columns valid for create; `required` = SystemRequired columns (see requiredOnCreate).
 * - append_dedup (upsert), only when the table has an Active alternate key: columns valid for both
 *   create and update, plus the key columns. matching_keys lists only the keys one field path can
 *   express: each Active one-column key. The protocol's matching key is one path and the webapp
 *   lets the user pick one entry (DataActivationStream.primaryKey), so listing each column of a
 *   composite key on its own offered choices that fail at sync start ("Columns (…) are not an
 *   alternate key"). A table whose only keys are composite lists its primary id instead (upsert by
 *   row GUID); its composite key is set in the stream's `key` setting, which wins over the catalog's
 *   (docs/examples.md). Nothing is `required`: which key a stream uses is the user's choice.
 * - update: columns valid for update plus the primary id, required, which is the matching key.
 * - soft_delete: the primary id only (deactivate or delete is the connector's setting).
 */
export function buildDestinationCatalog(tables: readonly TableMeta[]): { operations: DestinationOperation[] } {
  const byName = new Map(tables.map((t) => [t.logicalName, t]));
  const lookup: TableLookup = (n) => byName.get(n);
  const operations: DestinationOperation[] = [];
  for (const table of tables) {
    const pk = table.primaryIdAttribute;
    const required = new Set(sortedColumns(table).filter(requiredOnCreate).map((c) => c.logicalName));
    operations.push({ object_name: table.logicalName, sync_mode: "append", json_schema: schemaFor(table, "create", lookup, required, new Set()) });

    // Only keys a stream could use: Active, and every column of a type planStream takes for a key.
    const activeKeys = table.keys.filter(
      (k) => k.status === "Active" && k.columns.every((c) => { const t = table.columns.get(c)?.type; return t !== undefined && KEY_VALUE_TYPES.has(t); }),
    );
    if (activeKeys.length > 0) {
      const keyColumns: string[] = [];
      for (const k of activeKeys) for (const c of k.columns) if (!keyColumns.includes(c)) keyColumns.push(c);
      const single = activeKeys.filter((k) => k.columns.length === 1).map((k) => k.columns[0] as string);
      operations.push({
        object_name: table.logicalName,
        sync_mode: "append_dedup",
        json_schema: schemaFor(table, "upsert", lookup, new Set(), new Set(keyColumns)),
        matching_keys: (single.length > 0 ? single : [pk]).map((c) => [c]),
      });
    }

    const pkOnly = new Set([pk]);
    operations.push({ object_name: table.logicalName, sync_mode: "update", json_schema: schemaFor(table, "update", lookup, pkOnly, pkOnly), matching_keys: [[pk]] });
    const pkColumn = table.columns.get(pk);
    operations.push({
      object_name: table.logicalName,
      sync_mode: "soft_delete",
      json_schema: objectSchema({ [pk]: pkColumn === undefined ? { type: "string", format: "uuid" } : baseSchema(pkColumn) }, [pk]),
      matching_keys: [[pk]],
    });
  }
  return { operations };
}

/** A static marketing list discover may offer, with its member table's metadata. */
export interface OfferedList {
  readonly name: string;
  readonly members: TableMeta;
}

/**
 * Data activation for marketing lists: each static, unlocked, active list is an object
 * `list:<name>` with one operation, append_dedup, whose records name members by a column of an
 * Active alternate key of the list's member table (the matching keys). Its members are added; a list
 * named twice is left out, since a name must find one list.
 */
export function listOperations(lists: readonly OfferedList[]): DestinationOperation[] {
  const counts = new Map<string, number>();
  for (const l of lists) counts.set(l.name, (counts.get(l.name) ?? 0) + 1);
  const out: DestinationOperation[] = [];
  for (const list of [...lists].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (counts.get(list.name) !== 1) continue;
    const table = list.members;
    const keyColumns: string[] = [];
    for (const k of table.keys) {
      if (k.status !== "Active") continue;
      for (const c of k.columns) if (!keyColumns.includes(c) && KEY_VALUE_TYPES.has(table.columns.get(c)?.type ?? "EntityName")) keyColumns.push(c);
    }
    if (keyColumns.length === 0) continue;
    const properties: Record<string, unknown> = {};
    for (const c of keyColumns) {
      const column = table.columns.get(c);
      const s = column === undefined ? undefined : baseSchema(column);
      if (s !== undefined) properties[c] = nullable(s);
    }
    out.push({ object_name: `list:${list.name}`, sync_mode: "append_dedup", json_schema: objectSchema(properties, []), matching_keys: keyColumns.map((c) => [c]) });
  }
  return out;
}
