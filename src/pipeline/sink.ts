// One stream's sink: its plan, its pending batch, its requests in flight and its own counts. Its
// lifecycle is short (meltano/sdk's Sink): accept a record, say whether the batch is full, hand
// the batch over (the flush is sync.ts's and send.ts's), tally each outcome, drain what is in
// flight. It knows nothing of other streams, of states, or of the writer.
import type { StreamMapping } from "../config/types.js";
import type { Operation, RecordIssue, RecordKey } from "../model/operation.js";
import type { WriteOutcome } from "../model/writer.js";
import type { StreamPlan } from "../mapping/plan.js";
import { isUnknownField, mapRecord } from "../mapping/record.js";
import type { JsonObject, StreamDescriptor, StreamStatus } from "../protocol/airbyte.js";
import { Batcher, estimateBytes, rowIdentity } from "./batcher.js";
import type { PendingOp } from "./batcher.js";
import type { Ticket } from "./ledger.js";
import { MirrorTracker } from "./mirror.js";

export interface StreamStats {
  read: number;
  created: number;
  updated: number;
  /** Upserts whose outcome did not say whether the row was new (bulk UpsertMultiple does not). */
  upserted: number;
  /** Already as sent: a create that found its id present (412), a delete of a row already gone. */
  unchanged: number;
  deleted: number;
  deactivated: number;
  rejected: number;
  truncated: number;
  retried: number;
}

/** Records of one stream that Dataverse committed: every outcome that is not a rejection. */
export function writtenCount(s: StreamStats): number {
  return s.created + s.updated + s.upserted + s.unchanged + s.deleted + s.deactivated;
}

/** A record that will not be written, with what the dead letter and the log may say of it. */
export interface RejectedRecord {
  readonly ticket: Ticket;
  readonly line: number;
  readonly record?: JsonObject | undefined;
  readonly operation?: Operation;
  readonly key?: RecordKey;
}

export interface Rejection {
  readonly rejected: RejectedRecord;
  readonly issues: readonly RecordIssue[];
}

/** CDC deletes: Airbyte's `_ab_cdc_deleted_at`, the Meltano SDK's `_sdc_deleted_at`; set and not null. */
function isDeletedRecord(data: JsonObject): boolean {
  const a = data["_ab_cdc_deleted_at"];
  const s = data["_sdc_deleted_at"];
  return (a !== undefined && a !== null) || (s !== undefined && s !== null);
}

/**
 * Why an unmapped field is not written, in terms that are true for it: its name can be a column
 * another field already writes, a key column addressed by the URL, a read-only column, or no
 * column at all.
 */
function whyIgnored(plan: StreamPlan, field: string): string {
  const table = plan.table.logicalName;
  const writer = plan.columns.find((c) => c.column.logicalName === field)?.field ?? plan.lookups.find((l) => l.column === field)?.field;
  if (writer !== undefined) return `column ${field} of table ${table} is already written from field "${writer}"`;
  if (plan.excludedColumns.has(field)) return `column ${field} of table ${table} is part of the row's key, which addresses the row instead of being written`;
  const column = plan.table.columns.get(field);
  if (column !== undefined) {
    if (column.isPrimaryId) return `column ${field} is table ${table}'s row id, settable only by a create without a key (use key.id_field to address rows by it)`;
    if (column.attributeOf !== undefined) return `column ${field} of table ${table} is computed from column ${column.attributeOf} and cannot be written`;
    if (column.type === "Lookup" || column.type === "Customer" || column.type === "Owner") {
      return `column ${field} of table ${table} is a lookup that cannot pass through by name (it can point at several tables, or its target is not loaded); map it with a lookup to write it`;
    }
    return `column ${field} of table ${table} is not writable in ${plan.mode} mode`;
  }
  return `it is not mapped and table ${table} has no column of that name`;
}

export interface SinkInit {
  readonly key: string;
  readonly descriptor: StreamDescriptor;
  readonly mapping: StreamMapping;
  readonly plan: StreamPlan;
  /** The batch caps: rows and estimated bytes. */
  readonly maxRows: number;
  readonly maxBytes: number;
}

export class Sink {
  readonly key: string;
  readonly descriptor: StreamDescriptor;
  readonly mapping: StreamMapping;
  readonly plan: StreamPlan;
  readonly counts: StreamStats = { read: 0, created: 0, updated: 0, upserted: 0, unchanged: 0, deleted: 0, deactivated: 0, rejected: 0, truncated: 0, retried: 0 };
  readonly rejectionsByCode = new Map<string, number>();
  /** The keys this sync sent, for a mirror at the end; only when the stream enables mirror. */
  readonly mirror: MirrorTracker | undefined;
  /** Streams whose tables this one's lookups bind to: sent and settled before this one's rows. */
  parents: readonly Sink[] = [];
  /** Its last STREAM_STATUS: a mirror runs only for a stream that reported COMPLETE. */
  status: StreamStatus | undefined;
  /** First record read and last outcome settled, for the stream's wall time. */
  firstAt: number | undefined;
  lastAt: number | undefined;
  readonly #batch: Batcher;
  /** Regular sends (not resends) in flight: what a child stream's flush waits for. */
  readonly #inflight = new Set<Promise<void>>();
  readonly #reportedFields = new Set<string>();

  constructor(init: SinkInit) {
    this.key = init.key;
    this.descriptor = init.descriptor;
    this.mapping = init.mapping;
    this.plan = init.plan;
    this.#batch = new Batcher(init.maxRows, init.maxBytes);
    this.mirror = init.mapping.mirror?.enabled === true ? new MirrorTracker(init.plan) : undefined;
  }

  get name(): string {
    return this.descriptor.name;
  }

  /** Counts a record read; the clock is read only for the stream's first record. */
  tallyRead(clock: { now(): number }): void {
    this.counts.read += 1;
    this.firstAt ??= clock.now();
  }

  /** Fields of this record not reported for this stream yet (each is reported once), with the reason; or undefined. */
  newIgnoredFields(data: JsonObject): { readonly field: string; readonly reason: string }[] | undefined {
    let fresh: { field: string; reason: string }[] | undefined;
    // Once per record: a loop over the record's own fields, no array unless one is new.
    for (const field in data) {
      if (this.#reportedFields.has(field) || !isUnknownField(this.plan, field)) continue;
      this.#reportedFields.add(field);
      (fresh ??= []).push({ field, reason: whyIgnored(this.plan, field) });
    }
    return fresh;
  }

  /**
   * Maps one record: the operation ready for the batch, or why it is rejected. The record itself
   * is kept only when dead letters carry records.
   */
  accept(data: JsonObject, line: number, ticket: Ticket, keepRecord: boolean): PendingOp | Rejection {
    const result = mapRecord(this.plan, data, { deleted: isDeletedRecord(data) });
    if (this.mirror !== undefined) {
      if (!result.ok) this.mirror.noteUnkeyed();
      else if (result.operation.kind !== "delete" && result.operation.kind !== "deactivate") this.mirror.add(result.operation.ref);
    }
    if (!result.ok) {
      return { rejected: { ticket, line, ...(result.key !== undefined ? { key: result.key } : {}), ...(keepRecord ? { record: data } : {}) }, issues: result.issues };
    }
    if (result.truncated.length > 0) this.counts.truncated += 1;
    const operation = result.operation;
    // One object literal, no conditional spreads: this runs once per record.
    return { operation, rowKey: rowIdentity(operation, this.plan.table), ticket, line, record: keepRecord ? data : undefined, bytes: estimateBytes(operation), attempt: 0 };
  }

  /** Whether the pending batch must go out before this item joins: it is full, or already holds the item's row. */
  mustFlushBefore(item: PendingOp): boolean {
    return this.#batch.wouldOverflow(item) || (item.rowKey !== undefined && this.#batch.has(item.rowKey));
  }

  add(item: PendingOp): void {
    this.#batch.add(item);
  }

  get isFull(): boolean {
    return this.#batch.full;
  }

  /** Records in the pending batch. */
  get pending(): number {
    return this.#batch.size;
  }

  /** The pending batch, which starts over empty. */
  takeBatch(): PendingOp[] {
    return this.#batch.take();
  }

  /** Rows pending or in flight: a child's refusal for a missing lookup target may be this stream's doing. */
  get busy(): boolean {
    return this.#batch.size > 0 || this.#inflight.size > 0;
  }

  /** A regular send of this stream, which drain() waits for. */
  track(sent: Promise<void>): void {
    this.#inflight.add(sent);
    void sent.finally(() => this.#inflight.delete(sent));
  }

  /** Waits until no regular send of this stream is in flight. */
  async drain(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all([...this.#inflight]);
  }

  tallyWritten(op: Operation, outcome: Extract<WriteOutcome, { ok: true }>, now: number): void {
    this.lastAt = now;
    const created = outcome.created;
    if (outcome.unchanged === true) {
      this.counts.unchanged += 1;
      return;
    }
    switch (op.kind) {
      case "create":
        this.counts.created += 1;
        break;
      case "upsert":
        if (created === true) this.counts.created += 1;
        else if (created === false) this.counts.updated += 1;
        else this.counts.upserted += 1;
        break;
      case "update":
        this.counts.updated += 1;
        break;
      case "delete":
        this.counts.deleted += 1;
        break;
      case "deactivate":
        this.counts.deactivated += 1;
        break;
    }
  }

  /** Counts a rejection; returns how many of this code the stream had before (0: report it). */
  tallyRejected(code: string, now: number): number {
    this.counts.rejected += 1;
    this.lastAt = now;
    const seen = this.rejectionsByCode.get(code) ?? 0;
    this.rejectionsByCode.set(code, seen + 1);
    return seen;
  }

  tallyRetried(n: number): void {
    this.counts.retried += n;
  }
}
