// Reading EntityDefinitions answers: the JSON of a table's attributes, keys and options reduced to
// model/table-meta.ts's vocabulary. Pure: no requests (metadata.ts sends them).
import { isObject } from "./errors.js";
import type { ChoiceOption, ColumnMeta, ColumnType, DateTimeBehavior, KeyStatus, RequiredLevel } from "../model/table-meta.js";

export const COLUMN_TYPES: ReadonlySet<string> = new Set<ColumnType>([
  "String",
  "Memo",
  "Integer",
  "BigInt",
  "Decimal",
  "Double",
  "Money",
  "Boolean",
  "DateTime",
  "Picklist",
  "State",
  "Status",
  "Lookup",
  "Customer",
  "Owner",
  "Uniqueidentifier",
]);

export const KEY_STATUS: readonly KeyStatus[] = ["Pending", "InProgress", "Active", "Failed"];

export function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}
export function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}
/** `{"Value": x}` wrappers (AttributeTypeName, RequiredLevel, DateTimeBehavior) or the bare value. */
export function inner(v: unknown): unknown {
  return isObject(v) && "Value" in v ? v.Value : v;
}
export function rows(body: unknown): Record<string, unknown>[] {
  return isObject(body) && Array.isArray(body.value) ? body.value.filter(isObject) : [];
}

export function columnType(attributeType: string, typeName: string): ColumnType {
  if (typeName === "MultiSelectPicklistType") return "MultiSelectPicklist";
  return COLUMN_TYPES.has(attributeType) ? (attributeType as ColumnType) : "Other";
}

export function requiredLevel(v: unknown): RequiredLevel {
  const s = str(inner(v));
  return s === "SystemRequired" || s === "ApplicationRequired" || s === "Recommended" ? s : "None";
}

export function keyStatus(v: unknown): KeyStatus {
  if (typeof v === "number") return KEY_STATUS[v] ?? "Pending";
  const s = str(v);
  return (KEY_STATUS as readonly string[]).includes(s) ? (s as KeyStatus) : "Pending";
}

export function label(v: unknown): string {
  if (!isObject(v)) return "";
  const user = v.UserLocalizedLabel;
  if (isObject(user) && typeof user.Label === "string") return user.Label;
  const localized = v.LocalizedLabels;
  if (Array.isArray(localized)) {
    const first: unknown = localized[0];
    if (isObject(first) && typeof first.Label === "string") return first.Label;
  }
  return "";
}

export function options(row: Record<string, unknown>): ChoiceOption[] {
  const set = isObject(row.OptionSet) ? row.OptionSet : isObject(row.GlobalOptionSet) ? row.GlobalOptionSet : undefined;
  if (set === undefined || !Array.isArray(set.Options)) return [];
  const out: ChoiceOption[] = [];
  for (const o of set.Options) {
    if (!isObject(o)) continue;
    const value = num(o.Value);
    if (value === undefined) continue;
    const state = num(o.State);
    const defaultStatus = num(o.DefaultStatus);
    out.push({
      value,
      label: label(o.Label),
      ...(state === undefined ? {} : { state }),
      ...(defaultStatus === undefined ? {} : { defaultStatus }),
    });
  }
  return out;
}

export type Detail = Partial<{
  -readonly [K in "maxLength" | "minValue" | "maxValue" | "precision" | "dateTimeBehavior" | "dateTimeFormat" | "options" | "targets"]: ColumnMeta[K];
}>;

/** The casts Microsoft requires for type-specific properties (no cast to EnumAttributeMetadata). */
export const CASTS: readonly { cast: string; query: string; read: (row: Record<string, unknown>) => Detail }[] = [
  { cast: "StringAttributeMetadata", query: "$select=LogicalName,MaxLength,Format", read: (r) => lengthOf(r) },
  { cast: "MemoAttributeMetadata", query: "$select=LogicalName,MaxLength", read: (r) => lengthOf(r) },
  { cast: "IntegerAttributeMetadata", query: "$select=LogicalName,MinValue,MaxValue", read: (r) => range(r) },
  { cast: "BigIntAttributeMetadata", query: "$select=LogicalName,MinValue,MaxValue", read: (r) => range(r) },
  { cast: "DecimalAttributeMetadata", query: "$select=LogicalName,MinValue,MaxValue,Precision", read: (r) => range(r) },
  { cast: "DoubleAttributeMetadata", query: "$select=LogicalName,MinValue,MaxValue,Precision", read: (r) => range(r) },
  { cast: "MoneyAttributeMetadata", query: "$select=LogicalName,MinValue,MaxValue,Precision,PrecisionSource", read: (r) => moneyRange(r) },
  {
    cast: "DateTimeAttributeMetadata",
    query: "$select=LogicalName,Format,DateTimeBehavior",
    read: (r) => {
      const behavior = str(inner(r.DateTimeBehavior));
      const format = str(inner(r.Format));
      const d: Detail = {};
      if (behavior === "UserLocal" || behavior === "DateOnly" || behavior === "TimeZoneIndependent") d.dateTimeBehavior = behavior as DateTimeBehavior;
      if (format !== "") d.dateTimeFormat = format;
      return d;
    },
  },
  {
    cast: "PicklistAttributeMetadata",
    query: "$select=LogicalName&$expand=OptionSet($select=Options),GlobalOptionSet($select=Options)",
    read: (r) => ({ options: options(r) }),
  },
  {
    cast: "MultiSelectPicklistAttributeMetadata",
    query: "$select=LogicalName&$expand=OptionSet($select=Options),GlobalOptionSet($select=Options)",
    read: (r) => ({ options: options(r) }),
  },
  { cast: "StateAttributeMetadata", query: "$select=LogicalName&$expand=OptionSet($select=Options)", read: (r) => ({ options: options(r) }) },
  { cast: "StatusAttributeMetadata", query: "$select=LogicalName&$expand=OptionSet($select=Options)", read: (r) => ({ options: options(r) }) },
  // Customer and Owner columns are LookupAttributeMetadata too, so one cast covers all three.
  {
    cast: "LookupAttributeMetadata",
    query: "$select=LogicalName,Targets",
    read: (r) => ({ targets: Array.isArray(r.Targets) ? r.Targets.filter((t): t is string => typeof t === "string") : [] }),
  },
];

export function lengthOf(r: Record<string, unknown>): Detail {
  const maxLength = num(r.MaxLength);
  return maxLength === undefined ? {} : { maxLength };
}
export function range(r: Record<string, unknown>): Detail {
  const d: Detail = {};
  const min = num(r.MinValue);
  const max = num(r.MaxValue);
  const precision = num(r.Precision);
  if (min !== undefined) d.minValue = min;
  if (max !== undefined) d.maxValue = max;
  if (precision !== undefined) d.precision = precision;
  return d;
}

/**
 * MoneyAttributeMetadata.PrecisionSource: 0 uses the column's Precision; 1 the organization's pricing
 * precision and 2 (the default) the record currency's, neither of which the column states. For those
 * the connector keeps up to Money's 4 decimals and lets the server round to the currency.
 */
export function moneyRange(r: Record<string, unknown>): Detail {
  const d = range(r);
  const source = num(r.PrecisionSource);
  if (source !== 0) d.precision = 4;
  return d;
}
