// Dry run and write-only-what-changed: what a write would do to the row as it is now, by column name only (never values).
// One rule shared by pipeline/dry-run.ts and dataverse/changes.ts, so it lives in model/.
import type { ColumnMeta, TableMeta } from "./table-meta.js";
import type { ColumnValue, LookupBinding, Operation } from "./operation.js";
import { lookupValueName } from "./lookup.js";

/**
 * create / update / delete / unchanged, plus two outcomes the real write would reject:
 * "missing" (update, delete or deactivate of a row that does not exist; update mode never creates)
 * and "conflict" (create of a row whose id already exists).
 */
export type DiffAction = "create" | "update" | "delete" | "unchanged" | "missing" | "conflict";

export interface RowDiff {
  readonly action: DiffAction;
  readonly changedColumns: readonly string[];
}

const INSTANT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function multiSet(text: string): string {
  return text.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number).sort((a, b) => a - b).join(",");
}

/** Whether our coerced value equals the row's value as the Web API returns it. */
function sameValue(ours: ColumnValue, theirs: unknown, column: ColumnMeta | undefined): boolean {
  // $select returns null for empty columns; a column absent from the row is empty as well. Dataverse
  // keeps an empty text as null.
  const empty = theirs === null || theirs === undefined;
  if (ours === null) return empty;
  if (ours === "" && (column?.type === "String" || column?.type === "Memo")) return empty || theirs === "";
  if (empty) return false;
  // The row was read through JSON.parse, so beyond 2^53 its value is the nearest double at best.
  if (typeof ours === "bigint") return typeof theirs === "number" ? Number(ours) === theirs : String(ours) === String(theirs);
  if (typeof ours === "number") {
    const t = typeof theirs === "number" ? theirs : typeof theirs === "string" ? Number(theirs) : Number.NaN;
    if (t === ours) return true;
    // A decimal, money or float column keeps `precision` digits after the point: 1.234 is stored as
    // 1.23 in a column of precision 2, so it reads back as 1.23 and is no change.
    const p = column?.precision;
    if ((column?.type === "Decimal" || column?.type === "Money" || column?.type === "Double") && p !== undefined && p >= 0 && p <= 10 && Number.isFinite(t)) {
      return ours.toFixed(p) === t.toFixed(p);
    }
    return false;
  }
  if (typeof ours === "boolean") return theirs === ours;
  if (typeof theirs !== "string") return false;
  if (ours === theirs) return true;
  const type = column?.type;
  if (type === "MultiSelectPicklist" || (type === undefined && /^\d+(,\d+)*$/.test(ours) && /^\d+(,\d+)*$/.test(theirs))) {
    // Dataverse may return the selected values in another order than we sent them.
    return multiSet(ours) === multiSet(theirs);
  }
  if (type === "Uniqueidentifier" || (type === undefined && /^[0-9a-f-]{36}$/i.test(ours))) return ours.toLowerCase() === theirs.toLowerCase();
  if ((type === "DateTime" || type === undefined) && INSTANT_RE.test(ours) && INSTANT_RE.test(theirs)) {
    return Date.parse(ours) === Date.parse(theirs);
  }
  return false;
}

function bindingName(b: LookupBinding): string {
  return b.column ?? b.navigationProperty;
}

/**
 * Lookups are read back as `_<column>_value` (and, with annotations, its
 * `@Microsoft.Dynamics.CRM.lookuplogicalname`). A binding by alternate key cannot be compared
 * with a GUID, so it counts as changed; resolve key refs to ids first for exact counts.
 */
function sameBinding(b: LookupBinding, row: Readonly<Record<string, unknown>>): boolean {
  if (b.column === undefined) return false;
  const value = row[lookupValueName(b.column)];
  if (b.target === null) return value === null || value === undefined;
  if (b.target.ref.kind !== "id" || typeof value !== "string") return false;
  const table = row[`${lookupValueName(b.column)}@Microsoft.Dynamics.CRM.lookuplogicalname`];
  if (typeof table === "string" && table !== b.target.table) return false;
  return value.toLowerCase() === b.target.ref.id.toLowerCase();
}

function changes(op: Operation, row: Readonly<Record<string, unknown>>, table: TableMeta | undefined): string[] {
  const changed: string[] = [];
  const columns = op.columns;
  for (const name in columns) {
    if (!sameValue(columns[name] as ColumnValue, row[name], table?.columns.get(name))) changed.push(name);
  }
  for (const b of op.bindings) if (!sameBinding(b, row)) changed.push(bindingName(b));
  return changed;
}

function allColumns(op: Operation): string[] {
  return [...Object.keys(op.columns), ...op.bindings.map(bindingName)];
}

/**
 * `existing` is the row as read from the Web API (numbers, strings, ISO instants, DateOnly as
 * "YYYY-MM-DD", lookups as `_x_value`), or undefined when no row matches the op's ref.
 * `table`, when given, makes comparisons use the column types instead of the value's shape.
 */
export function diffRow(op: Operation, existing: Readonly<Record<string, unknown>> | undefined, table?: TableMeta): RowDiff {
  switch (op.kind) {
    case "create":
      return existing === undefined ? { action: "create", changedColumns: allColumns(op) } : { action: "conflict", changedColumns: [] };
    case "upsert":
    case "update": {
      if (existing === undefined) {
        return op.kind === "upsert" ? { action: "create", changedColumns: allColumns(op) } : { action: "missing", changedColumns: [] };
      }
      const changed = changes(op, existing, table);
      return { action: changed.length === 0 ? "unchanged" : "update", changedColumns: changed };
    }
    case "delete":
      return existing === undefined ? { action: "missing", changedColumns: [] } : { action: "delete", changedColumns: [] };
    case "deactivate": {
      if (existing === undefined) return { action: "missing", changedColumns: [] };
      const changed = changes(op, existing, table);
      return { action: changed.length === 0 ? "unchanged" : "delete", changedColumns: changed };
    }
  }
}
