// Lookup columns (Lookup, Customer, Owner): written through `<nav>@odata.bind`, read back and
// addressed inside an alternate key through their value property `_<column>_value`.
import type { ColumnMeta, ColumnType } from "./table-meta.js";

const LOOKUP_TYPES: ReadonlySet<ColumnType> = new Set<ColumnType>(["Lookup", "Customer", "Owner"]);

/** True for the column types that point at another row (their value is that row's GUID). */
export function isLookupType(type: ColumnType): boolean {
  return LOOKUP_TYPES.has(type);
}

/** True for a lookup column. */
export function isLookupColumn(column: Pick<ColumnMeta, "type">): boolean {
  return LOOKUP_TYPES.has(column.type);
}

/** The value property a lookup column is read and keyed by: `parentid` → `_parentid_value`. */
export function lookupValueName(column: string): string {
  return `_${column}_value`;
}

/** The lookup column a value property names (`_parentid_value` → `parentid`), or undefined for a plain column. */
export function lookupOfValueName(name: string): string | undefined {
  return /^_(.+)_value$/.exec(name)?.[1];
}

/**
 * The name a column has in a row read back and in a key reference: `_x_value` for a lookup (a lookup
 * inside an alternate key is addressed by its value property, use-alternate-key-reference-record),
 * else its logical name.
 */
export function readName(column: Pick<ColumnMeta, "type" | "logicalName">): string {
  return isLookupColumn(column) ? lookupValueName(column.logicalName) : column.logicalName;
}
