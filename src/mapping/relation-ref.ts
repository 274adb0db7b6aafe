// A relationship stream's record → the row it names at one end (a list member, or one side of a
// many-to-many pair), and the identity two names of the same row share. Pure, like the rest of
// mapping/: issues instead of throws.
import type { RelationSide } from "../config/types.js";
import { tableKeyIdentity } from "../model/key-identity.js";
import type { RecordIssue, RowRef } from "../model/operation.js";
import type { TableMeta } from "../model/table-meta.js";
import { deterministicId, normalizeGuid } from "./uuid.js";

export type SideRef = { readonly ok: true; readonly ref: RowRef; readonly identity: string } | { readonly ok: false; readonly issues: readonly RecordIssue[] };

/** The key columns of a side's key, in order (alternate_key: the key's attributes). */
export function sideKeyColumns(side: Pick<RelationSide, "key">, table: TableMeta): readonly string[] | undefined {
  const key = side.key;
  if (key.kind === "columns") return key.columns;
  if (key.kind === "alternate_key") return table.keys.find((k) => k.logicalName === key.name)?.columns;
  return undefined;
}

/** Identity of a row named by its GUID. */
export function idIdentity(id: string): string {
  return `id:${id.toLowerCase()}`;
}

/** Identity of a row named by alternate-key values, as Dataverse's key index compares them (the table's collation). */
export function keyValuesIdentity(table: TableMeta, values: Iterable<readonly [string, unknown]>): string | undefined {
  const k = tableKeyIdentity(values, table);
  return k === undefined ? undefined : `key:${k}`;
}

export function refIdentity(table: TableMeta, ref: RowRef): string {
  if (ref.kind === "id") return idIdentity(ref.id);
  if (ref.kind === "key") return keyValuesIdentity(table, ref.values) ?? "";
  return "";
}

/** The row a record names at one end of the relationship; `prefix` names the side in field paths. */
export function sideRef(record: Readonly<Record<string, unknown>>, side: Pick<RelationSide, "key" | "sourceFields">, table: TableMeta): SideRef {
  const key = side.key;
  const issue = (field: string, code: string, message: string): SideRef => ({ ok: false, issues: [{ field: `/${field}`, code, message }] });
  if (key.kind === "id_field") {
    const v = record[key.field];
    const id = typeof v === "string" ? normalizeGuid(v) : undefined;
    if (id === undefined) return issue(key.field, v === undefined || v === null ? "missing_key" : "not_a_guid", `field ${key.field} must hold the GUID of a ${table.logicalName} row`);
    return { ok: true, ref: { kind: "id", id }, identity: idIdentity(id) };
  }
  if (key.kind === "deterministic") {
    const values: (string | number | boolean)[] = [];
    for (const f of key.fields) {
      const v = record[f];
      if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") return issue(f, "missing_key", `field ${f} is part of the key of the ${table.logicalName} row and is missing`);
      values.push(v);
    }
    const id = deterministicId(values, key.namespace);
    return { ok: true, ref: { kind: "id", id }, identity: idIdentity(id) };
  }
  const columns = sideKeyColumns(side, table) ?? [];
  const sources = side.sourceFields ?? columns;
  const values: [string, string | number][] = [];
  for (const [i, column] of columns.entries()) {
    const field = sources[i] ?? column;
    const v = record[field];
    if (typeof v === "string" && v.trim() !== "") values.push([column, v]);
    else if (typeof v === "number" && Number.isFinite(v)) values.push([column, v]);
    else return issue(field, "missing_key", `field ${field} holds the ${column} key value of the ${table.logicalName} row and is missing or empty`);
  }
  const identity = keyValuesIdentity(table, values);
  if (identity === undefined) return issue(sources[0] ?? "", "missing_key", `the key of the ${table.logicalName} row is empty`);
  return { ok: true, ref: { kind: "key", values }, identity };
}
