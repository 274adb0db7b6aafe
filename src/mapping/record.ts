// mapRecord: one record + its stream plan → one Operation, or the list of what is wrong with it.
// Pure: reads only the plan and the record.
import type { LookupBinding, MapResult, Operation, OperationKind, RecordIssue, RowRef, ColumnValue } from "../model/operation.js";
import type { LookupPlan, StreamPlan, TargetResolver, TargetStrategy } from "./plan.js";
import { isMetaField } from "./plan.js";
import { defaultStatusFor, stateOfStatus } from "./choices.js";
import { coerceValue, hasLoneSurrogate } from "./coerce.js";
import type { ColumnMeta } from "../model/table-meta.js";
import { isLookupColumn, readName } from "../model/lookup.js";
import { deterministicId, normalizeGuid } from "./uuid.js";

/** The bindings of a row that sets no lookup: one shared empty list rather than one per row. */
const NO_BINDINGS: readonly LookupBinding[] = Object.freeze([]);

/** RFC 6901 pointer to a top-level field. */
export function fieldPath(field: string): string {
  return `/${field.replace(/~/g, "~0").replace(/\//g, "~1")}`;
}

type Issues = RecordIssue[];

/** Own property only: a record field named "constructor" must not read Object.prototype. */
function own(data: Readonly<Record<string, unknown>>, field: string): unknown {
  return Object.hasOwn(data, field) ? data[field] : undefined;
}

function issue(issues: Issues, field: string, code: string, message: string): void {
  issues.push({ field: fieldPath(field), code, message });
}

const isBlank = (v: unknown): boolean => v === undefined || v === null || (typeof v === "string" && v.trim() === "");

/** A key value coerced to its column's type; keys are never truncated. */
function keyValue(column: ColumnMeta, raw: unknown, field: string, issues: Issues): string | number | undefined {
  if (isLookupColumn(column)) {
    const id = typeof raw === "string" ? normalizeGuid(raw) : undefined;
    if (id === undefined) issue(issues, field, "invalid_guid", `Key column '${column.logicalName}' is a lookup and takes the related row's GUID.`);
    return id;
  }
  const r = coerceValue(column, raw, { truncateStrings: false });
  if (!r.ok) {
    issue(issues, field, r.code, `Key column '${column.logicalName}': ${r.message}`);
    return undefined;
  }
  if (typeof r.value === "string" || typeof r.value === "number") return r.value;
  issue(issues, field, "invalid_key_value", `Key column '${column.logicalName}' needs a text or number value.`);
  return undefined;
}

function deterministicValues(raw: readonly unknown[], field: string, issues: Issues): (string | number | boolean)[] | undefined {
  const out: (string | number | boolean)[] = [];
  for (const v of raw) {
    if (typeof v === "string" && hasLoneSurrogate(v)) {
      // TextEncoder would turn it into U+FFFD, so two different values would share one id.
      issue(issues, field, "invalid_text", "A deterministic id is built from Unicode text; the value holds half of a UTF-16 surrogate pair.");
      return undefined;
    }
    if (typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v))) out.push(v);
    else {
      issue(issues, field, "not_a_scalar", "A deterministic id is built from text, number or boolean values.");
      return undefined;
    }
  }
  return out;
}

function rowRef(plan: StreamPlan, data: Readonly<Record<string, unknown>>, issues: Issues): RowRef | undefined {
  const key = plan.key;
  switch (key.kind) {
    case "none":
      return { kind: "none" };
    case "id": {
      const raw = own(data, key.field);
      if (isBlank(raw)) {
        issue(issues, key.field, "missing_key", `The record has no value in key field '${key.field}'.`);
        return undefined;
      }
      const id = typeof raw === "string" ? normalizeGuid(raw) : undefined;
      if (id === undefined) {
        issue(issues, key.field, "invalid_guid", `Key field '${key.field}' must hold the row's GUID.`);
        return undefined;
      }
      return { kind: "id", id };
    }
    case "deterministic": {
      const raws: unknown[] = [];
      for (const f of key.fields) {
        const v = own(data, f);
        if (isBlank(v)) {
          issue(issues, f, "missing_key", `The record has no value in key field '${f}'.`);
          return undefined;
        }
        raws.push(v);
      }
      const values = deterministicValues(raws, key.fields[0] ?? "", issues);
      return values === undefined ? undefined : { kind: "id", id: deterministicId(values, key.namespace) };
    }
    case "key": {
      // Sized exactly: an array grown by push keeps room for 16 entries, which every row in flight carries.
      const values = new Array<readonly [string, string | number]>(key.parts.length);
      let bad = false;
      for (let k = 0; k < key.parts.length; k++) {
        const part = key.parts[k] as (typeof key.parts)[number];
        const raw = own(data, part.field);
        if (isBlank(raw)) {
          issue(issues, part.field, "missing_key", `The record has no value for key column '${part.column.logicalName}' (key '${key.keyName}').`);
          bad = true;
          continue;
        }
        const v = keyValue(part.column, raw, part.field, issues);
        if (v === undefined) bad = true;
        else values[k] = [readName(part.column), v];
      }
      return bad ? undefined : { kind: "key", values };
    }
  }
}

function lookupRef(strategy: TargetStrategy, raw: unknown, field: string, what: string, issues: Issues): RowRef | undefined {
  switch (strategy.by) {
    case "id": {
      const id = typeof raw === "string" ? normalizeGuid(raw) : undefined;
      if (id === undefined) issue(issues, field, "invalid_guid", `${what} takes the related row's GUID.`);
      return id === undefined ? undefined : { kind: "id", id };
    }
    case "deterministic": {
      const arr = Array.isArray(raw) ? raw : [raw];
      if (arr.length === 0 || arr.some(isBlank)) {
        issue(issues, field, "missing_key", `${what} needs the related row's key values.`);
        return undefined;
      }
      const values = deterministicValues(arr, field, issues);
      return values === undefined ? undefined : { kind: "id", id: deterministicId(values, strategy.namespace) };
    }
    case "key": {
      const cols = strategy.columns;
      const values: (readonly [string, string | number])[] = [];
      if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) {
        const obj = raw as Readonly<Record<string, unknown>>;
        const names = cols.map((c) => c.logicalName);
        const extra = Object.keys(obj).filter((k) => !names.includes(k));
        if (extra.length > 0) {
          issue(issues, field, "lookup_key_mismatch", `${what}: key '${strategy.keyName}' has columns (${names.join(", ")}); the value has others.`);
          return undefined;
        }
        for (const c of cols) {
          const v = obj[c.logicalName];
          if (isBlank(v)) {
            issue(issues, field, "missing_key", `${what}: no value for key column '${c.logicalName}'.`);
            return undefined;
          }
          const kv = keyValue(c, v, field, issues);
          if (kv === undefined) return undefined;
          values.push([readName(c), kv]);
        }
        return { kind: "key", values };
      }
      const only = cols[0];
      if (cols.length !== 1 || only === undefined) {
        issue(issues, field, "lookup_key_mismatch", `${what}: key '${strategy.keyName}' is composite; give an object of column → value.`);
        return undefined;
      }
      if (typeof raw === "string" && raw.trim() === "") {
        issue(issues, field, "missing_key", `${what} needs the related row's key value.`);
        return undefined;
      }
      const kv = keyValue(only, raw, field, issues);
      return kv === undefined ? undefined : { kind: "key", values: [[readName(only), kv]] };
    }
  }
}

function firstResolver(lp: LookupPlan): TargetResolver | undefined {
  for (const r of lp.targets.values()) return r;
  return undefined;
}

function binding(lp: LookupPlan, data: Readonly<Record<string, unknown>>, issues: Issues): LookupBinding | undefined {
  const raw = own(data, lp.field);
  if (raw === undefined) return undefined;
  let resolver: TargetResolver | undefined;
  let tableIssue: (() => void) | undefined;
  if (lp.table !== undefined) resolver = lp.targets.get(lp.table);
  else if (lp.tableField !== undefined) {
    const tf = lp.tableField;
    const t = own(data, tf);
    if (typeof t === "string" && t.trim() !== "") {
      const name = t.trim().toLowerCase();
      // Logical name ("account"), or the entity set name users also meet ("accounts").
      resolver = lp.targets.get(name) ?? [...lp.targets.values()].find((r) => r.entitySet.toLowerCase() === name);
      if (resolver === undefined) {
        tableIssue = () => issue(issues, tf, "lookup_target_invalid", `Lookup '${lp.column}' cannot point at the table named in '${tf}'; it takes ${[...lp.targets.keys()].join(", ")}.`);
      }
    } else {
      tableIssue = () => issue(issues, tf, "missing_lookup_table", `Lookup '${lp.column}' needs the target table's logical name in '${tf}'.`);
    }
  }
  if (raw === null) {
    if (lp.nulls === "ignore") return undefined;
    if (lp.required === true) {
      issue(issues, lp.field, "required_null", `Lookup '${lp.column}' is required by the system and cannot be cleared; the value is null.`);
      return undefined;
    }
    // Clearing: each of a polymorphic lookup's navigation properties clears the one lookup value.
    const nav = (resolver ?? firstResolver(lp))?.navigationProperty;
    return nav === undefined ? undefined : { navigationProperty: nav, column: lp.column, target: null };
  }
  if (tableIssue !== undefined) {
    tableIssue();
    return undefined;
  }
  if (resolver === undefined) return undefined;
  const ref = lookupRef(resolver.strategy, raw, lp.field, `Lookup '${lp.column}' → '${resolver.table}'`, issues);
  if (ref === undefined) return undefined;
  return { navigationProperty: resolver.navigationProperty, column: lp.column, target: { entitySet: resolver.entitySet, table: resolver.table, ref } };
}

/** A refusal, with the record's key when the key fields were fine (see MapResult). */
function refused(plan: StreamPlan, data: Readonly<Record<string, unknown>>, ref: RowRef | undefined, issues: Issues): MapResult {
  if (ref === undefined || ref.kind === "none") return { ok: false, issues };
  if (plan.key.kind === "deterministic") {
    const key: Record<string, string | number | boolean> = {};
    for (const f of plan.key.fields) {
      const v = own(data, f);
      // rowRef built the id, so each is a string, number or boolean; the check only narrows.
      if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") key[f] = v;
    }
    return { ok: false, issues, key };
  }
  return { ok: false, issues, key: ref.kind === "id" ? ref.id : Object.fromEntries(ref.values) };
}

function opKind(plan: StreamPlan, deleted: boolean): OperationKind {
  if (plan.mode === "delete" || plan.mode === "deactivate") return plan.mode;
  return deleted ? plan.deleteAction : plan.mode;
}

export function mapRecord(
  plan: StreamPlan,
  data: Readonly<Record<string, unknown>>,
  options?: { readonly deleted?: boolean },
): MapResult {
  const issues: Issues = [];
  const t = plan.table;
  const kind = opKind(plan, options?.deleted === true);
  const ref = rowRef(plan, data, issues);

  if (kind === "delete" || kind === "deactivate") {
    if (ref?.kind === "none") {
      issues.push({ field: "", code: "missing_key", message: `Stream '${plan.stream}' has no key, so a deleted record cannot be matched to a row.` });
    }
    const columns: Record<string, ColumnValue> = {};
    if (kind === "deactivate") {
      const sc = plan.stateColumn?.logicalName;
      const st = plan.statusColumn?.logicalName;
      if (plan.inactive === undefined || sc === undefined) {
        issues.push({ field: "", code: "cannot_deactivate", message: `Table '${t.logicalName}' has no inactive state to deactivate rows with.` });
      } else {
        columns[sc] = plan.inactive.statecode;
        if (st !== undefined && plan.inactive.statuscode !== undefined) columns[st] = plan.inactive.statuscode;
      }
    }
    if (issues.length > 0 || ref === undefined) return refused(plan, data, ref, issues);
    return { ok: true, operation: { kind, table: t.logicalName, entitySet: t.entitySetName, ref, columns, bindings: NO_BINDINGS }, truncated: [] };
  }

  const columns: Record<string, ColumnValue> = {};
  const sc = plan.stateColumn?.logicalName;
  const st = plan.statusColumn?.logicalName;
  // The field the status reason came from, for the one issue that names it after the fact.
  let statusField: string | undefined;
  const truncated: string[] = [];
  const put = (field: string, column: ColumnMeta, raw: unknown, nulls: "ignore" | "write", delimiter: string | undefined): void => {
    if (raw === undefined) return;
    if (raw === null) {
      // A null primary id means "no id": the server makes one (and a key or id field addresses rows).
      if (column.isPrimaryId === true) return;
      if (nulls === "write") {
        // update-delete-entities-using-web-api: a SystemRequired column "cannot be set to a null value";
        // refused here, by field, rather than by the server for the whole row.
        if (column.requiredLevel === "SystemRequired") {
          issue(issues, field, "required_null", `Column '${column.logicalName}' is required by the system and cannot be cleared; the value is null.`);
          return;
        }
        columns[column.logicalName] = null;
        if (column.logicalName === st) statusField = field;
      }
      return;
    }
    const r = coerceValue(column, raw, { truncateStrings: plan.truncateStrings, delimiter });
    if (!r.ok) {
      issue(issues, field, r.code, r.message);
      return;
    }
    columns[column.logicalName] = r.value;
    if (column.logicalName === st) statusField = field;
    if (r.truncated) truncated.push(field);
  };
  for (const cp of plan.columns) put(cp.field, cp.column, own(data, cp.field), cp.nulls, cp.delimiter);
  if (plan.passthrough.size > 0) {
    for (const name in data) {
      const column = plan.passthrough.get(name);
      if (column !== undefined && !Object.hasOwn(columns, name)) put(name, column, data[name], plan.nulls, undefined);
    }
  }

  const bindings: LookupBinding[] = [];
  for (const lp of plan.lookups) {
    const b = binding(lp, data, issues);
    if (b !== undefined) bindings.push(b);
  }
  for (const [name, lp] of plan.passthroughLookups) {
    if (!Object.hasOwn(data, name)) continue;
    const b = binding(lp, data, issues);
    if (b !== undefined) bindings.push(b);
  }

  // Statecode/statuscode: a pair must agree (status option's State); a state alone gets its
  // default status, since Microsoft asks to set statuscode whenever statecode is set.
  const state = sc === undefined ? undefined : columns[sc];
  const status = st === undefined ? undefined : columns[st];
  if (typeof state === "number" && typeof status === "number" && st !== undefined) {
    if (stateOfStatus(plan.statusColumn, status) !== state) {
      issue(issues, statusField ?? st, "status_state_mismatch", `Status reason '${st}' does not belong to the given state '${sc}'.`);
    }
  } else if (typeof state === "number" && status === undefined && st !== undefined) {
    const d = defaultStatusFor(plan.stateColumn, plan.statusColumn, state);
    if (d !== undefined) columns[st] = d;
  }

  if (issues.length > 0 || ref === undefined) return refused(plan, data, ref, issues);
  const operation: Operation = { kind, table: t.logicalName, entitySet: t.entitySetName, ref, columns, bindings: bindings.length === 0 ? NO_BINDINGS : bindings };
  return { ok: true, operation, truncated };
}

/**
 * Tables this plan's lookups point at, other than its own (self-references need no ordering).
 * A lookup column inside the alternate key counts too: its GUID names a row that must exist
 * before ours is written, although no binding carries it.
 */
export function lookupTargets(plan: StreamPlan): readonly string[] {
  const out = new Set<string>();
  for (const lp of [...plan.lookups, ...plan.passthroughLookups.values()]) {
    for (const t of lp.targets.keys()) if (t !== plan.table.logicalName) out.add(t);
  }
  if (plan.key.kind === "key") {
    for (const part of plan.key.parts) {
      const c = part.column;
      if (!isLookupColumn(c)) continue;
      for (const t of c.targets ?? []) if (t !== plan.table.logicalName) out.add(t);
    }
  }
  return [...out];
}

/**
 * Whether a record field is one the plan does not write and does not use: neither mapped, nor a
 * key or table field, nor a column usable under its own name for this write mode (so a read-only
 * column counts too). Bookkeeping fields (_ab_*, _airbyte_*, _sdc_*) never do. The pipeline reports
 * them once per stream.
 */
export function isUnknownField(plan: StreamPlan, field: string): boolean {
  return !isMetaField(field) && !plan.knownFields.has(field);
}
