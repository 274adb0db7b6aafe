// Mirror mode: after a full-refresh overwrite stream completed, remove the rows
// this connector wrote that were not in this sync. Destructive, so every choice here leans towards
// leaving a row alone: keys compare as Dataverse matches alternate keys (model/key-identity.ts, under
// the environment's collation; the looser _CI_AI when it is unknown), a row whose key cannot be read
// is kept, a stream with records that mapping rejected (their keys are
// unknown, so their rows cannot be told apart) is skipped, and a run that would remove more than
// the configured share of the in-scope rows removes nothing and fails.
//
// It needs both the Dataverse reader and the mapping plan, hence pipeline/.
import type { MirrorConfig } from "../config/types.js";
import type { ColumnMeta, ColumnType } from "../model/table-meta.js";
import { isGuid } from "../model/guid.js";
import { keyIdentity, tableCollation } from "../model/key-identity.js";
import { lookupValueName, readName } from "../model/lookup.js";
import type { WriteOptions, Writer } from "../model/writer.js";
import type { Operation, RowRef } from "../model/operation.js";
import type { StreamPlan } from "../mapping/plan.js";
import { PipelineError } from "./errors.js";

/** What runMirror reads through; DataverseClient fits. */
export interface MirrorReader {
  query(
    entitySet: string,
    options?: { readonly select?: readonly string[]; readonly filter?: string; readonly maxPageSize?: number },
  ): AsyncIterable<readonly Readonly<Record<string, unknown>>[]>;
  whoAmI(): Promise<{ readonly userId: string }>;
}

export interface MirrorDeps {
  readonly reader: MirrorReader;
  readonly writer: Writer;
  readonly writeOptions?: WriteOptions;
  /** Rows per writer call; default 1000. */
  readonly batchSize?: number;
}

export type MirrorResult =
  | {
      readonly kind: "done";
      /** Rows matching the scope (owner or marker). */
      readonly inScope: number;
      /** Rows removed (deleted or deactivated). */
      readonly removed: number;
      /** Removals Dataverse refused, by error code ("http_<status>" when it gave none). */
      readonly failed: ReadonlyMap<string, number>;
      /** In-scope rows whose key columns are empty: never removed, since no record could match them. */
      readonly unmatchable: number;
    }
  | { readonly kind: "skipped"; readonly reason: string };

export class MirrorError extends PipelineError {}

const NUMERIC: ReadonlySet<ColumnType> = new Set<ColumnType>(["Integer", "BigInt", "Decimal", "Double", "Money", "Picklist", "State", "Status"]);

/** Key columns as a RowRef names them (`_x_value` for a lookup inside a key), with their types. */
function keyColumns(plan: StreamPlan): { readonly name: string; readonly type: ColumnType }[] | undefined {
  if (plan.key.kind !== "key") return undefined;
  return plan.key.parts.map((p) => ({ name: readName(p.column), type: p.column.type }));
}

/** The canonical string of a row reference; undefined for a keyless create (nothing to match). */
export function refKey(plan: StreamPlan, ref: RowRef): string | undefined {
  switch (ref.kind) {
    case "none":
      return undefined;
    case "id":
      return isGuid(ref.id) ? `id:${ref.id.toLowerCase()}` : undefined;
    case "key": {
      const types = new Map((keyColumns(plan) ?? []).map((c) => [c.name, c.type]));
      const identity = keyIdentity(ref.values, (column) => types.get(column), tableCollation(plan.table));
      return identity === undefined ? undefined : `key:${identity}`;
    }
  }
}

/** The canonical key of a row read back from Dataverse, in refKey's form; undefined when its key columns are empty. */
export function rowKey(plan: StreamPlan, row: Readonly<Record<string, unknown>>): string | undefined {
  const cols = keyColumns(plan);
  if (cols === undefined) {
    const id = row[plan.table.primaryIdAttribute];
    return typeof id === "string" && isGuid(id) ? `id:${id.toLowerCase()}` : undefined;
  }
  const types = new Map(cols.map((c) => [c.name, c.type]));
  const identity = keyIdentity(
    cols.map((c) => [c.name, row[c.name]] as const),
    (column) => types.get(column),
    tableCollation(plan.table),
  );
  return identity === undefined ? undefined : `key:${identity}`;
}

/**
 * The keys of one stream's records in this sync. A Set in memory: it grows with the number of
 * distinct keys, which is bounded by the table's size (a full refresh sends each row once), not by
 * the length of the input; at ~100 bytes a key, a million rows cost ~100 MB.
 */
export class MirrorTracker {
  readonly #plan: StreamPlan;
  readonly #keys = new Set<string>();
  #unkeyed = 0;

  constructor(plan: StreamPlan) {
    this.#plan = plan;
  }

  /** A record of the stream mapped to this row reference (call it whether or not the write succeeded). */
  add(ref: RowRef): void {
    const key = refKey(this.#plan, ref);
    if (key === undefined) this.#unkeyed += 1;
    else this.#keys.add(key);
  }

  /** A record whose row reference is unknown (rejected by mapping): its row may exist and must be kept. */
  noteUnkeyed(): void {
    this.#unkeyed += 1;
  }

  has(row: Readonly<Record<string, unknown>>): boolean {
    const key = rowKey(this.#plan, row);
    return key !== undefined && this.#keys.has(key);
  }

  get size(): number {
    return this.#keys.size;
  }

  get unkeyed(): number {
    return this.#unkeyed;
  }
}

/** Problems that make mirror unusable for this plan, to report before the first record. */
export function mirrorIssues(plan: StreamPlan, mirror: MirrorConfig): string[] {
  if (!mirror.enabled) return [];
  const out: string[] = [];
  if (plan.key.kind === "none") out.push("mirror needs a key (alternate key, id field or deterministic id) to tell which rows were in the sync");
  out.push(...mirrorSettingIssues(plan, mirror));
  return out;
}

/**
 * The part of mirrorIssues that depends only on the configuration and the table, not on the key
 * (which the catalog's primary_key may still supply): what `check` can report without a catalog.
 */
export function mirrorSettingIssues(plan: StreamPlan, mirror: MirrorConfig): string[] {
  const out: string[] = [];
  if (!mirror.enabled) return out;
  if (!(mirror.maxDeleteShare >= 0 && mirror.maxDeleteShare <= 1)) out.push("mirror max_delete_share must be between 0 and 1");
  if (mirror.action === "deactivate" && plan.inactive === undefined) out.push(`mirror action deactivate: table ${plan.table.logicalName} has no inactive state`);
  if (mirror.scope.kind === "owner" && !plan.table.columns.has("ownerid")) out.push(`mirror scope owner: table ${plan.table.logicalName} has no owner (organization-owned); use a marker column`);
  if (mirror.scope.kind === "marker") {
    const column = plan.table.columns.get(mirror.scope.column);
    if (column === undefined) out.push(`mirror marker column ${mirror.scope.column} is not a column of table ${plan.table.logicalName}`);
    else if (markerLiteral(column, mirror.scope.value) === undefined) out.push(`mirror marker value does not fit the type of column ${column.logicalName} (${column.type})`);
  }
  return out;
}

/** The marker value as an OData literal of its column's type (not yet URL-encoded). */
function markerLiteral(column: ColumnMeta, value: string): string | undefined {
  switch (column.type) {
    case "String":
    case "Memo":
      return `'${value.replace(/'/g, "''")}'`;
    case "Boolean": {
      const v = value.trim().toLowerCase();
      return v === "true" || v === "false" ? v : undefined;
    }
    case "Uniqueidentifier":
      return isGuid(value) ? value.toLowerCase() : undefined;
    default:
      return NUMERIC.has(column.type) && /^-?\d+(\.\d+)?$/.test(value.trim()) ? value.trim() : undefined;
  }
}

async function scopeFilter(reader: MirrorReader, plan: StreamPlan, mirror: MirrorConfig): Promise<string> {
  if (mirror.scope.kind === "owner") {
    const me = (await reader.whoAmI()).userId;
    if (!isGuid(me)) throw new MirrorError("mirror_scope_unknown", "mirror: WhoAmI gave no user id, so the rows this connector owns cannot be told apart; nothing was removed", "system_error");
    return `${lookupValueName("ownerid")} eq ${me.toLowerCase()}`;
  }
  const column = plan.table.columns.get(mirror.scope.column);
  const literal = column === undefined ? undefined : markerLiteral(column, mirror.scope.value);
  if (column === undefined || literal === undefined) {
    throw new MirrorError("mirror_marker_invalid", `mirror: marker column ${mirror.scope.column} is not usable on table ${plan.table.logicalName}; nothing was removed`, "config_error", { stream: plan.stream });
  }
  return `${column.logicalName} eq ${literal}`;
}

function removal(plan: StreamPlan, action: MirrorConfig["action"], id: string): Operation {
  const table = plan.table;
  const base = { table: table.logicalName, entitySet: table.entitySetName, ref: { kind: "id", id } as const, bindings: [] };
  if (action === "delete") return { kind: "delete", ...base, columns: {} };
  const columns: Record<string, number> = {};
  const sc = plan.stateColumn?.logicalName;
  const st = plan.statusColumn?.logicalName;
  if (plan.inactive !== undefined && sc !== undefined) {
    columns[sc] = plan.inactive.statecode;
    if (st !== undefined && plan.inactive.statuscode !== undefined) columns[st] = plan.inactive.statuscode;
  }
  return { kind: "deactivate", ...base, columns };
}

/**
 * Removes the in-scope rows of the plan's table that are not in the tracker. Call it only after the
 * stream's COMPLETE status, once every record of the stream is settled and the sync has not failed.
 * Throws MirrorError (nothing removed) when the removals would pass `maxDeleteShare` of the in-scope
 * rows; writer failures that are not about one row propagate as the writer throws them.
 */
export async function runMirror(deps: MirrorDeps, plan: StreamPlan, tracker: MirrorTracker, mirror: MirrorConfig): Promise<MirrorResult> {
  if (!mirror.enabled) return { kind: "skipped", reason: "mirror is not enabled" };
  const problems = mirrorIssues(plan, mirror);
  if (problems.length > 0) throw new MirrorError("mirror_invalid", `mirror cannot run for stream "${plan.stream}": ${problems.join("; ")}; nothing was removed`, "config_error", { stream: plan.stream });
  if (tracker.unkeyed > 0) {
    return { kind: "skipped", reason: `${tracker.unkeyed} record(s) of the stream were rejected before their key was known, so rows still in the source cannot be told apart; nothing was removed` };
  }
  const table = plan.table;
  const filter = await scopeFilter(deps.reader, plan, mirror);
  const select = new Set<string>([table.primaryIdAttribute, ...(keyColumns(plan) ?? []).map((c) => c.name)]);
  const state = plan.stateColumn?.logicalName;
  const inactive = plan.inactive?.statecode;
  if (mirror.action === "deactivate" && state !== undefined) select.add(state);

  let inScope = 0;
  let unmatchable = 0;
  const missing: string[] = [];
  for await (const page of deps.reader.query(table.entitySetName, { select: [...select], filter, maxPageSize: 5000 })) {
    for (const row of page) {
      inScope += 1;
      const id = row[table.primaryIdAttribute];
      if (typeof id !== "string" || !isGuid(id)) continue;
      if (rowKey(plan, row) === undefined) {
        unmatchable += 1;
        continue;
      }
      if (tracker.has(row)) continue;
      // An already inactive row needs no second deactivation, and would make every rerun count it.
      if (mirror.action === "deactivate" && state !== undefined && row[state] === inactive) continue;
      missing.push(id.toLowerCase());
    }
  }

  if (missing.length === 0) return { kind: "done", inScope, removed: 0, failed: new Map(), unmatchable };
  const share = missing.length / inScope;
  if (share > mirror.maxDeleteShare) {
    throw new MirrorError(
      "mirror_cap_exceeded",
      `mirror for stream "${plan.stream}" would remove ${missing.length} of ${inScope} in-scope rows of ${table.logicalName} (${(share * 100).toFixed(1)}%), more than max_delete_share (${(mirror.maxDeleteShare * 100).toFixed(1)}%); nothing was removed. Check that the source sent the whole table, or raise max_delete_share`,
      "config_error",
      { stream: plan.stream },
    );
  }

  const batchSize = Math.max(1, deps.batchSize ?? 1000);
  let removed = 0;
  const failed = new Map<string, number>();
  for (let i = 0; i < missing.length; i += batchSize) {
    const ops = missing.slice(i, i + batchSize).map((id) => removal(plan, mirror.action, id));
    const outcomes = await deps.writer.write(ops, deps.writeOptions);
    for (const o of outcomes) {
      if (o.ok) removed += 1;
      else {
        const code = o.code === "" ? `http_${o.status}` : o.code;
        failed.set(code, (failed.get(code) ?? 0) + 1);
      }
    }
  }
  return { kind: "done", inScope, removed, failed, unmatchable };
}
