// The router of a sync (meltano/sdk's Target): it routes each record to its stream's sink, owns
// the checkpoint ledger and the state output, and runs the lifecycle: set up the sinks, flush on
// a full batch or the timer, finish or abort. A state goes out only once every record read
// before it is committed, or rejected and on disk; states go out in the order they came in.
// The line loop (loop.ts) feeds it messages; whatever it awaits, the stdin reader awaits.
import type { ResolvedStream } from "../config/catalog.js";
import type { RecordIssue } from "../model/operation.js";
import type { WriteOutcome } from "../model/writer.js";
import { stateWithStats, streamKey } from "../protocol/airbyte.js";
import type { JsonObject, StreamDescriptor, StreamStatus } from "../protocol/airbyte.js";
import { ConnectorError, streamContext, UnknownStreamError } from "../protocol/errors.js";
import type { ErrorContext } from "../protocol/errors.js";
import type { PendingOp } from "./batcher.js";
import { PipelineError } from "./errors.js";
import { toConnectorError } from "./failures.js";
import type { FailureHints } from "./failures.js";
import { CheckpointLedger } from "./ledger.js";
import type { HeldState, StateStreams, Ticket } from "./ledger.js";
import { runMirrors } from "./mirror-run.js";
import type { SyncOptions } from "./options.js";
import { refusalMessage } from "./refusals.js";
import { progressText } from "./report.js";
import { Sender } from "./send.js";
import type { Sink, StreamStats, RejectedRecord } from "./sink.js";
import { batchesInFlight, Slots } from "./slots.js";
import { openSinks, orderSinks } from "./streams.js";
import type { RelationStreams } from "./relations.js";
import { Reporter, totals } from "./summary.js";

export interface SyncSummary {
  readonly streams: ReadonlyMap<string, StreamStats>;
  readonly statesEmitted: number;
}

export class Sync {
  readonly #options: SyncOptions;
  readonly #sinks = new Map<string, Sink>();
  /** The relationship streams (membership, many-to-many): a sink kind of their own. */
  #relations: RelationStreams | undefined;
  readonly #ledger = new CheckpointLedger();
  readonly #sender: Sender;
  readonly #reporter: Reporter;
  /** Every send, resend and background flush not settled yet: what the end of the run waits for. */
  readonly #work = new Set<Promise<void>>();
  /** The state output, one release after the other. */
  #emitting: Promise<void> = Promise.resolve();
  #fatal: ConnectorError | undefined;
  #statesEmitted = 0;
  #summarised = false;
  readonly #keepRecords: boolean;
  readonly #stopTimers: (() => void)[] = [];

  constructor(options: SyncOptions) {
    this.#options = options;
    const { settings, timers, terminal } = options;
    this.#keepRecords = options.deadLetter !== undefined && settings.deadLetterIncludeRecord;
    this.#reporter = new Reporter({
      output: options.output,
      timers,
      ...(options.writerStats !== undefined ? { writerStats: options.writerStats } : {}),
      ...(terminal !== undefined ? { terminal } : {}),
      ...(options.dryRun !== undefined ? { dryRun: options.dryRun } : {}),
    });
    this.#sender = new Sender({
      writer: options.writer,
      writeOptions: options.writeOptions,
      // Two full batches' worth of bytes in flight keeps the writer busy with small records (the
      // batch count binds first) and bounds memory with large ones (the bytes bind first).
      slots: new Slots(options.maxInFlight ?? batchesInFlight(settings.maxConcurrency), options.maxInFlightBytes ?? 2 * settings.maxBatchBytes),
      failed: () => this.#fatal !== undefined,
      fail: (err, context) => this.#fail(err, context),
      track: (sink, work) => this.#track(sink, work),
      written: (sink, item, outcome) => {
        sink.tallyWritten(item.operation, outcome, timers.now());
        this.#ledger.settle(item.ticket, "written");
      },
      rejected: (sink, item, issues, outcome) => this.#reject(sink, item, issues, outcome),
      settled: () => this.#emitSafeStates(),
    });
    const flushMs = Math.min(600, Math.max(1, settings.flushIntervalSeconds)) * 1000;
    this.#stopTimers.push(timers.every(flushMs, () => this.#flushAllInBackground()));
    this.#stopTimers.push(timers.every(options.progressIntervalMs ?? 30_000, () => void this.#progress()));
    if (terminal?.enabled === true) {
      this.#stopTimers.push(timers.every(options.terminalIntervalMs ?? 250, () => terminal.show(progressText(this.#figures()))));
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
   * stream into its sink. Any plan error fails here, before the first record, naming stream and field.
   */
  async addStreams(resolved: readonly ResolvedStream[]): Promise<void> {
    const o = this.#options;
    const { sinks, error } = await openSinks({ tables: o.tables, output: o.output, settings: o.settings, canMirror: o.mirrorReader !== undefined }, resolved, this.#sinks.values());
    for (const sink of sinks) this.#sinks.set(sink.key, sink);
    if (error !== undefined) throw error;
    orderSinks([...this.#sinks.values()]);
  }

  hasStream(d: StreamDescriptor): boolean {
    return this.#find(d) !== undefined || this.#relations?.has(d) === true;
  }

  #find(d: StreamDescriptor): Sink | undefined {
    const exact = this.#sinks.get(streamKey(d));
    if (exact !== undefined) return exact;
    if (d.namespace === undefined) {
      // A record without namespace for a stream configured with one: match by name when unambiguous.
      const byName = [...this.#sinks.values()].filter((s) => s.name === d.name);
      return byName.length === 1 ? byName[0] : undefined;
    }
    return this.#sinks.get(d.name);
  }

  /**
   * Takes one record. Returns a promise only when the caller must wait (a batch is being handed to
   * the writer, a warning or a rejection is being reported); otherwise the record was only added to
   * its batch, synchronously, which keeps per-record overhead off the hot path.
   */
  record(d: StreamDescriptor, data: JsonObject, line: number): Promise<void> | undefined {
    this.throwIfFailed();
    if (this.#relations?.has(d) === true) return this.#relations.record(d, data, line);
    const sink = this.#find(d);
    if (sink === undefined) {
      throw new UnknownStreamError(
        "unknown_stream",
        "the source sent a RECORD for a stream the configured catalog does not list; select the stream in the connection (or refresh the source's schema), or have the source stop sending it",
        { line, ...streamContext(d) },
      );
    }
    sink.tallyRead(this.#options.timers);
    const ticket = this.#ledger.open(sink.key);
    const ignored = sink.newIgnoredFields(data);
    if (ignored !== undefined) return this.#reportIgnored(sink, ignored).then(() => this.#accept(sink, data, line, ticket));
    return this.#accept(sink, data, line, ticket);
  }

  #accept(sink: Sink, data: JsonObject, line: number, ticket: Ticket): Promise<void> | undefined {
    const item = sink.accept(data, line, ticket, this.#keepRecords);
    if ("issues" in item) return this.#reject(sink, item.rejected, item.issues);
    // A second write of a row already pending goes into the next request, after the first.
    if (sink.mustFlushBefore(item)) return this.#sender.flush(sink).then(() => this.#add(sink, item));
    return this.#add(sink, item);
  }

  #add(sink: Sink, item: PendingOp): Promise<void> | undefined {
    sink.add(item);
    return sink.isFull ? this.#sender.flush(sink) : undefined;
  }

  async #reportIgnored(sink: Sink, fields: readonly { readonly field: string; readonly reason: string }[]): Promise<void> {
    for (const f of fields) await this.#options.output.log("WARN", `stream "${sink.name}": field "${f.field}" is ignored: ${f.reason}`);
  }

  /**
   * A record of a stream another sink keeps (a relationship stream, relations.ts): it holds a ticket
   * of the same ledger, so the states after it wait for it and count it. Settle exactly once.
   */
  openExternal(d: StreamDescriptor): (outcome: "written" | "rejected") => void {
    this.throwIfFailed();
    const ticket = this.#ledger.open(streamKey(d));
    return (outcome) => {
      this.#ledger.settle(ticket, outcome);
      this.#emitSafeStates();
    };
  }

  /** The relationship streams' sinks (relations.ts), planned after the Sync was made. */
  addRelations(relations: RelationStreams): void {
    this.#relations = relations;
  }

  /**
   * Holds the state until every record read before it is settled. Relationship streams hold their
   * records until a batch fills, so a state sends them: the promise is that send, to be awaited.
   */
  state(held: HeldState): Promise<void> | undefined {
    this.throwIfFailed();
    this.#ledger.addState(held, this.#streamKeysOf(held));
    this.#emitSafeStates();
    return this.#relations?.flush();
  }

  /** Remembered for destructive finalisation (mirror, remove_missing), which only COMPLETE streams get. */
  streamStatus(d: StreamDescriptor, status: StreamStatus): void {
    this.#relations?.streamStatus(d, status);
    const sink = this.#find(d);
    if (sink !== undefined) sink.status = status;
  }

  /** End of input: flush, settle, emit the remaining states, run the mirrors, then the per-stream summary. */
  async finish(): Promise<SyncSummary> {
    try {
      this.throwIfFailed();
      // Relationship streams: the last records, then remove_missing, before the last states go out.
      await this.#relations?.finish();
      for (const sink of this.#sinks.values()) await this.#sender.flush(sink);
      await this.#settleAll();
      this.throwIfFailed();
      await this.#emitting;
      this.throwIfFailed();
      if (this.#ledger.heldCount > 0) {
        throw new PipelineError("states_held", "Internal error: states are still held after every record settled; please report it", "system_error");
      }
      const o = this.#options;
      await runMirrors({ output: o.output, reader: o.mirrorReader, writer: o.writer, batchSize: o.settings.batchSize, writeOptions: o.writeOptions, hints: this.#hints() }, this.#sinks.values());
      await this.#summary();
      return { streams: new Map([...this.#sinks].map(([k, v]) => [k, v.counts])), statesEmitted: this.#statesEmitted };
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
      await this.#relations?.flush().catch((err: unknown) => this.#fail(err));
      for (const sink of this.#sinks.values()) await this.#sender.flush(sink).catch((err: unknown) => this.#fail(err));
    }
    this.#stop();
    await this.#settleAll();
    await this.#emitting.catch(() => undefined);
    // A failed run still says what it did per stream: the user needs the counts to judge the rerun.
    if (!this.#summarised) await this.#summary(true).catch(() => undefined);
  }

  #stop(): void {
    for (const stop of this.#stopTimers.splice(0)) stop();
  }

  /**
   * A record that will not be written: counted, reported once per stream and code (the summary
   * has the counts), dead-lettered, and only then settled, so a state after it means it is on disk.
   */
  async #reject(sink: Sink, item: RejectedRecord, issues: readonly RecordIssue[], outcome?: Extract<WriteOutcome, { ok: false }>): Promise<void> {
    const o = this.#options;
    const first = issues[0] ?? { field: "", code: "rejected", message: "rejected" };
    if (sink.tallyRejected(first.code, o.timers.now()) === 0) {
      // Dataverse's own message can quote values, so only its code goes to the log.
      await o.output.log(
        "WARN",
        `stream "${sink.name}": record at line ${item.line} rejected${first.field !== "" ? ` at ${first.field}` : ""}: ${first.message} (${first.code}); further rejections with this code are counted in the summary`,
      );
    }
    if (o.deadLetter !== undefined) {
      const ref = item.operation?.ref;
      const key = item.key ?? (ref !== undefined && ref.kind !== "none" ? (ref.kind === "id" ? ref.id : Object.fromEntries(ref.values)) : undefined);
      await o.deadLetter.write({
        stream: sink.name,
        ...(sink.descriptor.namespace !== undefined ? { namespace: sink.descriptor.namespace } : {}),
        line: item.line,
        ...(key !== undefined ? { key } : {}),
        ...(first.field !== "" ? { field: first.field } : {}),
        code: first.code,
        message: outcome !== undefined ? refusalMessage(outcome, o.settings.deadLetterIncludeRecord) : first.message,
        ...(outcome !== undefined ? { status: outcome.status } : {}),
        ...(issues.length > 1 ? { issues } : {}),
        ...(item.record !== undefined ? { record: item.record } : {}),
      });
    }
    this.#ledger.settle(item.ticket, "rejected");
    this.#emitSafeStates();
    const share = o.settings.maxRejectedShare;
    const { read, rejected } = totals(this.#sinks.values());
    if (read >= 100 && rejected / read > share) {
      this.#fail(
        new PipelineError(
          "too_many_rejections",
          `${rejected} of ${read} records were rejected, more than max_rejected_share (${share}); see the warnings above for the reasons`,
          "config_error",
        ),
      );
    }
  }

  #fail(err: unknown, context: ErrorContext = {}): void {
    this.#fatal ??= toConnectorError(err, context, this.#hints());
  }

  /** Which privilege-needing options the writer's requests carry, so a 403 can name them. */
  #hints(): FailureHints {
    const s = this.#options.settings;
    const h = this.#options.writeOptions?.headers ?? {};
    return {
      bypassBusinessLogic: s.bypassBusinessLogic !== undefined || "MSCRM.BypassBusinessLogicExecution" in h,
      impersonating: s.impersonateObjectId !== undefined || "CallerObjectId" in h,
    };
  }

  #track(sink: Sink | undefined, work: Promise<void>): void {
    const guarded = work.catch((err: unknown) => this.#fail(err));
    this.#work.add(guarded);
    void guarded.finally(() => this.#work.delete(guarded));
    sink?.track(guarded);
  }

  async #settleAll(): Promise<void> {
    while (this.#work.size > 0) await Promise.all([...this.#work]);
  }

  #flushAllInBackground(): void {
    const run = async (): Promise<void> => {
      for (const sink of this.#sinks.values()) {
        if (this.#fatal !== undefined) return;
        await this.#sender.flush(sink);
      }
    };
    this.#track(undefined, run());
  }

  #streamKeysOf = (held: HeldState): StateStreams => {
    if (held.protocol === "singer" || held.state.stateType !== "STREAM") return "all";
    return held.state.streams.map((d) => this.#find(d)?.key ?? streamKey(d));
  };

  /** Emits, in order, every held state whose records have all settled. */
  #emitSafeStates(): void {
    this.#emitting = this.#emitting
      .then(async () => {
        for (const released of this.#ledger.release()) {
          const held = released.held;
          if (held.protocol === "airbyte") await this.#options.output.state(stateWithStats(held.state.raw, released.recordCount, released.rejectedRecordCount), held.state.envelope);
          else await this.#options.output.state(held.value);
          this.#statesEmitted += 1;
        }
      })
      .catch((err: unknown) => this.#fail(err));
  }

  #figures(): ReturnType<Reporter["figures"]> {
    return this.#reporter.figures(this.#sinks.values(), this.#ledger.heldCount);
  }

  async #progress(): Promise<void> {
    await this.#options.output.log("INFO", `progress: ${progressText(this.#figures())}`).catch((err: unknown) => this.#fail(err));
  }

  async #summary(failed = false): Promise<void> {
    this.#summarised = true;
    await this.#reporter.summary([...this.#sinks.values()], failed);
  }
}
