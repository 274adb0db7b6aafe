// Choice (option set) values: option values or labels in; option values out. State/Status pairs.
import type { ChoiceOption, ColumnMeta, TableMeta } from "../model/table-meta.js";

export type ChoiceResult =
  | { readonly ok: true; readonly value: number }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** Dataverse's cap on selected options in one multi-select value (multi-select-picklist docs). */
export const MAX_MULTI_SELECT = 150;

function fold(label: string): string {
  // NFC + locale-independent lower case: labels are in the environment's base language, which may
  // be any language, so no locale-specific rules (Turkish dotless i) are applied.
  return label.normalize("NFC").trim().toLowerCase();
}

function byValue(options: readonly ChoiceOption[], value: number): ChoiceOption | undefined {
  return options.find((o) => o.value === value);
}

/**
 * Numbers are option values; numeric strings are option values too (a label made only of digits
 * is therefore unreachable by label, which is the lesser evil than guessing); other strings are
 * labels, matched trimmed and case-insensitively.
 */
export function resolveChoice(column: ColumnMeta, raw: unknown): ChoiceResult {
  const options = column.options ?? [];
  const col = column.logicalName;
  if (typeof raw === "number") {
    if (!Number.isInteger(raw)) return { ok: false, code: "unknown_choice", message: `Column '${col}' takes whole option values; the value has a fraction.` };
    return byValue(options, raw) !== undefined
      ? { ok: true, value: raw }
      : { ok: false, code: "unknown_choice", message: `Column '${col}' has no option with this value.` };
  }
  if (typeof raw !== "string") {
    return { ok: false, code: "not_a_choice", message: `Column '${col}' takes an option value or label (number or string).` };
  }
  const s = raw.trim();
  if (/^[+-]?\d+$/.test(s)) return resolveChoice(column, Number(s));
  const key = fold(s);
  const hits = options.filter((o) => fold(o.label) === key);
  if (hits.length === 1 && hits[0] !== undefined) return { ok: true, value: hits[0].value };
  if (hits.length > 1) return { ok: false, code: "ambiguous_choice", message: `Column '${col}' has several options with this label; send the option value.` };
  return { ok: false, code: "unknown_choice", message: `Column '${col}' has no option with this label.` };
}

export type MultiChoiceResult =
  | { readonly ok: true; readonly value: string | null }
  | { readonly ok: false; readonly code: string; readonly message: string };

/**
 * Arrays, or strings split on the configured delimiter (default: either "," or ";", the two
 * separators users meet: Dataverse writes values with "," and formats labels with ";").
 * Written as Dataverse's comma-separated option values, duplicates removed, order kept. An empty
 * selection is written as null, which is how Dataverse represents "nothing selected".
 */
export function resolveMultiChoice(column: ColumnMeta, raw: unknown, delimiter: string | undefined): MultiChoiceResult {
  let items: unknown[];
  if (Array.isArray(raw)) items = raw;
  else if (typeof raw === "string") {
    const parts = delimiter === undefined ? raw.split(/[,;]/) : raw.split(delimiter);
    items = parts.map((p) => p.trim()).filter((p) => p !== "");
  } else if (typeof raw === "number") items = [raw];
  else return { ok: false, code: "not_a_choice", message: `Column '${column.logicalName}' takes an array or a delimited string of options.` };
  const values: number[] = [];
  for (const item of items) {
    const r = resolveChoice(column, item);
    if (!r.ok) return r;
    if (!values.includes(r.value)) values.push(r.value);
  }
  if (values.length > MAX_MULTI_SELECT) {
    return { ok: false, code: "too_many_choices", message: `Column '${column.logicalName}' accepts at most ${MAX_MULTI_SELECT} selected options.` };
  }
  return { ok: true, value: values.length === 0 ? null : values.join(",") };
}

export interface StatePair {
  readonly statecode: number;
  readonly statuscode?: number;
}

export function stateColumn(table: TableMeta): ColumnMeta | undefined {
  for (const c of table.columns.values()) if (c.type === "State") return c;
  return undefined;
}

export function statusColumn(table: TableMeta): ColumnMeta | undefined {
  for (const c of table.columns.values()) if (c.type === "Status") return c;
  return undefined;
}

/** The default status of a state: the state option's DefaultStatus, else the first status option of that state. */
export function defaultStatusFor(state: ColumnMeta | undefined, status: ColumnMeta | undefined, statecode: number): number | undefined {
  const option = state?.options?.find((o) => o.value === statecode);
  if (option?.defaultStatus !== undefined) return option.defaultStatus;
  return status?.options?.find((o) => o.state === statecode)?.value;
}

/** The state a status belongs to, from the status option's State. */
export function stateOfStatus(status: ColumnMeta | undefined, statuscode: number): number | undefined {
  return status?.options?.find((o) => o.value === statuscode)?.state;
}

/**
 * The inactive state for deactivation: the state whose label is "Inactive" (case-insensitive),
 * else value 1 (Inactive on every standard table), with that state's default status.
 */
export function inactiveState(table: TableMeta): StatePair | undefined {
  const col = stateColumn(table);
  if (col === undefined) return undefined;
  const options = col.options ?? [];
  const state = options.find((o) => fold(o.label) === "inactive") ?? options.find((o) => o.value === 1);
  if (state === undefined) return undefined;
  const status = defaultStatusFor(col, statusColumn(table), state.value);
  return status === undefined ? { statecode: state.value } : { statecode: state.value, statuscode: status };
}
