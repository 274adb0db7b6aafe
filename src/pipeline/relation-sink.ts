// One relationship stream's sink: its records name list members, or pairs of a
// many-to-many relationship, and it keeps Dataverse's relationship equal to them. Records are
// batched; a flush finds or adds what is missing and settles each record (committed: added or
// already there; rejected: a key that matches no row). At the end of a complete sync, with
// remove_missing, the members (pairs) this sync did not name are removed, within the same share cap
// as mirror. Its requests are dataverse/relations.ts's.
import type { RelationConfig } from "../config/types.js";
import type { RecordIssue, RowRef } from "../model/operation.js";
import type { TableMeta } from "../model/table-meta.js";
import { idIdentity, keyValuesIdentity, refIdentity, sideKeyColumns, sideRef } from "../mapping/relation-ref.js";
import type { JsonObject, StreamDescriptor } from "../protocol/airbyte.js";
import { entityPath } from "../dataverse/keys.js";
import type { ListInfo, PartOutcome, RelationsApi } from "../dataverse/relations.js";
import { PipelineError } from "./errors.js";

export type Settle = (outcome: "written" | "rejected") => void;

/** What a relationship stream counts; the summary line shows them. */
export interface RelationStats {
  read: number;
  added: number;
  present: number;
  removed: number;
  rejected: number;
}

/** One end of the relationship, resolved against the metadata. */
export interface PlannedSide {
  readonly table: TableMeta;
  readonly config: Pick<Extract<RelationConfig, { kind: "relationship" }>["from"], "key" | "sourceFields">;
  /** Columns read back to recognise a row: its id and its key columns. */
  readonly select: readonly string[];
}

export type RelationPlan =
  | { readonly kind: "membership"; readonly list: ListInfo; readonly member: PlannedSide; readonly nav: string }
  | { readonly kind: "relationship"; readonly name: string; readonly from: PlannedSide; readonly to: PlannedSide; readonly nav: string };

export interface RejectReport {
  readonly line: number;
  readonly issue: RecordIssue;
  readonly record?: JsonObject;
  readonly status?: number;
}

export interface SinkHooks {
  readonly api: RelationsApi;
  /** Opens the record's checkpoint ticket. */
  readonly open: () => Settle;
  /** Reports one rejection (log once per code, dead letter); awaited before its ticket settles. */
  readonly reject: (report: RejectReport) => Promise<void>;
  readonly batchSize: number;
  readonly keepRecords: boolean;
}

interface Pending {
  readonly line: number;
  readonly settle: Settle;
  readonly record?: JsonObject;
  readonly ref: RowRef;
  readonly identity: string;
  /** Relationship streams: the from row. */
  readonly fromRef?: RowRef;
  readonly fromIdentity?: string;
}

/** Identities a row read back answers to: its GUID, and its key values when the side has a key. */
function rowIdentities(side: PlannedSide, row: Readonly<Record<string, unknown>>): string[] {
  const out: string[] = [];
  const id = row[side.table.primaryIdAttribute];
  if (typeof id === "string") out.push(idIdentity(id));
  const columns = sideKeyColumns(side.config, side.table);
  if (columns !== undefined && columns.length > 0) {
    const k = keyValuesIdentity(side.table, columns.map((c) => [c, row[c]] as const));
    if (k !== undefined) out.push(k);
  }
  return out;
}

const DUPLICATE_ASSOCIATION = "0x80040237";

export class RelationSink {
  readonly stats: RelationStats = { read: 0, added: 0, present: 0, removed: 0, rejected: 0 };
  status: string | undefined;
  #pending: Pending[] = [];
  /** A record rejected before its key was known: the rows still in the source cannot be told apart. */
  #unkeyed = false;
  /** Membership: the list's members (identity → GUID), read when the sink opens, kept up to date. */
  readonly #members = new Map<string, string>();
  readonly #memberIds = new Set<string>();
  /** Membership: GUIDs this sync named. Relationship: from identity → its ref and the to identities named. */
  readonly #kept = new Set<string>();
  readonly #pairs = new Map<string, { readonly ref: RowRef; readonly to: Set<string> }>();

  constructor(
    readonly descriptor: StreamDescriptor,
    readonly relation: RelationConfig,
    readonly plan: RelationPlan,
    private readonly hooks: SinkHooks,
  ) {}

  get name(): string {
    return this.descriptor.name;
  }

  /** Membership: reads the list's current members, before the first record. */
  async load(): Promise<void> {
    const plan = this.plan;
    if (plan.kind !== "membership") return;
    for await (const page of this.hooks.api.related("lists", { kind: "id", id: plan.list.id }, plan.nav, plan.member.select)) {
      for (const row of page) this.#remember(row);
    }
  }

  #remember(row: Readonly<Record<string, unknown>>): void {
    if (this.plan.kind !== "membership") return;
    const id = row[this.plan.member.table.primaryIdAttribute];
    if (typeof id !== "string") return;
    this.#memberIds.add(id.toLowerCase());
    for (const identity of rowIdentities(this.plan.member, row)) this.#members.set(identity, id.toLowerCase());
  }

  /** Takes one record; a promise when the batch went out and the caller must wait. */
  record(data: JsonObject, line: number): Promise<void> | undefined {
    this.stats.read++;
    const settle = this.hooks.open();
    const record = this.hooks.keepRecords ? data : undefined;
    const plan = this.plan;
    const side = plan.kind === "membership" ? plan.member : plan.to;
    const to = sideRef(data, side.config, side.table);
    let from: ReturnType<typeof sideRef> | undefined;
    if (plan.kind === "relationship") from = sideRef(data, plan.from.config, plan.from.table);
    const failed = !to.ok ? to : from !== undefined && !from.ok ? from : undefined;
    if (failed !== undefined && !failed.ok) {
      this.#unkeyed = true;
      const issue = failed.issues[0] ?? { field: "", code: "missing_key", message: "the record names no row" };
      return this.#reject({ line, settle, ...(record !== undefined ? { record } : {}) }, issue);
    }
    if (!to.ok || (from !== undefined && !from.ok)) return undefined;
    this.#pending.push({
      line,
      settle,
      ...(record !== undefined ? { record } : {}),
      ref: to.ref,
      identity: to.identity,
      ...(from !== undefined && from.ok ? { fromRef: from.ref, fromIdentity: from.identity } : {}),
    });
    return this.#pending.length >= this.hooks.batchSize ? this.flush() : undefined;
  }

  async #reject(item: { line: number; settle: Settle; record?: JsonObject }, issue: RecordIssue, status?: number): Promise<void> {
    this.stats.rejected++;
    await this.hooks.reject({ line: item.line, issue, ...(item.record !== undefined ? { record: item.record } : {}), ...(status !== undefined ? { status } : {}) });
    item.settle("rejected");
  }

  #committed(item: Pending, how: "added" | "present"): void {
    this.stats[how]++;
    item.settle("written");
  }

  /** Sends what is pending and settles every record of it. */
  async flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    if (this.plan.kind === "membership") await this.#flushMembers(batch, this.plan);
    else await this.#flushPairs(batch, this.plan);
  }

  async #flushMembers(batch: readonly Pending[], plan: Extract<RelationPlan, { kind: "membership" }>): Promise<void> {
    const member = plan.member;
    const unknown: Pending[] = [];
    for (const item of batch) {
      const id = this.#members.get(item.identity);
      if (id !== undefined) {
        this.#kept.add(id);
        this.#committed(item, "present");
      } else unknown.push(item);
    }
    if (unknown.length === 0) return;
    const distinct = new Map<string, RowRef>();
    for (const item of unknown) distinct.set(item.identity, item.ref);
    const found = await this.hooks.api.find(
      member.table.entitySetName,
      member.table.primaryIdAttribute,
      [...distinct.values()],
      member.select,
      (row) => rowIdentities(member, row),
      (ref) => refIdentity(member.table, ref),
    );
    const toAdd = new Map<string, Pending[]>();
    for (const item of unknown) {
      const row = found.get(item.identity);
      const id = row?.[member.table.primaryIdAttribute];
      if (typeof id !== "string") {
        await this.#reject(item, {
          field: "",
          code: item.ref.kind === "key" ? "0x80060891" : "0x80040217",
          message: `no ${member.table.logicalName} row has this ${item.ref.kind === "key" ? "key" : "id"}, so it cannot join the list`,
        });
        continue;
      }
      const lower = id.toLowerCase();
      this.#kept.add(lower);
      if (this.#memberIds.has(lower)) {
        this.#committed(item, "present");
        continue;
      }
      const list = toAdd.get(lower) ?? [];
      list.push(item);
      toAdd.set(lower, list);
    }
    await this.#add(plan, [...toAdd.entries()]);
  }

  /** AddListMembersList in requests of up to batch_size members; a refused request is halved. */
  async #add(plan: Extract<RelationPlan, { kind: "membership" }>, members: readonly (readonly [string, Pending[]])[]): Promise<void> {
    for (let i = 0; i < members.length; i += this.hooks.batchSize) {
      await this.#addChunk(plan, members.slice(i, i + this.hooks.batchSize));
    }
  }

  async #addChunk(plan: Extract<RelationPlan, { kind: "membership" }>, chunk: readonly (readonly [string, Pending[]])[]): Promise<void> {
    if (chunk.length === 0) return;
    const table = plan.member.table;
    const outcome = await this.hooks.api.addListMembers(plan.list.id, table.logicalName, table.primaryIdAttribute, chunk.map(([id]) => id));
    if (outcome.ok) {
      for (const [id, items] of chunk) {
        this.#memberIds.add(id);
        items.forEach((item, k) => {
          this.#members.set(item.identity, id);
          this.#committed(item, k === 0 ? "added" : "present");
        });
      }
      return;
    }
    if (chunk.length > 1) {
      const mid = Math.ceil(chunk.length / 2);
      await this.#addChunk(plan, chunk.slice(0, mid));
      await this.#addChunk(plan, chunk.slice(mid));
      return;
    }
    for (const item of chunk[0]?.[1] ?? []) await this.#reject(item, refusal(outcome), outcome.ok ? undefined : outcome.status);
  }

  async #flushPairs(batch: readonly Pending[], plan: Extract<RelationPlan, { kind: "relationship" }>): Promise<void> {
    const first = new Map<string, number>();
    const sends: Pending[] = [];
    const repeats: [Pending, number][] = [];
    for (const item of batch) {
      const pair = `${item.fromIdentity ?? ""}|${item.identity}`;
      const at = first.get(pair);
      if (at !== undefined) repeats.push([item, at]);
      else {
        first.set(pair, sends.length);
        sends.push(item);
      }
    }
    const outcomes = await this.hooks.api.associate(
      sends.map((item) => ({
        from: entityPath(plan.from.table.entitySetName, item.fromRef ?? { kind: "none" }),
        nav: plan.nav,
        to: entityPath(plan.to.table.entitySetName, item.ref),
      })),
    );
    for (const [k, item] of sends.entries()) {
      const outcome = outcomes[k] ?? { ok: false, status: 0, code: "", message: "no answer" };
      const present = !outcome.ok && outcome.status === 412 && outcome.code === DUPLICATE_ASSOCIATION;
      if (outcome.ok || present) {
        this.#notePair(item);
        this.#committed(item, outcome.ok ? "added" : "present");
      } else await this.#reject(item, refusal(outcome), outcome.status);
    }
    for (const [item, at] of repeats) {
      const outcome = outcomes[at];
      if (outcome?.ok === true || (outcome !== undefined && !outcome.ok && outcome.code === DUPLICATE_ASSOCIATION)) this.#committed(item, "present");
      else await this.#reject(item, refusal(outcome ?? { ok: false, status: 0, code: "", message: "no answer" }));
    }
  }

  #notePair(item: Pending): void {
    const from = item.fromIdentity ?? "";
    const entry = this.#pairs.get(from) ?? { ref: item.fromRef ?? { kind: "none" }, to: new Set<string>() };
    entry.to.add(item.identity);
    this.#pairs.set(from, entry);
  }

  /**
   * After the last record: with remove_missing and a complete stream, removes the members (pairs)
   * this sync did not name. Returns why it removed nothing, when it did not run.
   */
  async removeMissing(complete: boolean): Promise<string | undefined> {
    if (!this.relation.removeMissing) return undefined;
    if (!complete) return "the stream did not report COMPLETE, so nothing was removed";
    if (this.#unkeyed) return "a record was rejected before its key was known, so the rows still in the source cannot be told apart; nothing was removed";
    const cap = this.relation.maxRemoveShare;
    if (this.plan.kind === "membership") {
      const gone = [...this.#memberIds].filter((id) => !this.#kept.has(id));
      this.#checkCap(gone.length, this.#memberIds.size, cap, "members of the list");
      if (gone.length === 0) return undefined;
      const outcomes = await this.hooks.api.removeListMembers(this.plan.list.id, gone);
      this.#countRemoved(outcomes);
      return undefined;
    }
    const plan = this.plan;
    const candidates: { from: string; nav: string; toId: string }[] = [];
    let inScope = 0;
    const named = [...this.#pairs.values()];
    // One $batch reads the associations of up to 500 of the rows the stream named.
    const related = await this.hooks.api.relatedMany(plan.from.table.entitySetName, named.map((n) => n.ref), plan.nav, plan.to.select);
    named.forEach(({ ref, to }, k) => {
      const fromPath = entityPath(plan.from.table.entitySetName, ref);
      for (const row of related[k] ?? []) {
        inScope++;
        const ids = rowIdentities(plan.to, row);
        const id = row[plan.to.table.primaryIdAttribute];
        if (typeof id === "string" && !ids.some((i) => to.has(i))) candidates.push({ from: fromPath, nav: plan.nav, toId: id.toLowerCase() });
      }
    });
    this.#checkCap(candidates.length, inScope, cap, "associations of the rows the stream named");
    if (candidates.length === 0) return undefined;
    this.#countRemoved(await this.hooks.api.disassociate(candidates));
    return undefined;
  }

  #checkCap(removing: number, total: number, cap: number, what: string): void {
    if (removing > 0 && removing > cap * total) {
      throw new PipelineError(
        "remove_share_exceeded",
        `stream "${this.name}": removing ${removing} of ${total} ${what} is more than max_remove_share (${cap}); nothing was removed`,
        "config_error",
        { stream: this.name },
      );
    }
  }

  #countRemoved(outcomes: readonly PartOutcome[]): void {
    for (const o of outcomes) if (o.ok) this.stats.removed++;
    const failed = outcomes.filter((o) => !o.ok);
    if (failed.length > 0) {
      const codes = [...new Set(failed.map((o) => (o.ok ? "" : o.code)))].join(", ");
      throw new PipelineError("remove_refused", `stream "${this.name}": Dataverse refused ${failed.length} removals (${codes})`, "transient_error", { stream: this.name });
    }
  }
}

function refusal(outcome: PartOutcome): RecordIssue {
  if (outcome.ok) return { field: "", code: "rejected", message: "rejected" };
  const missing = outcome.status === 404;
  return {
    field: "",
    code: outcome.code !== "" ? outcome.code : String(outcome.status),
    message: missing ? "a row the record names does not exist" : `Dataverse refused the change (HTTP ${outcome.status})`,
  };
}
