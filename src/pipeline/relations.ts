// The relationship streams of a sync (membership and many-to-many, relation-sink.ts): planned before
// the first record (the list found, or created static of its member type; the relationship found
// in the metadata), fed their records by the loop, flushed before every state so the state counts
// them, and finished (removals, summary) before the row streams' end. Their records hold checkpoint
// tickets of the Sync's ledger, so states go out as for every stream.
import { ConfigError } from "../config/errors.js";
import type { ResolvedRelation } from "../config/catalog.js";
import type { RelationConfig, RelationSide, WriteSettings } from "../config/types.js";
import { sideKeyColumns } from "../mapping/relation-ref.js";
import type { TableMeta } from "../model/table-meta.js";
import type { JsonObject, StreamDescriptor, StreamStatus } from "../protocol/airbyte.js";
import { streamKey } from "../protocol/airbyte.js";
import type { Output } from "../protocol/emit.js";
import { LIST_MEMBER_TYPES, type ListInfo, type RelationsApi } from "../dataverse/relations.js";
import type { DeadLetterSink } from "./deadletter.js";
import { PipelineError } from "./errors.js";
import { RelationSink, type PlannedSide, type RelationPlan, type RejectReport, type Settle } from "./relation-sink.js";

export interface RelationsOptions {
  readonly api: RelationsApi;
  readonly tables: { loadTable(logicalName: string): Promise<TableMeta> };
  readonly output: Output;
  readonly settings: WriteSettings;
  /** Opens a checkpoint ticket for a record of the stream (the Sync's ledger). */
  readonly open: (d: StreamDescriptor) => Settle;
  readonly deadLetter?: DeadLetterSink;
}

/** What planning needs: reads, and a list created when a sync (not check) finds none. */
type PlanDeps = Pick<RelationsOptions, "api" | "tables" | "output">;

function fail(stream: string, message: string): ConfigError {
  return new ConfigError("relation_invalid", `stream "${stream}": ${message}`, [], { stream });
}

async function plannedSide(o: PlanDeps, stream: string, side: Pick<RelationSide, "key" | "sourceFields">, tableName: string): Promise<PlannedSide> {
  const table = await o.tables.loadTable(tableName);
  const columns = sideKeyColumns(side, table);
  if (side.key.kind === "alternate_key" && columns === undefined) throw fail(stream, `table ${tableName} has no alternate key named ${side.key.name}`);
  if (side.key.kind === "columns") {
    const missing = side.key.columns.filter((c) => !table.columns.has(c));
    if (missing.length > 0) throw fail(stream, `table ${tableName} has no column ${missing.join(", ")}`);
  }
  return { table, config: side, select: [table.primaryIdAttribute, ...(columns ?? [])] };
}

/** The list a membership stream keeps: found by id or name (created when the name is new), checked usable. */
async function planList(o: PlanDeps, stream: string, relation: Extract<RelationConfig, { kind: "membership" }>, create = true): Promise<ListInfo> {
  const wanted = relation.memberTable === undefined ? undefined : LIST_MEMBER_TYPES[relation.memberTable];
  let list: ListInfo | undefined;
  if (relation.list.kind === "id") {
    list = await o.api.list(relation.list.id);
    if (list === undefined) throw fail(stream, `no marketing list has the id ${relation.list.id}`);
  } else {
    const name = relation.list.name;
    const found = await o.api.listsNamed(name);
    if (found.length > 1) throw fail(stream, `${found.length} marketing lists are named "${name}"; name the one to use by list_id`);
    list = found[0];
    if (list === undefined) {
      if (wanted === undefined) throw fail(stream, `no marketing list is named "${name}"; give member_table (account, contact or lead) to have it created`);
      // check: the list a sync would create, as it would be.
      if (!create) return { id: "", name, dynamic: false, locked: false, memberTypeCode: wanted, active: true };
      list = await o.api.createList(name, wanted);
      await o.output.log("INFO", `stream "${stream}": created the static marketing list "${name}" of ${relation.memberTable ?? ""} members`);
    }
  }
  if (list.dynamic) throw fail(stream, `the marketing list "${list.name}" is dynamic: its members come from its query and cannot be kept from a stream`);
  if (list.locked) throw fail(stream, `the marketing list "${list.name}" is locked: no members can be added to it`);
  if (!list.active) throw fail(stream, `the marketing list "${list.name}" is inactive, and inactive lists are read-only`);
  if (wanted !== undefined && list.memberTypeCode !== wanted) {
    const actual = Object.entries(LIST_MEMBER_TYPES).find(([, code]) => code === list.memberTypeCode)?.[0] ?? String(list.memberTypeCode);
    throw fail(stream, `the marketing list "${list.name}" holds ${actual} members, not ${relation.memberTable ?? ""}`);
  }
  return list;
}

async function plan(o: PlanDeps, r: ResolvedRelation, create = true): Promise<RelationPlan> {
  const stream = r.stream.name;
  const relation = r.relation;
  if (relation.kind === "membership") {
    const list = await planList(o, stream, relation, create);
    const memberTable = Object.entries(LIST_MEMBER_TYPES).find(([, code]) => code === list.memberTypeCode)?.[0];
    if (memberTable === undefined) throw fail(stream, `the marketing list "${list.name}" has an unknown member type ${list.memberTypeCode}`);
    const nav = (await o.api.manyToMany("list")).find((m) => m.entity1 === "list" && m.entity2 === memberTable);
    if (nav === undefined) throw fail(stream, `the list table has no many-to-many relationship with ${memberTable}`);
    return { kind: "membership", list, member: await plannedSide(o, stream, relation.member, memberTable), nav: nav.entity1Nav };
  }
  const meta = (await o.api.manyToMany(relation.from.table)).find((m) => m.schemaName === relation.name);
  if (meta === undefined) throw fail(stream, `table ${relation.from.table} has no many-to-many relationship named ${relation.name}`);
  const fromIs1 = meta.entity1 === relation.from.table && meta.entity2 === relation.to.table;
  const fromIs2 = meta.entity2 === relation.from.table && meta.entity1 === relation.to.table;
  if (!fromIs1 && !fromIs2) throw fail(stream, `the relationship ${relation.name} relates ${meta.entity1} and ${meta.entity2}, not ${relation.from.table} and ${relation.to.table}`);
  return {
    kind: "relationship",
    name: relation.name,
    from: await plannedSide(o, stream, relation.from, relation.from.table),
    to: await plannedSide(o, stream, relation.to, relation.to.table),
    nav: fromIs1 ? meta.entity1Nav : meta.entity2Nav,
  };
}

/**
 * `check`: plans each relationship stream as a sync would, writing nothing (a list that does not
 * exist yet is reported as to be created); the problems, one sentence each.
 */
export async function checkRelations(o: PlanDeps, resolved: readonly ResolvedRelation[]): Promise<string[]> {
  const problems: string[] = [];
  for (const r of resolved) {
    try {
      await plan(o, r, false);
    } catch (err) {
      if (err instanceof ConfigError) problems.push(err.message);
      else if (err instanceof Error && err.name === "TableNotFoundError") problems.push(`stream "${r.stream.name}": ${err.message}`);
      else throw err;
    }
  }
  return problems;
}

/** What the router (sync.ts) asks of the relationship streams. */
export interface RelationStreams {
  has(d: StreamDescriptor): boolean;
  record(d: StreamDescriptor, data: JsonObject, line: number): Promise<void> | undefined;
  flush(): Promise<void>;
  streamStatus(d: StreamDescriptor, status: StreamStatus): void;
  finish(): Promise<void>;
}

/** A dry run previews rows, not relationships: the relationship streams' records are passed over. */
export function skippedRelations(streams: readonly StreamDescriptor[]): RelationStreams {
  const keys = new Set(streams.map(streamKey));
  return {
    has: (d) => keys.has(streamKey(d)),
    record: () => undefined,
    flush: () => Promise.resolve(),
    streamStatus: () => undefined,
    finish: () => Promise.resolve(),
  };
}

export class Relations implements RelationStreams {
  readonly #o: RelationsOptions;
  readonly #sinks = new Map<string, RelationSink>();
  readonly #codesSeen = new Set<string>();
  #read = 0;
  #rejected = 0;

  private constructor(o: RelationsOptions) {
    this.#o = o;
  }

  /** Plans every relationship stream and reads each list's members; any problem fails here. */
  static async open(o: RelationsOptions, resolved: readonly ResolvedRelation[]): Promise<Relations> {
    const relations = new Relations(o);
    for (const r of resolved) await relations.add(r);
    return relations;
  }

  async add(r: ResolvedRelation): Promise<void> {
    const key = streamKey(r.stream);
    if (this.#sinks.has(key)) return;
    const p = await plan(this.#o, r);
    const sink: RelationSink = new RelationSink(r.stream, r.relation, p, {
      api: this.#o.api,
      open: () => this.#o.open(r.stream),
      reject: (report: RejectReport): Promise<void> => this.#report(sink, report),
      batchSize: this.#o.settings.batchSize,
      keepRecords: this.#o.deadLetter !== undefined && this.#o.settings.deadLetterIncludeRecord,
    });
    await sink.load();
    this.#sinks.set(key, sink);
  }

  has(d: StreamDescriptor): boolean {
    return this.#sinks.has(streamKey(d));
  }

  record(d: StreamDescriptor, data: JsonObject, line: number): Promise<void> | undefined {
    const sink = this.#sinks.get(streamKey(d));
    if (sink === undefined) return undefined;
    this.#read++;
    return sink.record(data, line);
  }

  streamStatus(d: StreamDescriptor, status: StreamStatus): void {
    const sink = this.#sinks.get(streamKey(d));
    if (sink !== undefined) sink.status = status;
  }

  /** Sends every pending record, so a state that follows counts them. */
  async flush(): Promise<void> {
    for (const sink of this.#sinks.values()) await sink.flush();
  }

  /** End of a clean input: flush, remove what remove_missing asks for, log each stream's summary. */
  async finish(): Promise<void> {
    await this.flush();
    for (const sink of this.#sinks.values()) {
      const skipped = await sink.removeMissing(sink.status === "COMPLETE");
      if (skipped !== undefined) await this.#o.output.log("WARN", `stream "${sink.name}": remove_missing: ${skipped}`);
      const s = sink.stats;
      const target = sink.plan.kind === "membership" ? `marketing list "${sink.plan.list.name}"` : `relationship ${sink.plan.name}`;
      await this.#o.output.log(
        "INFO",
        `stream "${sink.name}" → ${target}: ${s.read} records, ${s.added} added, ${s.present} already present, ${s.removed} removed, ${s.rejected} rejected`,
      );
    }
  }

  summaries(): { readonly stream: string; readonly stats: RelationSink["stats"] }[] {
    return [...this.#sinks.values()].map((s) => ({ stream: s.name, stats: s.stats }));
  }

  async #report(sink: RelationSink, report: RejectReport): Promise<void> {
    this.#rejected++;
    const code = `${sink.name}\u0000${report.issue.code}`;
    if (!this.#codesSeen.has(code)) {
      this.#codesSeen.add(code);
      await this.#o.output.log(
        "WARN",
        `stream "${sink.name}": record at line ${report.line} rejected${report.issue.field !== "" ? ` at ${report.issue.field}` : ""}: ${report.issue.message} (${report.issue.code}); further rejections with this code are counted in the summary`,
      );
    }
    await this.#o.deadLetter?.write({
      stream: sink.name,
      ...(sink.descriptor.namespace !== undefined ? { namespace: sink.descriptor.namespace } : {}),
      line: report.line,
      ...(report.issue.field !== "" ? { field: report.issue.field } : {}),
      code: report.issue.code,
      message: report.issue.message,
      ...(report.status !== undefined ? { status: report.status } : {}),
      ...(report.record !== undefined ? { record: report.record } : {}),
    });
    const share = this.#o.settings.maxRejectedShare;
    if (this.#read >= 100 && this.#rejected / this.#read > share) {
      throw new PipelineError(
        "too_many_rejections",
        `${this.#rejected} of ${this.#read} records of relationship streams were rejected, more than max_rejected_share (${share}); see the warnings above for the reasons`,
        "config_error",
      );
    }
  }
}
