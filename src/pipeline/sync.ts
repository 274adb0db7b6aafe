// The write loop's engine: route → map → batch → write → settle → checkpoint → emit.
// The line loop (loop.ts) feeds it messages; everything that waits here (a free write slot, a
// parent stream's writes, a dead-letter line on disk) is waited for by the reader, which is
// how backpressure reaches stdin.
import type { ResolvedStream } from "../config/catalog.js";
import type { StreamMapping, WriteSettings } from "../config/types.js";
import type { TableLookup, TableMeta } from "../model/table-meta.js";
import type { WriteOptions, WriteOutcome, Writer } from "../model/writer.js";
import type { Operation, RecordIssue, RecordKey } from "../model/operation.js";
import { planStream } from "../mapping/plan.js";
import type { StreamPlan } from "../mapping/plan.js";
import { lookupTargets, mapRecord, unknownFields } from "../mapping/record.js";
import { stateWithStats, streamKey } from "../protocol/airbyte.js";
import type { InputState, JsonObject, StreamDescriptor, StreamStatus } from "../protocol/airbyte.js";
import type { Output } from "../protocol/emit.js";
import { ConnectorError, ProtocolError, streamContext } from "../protocol/errors.js";
import type { ErrorContext } from "../protocol/errors.js";
import { ConfigError } from "../config/errors.js";
import { Batcher, estimateBytes, rowIdentity } from "./batcher.js";
import type { PendingOp } from "./batcher.js";
import type { DeadLetterSink } from "./deadletter.js";
import { PipelineError } from "./errors.js";
import { toConnectorError } from "./failures.js";
import type { FailureHints } from "./failures.js";
import { CheckpointLedger } from "./ledger.js";
import type { HeldState, Ticket } from "./ledger.js";
import { refusalMessage } from "./refusals.js";
import { Slots } from "./slots.js";
import { MirrorTracker, mirrorIssues, runMirror } from "./mirror.js";
import { progressText, summaryLine, summaryTable } from "./report.js";
import type { ProgressFigures, StreamSummary, TerminalStatus } from "./report.js";
import type { MirrorReader } from "./mirror.js";

/** Where table metadata comes from (dataverse/metadata.ts's MetadataLoader fits). */
export interface TableSource {
  loadTable(logicalName: string): Promise<TableMeta>;
  readonly lookup: TableLookup;
}

export interface Timers {
  now(): number;
  /** Calls fn every ms until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
}

/** Optional figures a writer may expose for progress lines. */
export interface WriterStats {
  readonly requests?: number;
  readonly throttled?: number;
  readonly throttledMs?: number;
  readonly concurrency?: number;
  /** Write requests and 429 answers per table logical name. */
  readonly tables?: ReadonlyMap<string, { readonly requests: number; readonly throttled429: number; readonly retries?: number }>;
}

export interface SyncOptions {
  readonly output: Output;
  readonly writer: Writer;
  readonly tables: TableSource;
  readonly settings: WriteSettings;
  readonly timers: Timers;
  readonly deadLetter?: DeadLetterSink;
  readonly writeOptions?: WriteOptions;
  /** Default 30 s. */
  readonly progressIntervalMs?: number;
  /** Batches in flight at once; default max(2, maxConcurrency). */
  readonly maxInFlight?: number;
  /** Estimated bytes of the batches in flight, together; default 2 × maxBatchBytes. */
  readonly maxInFlightBytes?: number;
  /** Figures for progress lines, when the writer has them. */
  readonly writerStats?: () => WriterStats;
  /** Reads the rows a mirror may remove; required when a stream enables mirror. */
  readonly mirrorReader?: MirrorReader;
  /** The live status line and the summary table, when stderr is a terminal. */
  readonly terminal?: TerminalStatus;
  /** How often the terminal line is redrawn; default 250 ms. */
  readonly terminalIntervalMs?: number;
  /** Summary lines say that nothing was written. */
  readonly dryRun?: boolean;
}

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

export interface SyncSummary {
  readonly streams: ReadonlyMap<string, StreamStats>;
  readonly statesEmitted: number;
}

/** A bind whose target row is missing: by id (ObjectDoesNotExist) or by key (RecordNotFoundByEntityKey). */
export const MISSING_TARGET_CODES: ReadonlySet<string> = new Set(["0x80040217", "0x80060891"]);

interface StreamRuntime {
  readonly key: string;
  readonly descriptor: StreamDescriptor;
  readonly mapping: StreamMapping;
  readonly plan: StreamPlan;
  readonly batcher: Batcher;
  /** Regular sends (not retries) in flight: what a child stream waits for. */
  readonly inflight: Set<Promise<void>>;
  parents: StreamRuntime[];
  readonly stats: StreamStats;
  readonly reportedFields: Set<string>;
  readonly rejectionsByCode: Map<string, number>;
  status?: StreamStatus;
  readonly mirror?: MirrorTracker;
  /** First record read and last outcome settled, for the stream's wall time. */
  firstAt?: number;
  lastAt?: number;
}

function emptyStats(): StreamStats {
  return { read: 0, created: 0, updated: 0, upserted: 0, unchanged: 0, deleted: 0, deactivated: 0, rejected: 0, truncated: 0, retried: 0 };
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

export class Sync {
  readonly #o: SyncOptions;
  readonly #streams = new Map<string, StreamRuntime>();
  readonly #ledger = new CheckpointLedger();
  readonly #slots: Slots;
  readonly #all = new Set<Promise<void>>();
  /** Per row (see rowIdentity), the last request holding it that has not settled yet. */
  readonly #rowTails = new Map<string, Promise<void>>();
  #pumping: Promise<void> = Promise.resolve();
  #fatal: ConnectorError | undefined;
  #read = 0;
  #rejected = 0;
  #written = 0;
  #statesEmitted = 0;
  #summarised = false;
  readonly #startedAt: number;
  readonly #stopTimers: (() => void)[] = [];

  constructor(options: SyncOptions) {
    this.#o = options;
    // Two full batches' worth of bytes in flight keeps the writer busy with small records (the
    // batch count binds first) and bounds memory with large ones (the bytes bind first).
    this.#slots = new Slots(options.maxInFlight ?? Math.max(2, options.settings.maxConcurrency), options.maxInFlightBytes ?? 2 * options.settings.maxBatchBytes);
    this.#startedAt = options.timers.now();
    const flushMs = Math.min(600, Math.max(1, options.settings.flushIntervalSeconds)) * 1000;
    this.#stopTimers.push(options.timers.every(flushMs, () => this.#flushAllInBackground()));
    this.#stopTimers.push(options.timers.every(options.progressIntervalMs ?? 30_000, () => void this.#progress()));
    const terminal = options.terminal;
    if (terminal?.enabled === true) {
      this.#stopTimers.push(options.timers.every(options.terminalIntervalMs ?? 250, () => terminal.show(progressText(this.#figures()))));
      this.#stopTimers.push(() => terminal.clear());
    }
  }

  get failed(): ConnectorError | undefined {
    return this.#fatal;
  }

  throwIfFailed(): void {
    if (this.#fatal !== undefined) throw this.#fatal;
  }

  /**
   * Loads the metadata of every stream's table and of its lookup targets, then plans every
   * stream. Any plan error fails here, before the first record, naming stream and field.
   */
  async addStreams(resolved: readonly ResolvedStream[]): Promise<void> {
    const tables = this.#o.tables;
    const names = new Set<string>();
    for (const r of resolved) names.add(r.mapping.table.toLowerCase());
    for (const rt of this.#streams.values()) names.add(rt.mapping.table.toLowerCase());
    await this.#load([...names]);
    // Lookup targets: the configured table, or every table the lookup column can point at.
    const targets = new Set<string>();
    for (const r of resolved) {
      const table = tables.lookup(r.mapping.table);
      for (const fm of r.mapping.fields.values()) {
        if (fm.lookup === undefined) continue;
        if (fm.lookup.table !== undefined) targets.add(fm.lookup.table.toLowerCase());
        else for (const t of table?.columns.get(fm.column)?.targets ?? []) targets.add(t.toLowerCase());
      }
    }
    await this.#load([...targets].filter((t) => tables.lookup(t) === undefined));

    const errors: string[] = [];
    let first: { stream: string; field?: string } | undefined;
    for (const r of resolved) {
      const table = tables.lookup(r.mapping.table);
      if (table === undefined) continue; // #load already failed for it
      const mapping = r.mapping;
      const { plan, issues } = planStream(mapping, table, tables.lookup);
      for (const issue of issues) {
        const where = `stream "${r.stream.name}"${issue.field !== undefined && issue.field !== "" ? ` field ${issue.field}` : ""}`;
        if (issue.severity === "error" || plan === undefined) {
          errors.push(`${where}: ${issue.message} (${issue.code})`);
          first ??= issue.field !== undefined ? { stream: r.stream.name, field: issue.field } : { stream: r.stream.name };
        } else await this.#o.output.log("WARN", `${where}: ${issue.message} (${issue.code})`);
      }
      if (plan === undefined) {
        if (issues.length === 0) errors.push(`stream "${r.stream.name}": the mapping cannot be planned`);
        continue;
      }
      if (mapping.mirror?.enabled === true) {
        const problems = mirrorIssues(plan, mapping.mirror);
        if (r.destinationSyncMode !== "overwrite") problems.push("mirror runs only for Airbyte streams in overwrite mode (it needs the stream's COMPLETE status)");
        if (this.#o.mirrorReader === undefined) problems.push("mirror is not available in this command");
        for (const p of problems) errors.push(`stream "${r.stream.name}": ${p}`);
        if (problems.length > 0) {
          first ??= { stream: r.stream.name };
          continue;
        }
      }
      if (r.destinationSyncMode === "overwrite" && mapping.mirror?.enabled !== true) {
        // Airbyte's overwrite promises to replace the destination's data; upserts alone keep rows the
        // source dropped, and only mirror removes them. Said once per stream, before any record.
        await this.#o.output.log(
          "WARN",
          `stream "${r.stream.name}": overwrite upserts its records into ${table.logicalName}; rows no longer in the source stay there unless mirror is enabled for the stream`,
        );
      }
      const key = streamKey(r.stream);
      this.#streams.set(key, {
        key,
        descriptor: r.stream,
        mapping,
        plan,
        batcher: new Batcher(this.#o.settings.batchSize, this.#o.settings.maxBatchBytes),
        inflight: new Set(),
        parents: [],
        stats: emptyStats(),
        reportedFields: new Set(),
        rejectionsByCode: new Map(),
        ...(mapping.mirror?.enabled === true ? { mirror: new MirrorTracker(plan) } : {}),
      });
    }
    if (errors.length > 0) {
      throw new ConfigError("mapping_invalid", `The mapping cannot be used: ${errors.join("; ")}`, [], first ?? {});
    }
    this.#orderStreams();
  }

  /**
   * Parent streams: those whose table this stream's lookups bind to. Configured lookups always
   * count; pass-through lookups (a column that happens to be a lookup, e.g. account.primarycontactid)
   * count only when they do not close a cycle, so that a mapped contact → account lookup is not
   * undone by the account table's own lookup back to contact.
   */
  #orderStreams(): void {
    const all = [...this.#streams.values()];
    const strong = new Map<StreamRuntime, Set<string>>();
    const any = new Map<StreamRuntime, Set<string>>();
    for (const rt of all) {
      const own = rt.mapping.table.toLowerCase();
      const mapped = new Set<string>();
      for (const lp of rt.plan.lookups) for (const t of lp.targets.keys()) if (t.toLowerCase() !== own) mapped.add(t.toLowerCase());
      strong.set(rt, mapped);
      any.set(rt, new Set(lookupTargets(rt.plan).map((t) => t.toLowerCase())));
    }
    for (const rt of all) {
      const own = rt.mapping.table.toLowerCase();
      rt.parents = all.filter((p) => {
        if (p === rt) return false;
        const table = p.mapping.table.toLowerCase();
        if (strong.get(rt)?.has(table) === true) return true;
        return any.get(rt)?.has(table) === true && any.get(p)?.has(own) !== true;
      });
    }
  }

  async #load(names: readonly string[]): Promise<void> {
    const results = await Promise.allSettled(names.map((n) => this.#o.tables.loadTable(n)));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failure !== undefined) {
      const index = results.indexOf(failure);
      const name = names[index] ?? "";
      const reason: unknown = failure.reason;
      if (reason instanceof Error && reason.name === "TableNotFoundError") {
        throw new ConfigError("table_not_found", `Table "${name}" does not exist in this environment (check the logical name)`, [], {});
      }
      throw toConnectorError(reason);
    }
  }

  hasStream(d: StreamDescriptor): boolean {
    return this.#find(d) !== undefined;
  }

  #find(d: StreamDescriptor): StreamRuntime | undefined {
    const exact = this.#streams.get(streamKey(d));
    if (exact !== undefined) return exact;
    if (d.namespace === undefined) {
      // A record without namespace for a stream configured with one: match by name when unambiguous.
      const byName = [...this.#streams.values()].filter((s) => s.descriptor.name === d.name);
      return byName.length === 1 ? byName[0] : undefined;
    }
    return this.#streams.get(d.name);
  }

  /**
   * Takes one record. Returns a promise only when the caller must wait (a batch is being handed to
   * the writer, a warning or a rejection is being reported); otherwise the record was only added to
   * its batch, synchronously, which keeps per-record overhead off the hot path.
   */
  record(d: StreamDescriptor, data: JsonObject, line: number): Promise<void> | undefined {
    this.throwIfFailed();
    const rt = this.#find(d);
    if (rt === undefined) throw new ProtocolError("unknown_stream", "RECORD for a stream that is not in the catalog or the configuration", { line, ...streamContext(d) });
    rt.stats.read += 1;
    rt.firstAt ??= this.#o.timers.now();
    this.#read += 1;
    const ticket = this.#ledger.open(rt.key);
    const unknown = this.#newUnknownFields(rt, data);
    if (unknown !== undefined) return this.#reportUnknownFields(rt, unknown).then(() => this.#take(rt, data, line, ticket));
    return this.#take(rt, data, line, ticket);
  }

  #take(rt: StreamRuntime, data: JsonObject, line: number, ticket: Ticket): Promise<void> | undefined {
    const result = mapRecord(rt.plan, data, { deleted: isDeletedRecord(data) });
    if (rt.mirror !== undefined) {
      if (!result.ok) rt.mirror.noteUnkeyed();
      else if (result.operation.kind !== "delete" && result.operation.kind !== "deactivate") rt.mirror.add(result.operation.ref);
    }
    if (!result.ok) {
      return this.#reject(rt, { ticket, line, ...(result.key !== undefined ? { key: result.key } : {}), ...(this.#keepRecord() ? { record: data } : {}) }, result.issues);
    }
    if (result.truncated.length > 0) rt.stats.truncated += 1;
    const operation = result.operation;
    const rowKey = rowIdentity(operation);
    const bytes = estimateBytes(operation);
    // One object literal, no conditional spreads: this runs once per record.
    const item: PendingOp = { operation, rowKey, ticket, line, record: this.#keepRecord() ? data : undefined, bytes, attempt: 0 };
    // A second write of a row already pending goes into the next request, after the first.
    if (rt.batcher.wouldOverflow(item) || (rowKey !== undefined && rt.batcher.has(rowKey))) {
      return this.#flush(rt).then(() => this.#add(rt, item));
    }
    return this.#add(rt, item);
  }

  #add(rt: StreamRuntime, item: PendingOp): Promise<void> | undefined {
    rt.batcher.add(item);
    return rt.batcher.full ? this.#flush(rt) : undefined;
  }

  /** Holds the state until every record read before it is settled. */
  state(held: HeldState): void {
    this.throwIfFailed();
    this.#ledger.addState(held);
    this.#pump();
  }

  /** Remembered for destructive finalisation (mirror), which only COMPLETE streams get. */
  streamStatus(d: StreamDescriptor, status: StreamStatus): void {
    const rt = this.#find(d);
    if (rt !== undefined) rt.status = status;
  }

  /** End of input: flush, settle, emit the remaining states, then the per-stream summary. */
  async finish(): Promise<SyncSummary> {
    try {
      this.throwIfFailed();
      for (const rt of this.#streams.values()) await this.#flush(rt);
      await this.#settleAll();
      this.throwIfFailed();
      await this.#pumping;
      this.throwIfFailed();
      if (this.#ledger.heldCount > 0) {
        throw new PipelineError("states_held", "Internal error: states are still held after every record settled; please report it", "system_error");
      }
      await this.#mirrors();
      await this.#summary();
      return { streams: new Map([...this.#streams].map(([k, v]) => [k, v.stats])), statesEmitted: this.#statesEmitted };
    } finally {
      this.#stop();
    }
  }

  /**
   * After a failure: wait for what is in flight, emit the states that became safe, nothing more.
   * When the failure was in the input (the writer is healthy), the records read before the bad
   * line are still written first, so the states before it can go out and a rerun resumes there.
   */
  async abort(options: { flushPending?: boolean } = {}): Promise<void> {
    if (options.flushPending === true && this.#fatal === undefined) {
      for (const rt of this.#streams.values()) await this.#flush(rt).catch((err: unknown) => this.#fail(err));
    }
    this.#stop();
    await this.#settleAll();
    await this.#pumping.catch(() => undefined);
    // A failed run still says what it did per stream: the user needs the counts to judge the rerun.
    if (!this.#summarised) await this.#summary(true).catch(() => undefined);
  }

  #stop(): void {
    for (const stop of this.#stopTimers.splice(0)) stop();
  }

  #keepRecord(): boolean {
    return this.#o.deadLetter !== undefined && this.#o.settings.deadLetterIncludeRecord;
  }

  /** Fields of this record not reported for its stream yet (each is reported once), or undefined. */
  #newUnknownFields(rt: StreamRuntime, data: JsonObject): string[] | undefined {
    let fresh: string[] | undefined;
    for (const f of unknownFields(rt.plan, data)) {
      if (rt.reportedFields.has(f)) continue;
      rt.reportedFields.add(f);
      (fresh ??= []).push(f);
    }
    return fresh;
  }

  async #reportUnknownFields(rt: StreamRuntime, fields: readonly string[]): Promise<void> {
    for (const f of fields) await this.#o.output.log("WARN", `stream "${rt.descriptor.name}": field "${f}" is ignored: ${whyIgnored(rt.plan, f)}`);
  }

  #fail(err: unknown, context: ErrorContext = {}): void {
    this.#fatal ??= toConnectorError(err, context, this.#hints());
  }

  /** Which privilege-needing options the writer's requests carry, so a 403 can name them. */
  #hints(): FailureHints {
    const s = this.#o.settings;
    const h = this.#o.writeOptions?.headers ?? {};
    return {
      bypassBusinessLogic: s.bypassBusinessLogic !== undefined || "MSCRM.BypassBusinessLogicExecution" in h,
      impersonating: s.impersonateObjectId !== undefined || "CallerObjectId" in h,
    };
  }

  #track(rt: StreamRuntime | undefined, p: Promise<void>): void {
    const guarded = p.catch((err: unknown) => this.#fail(err));
    this.#all.add(guarded);
    void guarded.finally(() => this.#all.delete(guarded));
    if (rt !== undefined) {
      rt.inflight.add(guarded);
      void guarded.finally(() => rt.inflight.delete(guarded));
    }
  }

  async #settleAll(): Promise<void> {
    while (this.#all.size > 0) await Promise.all([...this.#all]);
  }

  async #drain(rt: StreamRuntime): Promise<void> {
    while (rt.inflight.size > 0) await Promise.all([...rt.inflight]);
  }

  #flushAllInBackground(): void {
    const run = async (): Promise<void> => {
      for (const rt of this.#streams.values()) {
        if (this.#fatal !== undefined) return;
        await this.#flush(rt);
      }
    };
    this.#track(undefined, run());
  }

  /**
   * Sends the stream's pending batch. Parents first: when this stream's lookups point at the
   * table of another stream of this sync, that stream's pending rows are sent and committed
   * before ours, so a contact and its account sent together end up linked.
   */
  async #flush(rt: StreamRuntime, chain: Set<StreamRuntime> = new Set()): Promise<void> {
    if (rt.batcher.size === 0 || this.#fatal !== undefined) return;
    chain.add(rt);
    for (const parent of rt.parents) {
      if (chain.has(parent)) continue;
      if (parent.batcher.size > 0) await this.#flush(parent, chain);
      await this.#drain(parent);
    }
    if (rt.batcher.size === 0) return;
    const items = rt.batcher.take();
    // Claim the rows now, before any await, so requests holding a row go out in the order their
    // batches were cut, whoever flushes (a full batch, the timer, a child's flush): each request
    // first waits for the earlier one holding any of its rows to settle, the writer's retries
    // included, so the later values land last. Two flushes both waiting for the same request
    // (the timer's and a full batch's) would otherwise both go once it settles.
    let settled = (): void => undefined;
    const mine = new Promise<void>((resolve) => (settled = resolve));
    const earlier = new Set<Promise<void>>();
    for (const i of items) {
      if (i.rowKey === undefined) continue;
      const previous = this.#rowTails.get(i.rowKey);
      if (previous !== undefined) earlier.add(previous);
      this.#rowTails.set(i.rowKey, mine);
    }
    const bytes = items.reduce((n, i) => n + i.bytes, 0);
    let slotTaken = (): void => undefined;
    const gotSlot = new Promise<void>((resolve) => (slotTaken = resolve));
    let resend: Promise<void> | undefined;
    const sent = (async () => {
      if (earlier.size > 0) await Promise.all(earlier);
      await this.#slots.acquire(bytes);
      slotTaken();
      try {
        ({ resend } = await this.#send(rt, items));
      } finally {
        this.#slots.release(bytes);
      }
    })().finally(slotTaken);
    // Tracked from now on, so a child stream's drain waits for it even before it has a slot.
    this.#track(rt, sent);
    // The rows stay claimed until a resend after a missing lookup target has settled too (that
    // resend is kept out of rt.inflight, see #send, but a later write of its row must wait for it).
    void sent
      .then(
        () => resend,
        () => undefined,
      )
      .finally(() => {
        for (const i of items) if (i.rowKey !== undefined && this.#rowTails.get(i.rowKey) === mine) this.#rowTails.delete(i.rowKey);
        settled();
      });
    // Backpressure: the caller (the stdin reader) waits until the request has a slot.
    await gotSlot;
  }

  /** Writes one request; `resend` is the second try of rows whose lookup target came later. */
  async #send(rt: StreamRuntime, items: readonly PendingOp[]): Promise<{ readonly resend?: Promise<void> }> {
    if (this.#fatal !== undefined) return {};
    let outcomes: readonly WriteOutcome[];
    try {
      outcomes = await this.#o.writer.write(
        items.map((i) => i.operation),
        this.#o.writeOptions,
      );
    } catch (err) {
      this.#fail(err, streamContext(rt.descriptor));
      return {};
    }
    if (outcomes.length !== items.length) {
      this.#fail(new PipelineError("writer_contract", "Internal error: the writer returned a different number of outcomes than operations", "system_error"));
      return {};
    }
    const retry: PendingOp[] = [];
    const parentBusy = rt.parents.some((p) => p.batcher.size > 0 || p.inflight.size > 0);
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as PendingOp;
      const outcome = outcomes[i] as WriteOutcome;
      if (outcome.ok) {
        this.#count(rt, item.operation, outcome);
        this.#ledger.settle(item.ticket, "written");
      } else if (MISSING_TARGET_CODES.has(outcome.code) && item.attempt === 0 && parentBusy && item.operation.bindings.length > 0) {
        retry.push({ ...item, attempt: 1 });
      } else {
        await this.#reject(rt, item, [{ field: "", code: outcome.code === "" ? `http_${outcome.status}` : outcome.code, message: `Dataverse refused the row (HTTP ${outcome.status}${outcome.code === "" ? "" : ` ${outcome.code}`})` }], outcome);
      }
    }
    this.#pump();
    if (retry.length > 0) {
      rt.stats.retried += retry.length;
      // Not in rt.inflight: a retry waits for parents, and a parent may wait for rt's inflight.
      const resend = this.#retry(rt, retry);
      this.#track(undefined, resend);
      return { resend: resend.catch(() => undefined) };
    }
    return {};
  }

  async #retry(rt: StreamRuntime, items: PendingOp[]): Promise<void> {
    for (const parent of rt.parents) {
      if (parent.batcher.size > 0) await this.#flush(parent, new Set([rt]));
      await this.#drain(parent);
    }
    const bytes = items.reduce((n, i) => n + i.bytes, 0);
    await this.#slots.acquire(bytes);
    try {
      await this.#send(rt, items);
    } finally {
      this.#slots.release(bytes);
    }
  }

  #count(rt: StreamRuntime, op: Operation, outcome: Extract<WriteOutcome, { ok: true }>): void {
    this.#written += 1;
    rt.lastAt = this.#o.timers.now();
    const created = outcome.created;
    if (outcome.unchanged === true) {
      rt.stats.unchanged += 1;
      return;
    }
    switch (op.kind) {
      case "create":
        rt.stats.created += 1;
        break;
      case "upsert":
        if (created === true) rt.stats.created += 1;
        else if (created === false) rt.stats.updated += 1;
        else rt.stats.upserted += 1;
        break;
      case "update":
        rt.stats.updated += 1;
        break;
      case "delete":
        rt.stats.deleted += 1;
        break;
      case "deactivate":
        rt.stats.deactivated += 1;
        break;
    }
  }

  async #reject(
    rt: StreamRuntime,
    item: { ticket: Ticket; line: number; record?: JsonObject | undefined; operation?: Operation; key?: RecordKey },
    issues: readonly RecordIssue[],
    outcome?: Extract<WriteOutcome, { ok: false }>,
  ): Promise<void> {
    rt.stats.rejected += 1;
    rt.lastAt = this.#o.timers.now();
    this.#rejected += 1;
    const first = issues[0] ?? { field: "", code: "rejected", message: "rejected" };
    const seen = rt.rejectionsByCode.get(first.code) ?? 0;
    rt.rejectionsByCode.set(first.code, seen + 1);
    if (seen === 0) {
      // Once per stream and code; the end-of-run summary has the counts. Dataverse's own message
      // can quote values, so only its code goes to the log.
      await this.#o.output.log(
        "WARN",
        `stream "${rt.descriptor.name}": record at line ${item.line} rejected${first.field !== "" ? ` at ${first.field}` : ""}: ${first.message} (${first.code}); further rejections with this code are counted in the summary`,
      );
    }
    if (this.#o.deadLetter !== undefined) {
      const ref = item.operation?.ref;
      const key = item.key ?? (ref !== undefined && ref.kind !== "none" ? (ref.kind === "id" ? ref.id : Object.fromEntries(ref.values)) : undefined);
      await this.#o.deadLetter.write({
        stream: rt.descriptor.name,
        ...(rt.descriptor.namespace !== undefined ? { namespace: rt.descriptor.namespace } : {}),
        line: item.line,
        ...(key !== undefined ? { key } : {}),
        ...(first.field !== "" ? { field: first.field } : {}),
        code: first.code,
        message: outcome !== undefined ? refusalMessage(outcome, this.#o.settings.deadLetterIncludeRecord) : first.message,
        ...(outcome !== undefined ? { status: outcome.status } : {}),
        ...(issues.length > 1 ? { issues } : {}),
        ...(item.record !== undefined ? { record: item.record } : {}),
      });
    }
    this.#ledger.settle(item.ticket, "rejected");
    this.#pump();
    const share = this.#o.settings.maxRejectedShare;
    if (this.#read >= 100 && this.#rejected / this.#read > share) {
      this.#fail(
        new PipelineError(
          "too_many_rejections",
          `${this.#rejected} of ${this.#read} records were rejected, more than max_rejected_share (${share}); see the warnings above for the reasons`,
          "config_error",
        ),
      );
    }
  }

  #streamKeysOf = (held: HeldState): readonly string[] | "all" => {
    if (held.protocol === "singer" || held.state.stateType !== "STREAM") return "all";
    return held.state.streams.map((d) => this.#find(d)?.key ?? streamKey(d));
  };

  #pump(): void {
    this.#pumping = this.#pumping
      .then(async () => {
        for (const released of this.#ledger.release(this.#streamKeysOf)) {
          const held = released.held;
          if (held.protocol === "airbyte") await this.#o.output.state(stateWithStats(held.state.raw, released.recordCount, released.rejectedRecordCount), held.state.envelope);
          else await this.#o.output.state(held.value);
          this.#statesEmitted += 1;
        }
      })
      .catch((err: unknown) => this.#fail(err));
  }

  #figures(): ProgressFigures {
    const w = this.#o.writerStats?.() ?? {};
    return {
      read: this.#read,
      written: this.#written,
      rejected: this.#rejected,
      seconds: (this.#o.timers.now() - this.#startedAt) / 1000,
      ...(w.throttledMs !== undefined ? { throttledMs: w.throttledMs } : {}),
      ...(w.concurrency !== undefined ? { concurrency: w.concurrency } : {}),
      statesHeld: this.#ledger.heldCount,
    };
  }

  async #progress(): Promise<void> {
    await this.#o.output.log("INFO", `progress: ${progressText(this.#figures())}`).catch((err: unknown) => this.#fail(err));
  }

  /** Destructive, so last: only after a clean end of input, and only for streams that reported COMPLETE. */
  async #mirrors(): Promise<void> {
    for (const rt of this.#streams.values()) {
      const mirror = rt.mapping.mirror;
      if (rt.mirror === undefined || mirror === undefined || this.#o.mirrorReader === undefined) continue;
      const name = rt.descriptor.name;
      if (rt.status !== "COMPLETE") {
        await this.#o.output.log("WARN", `mirror: stream "${name}" did not report COMPLETE, so no rows were removed`);
        continue;
      }
      const result = await runMirror(
        {
          reader: this.#o.mirrorReader,
          writer: this.#o.writer,
          batchSize: this.#o.settings.batchSize,
          ...(this.#o.writeOptions !== undefined ? { writeOptions: this.#o.writeOptions } : {}),
        },
        rt.plan,
        rt.mirror,
        mirror,
      ).catch((err: unknown) => {
        throw toConnectorError(err, { stream: name }, this.#hints());
      });
      if (result.kind === "skipped") {
        await this.#o.output.log("WARN", `mirror: stream "${name}" skipped: ${result.reason}`);
        continue;
      }
      const failed = [...result.failed].map(([c, n]) => `${c} ×${n}`).join(", ");
      await this.#o.output.log(
        "INFO",
        `mirror: stream "${name}" → ${rt.mapping.table}: ${mirror.action === "delete" ? "deleted" : "deactivated"} ${result.removed} of ${result.inScope} rows in scope${failed !== "" ? `; refused: ${failed}` : ""}${result.unmatchable > 0 ? `; ${result.unmatchable} rows without key values kept` : ""}`,
      );
    }
  }

  /** Per stream: what was done to its rows, the requests and 429s of its table, its wall time. */
  summaries(): StreamSummary[] {
    const w = this.#o.writerStats?.();
    const streamsPerTable = new Map<string, number>();
    for (const rt of this.#streams.values()) streamsPerTable.set(rt.mapping.table.toLowerCase(), (streamsPerTable.get(rt.mapping.table.toLowerCase()) ?? 0) + 1);
    return [...this.#streams.values()].map((rt) => {
      const table = rt.mapping.table.toLowerCase();
      const http = w?.tables?.get(table);
      const start = rt.firstAt ?? this.#startedAt;
      return {
        stream: rt.descriptor.name,
        table: rt.mapping.table,
        ...rt.stats,
        ...(http !== undefined ? { requests: http.requests, throttled429: http.throttled429, retried: rt.stats.retried + (http.retries ?? 0) } : w?.tables !== undefined ? { requests: 0, throttled429: 0 } : {}),
        ...((streamsPerTable.get(table) ?? 0) > 1 ? { sharedTable: true } : {}),
        seconds: Math.max(0, ((rt.lastAt ?? start) - start) / 1000),
        rejectionsByCode: rt.rejectionsByCode,
      };
    });
  }

  async #summary(failed = false): Promise<void> {
    this.#summarised = true;
    const seconds = (this.#o.timers.now() - this.#startedAt) / 1000;
    const w = this.#o.writerStats?.();
    const label = this.#o.dryRun === true ? "summary (dry run, nothing written)" : failed ? "summary (the run failed)" : "summary";
    if (w !== undefined) {
      await this.#o.output.log(
        "INFO",
        `${label}: ${this.#read} records read, ${this.#written} written, ${this.#rejected} rejected in ${seconds.toFixed(1)} s` +
          `${w.requests !== undefined ? `; ${w.requests} requests` : ""}${w.throttled !== undefined ? `, ${w.throttled} throttled (429)` : ""}` +
          `${w.throttledMs !== undefined ? `, ${(w.throttledMs / 1000).toFixed(1)} s paused by throttling` : ""}`,
      );
    }
    const rows = this.summaries();
    for (const row of rows) await this.#o.output.log("INFO", summaryLine(row).replace(/^summary:/, `${label}:`));
    this.#o.terminal?.clear();
    this.#o.terminal?.print(`${this.#o.dryRun === true ? "Dry run (nothing written)" : failed ? "Sync summary (the run failed)" : "Sync summary"}, ${seconds.toFixed(1)} s:\n${summaryTable(rows)}`);
  }
}

export type { InputState };
