// planStream: a stream's mapping checked against the table's metadata, once, before any record.
// Everything a record needs (columns, coercion rules, key parts, lookup navigation properties,
// the inactive state) is resolved here, so mapRecord only reads values.
import type { FieldMapping, LookupMapping, NullHandling, StreamMapping, WriteMode } from "../config/types.js";
import type { ColumnMeta, KeyMeta, TableLookup, TableMeta } from "../model/table-meta.js";
import { inactiveState, stateColumn, statusColumn } from "./choices.js";
import { isLookupColumn } from "../model/lookup.js";
import { SCALAR_TYPES } from "./coerce.js";
import { normalizeGuid } from "./uuid.js";

export type { PlanIssue, KeyPart, KeyPlan, TargetStrategy, TargetResolver, LookupPlan, ColumnPlan, StreamPlan } from "./plan-types.js";
import type { PlanIssue, KeyPart, KeyPlan, TargetStrategy, TargetResolver, LookupPlan, ColumnPlan, StreamPlan } from "./plan-types.js";

/** Airbyte and Singer bookkeeping fields: never columns, never reported. */
export function isMetaField(name: string): boolean {
  return name.startsWith("_ab_") || name.startsWith("_airbyte_") || name.startsWith("_sdc_");
}

type OpKind = "create" | "upsert" | "update" | "none";

/**
 * Columns a create must carry. Only SystemRequired: ApplicationRequired ("business required") is
 * a form rule, and Microsoft's docs do not state that the Web API enforces it. Owner, state and
 * status are filled by the platform when absent; the primary id is generated.
 */
export function requiredOnCreate(column: ColumnMeta): boolean {
  if (column.requiredLevel !== "SystemRequired" || !column.validForCreate || column.isPrimaryId) return false;
  return !(column.type === "Owner" || column.type === "State" || column.type === "Status" || column.attributeOf !== undefined);
}

function opKindOf(mode: WriteMode): OpKind {
  return mode === "create" || mode === "upsert" || mode === "update" ? mode : "none";
}

/**
 * Whether a column may be in the body. Upsert may either create or update, so the column must be
 * valid for both; Microsoft's docs do not say what Update does with a create-only column, so we
 * do not find out at write time.
 */
export function writableFor(column: ColumnMeta, op: OpKind): boolean {
  if (op === "create") return column.validForCreate;
  if (op === "update") return column.validForUpdate;
  if (op === "upsert") return column.validForCreate && column.validForUpdate;
  return false;
}

function describeKeys(table: TableMeta): string {
  if (table.keys.length === 0) return `table '${table.logicalName}' defines no alternate keys`;
  return `keys of '${table.logicalName}': ${table.keys.map((k) => `${k.logicalName} (${k.columns.join(", ")}; ${k.status})`).join("; ")}`;
}

function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((c) => b.includes(c)) && b.every((c) => a.includes(c));
}

type KeyFind = { readonly key: KeyMeta } | { readonly code: string; readonly message: string };

/** Finds an alternate key by name (logical or schema name) or by its exact column set; Active only. */
export function findKey(table: TableMeta, by: { readonly name?: string | undefined; readonly columns?: readonly string[] | undefined }): KeyFind {
  let key: KeyMeta | undefined;
  if (by.name !== undefined) {
    const name = by.name;
    key = table.keys.find((k) => k.logicalName === name) ?? table.keys.find((k) => k.schemaName === name);
    if (key === undefined) return { code: "unknown_key", message: `No alternate key named '${name}'; ${describeKeys(table)}.` };
    if (by.columns !== undefined && !sameColumns(key.columns, by.columns)) {
      return { code: "no_matching_key", message: `Key '${key.logicalName}' has columns (${key.columns.join(", ")}), not (${by.columns.join(", ")}).` };
    }
  } else if (by.columns !== undefined) {
    const cols = by.columns;
    key = table.keys.find((k) => sameColumns(k.columns, cols));
    if (key === undefined) return { code: "no_matching_key", message: `Columns (${cols.join(", ")}) are not an alternate key; ${describeKeys(table)}.` };
  } else {
    const active = table.keys.filter((k) => k.status === "Active");
    if (active.length !== 1 || active[0] === undefined) {
      return { code: "key_ambiguous", message: `Name the alternate key to use; ${describeKeys(table)}.` };
    }
    key = active[0];
  }
  if (key.status !== "Active") {
    return { code: "key_not_active", message: `Alternate key '${key.logicalName}' of '${table.logicalName}' has status ${key.status}; only Active keys can address rows.` };
  }
  return { key };
}

/**
 * Key column types a key value can be given for. Dataverse also allows DateTime key columns
 * (define-alternate-keys-entity), but RowRef carries no type, so the writer would quote a date
 * like a string; refused until key values carry their type. Lookup key columns take the related
 * row's GUID and are addressed as `_<column>_value`.
 */
/** Column types a key value can be written for (date keys are refused: a key value carries no type for the URL literal). */
export const KEY_VALUE_TYPES: ReadonlySet<string> = new Set(["String", "Memo", "Integer", "Decimal", "Picklist", "Lookup", "Customer", "Owner"]);

export function planStream(
  mapping: StreamMapping,
  table: TableMeta,
  tables: TableLookup,
): { readonly plan?: StreamPlan; readonly issues: readonly PlanIssue[] } {
  const issues: PlanIssue[] = [];
  const stream = mapping.name;
  const err = (code: string, message: string, field?: string): void => {
    issues.push(field === undefined ? { stream, code, message, severity: "error" } : { stream, field, code, message, severity: "error" });
  };
  const warn = (code: string, message: string, field?: string): void => {
    issues.push(field === undefined ? { stream, code, message, severity: "warning" } : { stream, field, code, message, severity: "warning" });
  };
  const op = opKindOf(mapping.mode);
  const known = new Set<string>();
  const excluded = new Set<string>();
  const columnPlans: ColumnPlan[] = [];
  const lookupPlans: LookupPlan[] = [];
  const targetedColumns = new Map<string, string>();

  // ---- key ----
  let key: KeyPlan = { kind: "none" };
  const k = mapping.key;
  switch (k.kind) {
    case "none":
      if (mapping.mode !== "create") {
        err("key_required", `Write mode '${mapping.mode}' needs a key (id_field, alternate key or deterministic id) to find rows.`);
      }
      break;
    case "id_field":
      key = { kind: "id", field: k.field };
      known.add(k.field);
      excluded.add(table.primaryIdAttribute);
      break;
    case "deterministic": {
      if (normalizeGuid(k.namespace) === undefined) err("invalid_namespace", "The deterministic id namespace must be a GUID.");
      if (k.fields.length === 0) err("key_required", "A deterministic id needs at least one source field.");
      key = { kind: "deterministic", namespace: normalizeGuid(k.namespace) ?? k.namespace, fields: k.fields };
      // Added to knownFields after passthrough: a key field that is also a column is still written.
      excluded.add(table.primaryIdAttribute);
      break;
    }
    case "alternate_key":
    case "columns": {
      // Data activation sends the matching key as columns; discover offers the primary id as the
      // matching key of update and soft_delete, so that "key" is the row GUID, not an alternate key.
      if (k.kind === "columns" && k.columns.length === 1 && k.columns[0] === table.primaryIdAttribute) {
        let field = table.primaryIdAttribute;
        for (const [src, fm] of mapping.fields) if (fm.column === field && fm.lookup === undefined) field = src;
        key = { kind: "id", field };
        known.add(field);
        excluded.add(table.primaryIdAttribute);
        break;
      }
      const found = k.kind === "alternate_key" ? findKey(table, { name: k.name }) : findKey(table, { columns: k.columns });
      if (!("key" in found)) {
        err(found.code, found.message);
        break;
      }
      const parts: KeyPart[] = [];
      for (const colName of found.key.columns) {
        const column = table.columns.get(colName);
        if (column === undefined) {
          err("unknown_column", `Key column '${colName}' is not a column of '${table.logicalName}'.`);
          continue;
        }
        if (!KEY_VALUE_TYPES.has(column.type)) {
          err("unsupported_key_column", `Key column '${colName}' is a ${column.type} column; keys are supported on text, whole number, decimal, choice and lookup columns.`);
          continue;
        }
        // The source field for a key column: the field mapped to it, else the field of that name.
        let field = colName;
        for (const [src, fm] of mapping.fields) if (fm.column === colName && fm.lookup === undefined) field = src;
        parts.push({ field, column });
        known.add(field);
        excluded.add(colName);
      }
      key = { kind: "key", keyName: found.key.logicalName, parts };
      break;
    }
  }

  // ---- mapped fields ----
  for (const [field, fm] of mapping.fields) {
    if (isMetaField(field)) {
      warn("meta_field_mapped", `Field '${field}' is a bookkeeping field; mapping it is unusual.`, field);
    }
    const column = table.columns.get(fm.column);
    if (column === undefined) {
      err("unknown_column", `Column '${fm.column}' does not exist on '${table.logicalName}'.`, field);
      continue;
    }
    const previous = targetedColumns.get(fm.column);
    if (previous !== undefined && !excluded.has(fm.column)) {
      err("duplicate_column", `Fields '${previous}' and '${field}' both map to column '${fm.column}'.`, field);
      continue;
    }
    targetedColumns.set(fm.column, field);
    known.add(field);
    if (excluded.has(fm.column)) continue; // a key part: addressed by the ref, never in the body
    const nulls = fm.nulls ?? mapping.nulls;
    if (op !== "none" && !writableFor(column, op)) {
      err("column_not_writable", `Column '${fm.column}' is not valid for ${op} on '${table.logicalName}'.`, field);
      continue;
    }
    if (isLookupColumn(column)) {
      const lp = planLookup(field, fm, column, nulls, table, tables, err, warn);
      if (lp !== undefined) {
        lookupPlans.push(lp);
        if (lp.tableField !== undefined) known.add(lp.tableField);
      }
      continue;
    }
    if (fm.lookup !== undefined) {
      err("not_a_lookup", `Column '${fm.column}' is a ${column.type} column, not a lookup.`, field);
      continue;
    }
    if (column.attributeOf !== undefined || !SCALAR_TYPES.has(column.type)) {
      err("unsupported_column", `Column '${fm.column}' (${column.typeName}) cannot be written by this connector.`, field);
      continue;
    }
    columnPlans.push(fm.delimiter === undefined ? { field, column, nulls } : { field, column, nulls, delimiter: fm.delimiter });
  }

  // ---- passthrough: columns usable under their own name ----
  const passthrough = new Map<string, ColumnMeta>();
  const passthroughLookups = new Map<string, LookupPlan>();
  if (op !== "none") {
    for (const column of table.columns.values()) {
      const name = column.logicalName;
      if (targetedColumns.has(name) || excluded.has(name) || known.has(name)) continue;
      if (column.attributeOf !== undefined || !writableFor(column, op)) continue;
      // The primary id is settable only on create with no key (a create with a chosen id).
      if (column.isPrimaryId && !(op === "create" && key.kind === "none")) continue;
      if (SCALAR_TYPES.has(column.type)) {
        passthrough.set(name, column);
        known.add(name);
      } else if (isLookupColumn(column) && column.targets?.length === 1 && column.targets[0] !== undefined) {
        const target = column.targets[0];
        const meta = tables(target);
        const nav = table.manyToOne.find((r) => r.referencingAttribute === name && r.referencedEntity === target);
        if (meta === undefined || nav === undefined) continue;
        passthroughLookups.set(name, {
          field: name,
          column: name,
          nulls: mapping.nulls,
          ...(column.requiredLevel === "SystemRequired" ? { required: true } : {}),
          table: target,
          targets: new Map([[target, { table: target, entitySet: meta.entitySetName, navigationProperty: nav.navigationProperty, strategy: { by: "id" } }]]),
        });
        known.add(name);
      }
    }
  }

  if (key.kind === "deterministic") for (const f of key.fields) known.add(f);

  // ---- required columns (create paths) ----
  if (op === "create" || op === "upsert") {
    for (const column of table.columns.values()) {
      if (!requiredOnCreate(column)) continue;
      if (targetedColumns.has(column.logicalName) || excluded.has(column.logicalName)) continue;
      warn("required_column_unmapped", `Column '${column.logicalName}' is required on create and is not mapped; records must carry it under its own name.`);
    }
  }

  // ---- deactivation ----
  const inactive = inactiveState(table);
  const deactivates = mapping.mode === "deactivate" || (mapping.deleteAction === "deactivate" && op !== "none" && key.kind !== "none");
  if (deactivates && inactive === undefined) {
    const msg = `Table '${table.logicalName}' has no inactive state (statecode option labelled Inactive or valued 1) to deactivate rows with.`;
    if (mapping.mode === "deactivate") err("cannot_deactivate", msg);
    else warn("cannot_deactivate", `${msg} Deleted records will be rejected; set deleteAction to delete.`);
  }

  if (issues.some((i) => i.severity === "error")) return { issues };
  const stateCol = stateColumn(table);
  const statusCol = statusColumn(table);
  const plan: StreamPlan = {
    stream,
    table,
    mode: mapping.mode,
    deleteAction: mapping.deleteAction,
    nulls: mapping.nulls,
    truncateStrings: mapping.truncateStrings,
    key,
    columns: columnPlans,
    lookups: lookupPlans,
    passthrough,
    passthroughLookups,
    excludedColumns: excluded,
    knownFields: known,
    ...(inactive === undefined ? {} : { inactive }),
    ...(stateCol === undefined ? {} : { stateColumn: stateCol }),
    ...(statusCol === undefined ? {} : { statusColumn: statusCol }),
  };
  return { plan, issues };
}

type Report = (code: string, message: string, field?: string) => void;

function planLookup(
  field: string,
  fm: FieldMapping,
  column: ColumnMeta,
  nulls: NullHandling,
  table: TableMeta,
  tables: TableLookup,
  err: Report,
  warn: Report,
): LookupPlan | undefined {
  const lookup: LookupMapping = fm.lookup ?? { strategy: { by: "id" } };
  const targets = column.targets ?? [];
  let candidates: readonly string[];
  const perRow = lookup.table === undefined && lookup.tableField !== undefined;
  if (lookup.table !== undefined) {
    if (!targets.includes(lookup.table)) {
      err("lookup_target_invalid", `Lookup '${column.logicalName}' cannot point at '${lookup.table}'; its targets are ${targets.join(", ") || "none"}.`, field);
      return undefined;
    }
    candidates = [lookup.table];
  } else if (perRow) {
    candidates = targets;
  } else if (targets.length === 1) {
    candidates = targets;
  } else {
    err("lookup_target_required", `Lookup '${column.logicalName}' can point at ${targets.join(", ")}; set its table, or a tableField naming the table per row.`, field);
    return undefined;
  }
  const report = perRow ? warn : err;
  const resolvers = new Map<string, TargetResolver>();
  for (const target of candidates) {
    const meta = tables(target);
    if (meta === undefined) {
      report("unknown_table", `Lookup '${column.logicalName}' target table '${target}' has no metadata.`, field);
      continue;
    }
    // Owner lookups relate to the abstract "owner" table in ManyToOneRelationships (nav "ownerid");
    // the concrete systemuser/team only shows in the bind path's entity set.
    const nav =
      table.manyToOne.find((r) => r.referencingAttribute === column.logicalName && r.referencedEntity === target) ??
      (column.type === "Owner" ? table.manyToOne.find((r) => r.referencingAttribute === column.logicalName && r.referencedEntity === "owner") : undefined);
    if (nav === undefined) {
      report("no_navigation_property", `No many-to-one relationship from '${table.logicalName}.${column.logicalName}' to '${target}'.`, field);
      continue;
    }
    let strategy: TargetStrategy;
    const s = lookup.strategy;
    if (s.by === "id") strategy = { by: "id" };
    else if (s.by === "deterministic") {
      const ns = normalizeGuid(s.namespace);
      if (ns === undefined) {
        err("invalid_namespace", `Lookup '${column.logicalName}': the deterministic id namespace must be a GUID.`, field);
        continue;
      }
      strategy = { by: "deterministic", namespace: ns };
    } else {
      const found = findKey(meta, { name: s.name, columns: s.columns });
      if (!("key" in found)) {
        report(found.code, `Lookup '${column.logicalName}' → '${target}': ${found.message}`, field);
        continue;
      }
      const cols: ColumnMeta[] = [];
      for (const c of found.key.columns) {
        const cm = meta.columns.get(c);
        if (cm === undefined || !KEY_VALUE_TYPES.has(cm.type)) {
          report("unsupported_key_column", `Lookup '${column.logicalName}' → '${target}': key column '${c}' is missing or of an unsupported type.`, field);
        } else cols.push(cm);
      }
      if (cols.length !== found.key.columns.length) continue;
      strategy = { by: "key", keyName: found.key.logicalName, columns: cols };
    }
    resolvers.set(target, { table: target, entitySet: meta.entitySetName, navigationProperty: nav.navigationProperty, strategy });
  }
  if (resolvers.size === 0) {
    if (perRow) err("lookup_target_invalid", `Lookup '${column.logicalName}' has no usable target table.`, field);
    return undefined;
  }
  if (!perRow && resolvers.size !== candidates.length) return undefined;
  const base = { field, column: column.logicalName, nulls, targets: resolvers, ...(column.requiredLevel === "SystemRequired" ? { required: true } : {}) };
  if (lookup.table !== undefined) return { ...base, table: lookup.table };
  if (perRow && lookup.tableField !== undefined) return { ...base, tableField: lookup.tableField };
  return { ...base, table: candidates[0] ?? "" };
}
